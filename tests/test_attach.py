"""``classify_shim.attach(client)`` on real official clients: 0.3.2 in-process, 0.4.x and 1.x in subprocesses.

The 1.x SDK is installed for the session into a temporary ``--target`` directory which is put
first on ``PYTHONPATH`` of a child interpreter, so it shadows the 0.3.2 SDK of the test venv
while ``classify_shim`` (installed in the venv) stays importable. Skipped with the reason when
the package registry cannot be reached.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from classify_shim import AsyncTwelveLabs, TwelveLabs, TwelveLabsError, attach
from classify_shim.models import ClassifyPageResult
from classify_shim.resources.classify import AsyncClassify, Classify
from legacy_support import API_KEY

CLASSES: List[Dict[str, Any]] = [
    {"name": "DanceTok", "prompts": ["dance tutorial", "dance group", "dancing"]},
    {"name": "CookTok", "prompts": ["cooking tutorial", "cooking"]},
]
OPTIONS = ["visual", "conversation"]


@pytest.fixture(autouse=True)
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_CLASSIFY_WARNINGS", "off")


def _videos(sb: Any) -> List[str]:
    return [str(v["_id"]) for v in sb.world["indexes"][0]["videos"]]


def _official() -> Any:
    import twelvelabs

    assert metadata.version("twelvelabs") == "0.3.2", "the dev extra pins twelvelabs==0.3.2 for these tests"
    return twelvelabs


# --------------------------------------------------------------------------- twelvelabs 0.3.2


def test_attach_reuses_key_and_host_and_serves_classify(sb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    twelvelabs = _official()
    monkeypatch.setenv("TWELVELABS_BASE_URL", sb.base_url)
    client = twelvelabs.TwelveLabs(API_KEY)
    others = {name: getattr(client, name) for name in ("engine", "index", "task", "search", "generate", "embed")}
    assert attach(client, classify_backend="legacy", max_retries=0, cache=False) is client
    shim = client._classify_shim
    assert isinstance(shim, TwelveLabs) and isinstance(client.classify, Classify)
    assert shim.api_key == API_KEY
    assert shim.base_url == f"{sb.base_url}/v1.2/" == client.base_url
    for name, resource in others.items():
        assert getattr(client, name) is resource, f"attach replaced client.{name}"

    result = client.classify.videos(_videos(sb)[:4], OPTIONS, CLASSES, page_limit=2)
    assert isinstance(result, ClassifyPageResult) and result.backend == "legacy"
    with TwelveLabs(API_KEY, classify_backend="legacy", base_url=sb.base_url, max_retries=0) as direct:
        expected = direct.classify.videos(_videos(sb)[:4], OPTIONS, CLASSES, page_limit=2)
        expected_pages = [p.model_dump() for p in expected]
    assert result.data.model_dump() == expected.data.model_dump()
    assert [p.model_dump() for p in result] == expected_pages and len(expected_pages) == 1
    assert [r["endpoint"] for r in sb.requests()][:1] == ["v1.2.classify"]
    shim.close()


def test_attach_touches_only_the_given_client(sb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    twelvelabs = _official()
    monkeypatch.setenv("TWELVELABS_BASE_URL", sb.base_url)
    attached = attach(twelvelabs.TwelveLabs(API_KEY), classify_backend="legacy")
    other = twelvelabs.TwelveLabs(API_KEY)
    assert isinstance(attached.classify, Classify)
    assert type(other.classify).__module__.startswith("twelvelabs.")
    attached._classify_shim.close()


def test_attach_keeps_the_clients_api_version(sb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    twelvelabs = _official()
    monkeypatch.setenv("TWELVELABS_BASE_URL", sb.base_url)
    client = attach(twelvelabs.TwelveLabs(API_KEY, "v1.1"), classify_backend="legacy")
    assert client._classify_shim.version == "v1.1"
    assert client._classify_shim.base_url == f"{sb.base_url}/v1.1/" == client.base_url
    client._classify_shim.close()


def test_explicit_key_and_host_override_the_clients(sb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    twelvelabs = _official()
    monkeypatch.setenv("TWELVELABS_BASE_URL", sb.base_url)
    client = attach(twelvelabs.TwelveLabs(API_KEY), api_key="tlk_other", classify_backend="legacy")
    assert client._classify_shim.api_key == "tlk_other"
    assert client._classify_shim.base_url == f"{sb.base_url}/v1.2/"  # host still the client's
    client._classify_shim.close()
    client = attach(twelvelabs.TwelveLabs(API_KEY), base_url="http://127.0.0.1:9/v1.2", classify_backend="legacy")
    assert client._classify_shim.base_url == "http://127.0.0.1:9/v1.2/"
    assert client._classify_shim.api_key == API_KEY
    client._classify_shim.close()


def test_options_reach_the_shim(sb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    twelvelabs = _official()
    monkeypatch.setenv("TWELVELABS_BASE_URL", sb.base_url)
    client = attach(twelvelabs.TwelveLabs(API_KEY), classify_backend="pegasus", cache=False, max_retries=0)
    assert client._classify_shim.classify_backend == "pegasus"
    result = client.classify.videos(_videos(sb)[:2], OPTIONS, CLASSES)
    assert result.backend == "pegasus"
    assert any(r["endpoint"] == "v1.3.analyze" for r in sb.requests())
    client._classify_shim.close()


def test_attach_rejects_what_it_cannot_use() -> None:
    with pytest.raises(TwelveLabsError, match="official twelvelabs client"):
        attach(None)

    class NoKey:
        base_url = "http://127.0.0.1:9/v1.2/"

    with pytest.raises(TwelveLabsError, match="api_key="):
        attach(NoKey())


def test_async_clients_get_the_async_resource(sb: Any) -> None:
    class AsyncOfficial:  # an async client of some SDK generation: name says Async, key/host as attributes
        api_key = API_KEY
        base_url = f"{sb.base_url}/v1.2/"

    client = attach(AsyncOfficial(), classify_backend="legacy", cache=False)
    assert isinstance(client.classify, AsyncClassify)
    assert isinstance(client._classify_shim, AsyncTwelveLabs)
    assert client._classify_shim.base_url == f"{sb.base_url}/v1.2/"


# --------------------------------------------------------------------------- twelvelabs 1.x

_CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    from importlib import metadata

    target, url, key, index_id = sys.argv[1:5]
    video_ids = sys.argv[5].split(",")
    classes = json.loads(sys.argv[6])
    import twelvelabs
    from twelvelabs import AsyncTwelveLabs, TwelveLabs
    import classify_shim
    from classify_shim import attach

    out = {"sdk": metadata.version("twelvelabs"), "sdk_from_target": twelvelabs.__file__.startswith(target)}
    client = TwelveLabs(api_key=key, base_url=f"{url}/v1.3")
    indexes = client.indexes
    attach(client, classify_backend="legacy", max_retries=0, cache=False)
    shim = client._classify_shim
    out["shim"] = {"key_reused": shim.api_key == key, "base_url": shim.base_url, "version": shim.version,
                   "classify_type": type(client.classify).__module__ + "." + type(client.classify).__name__}
    result = client.classify.videos(video_ids, ["visual", "conversation"], classes, page_limit=2)
    out["videos"] = [result.data.model_dump()] + [page.model_dump() for page in result]
    out["indexes_untouched"] = client.indexes is indexes
    out["other_resource_ids"] = sorted(i.id for i in client.indexes.list())

    async def run_async():
        aclient = AsyncTwelveLabs(api_key=key, base_url=f"{url}/v1.3")
        attach(aclient, classify_backend="legacy", max_retries=0, cache=False)
        info = {"classify_type": type(aclient.classify).__name__,
                "key_reused": aclient._classify_shim.api_key == key,
                "base_url": aclient._classify_shim.base_url}
        res = await aclient.classify.index(index_id, ["visual", "conversation"], classes, page_limit=3)
        info["index"] = [page.model_dump() async for page in res]
        await aclient._classify_shim.aclose()
        return info

    out["async"] = asyncio.run(run_async())
    shim.close()
    print("RESULT " + json.dumps(out))
    """
)


def _unsatisfied_requirements(dist_info: Path) -> List[str]:
    """Requirements of the installed 1.x SDK that the test environment does not already meet."""
    from packaging.requirements import Requirement

    missing: List[str] = []
    for line in (dist_info / "METADATA").read_text(encoding="utf-8").splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        req = Requirement(line.split(":", 1)[1].strip())
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            have = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            missing.append(str(req))
            continue
        if req.specifier and not req.specifier.contains(have, prereleases=True):
            missing.append(str(req))
    return missing


def _pip(target: Path, *requirements: str) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
           "--target", str(target), *requirements]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"could not run pip to install {requirements}: {exc}")
    if proc.returncode != 0:
        pytest.skip(f"package registry unreachable or refused {requirements}: {proc.stderr.strip()[-400:]}")


def _sdk_dir(tmp_path_factory: pytest.TempPathFactory, series: str, requirement: str) -> Path:
    """A directory holding ``requirement`` plus whichever of its requirements the venv lacks."""
    target = tmp_path_factory.mktemp(f"twelvelabs-{series}")
    _pip(target, requirement)
    dist_infos = sorted(target.glob(f"twelvelabs-{series}.*.dist-info"))
    if not dist_infos:
        pytest.skip(f"pip did not install a twelvelabs {series}.x distribution")
    extra = _unsatisfied_requirements(dist_infos[0])
    if extra:
        _pip(target, *extra)
    return target


@pytest.fixture(scope="session")
def twelvelabs_1x(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield _sdk_dir(tmp_path_factory, "1", "twelvelabs>=1,<2")


@pytest.mark.slow
def test_attach_to_twelvelabs_1x(sb: Any, twelvelabs_1x: Path) -> None:
    index_id = str(sb.world["indexes"][0]["_id"])
    ids = _videos(sb)[:4]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWELVELABS_") and k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(twelvelabs_1x)  # first on sys.path: shadows the venv's 0.3.2
    env["TWELVELABS_CLASSIFY_WARNINGS"] = "off"
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(twelvelabs_1x), sb.base_url, API_KEY, index_id, ",".join(ids),
         json.dumps(CLASSES)],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    out = json.loads(line[len("RESULT "):])

    assert out["sdk"].startswith("1.") and out["sdk_from_target"]
    assert out["shim"] == {
        "key_reused": True,
        "base_url": f"{sb.base_url}/v1.2/",  # host from the 1.x client's ``{host}/v1.3``; classify on v1.2
        "version": "v1.2",
        "classify_type": "classify_shim.resources.classify.Classify",
    }
    assert out["indexes_untouched"] is True
    assert out["other_resource_ids"] == sorted(ix["_id"] for ix in sb.world["indexes"])  # 1.x's own call works

    with TwelveLabs(API_KEY, classify_backend="legacy", base_url=sb.base_url, max_retries=0) as direct:
        expected = direct.classify.videos(ids, OPTIONS, CLASSES, page_limit=2)
        expected_pages = [expected.data.model_dump()] + [p.model_dump() for p in expected]
        expected_index = direct.classify.index(index_id, OPTIONS, CLASSES, page_limit=3)
        expected_index_pages = [expected_index.data.model_dump()] + [p.model_dump() for p in expected_index]
    assert out["videos"] == expected_pages
    assert out["async"]["classify_type"] == "AsyncClassify"
    assert out["async"]["key_reused"] is True and out["async"]["base_url"] == f"{sb.base_url}/v1.2/"
    assert out["async"]["index"] == expected_index_pages


# --------------------------------------------------------------------------- twelvelabs 0.4.x

_CHILD_04 = textwrap.dedent(
    """
    import json, os, sys, warnings
    from importlib import metadata

    target, url, key, index_id = sys.argv[1:5]
    video_ids = sys.argv[5].split(",")
    classes = json.loads(sys.argv[6])
    os.environ["TWELVELABS_BASE_URL"] = url  # how 0.4.x is pointed at a host: "{url}/v1.3/"
    import twelvelabs
    import twelvelabs.exceptions as official
    from classify_shim import ApiVersionWarning, attach

    out = {"sdk": metadata.version("twelvelabs"), "sdk_from_target": twelvelabs.__file__.startswith(target)}
    client = twelvelabs.TwelveLabs(key)
    out["client_base_url"] = client.base_url
    out["had_classify"] = hasattr(client, "classify")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        attach(client, classify_backend="legacy", max_retries=0, cache=False)
        result = client.classify.videos(video_ids, ["visual", "conversation"], classes, page_limit=2)
        pages = [result.data.model_dump()] + [page.model_dump() for page in result]
        index = client.classify.index(index_id, ["visual"], classes[:1])
    out["version_warnings"] = [str(w.message) for w in caught if issubclass(w.category, ApiVersionWarning)]
    out["videos"] = pages
    out["index_count"] = len(index.data)
    out["shim_base_url"] = client._classify_shim.base_url
    try:
        client.classify.index("no-such-index-0000", ["visual"], classes)
    except Exception as exc:
        out["error"] = {"type": type(exc).__name__, "official_same_name": isinstance(exc, getattr(official, type(exc).__name__)),
                        "official_api_status": isinstance(exc, official.APIStatusError),
                        "official_base": isinstance(exc, official.TwelveLabsError)}
    out["own_resource_ok"] = sorted(ix.id for ix in client.index.list())
    print("RESULT " + json.dumps(out))
    """
)


@pytest.fixture(scope="session")
def twelvelabs_04(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The last 0.4.x SDK (base URL ``{host}/v1.3/``, no classify resource)."""
    yield _sdk_dir(tmp_path_factory, "0.4", "twelvelabs>=0.4,<0.5")


@pytest.mark.slow
def test_attach_to_twelvelabs_04x(sb: Any, twelvelabs_04: Path) -> None:
    """0.4.x dropped classify and talks to v1.3: attach() gives it one that calls v1.2, warning once."""
    index_id = str(sb.world["indexes"][0]["_id"])
    ids = _videos(sb)[:4]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWELVELABS_") and k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(twelvelabs_04)  # first on sys.path: shadows the venv's 0.3.2
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD_04, str(twelvelabs_04), sb.base_url, API_KEY, index_id, ",".join(ids),
         json.dumps(CLASSES)],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))[len("RESULT "):])

    assert out["sdk"].startswith("0.4.") and out["sdk_from_target"]
    assert out["client_base_url"] == f"{sb.base_url}/v1.3/" and out["had_classify"] is False
    assert out["shim_base_url"] == f"{sb.base_url}/v1.2/"
    assert len(out["version_warnings"]) == 1 and "v1.2" in out["version_warnings"][0]
    assert out["index_count"] > 0
    # v1.2 answered an unknown index with 400 (index_not_found); the sandbox does the same.
    assert out["error"] == {"type": "BadRequestError", "official_same_name": True, "official_api_status": True,
                            "official_base": True}
    assert out["own_resource_ok"] == sorted(ix["_id"] for ix in sb.world["indexes"])
    with TwelveLabs(API_KEY, classify_backend="legacy", base_url=sb.base_url, max_retries=0) as direct:
        expected = direct.classify.videos(ids, OPTIONS, CLASSES, page_limit=2)
        assert out["videos"] == [expected.data.model_dump()] + [p.model_dump() for p in expected]
    v12 = [r for r in sb.requests() if r["path"].startswith("/v1.2/classify")]
    assert v12 and not [r for r in sb.requests() if r["path"].startswith("/v1.3/classify")]
