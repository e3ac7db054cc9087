"""Old ``except`` clauses keep catching: shim errors are also the official SDK's classes.

In process against the dev environment's ``twelvelabs`` 0.3.2, and in child processes against
the real 0.2.x, 0.3.2 and 1.3.6 packages, each installed into a directory of its own (built once
per session under the pytest tmp dir; ``slow``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, Iterator

import httpx
import pytest
import twelvelabs.exceptions as twelvelabs  # the dev extra installs twelvelabs 0.3.2

import classify_shim
from classify_shim._exceptions import make_status_error, shim_class


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429, 500])
def test_status_errors_are_the_official_same_named_class(status: int) -> None:
    response = httpx.Response(status, json={"code": "c", "message": "m"}, request=httpx.Request("POST", "http://h/v1.2/classify"))
    err = make_status_error(response)
    theirs = getattr(twelvelabs, shim_class(err).__name__)
    assert isinstance(err, theirs) and isinstance(err, twelvelabs.APIStatusError)
    assert isinstance(err, twelvelabs.TwelveLabsError) and isinstance(err, classify_shim.APIStatusError)
    assert str(err) == f"Error code: {status} - {{'code': 'c', 'message': 'm'}}" and err.status_code == status


def test_validation_and_connection_errors_are_caught_by_0_3_2_clauses() -> None:
    with pytest.raises(twelvelabs.BadRequestError) as info:
        classify_shim.TwelveLabs("tlk_x", classify_backend="legacy", cache=False).classify.videos([], ["visual"], [])
    assert isinstance(info.value, ValueError) and shim_class(info.value) is classify_shim.ClassifyValidationError
    with pytest.raises(twelvelabs.APIConnectionError):
        raise classify_shim.APIConnectionError(request=None)
    with pytest.raises(twelvelabs.TwelveLabsError):
        raise classify_shim.TwelveLabsError("anything the shim raises")


_CHILD = textwrap.dedent(
    """
    import json, sys
    import httpx
    import twelvelabs
    from importlib import metadata
    out = {"sdk": metadata.version("twelvelabs"), "caught": {}}
    import classify_shim
    from classify_shim._exceptions import make_status_error
    if int(out["sdk"].split(".")[0]) >= 1:
        from twelvelabs import TwelveLabs
        from twelvelabs.core.api_error import ApiError
        client = classify_shim.attach(TwelveLabs(api_key="tlk_x", base_url="http://127.0.0.1:9/v1.3"), cache=False)
        try:
            client.classify.videos([], ["visual"], [])
        except ApiError as exc:
            out["caught"]["ApiError"] = [exc.status_code, exc.body["code"]]
        resp = httpx.Response(404, json={"code": "c"}, request=httpx.Request("POST", "http://h/v1.2/classify"))
        try:
            raise make_status_error(resp)
        except ApiError as exc:
            out["caught"]["ApiError404"] = [exc.status_code, exc.body, str(exc)]
    else:
        import twelvelabs.exceptions as tle
        for status, name in [(400, "BadRequestError"), (404, "NotFoundError"), (429, "RateLimitError")]:
            resp = httpx.Response(status, json={"code": "c"}, request=httpx.Request("POST", "http://h/v1.2/classify"))
            try:
                raise make_status_error(resp)
            except getattr(tle, name) as exc:
                out["caught"][name] = isinstance(exc, tle.APIStatusError) and isinstance(exc, tle.TwelveLabsError)
    print("RESULT " + json.dumps(out))
    """
)

RELEASES = {"0.2": "twelvelabs>=0.2,<0.3", "0.3.2": "twelvelabs==0.3.2", "1.3.6": "twelvelabs==1.3.6"}


@pytest.fixture(scope="session")
def official_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Path]]:
    from test_attach import _pip, _unsatisfied_requirements  # one install rule for official SDKs

    dirs: Dict[str, Path] = {}
    for release, requirement in RELEASES.items():
        target = tmp_path_factory.mktemp(f"twelvelabs-{release}")
        _pip(target, requirement)
        extra = [r for d in target.glob("twelvelabs-*.dist-info") for r in _unsatisfied_requirements(d)]
        if extra:
            _pip(target, *extra)
        dirs[release] = target
    yield dirs


@pytest.mark.slow
@pytest.mark.parametrize("release", list(RELEASES))
def test_real_release_except_clauses_catch_shim_errors(release: str, official_dirs: Dict[str, Path]) -> None:
    env: Dict[str, Any] = {k: v for k, v in os.environ.items() if not k.startswith("TWELVELABS_")}
    env["PYTHONPATH"] = str(official_dirs[release])  # first on sys.path: shadows the venv's 0.3.2
    env["TWELVELABS_CLASSIFY_WARNINGS"] = "off"
    proc = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))[len("RESULT "):])
    assert out["sdk"].startswith(release if release != "0.2" else "0.2."), out
    if release == "1.3.6":
        assert out["caught"]["ApiError"] == [400, "parameter_not_provided"]
        assert out["caught"]["ApiError404"] == [404, {"code": "c"}, "Error code: 404 - {'code': 'c'}"]
    else:
        assert out["caught"] == {"BadRequestError": True, "NotFoundError": True, "RateLimitError": True}
