"""The ``httpx.Client`` the shim builds for itself (never one a user passes).

``httpx.Client.send`` runs an auth flow, a redirect loop, event hooks and a cookie-jar update
for every answer. On our own client there is no auth, no hook, no redirect following and, unless
the server sets one, no cookie: the jar update alone (a ``urllib`` request and an ``email``
message built per answer) was ≈ 8 % of a legacy call's client CPU. :class:`OwnClient` sends such
a request the way ``send`` does, minus the steps that do nothing for it; anything else (a
per-call ``auth`` or ``follow_redirects``, credentials in the URL, a hook, httpx's INFO log
enabled, a closed client, the first request) goes through ``httpx.Client.send`` itself.
"""

from __future__ import annotations

import datetime
import logging
import time
from typing import Any, Iterator

import httpx

__all__ = ["OwnClient"]

_HTTPX_LOG = logging.getLogger("httpx")
"""httpx logs every answer at INFO from ``send``; with that enabled, ``send`` itself runs, so the
records are httpx's own."""


class _TimedStream(httpx.SyncByteStream):
    """Sets ``response.elapsed`` when the body is closed, as ``httpx.Client.send``'s stream does."""

    def __init__(self, stream: httpx.SyncByteStream, response: httpx.Response, start: float) -> None:
        self._stream = stream
        self._response = response
        self._start = start

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        self._response.elapsed = datetime.timedelta(seconds=time.perf_counter() - self._start)
        self._stream.close()


class OwnClient(httpx.Client):
    """An ``httpx.Client`` whose plain sends skip the no-op steps (see the module docstring)."""

    _opened = False

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        if (
            kwargs  # stream / auth / follow_redirects given for this call
            or not self._opened  # the first send moves the client to "opened" (``with`` then refuses)
            or self.is_closed
            or self.auth is not None
            or self.follow_redirects
            or self.event_hooks["request"]
            or self.event_hooks["response"]
            or "timeout" not in request.extensions
            or request.url.username
            or request.url.password
            or _HTTPX_LOG.isEnabledFor(logging.INFO)
        ):
            self._opened = True
            return super().send(request, **kwargs)
        transport = self._transport_for_url(request.url)
        start = time.perf_counter()
        if not isinstance(request.stream, httpx.SyncByteStream):
            raise RuntimeError("Attempted to send an async request with a sync Client instance.")
        try:
            response = transport.handle_request(request)
        except httpx.RequestError as exc:  # as httpx's request_context: the error names its request
            exc.request = request
            raise
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.request = request
        response.stream = _TimedStream(response.stream, response, start)
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:  # else the jar update changes nothing
            self.cookies.extract_cookies(response)
        response.default_encoding = self._default_encoding
        try:
            response.history = []
            if response.has_redirect_location:  # not followed: named, as send names it
                response.next_request = self._build_redirect_request(request, response)
            response.read()
        except BaseException:
            response.close()
            raise
        return response
