"""HTTP layer shared by every adapter: one retry policy, one error mapping, sync and async twins.

Retries (openai-python style) live HERE and nowhere else: 408/409/429/5xx and connection
errors, exponential backoff with jitter, honouring ``Retry-After`` (seconds or HTTP date),
``retry-after-ms`` and the v1.2 ``X-Ratelimit-Reset`` epoch. One API call is sent at most
``1 + max_retries`` times (``max_retries=0`` is 0.3.2's no-retry behaviour); callers above
(the Pegasus rate gate) may observe every answer and pace *new* calls, never re-send.
A server-hinted wait is capped at :data:`MAX_SERVER_DELAY` seconds; a hint that cannot be
parsed means "use the backoff". The API key is sent as a header and never logged.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import random
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import httpx
from pydantic_core import from_json

from ._exceptions import APIConnectionError, APIResponseValidationError, APITimeoutError, make_status_error
from ._own_client import OwnClient
from ._rules import finite_number
from ._types import NotGiven, RequestOptions
from ._version import __version__

__all__ = [
    "MAX_SERVER_DELAY", "RATE_LIMIT_BASE_DELAY", "RATE_LIMIT_MAX_WAIT", "AsyncHTTP", "HTTPResponse", "Observer", "Pacing",
    "RetryPolicy", "SyncHTTP", "backoff_delay", "encoded_json", "pool_limits",
]

log = logging.getLogger("classify_shim.http")

RETRY_STATUSES = frozenset({408, 409, 429})
MAX_SERVER_DELAY = 60.0
"""Longest wait honoured from ``Retry-After``/``retry-after-ms``/``X-Ratelimit-Reset``; a longer
hint (a daily quota) is cut to this, and the bounded retries then surface the error."""

RATE_LIMIT_BASE_DELAY = 1.0
"""First pause (seconds) of the Pegasus rate gate after a 429 without ``Retry-After``; doubles with
each 429 in a row."""
RATE_LIMIT_MAX_WAIT = 60.0
"""Longest single pause of the Pegasus rate gate; a longer ``Retry-After`` (a daily quota) is cut to this."""


_SSL_LOCK = threading.Lock()
_SSL_CONTEXTS: Dict[Tuple[str, str], ssl.SSLContext] = {}


def default_ssl_context() -> ssl.SSLContext:
    """The verifying TLS context httpx would build for ``verify=True``, built once per process
    per ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` (building one loads the CA bundle: ≈ 25 ms of CPU,
    most of what constructing a client costs). Contexts are meant to be shared by connections."""
    key = (os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))
    with _SSL_LOCK:
        ctx = _SSL_CONTEXTS.get(key)
        if ctx is None:
            ctx = _SSL_CONTEXTS[key] = httpx.create_ssl_context()
        return ctx


@dataclass(frozen=True)
class Pacing:
    """How long one client waits between tries: ``ClientConfig.pacing``, read by its HTTP layer
    (retry backoff and server hints) and the Pegasus rate gate (pauses after a 429).

    The defaults are the shim's. Tests and tools give a client shorter waits, or ``adjust``: it
    receives every retry wait the policy decided and returns the wait to take (record the asked
    wait, then shorten it), so no one patches a class or module for the whole process.
    """

    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_server_delay: float = MAX_SERVER_DELAY
    jitter: float = 0.25
    rate_limit_base_delay: float = RATE_LIMIT_BASE_DELAY
    rate_limit_max_wait: float = RATE_LIMIT_MAX_WAIT
    adjust: Optional[Callable[[float], float]] = None


DEFAULT_PACING = Pacing()

Observer = Callable[[int, Mapping[str, str]], None]
"""Called with (status, headers) for EVERY answer, retried ones included (the rate gate learns)."""
USER_AGENT = f"twelvelabs-classify-shim/{__version__} python-httpx/{httpx.__version__}"


@dataclass(frozen=True)
class HTTPResponse:
    """A decoded answer: JSON (or text) plus the headers adapters may need (rate limits)."""

    status_code: int
    body: Any
    headers: Mapping[str, str]
    retries: int
    undecoded: Optional[httpx.Response] = None
    """The answer, when its caller asked for a JSON body undecoded (``request(..., decode=False)``);
    ``body`` is then None: read ``json_bytes``, or ``decode()`` for what ``body`` would have held."""

    @property
    def json_bytes(self) -> Optional[bytes]:
        """The JSON body's bytes when it was left undecoded, else None."""
        return self.undecoded.content if self.undecoded is not None else None

    def decode(self) -> Any:
        """``body`` as decoded by default (raising as it would have for a malformed JSON body)."""
        return self.body if self.undecoded is None else _decode(self.undecoded)


def backoff_delay(attempt: int, initial: float, maximum: float, jitter: float = 0.25) -> float:
    """Exponential backoff, capped, minus up to ``jitter`` of itself at random (so clients that
    failed together do not retry together). The one backoff rule for every wait on a server."""
    return min(initial * (2.0**attempt), maximum) * (1.0 - jitter * random.random())


@dataclass
class RetryPolicy:
    max_retries: int = 2
    # The waits are the default Pacing's (one declaration); RetryPolicy.paced takes a client's own.
    initial_delay: float = DEFAULT_PACING.initial_delay
    max_delay: float = DEFAULT_PACING.max_delay
    max_server_delay: float = DEFAULT_PACING.max_server_delay
    jitter: float = DEFAULT_PACING.jitter
    clock: Callable[[], float] = time.time
    """Wall-clock seconds, for ``Retry-After`` dates and ``X-Ratelimit-Reset`` epochs (tests inject one)."""
    adjust: Optional[Callable[[float], float]] = None
    """See :attr:`Pacing.adjust`: the decided wait in, the wait to take out."""

    @classmethod
    def paced(cls, max_retries: int, pacing: Pacing, clock: Callable[[], float] = time.time) -> RetryPolicy:
        return cls(
            max_retries=max_retries, initial_delay=pacing.initial_delay, max_delay=pacing.max_delay,
            max_server_delay=pacing.max_server_delay, jitter=pacing.jitter, clock=clock, adjust=pacing.adjust,
        )

    def should_retry(self, status: int) -> bool:
        return status in RETRY_STATUSES or status >= 500

    def delay(self, attempt: int, headers: Optional[Mapping[str, str]] = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based): the server's hint, capped,
        or exponential backoff with jitter when there is no usable hint."""
        server = self.server_delay(headers, self.clock()) if headers is not None else None
        if server is not None:
            wait = min(server, self.max_server_delay)
        else:
            wait = backoff_delay(attempt, self.initial_delay, self.max_delay, self.jitter)
        return wait if self.adjust is None else self.adjust(wait)

    @staticmethod
    def server_delay(headers: Mapping[str, str], now: Optional[float] = None) -> Optional[float]:
        """The wait the server asked for, in seconds, or None when it gave none we can read
        (``now``: the wall clock to measure dates and epochs against, the real one by default)."""
        now = time.time() if now is None else now
        lowered = {k.lower(): v for k, v in headers.items()}
        ms = finite_number(lowered.get("retry-after-ms"), text=True)
        if ms is not None:
            return max(0.0, ms / 1000.0)
        after = lowered.get("retry-after")
        if after is not None:
            seconds = finite_number(after, text=True)
            if seconds is not None:
                return max(0.0, seconds)
            when = _http_date(after)
            if when is not None:
                return max(0.0, when - now)
        remaining = lowered.get("x-ratelimit-remaining")
        value = finite_number(lowered.get("x-ratelimit-reset"), text=True)
        if value is not None and (remaining is None or remaining.strip() == "0"):
            # v1.2 documents epoch seconds; tolerate a delta too.
            return max(0.0, value - now) if value > 1e9 else max(0.0, value)
        return None




def _http_date(text: str) -> Optional[float]:
    try:
        parsed = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:  # older Pythons return None instead of raising
        return None
    try:
        return parsed.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def _is_json(response: httpx.Response) -> bool:
    """A non-empty body that ``_decode`` decodes as one JSON document."""
    if not response.content:
        return False
    content_type = response.headers.get("content-type", "")
    return "json" in content_type and "jsonl" not in content_type and "ndjson" not in content_type


def _answer(response: httpx.Response, attempt: int, decode: bool) -> HTTPResponse:
    if not decode and _is_json(response):
        return HTTPResponse(response.status_code, None, response.headers, attempt, response)
    return HTTPResponse(response.status_code, _decode(response), response.headers, attempt)


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    if _is_json(response):  # JSON Lines are not: the caller reads them line by line
        try:
            return from_json(response.content)  # twice as fast as json.loads on result pages
        except ValueError as exc:
            text = response.text
            raise APIResponseValidationError(
                f"HTTP {response.status_code} from {response.request.url.path} carried a malformed JSON body "
                f"({exc}); first bytes: {text[:120]!r}",
                response=response,
                body=text,
            ) from exc
    return response.text


def _probe_json_headers() -> Optional[Tuple[bytes, bytes, bytes]]:
    """The headers httpx adds for a JSON body, in its order: (length's name, type's name, type's
    value); None if this httpx adds others (then httpx encodes every body itself)."""
    added = [(k, v) for k, v in httpx.Request("POST", "http://127.0.0.1/", json={}).headers.raw if k.lower() != b"host"]
    if [k.lower() for k, _ in added] != [b"content-length", b"content-type"]:
        return None  # pragma: no cover - every httpx this package supports adds these two
    return added[0][0], added[1][0], added[1][1]


_JSON_HEADERS = _probe_json_headers()


def encoded_json(body: Any) -> Optional[bytes]:
    """The bytes httpx sends for ``json=body`` (its own encoder), for a body that never changes
    (a memoised request's): sent as they are instead of encoded again per request. None when
    httpx refuses the body: it is then refused per request, as without this."""
    if _JSON_HEADERS is None:  # pragma: no cover - see _probe_json_headers
        return None
    try:
        return httpx.Request("POST", "http://127.0.0.1/", json=body).content
    except (TypeError, ValueError):
        return None


def _timeout(options: Optional[RequestOptions]) -> Any:
    if options is None or isinstance(options.timeout, NotGiven):
        return httpx.USE_CLIENT_DEFAULT
    return options.timeout


def pool_limits(max_connections: Optional[int]) -> httpx.Limits:
    """A connection pool keeping every connection it may open alive (httpx's default keeps 20
    of 100: with more in flight, httpcore closes an idle connection on each pool update)."""
    if max_connections is None:
        return httpx.Limits(max_connections=100, max_keepalive_connections=20)
    n = max(1, max_connections)
    return httpx.Limits(max_connections=n, max_keepalive_connections=n)


class _Base:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: httpx.Timeout,
        max_retries: int,
        sleep: Optional[Callable[[float], Any]] = None,
        clock: Optional[Callable[[], float]] = None,
        pacing: Pacing = DEFAULT_PACING,
    ) -> None:
        # sleep / clock: injected by tests (record the waits, fix "now"), never public settings
        self.base_url = base_url
        self._api_key = api_key
        self._timeout = timeout
        self.policy = RetryPolicy.paced(max_retries, pacing, clock or time.time)
        self._sleep_override = sleep
        self._urls: Dict[str, httpx.URL] = {}

    _URLS_KEPT = 64

    def _url(self, text: str) -> httpx.URL:
        """The parsed URL, memoised (``httpx.URL`` is immutable): httpx parses a URL given as text
        on every request, twice, which cost more than the rest of building the request."""
        urls = self._urls
        url = urls.get(text)
        if url is None:
            url = httpx.URL(text)
            if len(urls) >= self._URLS_KEPT:
                urls.clear()
            urls[text] = url
        return url

    _preset = False
    """True when our own client carries our headers as its defaults (``_own_headers``), so a call
    without headers of its own passes none: httpx then merges nothing per request."""

    def _own_headers(self) -> List[Tuple[str, str]]:
        return [("x-api-key", self._api_key), ("user-agent", USER_AGENT), ("accept", "application/json")]

    def _headers(self, method: str, options: Optional[RequestOptions]) -> List[Tuple[str, str]]:
        headers = self._own_headers()
        if options is None or not options.headers:
            return headers
        # As httpx merged a request's headers into the client's: a caller's name replaces ours, and
        # every line the caller gave is sent (a repeated header stays repeated).
        given = {name for name, _ in options.headers}
        return [pair for pair in headers if pair[0] not in given] + options.headers

    def _build(
        self,
        client: Union[httpx.Client, httpx.AsyncClient],
        method: str,
        path: str,
        json: Any,
        params: Optional[Mapping[str, Any]],
        options: Optional[RequestOptions],
        encoded: Optional[bytes] = None,
    ) -> httpx.Request:
        """``encoded``: ``encoded_json(json)`` when ``json`` never changes (sent as is when nothing
        else is merged; the same bytes and headers httpx makes from ``json``)."""
        url = self._url(path if path.startswith(("http://", "https://")) else self.base_url + path.lstrip("/"))
        if self._preset and not params and (options is None or options.builds_nothing()) and not client.cookies:
            # What build_request makes when it has nothing to merge (our client has no base URL and
            # no query parameters; its headers, timeout and an empty jar are all it would add).
            extensions = {"timeout": client.timeout.as_dict()}
            if encoded is not None and _JSON_HEADERS is not None:
                length, kind, value = _JSON_HEADERS  # after the client's, as httpx appends them
                headers = [*client.headers.raw, (length, str(len(encoded)).encode()), (kind, value)]
                return httpx.Request(method, url, content=encoded, headers=headers, extensions=extensions)
            return httpx.Request(method, url, json=json, headers=client.headers, extensions=extensions)
        merged: Optional[httpx.QueryParams] = httpx.QueryParams(params) if params else None
        if options is not None and options.params:
            # the caller's pairs, repeated keys kept
            merged = merged.merge(options.params) if merged is not None else options.params
        body: Dict[str, Any] = dict(options.body) if options is not None and options.body else {}
        if not body:
            body["json"] = json
        return client.build_request(
            method,
            url,
            **body,
            params=merged or None,
            # As a preset client's defaults, ours come out in the same order as merged per request
            # (httpx's merge moves each header it is given to the end): the same bytes are sent.
            headers=None if self._preset and (options is None or not options.headers) else self._headers(method, options),
            cookies=options.cookies if options and options.cookies else None,
            timeout=_timeout(options),
            extensions=options.extensions if options and options.extensions else None,
        )

    def _log(self, request: httpx.Request, status: Union[int, str], attempt: int, elapsed: float) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %s (attempt %d, %.0f ms)", request.method, request.url.path, status, attempt + 1, elapsed * 1000)


    def _on_transport_error(
        self, request: httpx.Request, exc: Exception, attempt: int, retries: int, started: float
    ) -> float:
        """Delay before the next try, or raise the legacy exception with the cause chained."""
        self._log(request, type(exc).__name__, attempt, time.monotonic() - started)
        if attempt < retries:
            return self.policy.delay(attempt)
        if isinstance(exc, httpx.TimeoutException):
            raise APITimeoutError(request=request) from exc
        raise APIConnectionError(message=f"Connection error: {exc}", request=request) from exc

    def _on_response(
        self,
        request: httpx.Request,
        response: httpx.Response,
        attempt: int,
        retries: int,
        started: float,
        observe: Optional[Observer] = None,
    ) -> Optional[float]:
        """None when the response is final (success); a delay to retry; raises on a final error."""
        self._log(request, response.status_code, attempt, time.monotonic() - started)
        if observe is not None:
            observe(response.status_code, response.headers)
        if response.is_success:
            return None
        if attempt < retries and self.policy.should_retry(response.status_code):
            return self.policy.delay(attempt, response.headers)
        raise make_status_error(response)


class SyncHTTP(_Base):
    """Blocking twin; owns its ``httpx.Client`` unless one is injected (the transport seam)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: httpx.Timeout,
        max_retries: int,
        client: Optional[httpx.Client] = None,
        sleep: Optional[Callable[[float], Any]] = None,
        clock: Optional[Callable[[], float]] = None,
        pacing: Pacing = DEFAULT_PACING,
    ) -> None:
        super().__init__(
            base_url, api_key, timeout=timeout, max_retries=max_retries, sleep=sleep, clock=clock, pacing=pacing
        )
        self._owns = client is None
        self._client = client if client is not None else OwnClient(
            timeout=timeout, headers=self._own_headers(), verify=default_ssl_context())
        self._preset = client is None

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Optional[Mapping[str, Any]] = None,
        options: Optional[RequestOptions] = None,
        max_retries: Optional[int] = None,
        observe: Optional[Observer] = None,
        encoded: Optional[bytes] = None,
        decode: bool = True,
    ) -> HTTPResponse:
        """Send once, retry at most ``max_retries`` times (the client's by default); ``encoded``:
        see :meth:`_build`; ``decode=False``: a JSON body is left undecoded (``HTTPResponse.undecoded``)."""
        retries = self.policy.max_retries if max_retries is None else max_retries
        request = self._build(self._client, method, path, json, params, options, encoded)
        send_kwargs = options.send_kwargs() if options is not None else {}
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = self._client.send(request, **send_kwargs)
            except httpx.TransportError as exc:
                wait = self._on_transport_error(request, exc, attempt, retries, started)
            else:
                outcome = self._on_response(request, response, attempt, retries, started, observe)
                if outcome is None:
                    return _answer(response, attempt, decode)
                response.close()
                wait = outcome
            (self._sleep_override or time.sleep)(wait)
            attempt += 1

    def close(self) -> None:
        if self._owns:
            self._client.close()


class AsyncHTTP(_Base):
    """Async twin of :class:`SyncHTTP`; same policy, same errors."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: httpx.Timeout,
        max_retries: int,
        client: Optional[httpx.AsyncClient] = None,
        sleep: Optional[Callable[[float], Any]] = None,
        max_connections: Optional[int] = None,
        clock: Optional[Callable[[], float]] = None,
        pacing: Pacing = DEFAULT_PACING,
    ) -> None:
        super().__init__(
            base_url, api_key, timeout=timeout, max_retries=max_retries, sleep=sleep, clock=clock, pacing=pacing
        )
        self._owns = client is None
        # One TLS context for the client and its lanes (and every other client of the process).
        self._ssl: Optional[ssl.SSLContext] = default_ssl_context() if client is None else None
        self._client = client if client is not None else httpx.AsyncClient(timeout=timeout, verify=self._ssl or True)
        # Lanes: with a bound given and our own pool, each request in flight gets a client of its
        # own with one keep-alive connection. One shared httpcore pool hands an idle connection
        # to every request queued while it is idle; all but one fail over and the pool is
        # scanned again (≈ 4 re-assignments per request at 32 in flight, most of the client CPU).
        self._lane_cap = max(1, max_connections) if (client is None and max_connections) else 0
        self._lanes: List[httpx.AsyncClient] = []
        self._free: List[httpx.AsyncClient] = []
        self._lane_slots: Optional[asyncio.Semaphore] = None

    async def _send(self, request: httpx.Request, send_kwargs: Mapping[str, Any]) -> httpx.Response:
        if not self._lane_cap:
            return await self._client.send(request, **send_kwargs)
        if self._lane_slots is None:  # created lazily, inside the running loop
            self._lane_slots = asyncio.Semaphore(self._lane_cap)
        async with self._lane_slots:
            if self._free:
                lane = self._free.pop()
            else:
                lane = httpx.AsyncClient(timeout=self._timeout, limits=pool_limits(1), verify=self._ssl or True)
                self._lanes.append(lane)
            try:
                return await lane.send(request, **send_kwargs)
            finally:
                self._free.append(lane)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Optional[Mapping[str, Any]] = None,
        options: Optional[RequestOptions] = None,
        max_retries: Optional[int] = None,
        observe: Optional[Observer] = None,
        encoded: Optional[bytes] = None,
        decode: bool = True,
    ) -> HTTPResponse:
        """Send once, retry at most ``max_retries`` times (the client's by default); ``encoded``:
        see :meth:`_build`; ``decode=False``: a JSON body is left undecoded (``HTTPResponse.undecoded``)."""
        retries = self.policy.max_retries if max_retries is None else max_retries
        request = self._build(self._client, method, path, json, params, options, encoded)
        send_kwargs = options.send_kwargs() if options is not None else {}
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = await self._send(request, send_kwargs)
            except httpx.TransportError as exc:
                wait = self._on_transport_error(request, exc, attempt, retries, started)
            else:
                outcome = self._on_response(request, response, attempt, retries, started, observe)
                if outcome is None:
                    return _answer(response, attempt, decode)
                await response.aclose()
                wait = outcome
            if self._sleep_override is not None:
                self._sleep_override(wait)
            else:
                await asyncio.sleep(wait)
            attempt += 1

    async def aclose(self) -> None:
        if self._owns:
            lanes, self._lanes, self._free = self._lanes, [], []
            for lane in lanes:
                await lane.aclose()
            await self._client.aclose()

