"""The SDK reference's four example scripts run unchanged against the sandbox, and match the real SDK.

Each script is taken verbatim from the reference text (see ``tests/seed.py``); only the client line
is prepended and the placeholders (video ids, index id, page token) are filled with ids of the
sandbox's default world. Scripts run in a fresh interpreter, configured by environment only.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest
import twelvelabs  # type: ignore[import-untyped]

import seed
from classify_shim import TwelveLabs
from legacy_support import API_KEY, child_env, run_python
from shared_inputs import missing

BACKENDS = [pytest.param("legacy"), pytest.param("pegasus")]

pytestmark = [
    pytest.mark.skipif(seed.SEED_REFERENCE is None, reason=missing(seed.SEED_FILE)),
    pytest.mark.filterwarnings("ignore::classify_shim.ClassifyDeprecationWarning"),
]

OURS = "from classify_shim import TwelveLabs"
REAL = "from twelvelabs import TwelveLabs"
# The arguments the examples pass (the extracted code is checked to contain them).
CLASSES: List[Dict[str, Any]] = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]
CALL_KWARGS: Dict[str, Any] = dict(options=["visual", "conversation"], classes=CLASSES, include_clips=True,
                                   show_detailed_score=True, page_limit=1)
_VOLATILE = re.compile(r"^(Page expired at|Next page token|Previous page token): (?!N/A$).+$", re.M)
_VIDEO_LINE = re.compile(r"^Video ID: (.+)$", re.M)
_CLASS_LINE = re.compile(r"^  Class name: (.+)$", re.M)


@pytest.fixture(scope="module")
def examples() -> Dict[str, seed.Example]:
    return seed.load_examples()


def world_ids(world: Dict[str, Any]) -> Tuple[str, Tuple[str, str, str]]:
    index = world["indexes"][0]
    vids = [v["_id"] for v in index["videos"]]
    return index["_id"], (vids[0], vids[1], vids[2])


def mask(text: str) -> str:
    """Tokens and expiry times differ from call to call; keep only whether they are present."""
    return _VOLATILE.sub(lambda m: f"{m.group(1)}: <set>", text)


def strip_superset(videos: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Drop ``clips[].detailed_scores`` (our documented superset of 0.3.2's models)."""
    out = copy.deepcopy(videos)
    for video in out:
        for cls in video["classes"]:
            for clip in cls.get("clips") or []:
                clip.pop("detailed_scores", None)
    return out


def dump_masked(result: Any) -> Dict[str, Any]:
    out = result.model_dump()
    info = dict(out["page_info"])
    for key in ("next_page_token", "prev_page_token", "page_expired_at"):
        info[key] = bool(info.get(key))
    return {"data": strip_superset(out["data"]), "page_info": info}


class Env:
    """Environment for one backend: the sandbox URL, the backend, a cache file shared with children."""

    def __init__(self, sb: Any, backend: str, tmp: Path) -> None:
        self.sb = sb
        self.backend = backend
        self.vars = {
            "TWELVELABS_BASE_URL": sb.base_url,
            "TWELVELABS_CLASSIFY_BACKEND": backend,
            "TWELVELABS_CLASSIFY_CACHE": str(tmp / "cache.sqlite3"),
        }

    def client(self, monkeypatch: pytest.MonkeyPatch) -> TwelveLabs:
        for k, v in self.vars.items():
            monkeypatch.setenv(k, v)
        return TwelveLabs(api_key=API_KEY)

    def run(self, tmp: Path, name: str, code: str) -> Any:
        script = tmp / f"{name}.py"
        script.write_text(code, encoding="utf-8")
        return run_python([str(script)], cwd=tmp, env=child_env(**self.vars))


@pytest.fixture
def env(sb: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Env]:
    yield Env(sb, request.param, tmp_path)


def expected_pages(client: TwelveLabs, name: str, index_id: str, video_ids: Tuple[str, ...],
                   token: str) -> List[Any]:
    """What the example prints, computed in-process with the same arguments."""
    if name == "videos":
        return [client.classify.videos(video_ids=list(video_ids), **CALL_KWARGS)]
    if name == "by_page_token":
        return [client.classify.by_page_token(token)]
    first = client.classify.index(index_id=index_id, **CALL_KWARGS)
    if name == "index":
        return [first]
    pages = [first]
    while first.page_info.next_page_token:
        page = client.classify.by_page_token(first.page_info.next_page_token)
        first.page_info = page.page_info
        pages.append(page)
    return pages


def test_reference_yields_four_verbatim_examples(examples: Dict[str, seed.Example]) -> None:
    assert seed.SEED_REFERENCE is not None
    text = seed.SEED_REFERENCE.read_text(encoding="utf-8")
    assert set(examples) == set(seed.EXAMPLE_NAMES)
    for name, example in examples.items():
        assert example.code.rstrip() in text, f"{name} is not a verbatim slice of the reference"
        compile(example.code, name, "exec")
        assert "def print_classify_page_result" in example.code
        assert "client.classify." in example.code
        assert "client =" not in example.code  # the reference leaves the client to us
    for name in ("videos", "index", "iterative"):
        code = examples[name].code
        assert 'options=["visual", "conversation"]' in code and "page_limit=1" in code
        assert '"Cooking ustensils review"' in code
    assert '"<YOUR_PAGE_TOKEN>"' in examples["by_page_token"].code
    assert "next(result)" in examples["iterative"].code


def test_extractor_ignores_prose_and_signature_blocks() -> None:
    text = (
        "Methods\n\nClassify a set of videos\n\nFunction signature and example:\n\n"
        "def videos(\n    self,\n    video_ids: List[str],\n) -> models.ClassifyPageResult\n"
        "X = 1\n\ndef f(r):\n    print(r)\n\n    return r\nresult = client.classify.videos(\n    video_ids=X,\n)\n"
        "\nParameters:\n\nNameTypeRequiredDescription\nvideo_idsList[str]YesA list\n\n"
        "result = client.classify.index(index_id='<YOUR_INDEX_ID>')\nwhile True:\n    try:\n"
        "        next(result)\n    except StopIteration:\n        break\n\nRelated guides:\n"
        "result = client.classify.index(index_id='x')\nprint(result)\n\nReturn value: a page\n"
        "result = client.classify.by_page_token('<YOUR_PAGE_TOKEN>')\n"
    )
    found = seed.extract_examples(text)
    assert found["videos"].code == "X = 1\n\ndef f(r):\n    print(r)\n\n    return r\nresult = client.classify.videos(\n    video_ids=X,\n)\n"
    assert found["iterative"].code.startswith("result = client.classify.index(index_id='<YOUR_INDEX_ID>')")
    assert found["index"].code == "result = client.classify.index(index_id='x')\nprint(result)\n"
    assert found["by_page_token"].code == "result = client.classify.by_page_token('<YOUR_PAGE_TOKEN>')\n"


@pytest.mark.parametrize("env", BACKENDS, indirect=True)
@pytest.mark.parametrize("name", list(seed.EXAMPLE_NAMES))
def test_example_runs_unchanged(name: str, env: Env, examples: Dict[str, seed.Example], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    index_id, video_ids = world_ids(env.sb.world)
    client = env.client(monkeypatch)
    token = client.classify.index(index_id=index_id, **CALL_KWARGS).page_info.next_page_token or ""
    assert token, "the default world should give more than one page at page_limit=1"
    expected = expected_pages(client, name, index_id, video_ids, token)
    client.close()

    code = seed.prepare(examples[name], import_line=OURS, api_key=API_KEY, video_ids=video_ids,
                        index_id=index_id, page_token=token)
    proc = env.run(tmp_path, name, code)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Classification results:" in out
    expected_videos = [v.video_id for page in expected for v in page.data]
    expected_classes: Set[str] = {c.name for page in expected for v in page.data for c in v.classes}
    assert expected_videos, "the example's call returned no videos: nothing would be shown"
    assert _VIDEO_LINE.findall(out) == expected_videos
    assert set(_CLASS_LINE.findall(out)) == expected_classes
    assert expected_classes <= {"DanceTok", "CookTok"}
    for page in expected:
        for video in page.data:
            for cls in video.classes:
                assert f"  Score: {cls.score}\n" in out
                assert f"  Duration ratio: {cls.duration_ratio}\n" in out
    if name == "iterative":
        assert out.rstrip().endswith("No more results.")
        assert out.count("Classification results:") == len(expected)
        assert f"Page {len(expected)}\n" in out
    else:
        assert "Page information:" in out and "Limit per page: 1" in out
    # The legacy call was flagged, on the script's own line.
    assert f"{tmp_path / (name + '.py')}:" in proc.stderr and "client.classify." in proc.stderr


# --------------------------------------------------------------------------- against the real 0.3.2 SDK


@pytest.fixture
def both(sb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tuple[TwelveLabs, Any]]:
    monkeypatch.setenv("TWELVELABS_BASE_URL", sb.base_url)
    ours = TwelveLabs(api_key=API_KEY, classify_backend="legacy")
    real = twelvelabs.TwelveLabs(api_key=API_KEY)
    yield ours, real
    ours.close()


def test_real_sdk_gets_equal_results_for_videos(both: Tuple[TwelveLabs, Any], sb: Any) -> None:
    ours, real = both
    all_ids = [v for ix in sb.world["indexes"] for v in [x["_id"] for x in ix["videos"]]][:6]
    for kwargs in (CALL_KWARGS, dict(CALL_KWARGS, page_limit=10, include_clips=False),
                   dict(CALL_KWARGS, threshold={"min_video_score": 50, "min_duration_ratio": 0.1})):
        mine = dump_masked(ours.classify.videos(video_ids=all_ids, **kwargs))
        theirs = dump_masked(real.classify.videos(video_ids=all_ids, **kwargs))
        assert mine == theirs
        assert mine["data"], kwargs


def test_real_sdk_gets_equal_results_for_index_and_all_pages(both: Tuple[TwelveLabs, Any], sb: Any) -> None:
    ours, real = both
    index_id, _ = world_ids(sb.world)
    mine = ours.classify.index(index_id=index_id, **dict(CALL_KWARGS, page_limit=2))
    theirs = real.classify.index(index_id=index_id, **dict(CALL_KWARGS, page_limit=2))
    assert dump_masked(mine) == dump_masked(theirs)
    my_pages = [strip_superset(p.model_dump()) for p in mine]
    their_pages = [p.model_dump() for p in theirs]
    assert len(my_pages) >= 1 and my_pages == their_pages
    assert mine.page_info.total_results == theirs.page_info.total_results
    assert mine.page_info.next_page_token in ("", None) and theirs.page_info.next_page_token in ("", None)


def test_real_sdk_reads_the_same_page_by_token(both: Tuple[TwelveLabs, Any], sb: Any) -> None:
    ours, real = both
    index_id, _ = world_ids(sb.world)
    token = ours.classify.index(index_id=index_id, **CALL_KWARGS).page_info.next_page_token
    assert token
    assert ours.classify.by_page_token(token).model_dump() == \
        _with_clip_superset(real.classify.by_page_token(token).model_dump())


def _with_clip_superset(dump: Dict[str, Any]) -> Dict[str, Any]:
    for video in dump["data"]:
        for cls in video["classes"]:
            for clip in cls.get("clips") or []:
                clip.setdefault("detailed_scores", None)
    return dump


# A legacy program written against 0.3.2 (the reference's examples read ``clip.detailed_scores``,
# which 0.3.2's models lack, so they cannot serve as the common script).
LEGACY_PROGRAM = """\
import os
import sys

from twelvelabs import APIStatusError, TwelveLabs

CLASSES = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]
client = TwelveLabs(api_key=os.environ["KEY"])
index_id = os.environ["INDEX_ID"]
video_ids = os.environ["VIDEO_IDS"].split(",")


def show(data):
    for video in data:
        print("video", video.video_id, len(video.classes))
        for cls in video.classes:
            ds = cls.detailed_scores
            print(" class", cls.name, cls.score, cls.duration_ratio,
                  ds and (ds.max_score, ds.avg_score, ds.normalized_score))
            for clip in cls.clips or []:
                print("  clip", clip.start, clip.end, clip.score, clip.option, clip.prompt, clip.thumbnail_url)


def info(page_info):
    print("info", page_info.limit_per_page, page_info.total_results,
          bool(page_info.next_page_token), bool(page_info.prev_page_token))


res = client.classify.videos(video_ids, ["visual", "conversation"], CLASSES, include_clips=True,
                             show_detailed_score=True, page_limit=2)
show(res.data)
info(res.page_info)
for data in res:
    show(data)
    info(res.page_info)

res = client.classify.index(index_id=index_id, options=["visual"], classes=CLASSES, page_limit=3,
                            threshold={"min_video_score": 60, "min_duration_ratio": 0.2},
                            conversation_option="semantic")
show(res.data)
token = res.page_info.next_page_token
while True:
    try:
        data = next(res)
    except StopIteration:
        break
    show(data)
    info(res.page_info)

if token:
    page = client.classify.by_page_token(token)
    show(page.data)
    info(page.page_info)

try:
    client.classify.by_page_token("00000000-0000-0000-0000-000000000000-7")
except APIStatusError as exc:
    print("error", type(exc).__name__, exc.status_code, exc)
print("done", file=sys.stderr)
"""


def test_legacy_program_prints_the_same_with_the_real_sdk(sb: Any, tmp_path: Path) -> None:
    index_id, _ = world_ids(sb.world)
    all_ids = [v["_id"] for v in sb.world["indexes"][0]["videos"]][:5]
    env = child_env(KEY=API_KEY, INDEX_ID=index_id, VIDEO_IDS=",".join(all_ids),
                    TWELVELABS_BASE_URL=sb.base_url, TWELVELABS_CLASSIFY_BACKEND="legacy")
    outputs = {}
    for label, import_line in (("ours", OURS), ("real", REAL)):
        script = tmp_path / f"{label}_program.py"
        code = LEGACY_PROGRAM.replace("from twelvelabs import", import_line.split(" TwelveLabs")[0])
        script.write_text(code, encoding="utf-8")
        proc = run_python([str(script)], cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
        outputs[label] = proc
    ours, real = outputs["ours"].stdout, outputs["real"].stdout
    assert len(re.findall(r"^video ", ours, re.M)) >= 3
    assert re.search(r"^  clip ", ours, re.M) and re.search(r"^info ", ours, re.M)
    assert "error BadRequestError 400" in ours
    assert ours == real
    # Only our run warns; warning lines are not part of the comparison.
    assert "client.classify." in outputs["ours"].stderr
    assert "client.classify." not in outputs["real"].stderr


@pytest.mark.parametrize("name", list(seed.EXAMPLE_NAMES))
def test_real_sdk_cannot_run_the_reference_examples(name: str, sb: Any, examples: Dict[str, seed.Example],
                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Why ours goes beyond 0.3.2: its clips lack ``detailed_scores`` and its page data is no ``list``."""
    index_id, video_ids = world_ids(sb.world)
    monkeypatch.setenv("TWELVELABS_BASE_URL", sb.base_url)
    with TwelveLabs(api_key=API_KEY, classify_backend="legacy") as client:
        token = client.classify.index(index_id=index_id, **CALL_KWARGS).page_info.next_page_token or ""
    code = seed.prepare(examples[name], import_line=REAL, api_key=API_KEY, video_ids=video_ids,
                        index_id=index_id, page_token=token)
    script = tmp_path / f"real_{name}.py"
    script.write_text(code, encoding="utf-8")
    proc = run_python([str(script)], cwd=tmp_path, env=child_env(TWELVELABS_BASE_URL=sb.base_url))
    assert proc.returncode != 0
    assert "AttributeError" in proc.stderr
    missing = "video_id" if name == "iterative" else "detailed_scores"
    assert f"has no attribute '{missing}'" in proc.stderr
