"""Helpers shared by the reliability suites: log reading, a mid-response cutting proxy, hint stripping.

The faults themselves come from the sandbox (429s, 5xx, dropped connections, latency, scripted
model answers, retirement, restarts). Two things the sandbox cannot do are added here, both on
the real loopback path: cutting a connection in the *middle* of a response body (a tiny proxy),
and removing rate-limit hints from the sandbox's own 429 answers (a wrapping transport).
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import httpx

Entries = List[Dict[str, Any]]


def settled_requests(
    sb: Any,
    *,
    at_least: int = 0,
    until: Optional[Callable[[Entries], bool]] = None,
    limit_s: float = 30.0,
) -> Entries:
    """The sandbox log once no request is being handled, with ``at_least`` entries and
    ``until(entries)`` holding.

    A client can return before the sandbox has finished a request it gave up on (a timeout, a
    cut connection); :meth:`Sandbox.wait_idle` waits for it on the sandbox's own events (each
    request's start, log entry and end), not for a quiet period. ``limit_s`` only keeps a broken
    run from hanging; it is never what a test measures.
    """

    def ready(entries: Entries) -> bool:
        return len(entries) >= at_least and (until is None or until(entries))

    entries: Entries = sb.wait_idle(until=ready, timeout=limit_s)
    return entries


def endpoints(entries: Entries) -> Counter[str]:
    """Requests per sandbox endpoint name (``v1.3.analyze``, ``v1.2.classify``, ...)."""
    return Counter(str(e.get("endpoint")) for e in entries)


def statuses(entries: Entries, endpoint: str) -> Counter[int]:
    """Status codes answered on one endpoint (0 = connection dropped by an injected fault)."""
    return Counter(int(e.get("status") or 0) for e in entries if e.get("endpoint") == endpoint)


def count(entries: Entries, endpoint: str) -> int:
    return sum(1 for e in entries if e.get("endpoint") == endpoint)


# --------------------------------------------------------------------------- hint stripping


class StripRateLimitHints(httpx.BaseTransport):
    """Passes requests to the sandbox; removes ``Retry-After`` and ``X-Ratelimit-*`` from answers.

    Models a gateway that answers 429 without saying when to come back: the client must fall
    back to its own bounded backoff.
    """

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.stripped = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        hints = [k for k in response.headers if k.lower() == "retry-after" or k.lower().startswith("x-ratelimit")]
        if hints:
            self.stripped += 1
            for key in hints:
                del response.headers[key]
        return response

    def close(self) -> None:
        self._inner.close()


# --------------------------------------------------------------------------- cutting proxy


def _read_head(sock: socket.socket, buf: bytearray) -> Optional[bytes]:
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4
    head = bytes(buf[:end])
    del buf[:end]
    return head


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _read_exact(sock: socket.socket, buf: bytearray, n: int) -> Optional[bytes]:
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    body = bytes(buf[:n])
    del buf[:n]
    return body


class CuttingProxy:
    """A loopback HTTP/1.1 proxy that drops the connection halfway through chosen response bodies.

    ``cut(prefix, times)`` arms it: the next ``times`` responses to requests whose request line
    starts with ``prefix`` (e.g. ``b"POST /v1.3/analyze"``) are sent with their headers and half
    of their body, then the connection is closed, as when a load balancer or the network fails
    mid-transfer. Everything else passes through unchanged. Only Content-Length bodies are cut
    (the backends ask for non-streamed answers).
    """

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.rpartition("//")[2].partition(":")
        self._upstream = (host, int(port))
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._armed: Dict[bytes, int] = {}
        self.cuts: List[str] = []  # request lines whose response was cut
        self._open: Set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, name="cutting-proxy", daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self, prefix: bytes, times: int) -> None:
        with self._lock:
            self._armed[prefix] = self._armed.get(prefix, 0) + times

    def _take(self, request_line: bytes) -> bool:
        with self._lock:
            for prefix, left in self._armed.items():
                if left > 0 and request_line.startswith(prefix):
                    self._armed[prefix] = left - 1
                    self.cuts.append(request_line.decode("latin-1"))
                    return True
        return False

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self._upstream)
        with self._lock:
            self._open.update((client, upstream))
        cbuf, ubuf = bytearray(), bytearray()
        try:
            while True:
                head = _read_head(client, cbuf)
                if head is None:
                    return
                body = _read_exact(client, cbuf, _content_length(head))
                if body is None:
                    return
                upstream.sendall(head + body)
                request_line = head.split(b"\r\n", 1)[0]
                rhead = _read_head(upstream, ubuf)
                if rhead is None:
                    return
                rbody = _read_exact(upstream, ubuf, _content_length(rhead))
                if rbody is None:
                    return
                if rbody and self._take(request_line):
                    client.sendall(rhead + rbody[: len(rbody) // 2])
                    return  # the finally block closes both sides mid-body
                client.sendall(rhead + rbody)
        except OSError:
            return
        finally:
            for s in (client, upstream):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            with self._lock:
                self._open.difference_update((client, upstream))

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            socks = list(self._open)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def pairs(entries: Entries, endpoint: str) -> List[Tuple[Optional[str], int]]:
    """``(video, status)`` per request on one endpoint, in log order."""
    return [(e.get("video"), int(e.get("status") or 0)) for e in entries if e.get("endpoint") == endpoint]


def reset_log(sb: Any) -> None:
    """Empty the sandbox log once the last answered request has been logged (see settled_requests)."""
    settled_requests(sb)
    sb.clear_requests()
