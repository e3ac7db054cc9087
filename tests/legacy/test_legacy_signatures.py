"""Signature parity with ``twelvelabs`` 0.3.2: code that calls the real SDK calls ours the same way."""

from __future__ import annotations

import inspect
from typing import Any, List, Tuple

import httpx
import pytest
import twelvelabs  # type: ignore[import-untyped]

from classify_shim import AsyncTwelveLabs, TwelveLabs
from legacy_support import API_KEY

METHODS = ("videos", "index", "by_page_token")


def _shape(sig: inspect.Signature) -> List[Tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.fixture
def ours() -> Any:
    client = TwelveLabs(API_KEY, classify_backend="legacy", http_client=httpx.Client())
    yield client
    client.close()


@pytest.fixture
def ours_async() -> Any:
    return AsyncTwelveLabs(API_KEY, classify_backend="legacy")


@pytest.fixture
def real() -> Any:
    return twelvelabs.TwelveLabs(API_KEY)


@pytest.mark.parametrize("method", METHODS)
def test_bound_method_signature_matches_0_3_2(ours: Any, real: Any, method: str) -> None:
    theirs = inspect.signature(getattr(real.classify, method))
    mine = inspect.signature(getattr(ours.classify, method))
    assert _shape(mine) == _shape(theirs)


@pytest.mark.parametrize("method", METHODS)
def test_unbound_method_signature_matches_0_3_2(method: str) -> None:
    from classify_shim.resources.classify import Classify

    theirs = inspect.signature(getattr(twelvelabs.resources.Classify, method))
    mine = inspect.signature(getattr(Classify, method))
    assert _shape(mine) == _shape(theirs)
    assert next(iter(mine.parameters)) == "self"


@pytest.mark.parametrize("method", METHODS)
def test_async_twin_has_the_same_signature(ours_async: Any, real: Any, method: str) -> None:
    theirs = inspect.signature(getattr(real.classify, method))
    mine = inspect.signature(getattr(ours_async.classify, method))
    assert _shape(mine) == _shape(theirs)
    assert inspect.iscoroutinefunction(getattr(ours_async.classify, method))


@pytest.mark.parametrize("method", METHODS)
def test_return_annotation_names_classify_page_result(ours: Any, method: str) -> None:
    ann = inspect.signature(getattr(ours.classify, method)).return_annotation
    assert "ClassifyPageResult" in (ann if isinstance(ann, str) else ann.__name__)


def test_first_parameters_are_required_and_positional(ours: Any) -> None:
    """The legacy docs call ``by_page_token("<token>")`` and videos/index positionally too."""
    for method, required in (("videos", 3), ("index", 3), ("by_page_token", 1)):
        params = list(inspect.signature(getattr(ours.classify, method)).parameters.values())
        head = params[:required]
        assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in head), method
        assert all(p.default is inspect.Parameter.empty for p in head), method
        assert params[-1].kind is inspect.Parameter.VAR_KEYWORD, method
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[required:-1]), method


@pytest.mark.parametrize("cls", [TwelveLabs, AsyncTwelveLabs])
def test_constructor_keeps_0_3_2_positional_parameters(cls: Any) -> None:
    theirs = list(inspect.signature(twelvelabs.TwelveLabs.__init__).parameters.values())
    mine = list(inspect.signature(cls.__init__).parameters.values())
    assert [p.name for p in theirs] == ["self", "api_key", "version"]
    # Same names, order and kinds for what 0.3.2 had; version keeps its default.
    assert [(p.name, p.kind) for p in mine[:3]] == [(p.name, p.kind) for p in theirs]
    assert mine[2].default == theirs[2].default == "v1.2"
    # api_key may come from the environment: optional in ours, required in 0.3.2.
    assert theirs[1].default is inspect.Parameter.empty
    assert mine[1].default is None
    # Everything we add is keyword-only, so no positional call of 0.3.2 can change meaning.
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in mine[3:])


def test_constructor_accepts_positional_key_and_version() -> None:
    client = TwelveLabs(API_KEY, "v1.1", classify_backend="legacy")
    real = twelvelabs.TwelveLabs(API_KEY, "v1.1")
    assert (client.api_key, client.version, client.base_url) == (real.api_key, "v1.1", real.base_url)
    client.close()


def test_client_is_a_context_manager_like_0_3_2() -> None:
    with TwelveLabs(API_KEY, classify_backend="legacy") as client:
        assert client.classify is not None


TYPED_USER_CODE = '''\
from __future__ import annotations

from typing import Any, Dict, List

from classify_shim import TwelveLabs
from classify_shim.models import ClassifyClassParams, ClassifyPageResult

SEED_STYLE = [{"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group"]}]
ANNOTATED: List[Dict[str, Any]] = [{"name": "CookTok", "prompts": ["Cooking tutorial"]}]
PARAMS: List[ClassifyClassParams] = [ClassifyClassParams("DanceTok", ["Dance tutorial"])]  # 0.3.2's documented type
OPTIONS = ["visual", "conversation"]

client = TwelveLabs(api_key="k")
a: ClassifyPageResult = client.classify.videos(["v1"], OPTIONS, SEED_STYLE, include_clips=True, page_limit=1)
b = client.classify.index(index_id="i", options=["visual"], classes=ANNOTATED, threshold={"min_video_score": 80})
c = client.classify.videos(video_ids=["v1"], options=OPTIONS, classes=PARAMS)
d = client.classify.by_page_token(a.page_info.next_page_token or "", headers={"X-A": "b"})
for data in b:
    for video in data:
        for cls in video.classes:
            print(video.video_id, cls.name, cls.score + 1.0, cls.duration_ratio)
            for clip in cls.clips or []:
                print(clip.start, clip.prompt, clip.thumbnail_url, clip.detailed_scores)
print(len(c.data), c.data[0].video_id, d.page_info.total_results)
'''


def test_typed_legacy_code_type_checks(tmp_path: Any) -> None:
    """Code written against the documented 0.3.2 types passes ``mypy --strict`` with our annotations."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src"
    (tmp_path / "user_code.py").write_text(TYPED_USER_CODE)
    env = {**os.environ, "MYPYPATH": str(src)}
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull,
         "--no-error-summary", "user_code.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
