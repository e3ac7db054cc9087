"""Security: the API key stays secret, the cache is private and inert, page tokens cannot be forged.

Figures checked:
* occurrences of the API key in DEBUG logs (every logger, ours and httpx's), reprs and ``str`` of
  the client, its config, request options, results, failures, warnings and exceptions (with
  their tracebacks), the cache file bytes, page tokens and the sandbox request log: **0**;
* cache file mode **0600**, directory **0700**, every stored value JSON (no pickle);
* a page token used with another key, or altered in any byte: **BadRequestError and 0 requests**;
* the sandbox listens on **127.0.0.1** unless told otherwise.

    pytest -m security
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sqlite3
import stat
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest

from classify_shim import APIError, BadRequestError, TwelveLabs, TwelveLabsError
from classify_shim._config import ClientConfig
from classify_shim._http import Pacing
from classify_shim._types import RequestOptions
from classify_shim.sandbox import Sandbox, synthetic_world
from legacy_support import paced_client
from reliability._support import count, reset_log, settled_requests

pytestmark = [
    pytest.mark.security,
    pytest.mark.filterwarnings("ignore::classify_shim.ClassifyDeprecationWarning"),
]

SECRET = "tlk_S3CRET_9f8e7d6c5b4a3210zz"  # distinctive, so any leak is unambiguous
OTHER_KEY = "tlk_0THER_0123456789abcdefyy"
OPTIONS = ["visual", "conversation", "text_in_video"]
CLASSES = [
    {"name": "Dance", "prompts": ["dance tutorial", "dance group"]},
    {"name": "Cook", "prompts": ["cooking tutorial"], "conversation_option": "exact_match"},
    {"name": "Soccer", "prompts": ["soccer players score a goal"]},
]


def leaks(text: str) -> bool:
    """The key, or a recognisable part of it, appears in ``text``."""
    return SECRET in text or SECRET[4:20] in text


def assert_clean(where: str, text: str) -> None:
    assert not leaks(text), f"the API key appears in {where}: ...{text[max(0, text.find(SECRET[4:20]) - 80):][:200]}"


@pytest.fixture
def scripted_world() -> Any:
    """Six videos; one answers garbage twice (a reported failure), one is truncated once (a retry)."""
    w = synthetic_world(6, seed=21)
    videos = w["indexes"][0]["videos"]
    videos[1]["scripted_answers"] = [{"text": "no JSON here"}, {"text": "nor here"}]
    videos[2]["scripted_answers"] = [{"text": '{"classes": [{"name": "Dance"', "finish_reason": "length"}]
    return w


@pytest.fixture
def faulty_sandbox(scripted_world: Any) -> Iterator[Sandbox]:
    with Sandbox(world=scripted_world, fault_rate=0.3, seed=21) as sb:
        yield sb


FAST_RETRIES = Pacing(adjust=lambda wait: 0.005)
"""5-ms retry waits: the figure is what is logged, not how long the retries wait."""


def _everything(caplog: pytest.LogCaptureFixture) -> str:
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
    parts.append(caplog.text)
    return "\n".join(parts)


def _exception_text(exc: BaseException) -> str:
    out = [str(exc), repr(exc), "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]
    if isinstance(exc, APIError):
        out += [exc.message, repr(exc.body)]
    return "\n".join(out)


# ------------------------------------------------------------------------------------- logs


def test_key_never_in_debug_logs_legacy_and_pegasus_with_retries_and_errors(
    faulty_sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Figure: 0 occurrences of the key in every DEBUG record (ours, httpx, httpcore) across a
    legacy run with injected faults and retries, a rejected call, a server 400, a Pegasus run with
    faults, retries and reported failures, and the auto backend switching."""
    sb = faulty_sandbox
    ids = [v["_id"] for v in sb.world["indexes"][0]["videos"]]
    caplog.set_level(logging.DEBUG)  # the root: every logger, not only classify_shim.*
    texts: List[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for backend in ("legacy", "pegasus", "auto"):
            with paced_client(FAST_RETRIES, SECRET, classify_backend=backend, base_url=sb.base_url,
                              cache=tmp_path / f"{backend}.sqlite3", max_retries=3) as client:
                calls: List[Callable[[], Any]] = [
                    lambda: client.classify.videos(ids, OPTIONS, CLASSES, page_limit=2, include_clips=True),
                    lambda: client.classify.videos(ids, OPTIONS, [{"name": "x", "prompts": []}]),
                    lambda: client.classify.by_page_token("0000-99"),
                ]
                for call in calls:
                    try:
                        result = call()
                        texts += [repr(result), str(result), repr(result.errors)]
                    except TwelveLabsError as exc:
                        texts.append(_exception_text(exc))
            if backend == "legacy":
                sb.legacy = "retired"  # the auto run must switch
    texts += [str(w.message) for w in caught]
    logged = _everything(caplog)
    assert sum(1 for r in caplog.records if r.name.startswith("classify_shim")) >= 10, "too few records to judge"
    assert any(r.levelno == logging.DEBUG and r.name == "classify_shim.http" for r in caplog.records)
    assert_clean("the logs", logged)
    assert_clean("results, failures, warnings and exceptions", "\n".join(texts))
    assert any("attempt 2" in r.getMessage() for r in caplog.records), "no retry happened; the test proves little"


# ------------------------------------------------------------------------------------- reprs


def test_key_never_in_reprs_and_exception_messages(sandbox: Any, tmp_path: Path) -> None:
    """Figure: 0 occurrences in repr/str of the client, ClientConfig, RequestOptions (even with
    the key passed as a header), a result page, and the exceptions of a failed call."""
    client = TwelveLabs(SECRET, classify_backend="pegasus", base_url=sandbox.base_url, cache=tmp_path / "c.sqlite3")
    config = client.config
    assert isinstance(config, ClientConfig) and config.api_key == SECRET
    options = RequestOptions(headers={"x-api-key": SECRET, "X-Api-Key": SECRET}, params={"a": "b"})
    index_id = sandbox.world["indexes"][0]["_id"]
    result = client.classify.index(index_id, OPTIONS, CLASSES, page_limit=2)
    texts = [repr(client), str(client), repr(config), str(config), repr(options), str(options),
             repr(result), str(result), repr(result.page_info), repr(client.classify)]
    failing: List[Callable[[], Any]] = [
        lambda: client.classify.index("no-such-index", OPTIONS, CLASSES),
        lambda: client.classify.by_page_token(str(result.page_info.next_page_token)[:-4] + "AAAA"),
    ]
    for bad in failing:
        with pytest.raises(TwelveLabsError) as info:
            bad()
        texts.append(_exception_text(info.value))
    legacy = TwelveLabs(SECRET, classify_backend="legacy", base_url=sandbox.base_url, cache=False, max_retries=0)
    with pytest.raises(BadRequestError) as server_error:
        legacy.classify.by_page_token("1234-5")
    texts.append(_exception_text(server_error.value))
    client.close()
    legacy.close()
    for text in texts:
        assert_clean("a repr or exception", text)


def test_key_from_the_environment_is_not_shown_either(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_API_KEY", SECRET)
    client = TwelveLabs(classify_backend="legacy", base_url=sandbox.base_url, cache=False)
    assert client.api_key == SECRET
    assert_clean("repr of an env-configured client", repr(client) + repr(client.config))
    client.close()


# ------------------------------------------------------------------------------------- cache


def _cache_run(sandbox: Any, path: Path, key: str = SECRET) -> Any:
    with TwelveLabs(key, classify_backend="pegasus", base_url=sandbox.base_url, cache=path) as client:
        index_id = sandbox.world["indexes"][0]["_id"]
        result = client.classify.index(index_id, OPTIONS, CLASSES, page_limit=2, include_clips=True)
        client.classify.by_page_token(str(result.page_info.next_page_token))
        return result


def test_cache_file_is_private_holds_no_key_and_no_pickle(sandbox: Any, tmp_path: Path) -> None:
    """Figure: cache dir 0700 and file 0600; 0 occurrences of the key in the bytes of the database
    and its side files; every stored value decodes as JSON and none starts with a pickle header."""
    cache_dir = tmp_path / "private" / "cache"
    path = cache_dir / "classify.sqlite3"
    _cache_run(sandbox, path)
    assert stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700, oct(os.stat(cache_dir).st_mode)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, oct(os.stat(path).st_mode)
    side_files = [p for p in cache_dir.iterdir() if p.name.startswith(path.name)]
    for file in side_files:
        data = file.read_bytes()
        assert SECRET.encode() not in data and SECRET[4:20].encode() not in data, f"key bytes in {file.name}"
        assert base64.b64encode(SECRET.encode()) not in data
    db = sqlite3.connect(str(path))
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        stored = 0
        for table in tables:
            columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            for row in db.execute(f"SELECT * FROM {table}"):
                for column, value in zip(columns, row):
                    assert not isinstance(value, bytes), f"{table}.{column} holds a blob"
                    if isinstance(value, str):
                        assert not leaks(value), f"the key is stored in {table}.{column}"
                    if column in ("value", "v") and table != "meta":
                        json.loads(value)  # raises if a value is not JSON (e.g. pickle)
                        stored += 1
        assert stored >= 3, f"only {stored} stored values: the run did not use the cache"
    finally:
        db.close()


def test_existing_cache_file_permissions_are_tightened(sandbox: Any, tmp_path: Path) -> None:
    """Figure: a pre-existing world-readable cache file is 0600 after the client opened it."""
    path = tmp_path / "loose.sqlite3"
    path.touch()
    os.chmod(path, 0o644)
    _cache_run(sandbox, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


# ------------------------------------------------------------------------------------- tokens


@pytest.fixture
def shared_cache(tmp_path: Path) -> Path:
    return tmp_path / "shared.sqlite3"


def _payload(token: str) -> str:
    body = token[len("tlcs1."):]
    return body.partition(".")[0]


def test_page_token_from_key_a_is_refused_for_key_b_without_any_request(
    sb: Any, shared_cache: Path, make_b: Callable[[], TwelveLabs]
) -> None:
    """Figure: a token made with key A, presented by a client with key B on the SAME cache file
    (where A's result is stored): BadRequestError naming page_token, 0 requests of any kind."""
    result = _cache_run(sb, shared_cache, key=SECRET)
    token = str(result.page_info.next_page_token)
    reset_log(sb)
    client_b = make_b()
    with pytest.raises(BadRequestError, match="page_token") as info:
        client_b.classify.by_page_token(token)
    assert "another API key" in str(info.value) or "signature" in str(info.value)
    assert settled_requests(sb) == []
    # and key A still can
    with TwelveLabs(SECRET, classify_backend="pegasus", base_url=sb.base_url, cache=shared_cache) as client_a:
        assert client_a.classify.by_page_token(token).page_info.total_results == result.page_info.total_results
    assert count(settled_requests(sb), "v1.3.analyze") == 0


@pytest.fixture
def make_b(sb: Any, shared_cache: Path) -> Iterator[Callable[[], TwelveLabs]]:
    made: List[TwelveLabs] = []

    def make() -> TwelveLabs:
        c = TwelveLabs(OTHER_KEY, classify_backend="pegasus", base_url=sb.base_url, cache=shared_cache)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def test_page_token_is_tamper_evident_and_carries_no_secret(sb: Any, shared_cache: Path) -> None:
    """Figure: re-encoding the token's payload to point at page 0 (signature kept), or changing any
    single byte, is refused with 0 requests; the decoded payload holds no key."""
    result = _cache_run(sb, shared_cache)
    token = str(result.page_info.next_page_token)
    payload = _payload(token)
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    assert_clean("a page token", token + decoded)
    result_id, page, expires = decoded.split(":")
    assert page == "1"
    forged_payload = base64.urlsafe_b64encode(f"{result_id}:0:{int(expires) + 3600}".encode()).decode().rstrip("=")
    forged = token.replace(payload, forged_payload)
    variants = [forged]
    for i in range(len("tlcs1."), len(token), 7):
        ch = token[i]
        if ch == ".":
            continue
        variants.append(token[:i] + ("A" if ch != "A" else "B") + token[i + 1:])
    reset_log(sb)
    with TwelveLabs(SECRET, classify_backend="pegasus", base_url=sb.base_url, cache=shared_cache) as client:
        for bad in variants:
            with pytest.raises(BadRequestError, match="page_token"):
                client.classify.by_page_token(bad)
    assert len(variants) >= 10
    assert settled_requests(sb) == []


# ------------------------------------------------------------------------------- sandbox log


def test_key_never_in_the_sandbox_request_log(sb: Any) -> None:
    """Figure: 0 occurrences of the key in the sandbox log, even when a caller puts it in a query
    parameter by mistake (the sandbox masks it); the key travels only in the x-api-key header."""
    with TwelveLabs(SECRET, classify_backend="legacy", base_url=sb.base_url, cache=False) as client:
        client.classify.index(sb.world["indexes"][0]["_id"], OPTIONS, CLASSES, params={"api_key": SECRET})
    with TwelveLabs(SECRET, classify_backend="pegasus", base_url=sb.base_url, cache=False) as client:
        client.classify.videos([sb.world["indexes"][0]["videos"][0]["_id"]], OPTIONS, CLASSES)
    log = settled_requests(sb, until=lambda e: count(e, "v1.3.analyze") >= 1)
    assert len(log) >= 3
    assert_clean("the sandbox request log", json.dumps(log))
    masked = [e for e in log if e.get("query", {}).get("api_key")]
    assert masked and all(e["query"]["api_key"] == "***" for e in masked)


def test_sandbox_binds_loopback_unless_told_otherwise() -> None:
    """Figure: the default host is 127.0.0.1 and the listening socket is bound there."""
    import argparse

    from classify_shim.sandbox._cli import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).host == "127.0.0.1"
    with Sandbox() as sb:
        assert sb.host == "127.0.0.1"
        assert sb.base_url.startswith("http://127.0.0.1:")
        server = sb._server
        assert server is not None and server.server_address[0] == "127.0.0.1"
    with Sandbox(host="localhost") as told:
        assert told._server is not None and told._server.server_address[0] in ("127.0.0.1", "::1")


def test_clients_verify_tls_with_one_context_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Figure: every client's pool holds the one process-wide context, which verifies
    certificates and host names against a loaded CA store; another ``SSL_CERT_FILE`` gets its own."""
    import ssl

    import certifi
    import httpx

    from classify_shim._http import AsyncHTTP, SyncHTTP, default_ssl_context

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    ctx = default_ssl_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname and ctx.get_ca_certs()
    timeout = httpx.Timeout(1.0)
    for http in (SyncHTTP("https://127.0.0.1:9", "k", timeout=timeout, max_retries=0),
                 SyncHTTP("https://127.0.0.1:9", "k", timeout=timeout, max_retries=0),
                 AsyncHTTP("https://127.0.0.1:9", "k", timeout=timeout, max_retries=0)):
        assert http._client._transport._pool._ssl_context is ctx  # type: ignore[attr-defined]
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    other = default_ssl_context()
    assert other is not ctx and other.verify_mode == ssl.CERT_REQUIRED and other.get_ca_certs()
    assert default_ssl_context() is other
