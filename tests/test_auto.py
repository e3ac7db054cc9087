"""The ``auto`` backend: legacy until the v1.2 endpoint is retired, then Pegasus for good."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path
from typing import Any, Dict, List, Tuple

import httpx
import pytest

import classify_shim
from classify_shim import AsyncTwelveLabs, BackendSwitchWarning, BadRequestError, TwelveLabs
from classify_shim._config import ClientConfig
from classify_shim.adapters.auto import auto_decision

KEY = "tlk_auto_backend_000001"
CLASSES = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]


def _videos(sb: Any) -> List[str]:
    return [v["_id"] for ix in sb.world["indexes"] for v in ix["videos"]]


def _client(sb: Any, tmp_path: Path, **kwargs: Any) -> TwelveLabs:
    kwargs.setdefault("cache", tmp_path / "c.sqlite3")
    return TwelveLabs(api_key=KEY, classify_backend="auto", base_url=sb.base_url, **kwargs)


def _call(fn: Any, *args: Any, **kwargs: Any) -> Tuple[Any, List[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    return result, [w for w in caught if issubclass(w.category, BackendSwitchWarning)]


def _endpoints(sb: Any) -> List[str]:
    return [r["endpoint"] for r in sb.requests()]


def _config(sb: Any, tmp_path: Path, cache: Any = None) -> ClientConfig:
    return ClientConfig.build(
        KEY, "v1.2", classify_backend="auto", base_url=sb.base_url, timeout=10.0, max_retries=0,
        cache=tmp_path / "c.sqlite3" if cache is None else cache,
    )


def test_live_legacy_stays_legacy(sb: Any, tmp_path: Path) -> None:
    with _client(sb, tmp_path) as client:
        result, switched = _call(client.classify.videos, _videos(sb), ["visual"], CLASSES, page_limit=2)
        assert result.backend == "legacy" and switched == []
        assert _endpoints(sb) == ["v1.2.classify"]
        token = result.page_info.next_page_token
        assert token and not token.startswith("tlcs1.")
        page, _ = _call(client.classify.by_page_token, token)  # a legacy token goes to v1.2
        assert page.backend == "legacy"
    assert _endpoints(sb) == ["v1.2.classify", "v1.2.classify.page"]
    assert auto_decision(_config(sb, tmp_path)) is None
    assert not (tmp_path / "c.sqlite3").exists()  # no cache file while legacy serves


def test_retired_legacy_switches_once_and_is_remembered(sb: Any, tmp_path: Path) -> None:
    sb.legacy = "retired"
    vids = _videos(sb)
    with _client(sb, tmp_path) as client:
        first, switched = _call(client.classify.videos, vids, ["visual"], CLASSES, page_limit=2)
        assert first.backend == "pegasus"
        assert len(switched) == 1
        message = str(switched[0].message)
        assert "retired" in message and "Pegasus" in message and str(tmp_path / "c.sqlite3") in message
        assert switched[0].filename == __file__  # blamed on the caller's line
        assert _endpoints(sb).count("v1.2.classify") == 1
        assert _endpoints(sb).count("v1.3.analyze") == len(vids)
        sb.clear_requests()
        second, again = _call(client.classify.videos, vids, ["visual", "conversation"], CLASSES)
        assert again == [] and second.backend == "pegasus"
        assert "v1.2.classify" not in _endpoints(sb)  # the rest of the client's life: no probe
        page, _ = _call(client.classify.by_page_token, first.page_info.next_page_token)
        assert page.backend == "pegasus"
    assert auto_decision(_config(sb, tmp_path)) == "pegasus"
    # A new client (a later process) skips the probe and does not warn again.
    sb.clear_requests()
    with _client(sb, tmp_path) as later:
        third, later_switch = _call(later.classify.videos, vids, ["visual"], CLASSES, page_limit=2)
    assert third.backend == "pegasus" and later_switch == []
    assert not any(e.startswith("v1.2") for e in _endpoints(sb))
    assert "v1.3.analyze" not in _endpoints(sb)  # and its answers were cached by the first client


def test_decision_is_per_host(sb: Any, tmp_path: Path) -> None:
    sb.legacy = "retired"
    with _client(sb, tmp_path) as client:
        _call(client.classify.videos, _videos(sb)[:1], ["visual"], CLASSES)
    other = ClientConfig.build(
        KEY, "v1.2", classify_backend="auto", base_url="http://127.0.0.1:1", timeout=1.0, max_retries=0,
        cache=tmp_path / "c.sqlite3",
    )
    assert auto_decision(other) is None
    assert auto_decision(_config(sb, tmp_path)) == "pegasus"


def test_cache_off_switch_lasts_for_the_client(sb: Any, tmp_path: Path) -> None:
    sb.legacy = "retired"
    vids = _videos(sb)[:3]
    with _client(sb, tmp_path, cache=False) as client:
        _, switched = _call(client.classify.videos, vids, ["visual"], CLASSES)
        _, again = _call(client.classify.videos, vids, ["visual"], CLASSES)
        assert len(switched) == 1 and again == []
        assert _endpoints(sb).count("v1.2.classify") == 1
    with _client(sb, tmp_path, cache=False) as fresh:
        _, new_switch = _call(fresh.classify.videos, vids, ["visual"], CLASSES)
    assert len(new_switch) == 1 and _endpoints(sb).count("v1.2.classify") == 2
    assert auto_decision(_config(sb, tmp_path, cache=False)) is None
    assert not (tmp_path / "c.sqlite3").exists()


def test_other_legacy_errors_do_not_switch(sb: Any, tmp_path: Path) -> None:
    with _client(sb, tmp_path) as client, pytest.raises(BadRequestError) as info:
        _call(client.classify.videos, ["ffffffffffffffffffffffff"], ["visual"], CLASSES)
    assert info.value.body["code"] == "resource_not_exist"
    assert not any(e.startswith("v1.3") for e in _endpoints(sb))
    assert auto_decision(_config(sb, tmp_path)) is None


def test_auto_decision_never_creates_a_cache_file(sb: Any, tmp_path: Path) -> None:
    path = tmp_path / "nothing-here" / "c.sqlite3"
    assert auto_decision(_config(sb, tmp_path, cache=path)) is None
    assert not path.exists() and not path.parent.exists()


def test_async_auto_switches(sb: Any, tmp_path: Path) -> None:
    sb.legacy = "retired"
    vids = _videos(sb)

    async def main() -> Tuple[Any, Any, List[warnings.WarningMessage]]:
        async with AsyncTwelveLabs(
            api_key=KEY, classify_backend="auto", base_url=sb.base_url, cache=tmp_path / "c.sqlite3"
        ) as client:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                first = await client.classify.videos(vids, ["visual"], CLASSES, page_limit=2)
                page = await client.classify.by_page_token(first.page_info.next_page_token)
                await client.classify.videos(vids, ["visual"], CLASSES, page_limit=2)
            return first, page, [w for w in caught if issubclass(w.category, BackendSwitchWarning)]

    first, page, switched = asyncio.run(main())
    assert first.backend == "pegasus" and page.backend == "pegasus"
    assert len(switched) == 1
    counts: Dict[str, int] = {}
    for e in _endpoints(sb):
        counts[e] = counts.get(e, 0) + 1
    assert counts.get("v1.2.classify") == 1 and counts.get("v1.3.analyze") == len(vids)


# ---- item 3: the public host is never probed; evidence rules; v1.3 clients classify on v1.2


def _forwarding(sb: Any, seen: List[str], answer: Any = None) -> httpx.Client:
    """An httpx client whose transport records each path and answers from the sandbox (or ``answer``)."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if answer is not None and request.url.path.startswith("/v1.2/"):
            return answer(request)
        with httpx.Client() as real:
            up = real.request(request.method, sb.base_url + request.url.raw_path.decode(), headers=request.headers,
                              content=request.content)
        return httpx.Response(up.status_code, content=up.content, headers=up.headers)

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_public_host_serves_pegasus_without_any_v12_probe(sb: Any, tmp_path: Path) -> None:
    seen: List[str] = []
    client = TwelveLabs(KEY, classify_backend="auto", cache=tmp_path / "c.sqlite3", max_retries=0,
                        http_client=_forwarding(sb, seen))  # default base URL: the public host
    result, switched = _call(client.classify.videos, _videos(sb)[:2], ["visual"], CLASSES)
    client.close()
    assert result.backend == "pegasus" and switched == []
    assert seen and not any(p.startswith("/v1.2") for p in seen)
    public = ClientConfig.build(KEY, "v1.2", classify_backend="auto", base_url=None, timeout=1.0, max_retries=0,
                                cache=tmp_path / "c.sqlite3")
    assert auto_decision(public) is None  # nothing stored: the rule needs no memory


@pytest.mark.parametrize(
    ("name", "status", "body", "ctype"),
    [
        ("html-404", 404, b"<html><body>Not Found</body></html>", "text/html"),
        ("empty-404", 404, b"", "application/json"),
        ("api-not-allowed-403", 403, b'{"code": "api_not_allowed", "message": "plan"}', "application/json"),
    ],
)
def test_answers_that_are_no_retirement_evidence_change_nothing(
    sb: Any, tmp_path: Path, name: str, status: int, body: bytes, ctype: str
) -> None:
    seen: List[str] = []
    answer = lambda request: httpx.Response(status, content=body, headers={"content-type": ctype})  # noqa: E731
    client = TwelveLabs(KEY, classify_backend="auto", base_url="http://proxy.test", cache=tmp_path / "c.sqlite3",
                        max_retries=0, http_client=_forwarding(sb, seen, answer))
    for _ in range(2):  # the second call probes again: nothing was remembered in memory
        with pytest.raises(classify_shim.APIStatusError) as info:
            _call(client.classify.videos, _videos(sb)[:1], ["visual"], CLASSES)
        assert info.value.status_code == status
    client.close()
    assert seen == ["/v1.2/classify", "/v1.2/classify"]
    assert auto_decision(_config_for("http://proxy.test", tmp_path)) is None


def test_retirement_on_a_wrong_path_never_switches(sb: Any, tmp_path: Path) -> None:
    seen: List[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1.2/classify":  # a proxy sends the call elsewhere ...
            return httpx.Response(302, headers={"location": "http://proxy.test/v1.2/other"})
        return httpx.Response(410, json={"code": "endpoint_deprecated", "message": "gone"})  # ... which is gone

    client = TwelveLabs(KEY, classify_backend="auto", base_url="http://proxy.test", cache=tmp_path / "c.sqlite3",
                        max_retries=0, http_client=_forwarding(sb, seen, answer))
    with pytest.raises(classify_shim.APIStatusError) as info:
        _call(client.classify.videos, _videos(sb)[:1], ["visual"], CLASSES, follow_redirects=True)
    client.close()
    assert info.value.status_code == 410 and seen == ["/v1.2/classify", "/v1.2/other"]
    assert auto_decision(_config_for("http://proxy.test", tmp_path)) is None


@pytest.mark.parametrize("answer", [
    httpx.Response(410, content=b""),
    httpx.Response(404, json={"code": "endpoint_deprecated", "message": "retired"}),
    httpx.Response(404, json={"code": "not_found", "message": "No route"}),
])
def test_retirement_evidence_on_the_classify_route_switches(sb: Any, tmp_path: Path, answer: httpx.Response) -> None:
    seen: List[str] = []
    client = TwelveLabs(KEY, classify_backend="auto", base_url="http://proxy.test", cache=tmp_path / "c.sqlite3",
                        max_retries=0, http_client=_forwarding(sb, seen, lambda request: answer))
    result, switched = _call(client.classify.videos, _videos(sb)[:1], ["visual"], CLASSES)
    client.close()
    assert result.backend == "pegasus" and len(switched) == 1
    record = auto_decision(_config_for("http://proxy.test", tmp_path))
    assert record == "pegasus"


def _config_for(base_url: str, tmp_path: Path) -> ClientConfig:
    return ClientConfig.build(KEY, "v1.2", classify_backend="auto", base_url=base_url, timeout=1.0, max_retries=0,
                              cache=tmp_path / "c.sqlite3")


@pytest.mark.parametrize("how", ["version-argument", "attach-0.4.x-client"])
def test_v13_clients_send_classify_to_v12_with_one_warning(sb: Any, how: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if how == "version-argument":
            client: Any = TwelveLabs(KEY, "v1.3", classify_backend="legacy", base_url=sb.base_url, max_retries=0)
        else:
            class Official04:  # what 0.4.x's client carries: api_key and "{host}/v1.3/", no version
                api_key = KEY
                base_url = f"{sb.base_url}/v1.3/"

            client = classify_shim.attach(Official04(), classify_backend="legacy", max_retries=0)._classify_shim
    versions = [w for w in caught if issubclass(w.category, classify_shim.ApiVersionWarning)]
    assert len(versions) == 1 and "v1.2" in str(versions[0].message) and versions[0].filename == __file__
    assert client.version == "v1.2" and client.base_url == f"{sb.base_url}/v1.2/"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.classify.videos(_videos(sb)[:1], ["visual"], CLASSES)
    client.close()
    assert _endpoints(sb) == ["v1.2.classify"]
