"""HTTP layer shared by every adapter: one retry policy, one error mapping, sync and async twins.

Retries (openai-python style): 408/409/429/5xx and connection errors, exponential backoff with
jitter, honouring ``Retry-After`` (seconds or HTTP date), ``retry-after-ms`` and the v1.2
``X-Ratelimit-Reset`` epoch. The API key is sent as a header and never logged.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Union

import httpx
from pydantic_core import from_json

from ._exceptions import APIConnectionError, APITimeoutError, make_status_error
from ._types import NotGiven, RequestOptions
from ._version import __version__

__all__ = ["AsyncHTTP", "HTTPResponse", "RetryPolicy", "SyncHTTP"]

log = logging.getLogger("classify_shim.http")

RETRY_STATUSES = frozenset({408, 409, 429})
USER_AGENT = f"twelvelabs-classify-shim/{__version__} python-httpx/{httpx.__version__}"


@dataclass(frozen=True)
class HTTPResponse:
    """A decoded answer: JSON (or text) plus the headers adapters may need (rate limits)."""

    status_code: int
    body: Any
    headers: Mapping[str, str]
    retries: int


@dataclass
class RetryPolicy:
    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    # A server-given wait longer than this is not honoured: the error surfaces instead.
    max_server_delay: float = 60.0
    jitter: float = 0.25

    def should_retry(self, status: int) -> bool:
        return status in RETRY_STATUSES or status >= 500

    def delay(self, attempt: int, headers: Optional[Mapping[str, str]] = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        server = self.server_delay(headers) if headers is not None else None
        if server is not None and 0 <= server <= self.max_server_delay:
            return server
        base = min(self.initial_delay * (2.0**attempt), self.max_delay)
        return base * (1.0 - self.jitter * random.random())

    @staticmethod
    def server_delay(headers: Mapping[str, str]) -> Optional[float]:
        lowered = {k.lower(): v for k, v in headers.items()}
        ms = lowered.get("retry-after-ms")
        if ms is not None:
            try:
                return max(0.0, float(ms) / 1000.0)
            except ValueError:
                pass
        after = lowered.get("retry-after")
        if after is not None:
            try:
                return max(0.0, float(after))
            except ValueError:
                parsed = email.utils.parsedate_to_datetime(after) if after else None
                if parsed is not None:
                    return max(0.0, parsed.timestamp() - time.time())
        reset = lowered.get("x-ratelimit-reset")
        remaining = lowered.get("x-ratelimit-remaining")
        if reset is not None and (remaining is None or remaining.strip() == "0"):
            try:
                value = float(reset)
            except ValueError:
                return None
            # v1.2 documents epoch seconds; tolerate a delta too.
            return max(0.0, value - time.time()) if value > 1e9 else max(0.0, value)
        return None


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    content_type = response.headers.get("content-type", "")
    if "jsonl" in content_type or "ndjson" in content_type:  # JSON Lines: the caller reads it line by line
        return response.text
    if "json" in content_type:
        return from_json(response.content)  # twice as fast as json.loads on result pages
    return response.text


def _timeout(options: Optional[RequestOptions]) -> Any:
    if options is None or isinstance(options.timeout, NotGiven):
        return httpx.USE_CLIENT_DEFAULT
    return options.timeout


class _Base:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: httpx.Timeout,
        max_retries: int,
        sleep: Optional[Callable[[float], Any]] = None,
    ) -> None:
        self.base_url = base_url
        self._api_key = api_key
        self._timeout = timeout
        self.policy = RetryPolicy(max_retries=max_retries)
        self._sleep_override = sleep

    def _headers(self, method: str, options: Optional[RequestOptions]) -> Dict[str, str]:
        headers = {"x-api-key": self._api_key, "user-agent": USER_AGENT, "accept": "application/json"}
        if options is not None:
            headers.update(options.headers)
        return headers

    def _build(
        self,
        client: Union[httpx.Client, httpx.AsyncClient],
        method: str,
        path: str,
        json: Any,
        params: Optional[Mapping[str, Any]],
        options: Optional[RequestOptions],
    ) -> httpx.Request:
        url = path if path.startswith(("http://", "https://")) else self.base_url + path.lstrip("/")
        merged: Dict[str, Any] = dict(params or {})
        if options is not None:
            merged.update(options.params)
        return client.build_request(
            method,
            url,
            json=json,
            params=merged or None,
            headers=self._headers(method, options),
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
        self, request: httpx.Request, response: httpx.Response, attempt: int, retries: int, started: float
    ) -> Optional[float]:
        """None when the response is final (success); a delay to retry; raises on a final error."""
        self._log(request, response.status_code, attempt, time.monotonic() - started)
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
    ) -> None:
        super().__init__(base_url, api_key, timeout=timeout, max_retries=max_retries, sleep=sleep)
        self._owns = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Optional[Mapping[str, Any]] = None,
        options: Optional[RequestOptions] = None,
        max_retries: Optional[int] = None,
    ) -> HTTPResponse:
        retries = self.policy.max_retries if max_retries is None else max_retries
        request = self._build(self._client, method, path, json, params, options)
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = self._client.send(request)
            except httpx.TransportError as exc:
                wait = self._on_transport_error(request, exc, attempt, retries, started)
            else:
                outcome = self._on_response(request, response, attempt, retries, started)
                if outcome is None:
                    return HTTPResponse(response.status_code, _decode(response), response.headers, attempt)
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
    ) -> None:
        super().__init__(base_url, api_key, timeout=timeout, max_retries=max_retries, sleep=sleep)
        self._owns = client is None
        self._client = client if client is not None else httpx.AsyncClient(timeout=timeout)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Optional[Mapping[str, Any]] = None,
        options: Optional[RequestOptions] = None,
        max_retries: Optional[int] = None,
    ) -> HTTPResponse:
        retries = self.policy.max_retries if max_retries is None else max_retries
        request = self._build(self._client, method, path, json, params, options)
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = await self._client.send(request)
            except httpx.TransportError as exc:
                wait = self._on_transport_error(request, exc, attempt, retries, started)
            else:
                outcome = self._on_response(request, response, attempt, retries, started)
                if outcome is None:
                    return HTTPResponse(response.status_code, _decode(response), response.headers, attempt)
                await response.aclose()
                wait = outcome
            if self._sleep_override is not None:
                self._sleep_override(wait)
            else:
                await asyncio.sleep(wait)
            attempt += 1

    async def aclose(self) -> None:
        if self._owns:
            await self._client.aclose()

