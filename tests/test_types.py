"""``classify_shim.types``: one public place for the types, and result bodies that match them.

The typed dicts and the pydantic models are two declarations of the v1.2 result shape; these
tests hold them to each other and to what both backends really send.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple, Type

import pytest
from pydantic import BaseModel, TypeAdapter

import classify_shim.types as types_module
from classify_shim import TwelveLabs
from classify_shim._request import build_videos_request
from classify_shim._types import RequestOptions
from classify_shim.models import (
    ClassifyClass,
    ClassifyClip,
    ClassifyDetailedScore,
    ClassifyPageResult,
    ClassifyVideoData,
    TokenPageInfo,
)
from classify_shim.types import (
    ClassBody,
    ClipBody,
    DetailedScoresBody,
    PageBody,
    PageInfoBody,
    Progress,
    VideoBody,
    VideoFailure,
)
from legacy_support import API_KEY

CLASSES: List[Dict[str, Any]] = [
    {"name": "DanceTok", "prompts": ["dance tutorial", "dance group", "dancing"]},
    {"name": "CookTok", "prompts": ["cooking tutorial", "cooking"]},
]


def test_every_public_name_resolves_to_the_object_the_shim_uses() -> None:
    from classify_shim import _backend, _compare
    from classify_shim.adapters import pegasus, shadow

    for name in types_module.__all__:
        assert getattr(types_module, name) is not None, name
    assert types_module.VideoFailure is _backend.VideoFailure
    assert types_module.Progress is pegasus.Progress  # what on_progress receives
    assert types_module.ShadowReport is shadow.ShadowReport
    assert types_module.ClassComparison is _compare.ClassComparison  # what on_mismatch receives
    with pytest.raises(AttributeError):
        types_module.NotAType  # noqa: B018


def test_importing_the_types_loads_no_backend() -> None:
    code = ("import sys, classify_shim.types as t; "
            "print(sorted(m for m in sys.modules if m.startswith('classify_shim.adapters')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


PAIRS: List[Tuple[Any, Type[BaseModel]]] = [
    (DetailedScoresBody, ClassifyDetailedScore),
    (ClipBody, ClassifyClip),
    (ClassBody, ClassifyClass),
    (VideoBody, ClassifyVideoData),
    (PageInfoBody, TokenPageInfo),
    (PageBody, ClassifyPageResult),
]


@pytest.mark.parametrize(("body", "model"), PAIRS, ids=[m.__name__ for _, m in PAIRS])
def test_typed_dicts_and_models_declare_the_same_keys(body: Any, model: Type[BaseModel]) -> None:
    keys = set(body.__required_keys__) | set(body.__optional_keys__)
    assert keys == set(model.model_fields)
    assert set(body.__required_keys__) == {n for n, f in model.model_fields.items() if f.is_required()}


def _raw_page(sb: Any, backend: str, **kwargs: Any) -> Any:
    """The body a backend hands the resource (before the models), for one classify call."""
    ids = [v["_id"] for v in sb.world["indexes"][0]["videos"]]
    request = build_videos_request(ids, ["visual", "conversation"], CLASSES, **kwargs)
    with TwelveLabs(API_KEY, classify_backend=backend, base_url=sb.base_url, cache=False) as client:
        return client._open_backend().classify(request, RequestOptions())


@pytest.mark.parametrize("backend", ["legacy", "pegasus"])
@pytest.mark.parametrize("extras", [{}, {"include_clips": True, "show_detailed_score": True, "page_limit": 2}])
def test_both_backends_send_exactly_the_typed_shape(sb: Any, backend: str, extras: Dict[str, Any]) -> None:
    page = _raw_page(sb, backend, **extras)
    assert page.backend == backend and page.body["data"], "nothing to check"
    validated = TypeAdapter(PageBody).validate_python(page.body)
    # nothing dropped (an unknown key, such as a smuggled "_detail") and nothing converted
    assert json.dumps(validated, sort_keys=True) == json.dumps(page.body, sort_keys=True)
    classes = [c for v in page.body["data"] for c in v["classes"]]
    assert all(("clips" in c) == bool(extras) and ("detailed_scores" in c) == bool(extras) for c in classes)
    if backend == "pegasus":  # the page the shim makes carries every page_info key
        assert set(page.body["page_info"]) == set(PageInfoBody.__required_keys__) | set(
            PageInfoBody.__optional_keys__)


TYPED_USER_CODE = '''
from __future__ import annotations

from typing import List

from classify_shim import AsyncTwelveLabs, TwelveLabs
from classify_shim.models import AsyncClassifyPageResult, ClassifyPageResult, RootModelList, ClassifyVideoData
from classify_shim.types import (
    ClassComparison, MismatchCallback, Progress, ProgressCallback, VideoFailure,
)

seen: List[Progress] = []
mismatches: List[ClassComparison] = []


def on_progress(p: Progress) -> None:
    print(p.done, p.total, p.video_id, p.status)


def wrong(p: int) -> None:
    print(p + 1)


hook: ProgressCallback = on_progress
other: MismatchCallback = mismatches.append
client = TwelveLabs("k", on_progress=seen.append, on_mismatch=mismatches.append)
TwelveLabs("k", on_progress=hook, on_mismatch=other)
TwelveLabs("k", on_progress=wrong)  # type: ignore[arg-type]


def sync_pages(result: ClassifyPageResult) -> List[VideoFailure]:
    data: RootModelList[ClassifyVideoData] = next(result)
    print(len(data))
    return result.errors


async def async_pages(client: AsyncTwelveLabs) -> None:
    result: AsyncClassifyPageResult = await client.classify.videos(["v"], ["visual"], [])
    nxt: RootModelList[ClassifyVideoData] = await result.anext()
    async for data in result:
        print(len(data), len(nxt))
    status: str = (await result.__anext__())[0].classes[0].name
    print(status)
'''


def test_user_code_with_the_public_types_type_checks(tmp_path: Path) -> None:
    """``mypy --strict`` accepts code using the public types and rejects a wrong callback (the
    ``type: ignore`` on that line would be reported as unused if mypy accepted it)."""
    src = Path(__file__).resolve().parents[1] / "src"
    (tmp_path / "user_code.py").write_text(TYPED_USER_CODE)
    env = {**os.environ, "MYPYPATH": str(src)}
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--warn-unused-ignores", "--no-incremental",
         "--cache-dir", os.devnull, "--no-error-summary", "user_code.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_failures_and_progress_are_plain_frozen_values() -> None:
    failure = VideoFailure("v", "analyze", "boom", 2)
    assert {failure, VideoFailure("v", "analyze", "boom", 2)} == {failure}
    progress = Progress(1, 2, "v", "cached")
    with pytest.raises(AttributeError):
        progress.done = 3  # type: ignore[misc]
