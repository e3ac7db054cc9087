"""The sandbox HTTP server: routing, auth, rate limits, faults and the request log.

Built on the stdlib ``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive,
so clients exercise the same connection reuse they would against the real
API.  The server runs in a daemon thread and can be stopped and restarted on
the same port (the fault suite does that mid-run).
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import random
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple
from urllib.parse import parse_qsl, unquote, urlsplit

from . import _batches, _tasks, _v12, _v13
from ._common import ApiError, Response, iso_ms
from ._model import ModelState
from ._world import World, WorldError, WorldInput, load_world

LEGACY_MODES = ("live", "retired")
NOISE_MODES = ("none", "realistic", "hostile")
#: X-Ratelimit-Limit reported when no rate limit is configured.
UNLIMITED_RPM = 1_000_000
_MAX_LOG = 100_000
_SECRET_QUERY_KEYS = {"x-api-key", "api_key", "apikey", "key", "token"}


def _tiny_jpeg() -> bytes:
    """A valid 1x1 grey baseline JPEG, built by hand (thumbnails are placeholders)."""

    def seg(marker: int, payload: bytes) -> bytes:
        return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload

    one_code = bytes([1] + [0] * 15) + b"\x00"  # a single 1-bit Huffman code for symbol 0
    return (
        b"\xff\xd8"
        + seg(0xDB, b"\x00" + b"\x01" * 64)
        + seg(0xC0, bytes([8, 0, 1, 0, 1, 1, 1, 0x11, 0]))
        + seg(0xC4, b"\x00" + one_code)
        + seg(0xC4, b"\x10" + one_code)
        + seg(0xDA, bytes([1, 1, 0x00, 0, 63, 0]))
        + b"\x3f"  # DC diff category 0 ('0'), AC end-of-block ('0'), padded with ones
        + b"\xff\xd9"
    )


THUMBNAIL_JPEG = _tiny_jpeg()


class RateLimiter:
    """Sliding windows (60 s unless the sandbox says otherwise) per (hashed API key, endpoint family)."""

    def __init__(self) -> None:
        self._hits: Dict[Tuple[str, str], Deque[float]] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget all counted requests."""
        with self._lock:
            self._hits.clear()

    def hit(
        self, key_hash: str, family: str, limit: Optional[int], window_s: float = 60.0
    ) -> Tuple[bool, Dict[str, str], int]:
        """Count one request in a ``window_s`` sliding window; returns (allowed, X-Ratelimit-*
        headers, retry-after seconds)."""
        now = time.time()
        cap = limit if limit is not None else UNLIMITED_RPM
        with self._lock:
            q = self._hits.setdefault((key_hash, family), collections.deque())
            while q and q[0] <= now - window_s:
                q.popleft()
            allowed = limit is None or len(q) < limit
            if allowed:
                q.append(now)
            oldest = q[0] if q else now
            used = len(q)
        reset_at = oldest + window_s
        headers = {
            "X-Ratelimit-Limit": str(cap),
            "X-Ratelimit-Remaining": str(max(0, cap - used)),
            "X-Ratelimit-Used": str(used),
            "X-Ratelimit-Reset": str(math.ceil(reset_at)),
        }
        return allowed, headers, max(1, math.ceil(reset_at - now))


def _per(window_s: float) -> str:
    return "minute" if window_s == 60.0 else f"{window_s:g} s"


Handler = Callable[["Sandbox", "_Call"], Response]


class _Call:
    """One parsed request handed to a route handler."""

    def __init__(self, method: str, path: str, query: Dict[str, str], params: Tuple[str, ...],
                 body: bytes, api_key: str, headers: Optional[Dict[str, str]] = None) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.params = params
        self.body = body
        self.api_key = api_key
        self.headers = headers or {}

    def json(self) -> Any:
        """The body as JSON (empty body = {}); 400 parameter_invalid when malformed."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "parameter_invalid", "The request body is not valid JSON.") from exc


# (method, pattern, endpoint name, handler, is_api)
_Route = Tuple[str, "re.Pattern[str]", str, Handler, bool]


def _classify(sb: Sandbox, call: _Call, bulk: bool) -> Response:
    if sb.legacy == "retired":
        raise _v12.retired_error()
    family_headers = sb._limit(call, "v1.2.classify")
    req = _v12.parse_request(call.json(), bulk=bulk)
    world = sb._world
    videos = _v12.resolve_videos(world, req)
    results = _v12.classify(videos, req, sb.base_url)
    payload = sb._pages.first_page(results, req.page_limit, sb.token_ttl_s)
    log: Dict[str, Any] = {"index": req.index_id} if bulk else {"videos": list(req.video_ids)}
    video = req.video_ids[0] if len(req.video_ids) == 1 else None
    return Response(200, payload, headers=family_headers, video=video, extra_log=log)


def _classify_page(sb: Sandbox, call: _Call) -> Response:
    if sb.legacy == "retired":
        raise _v12.retired_error()
    return Response(200, sb._pages.page(unquote(call.params[0])))


def _analyze(sb: Sandbox, call: _Call) -> Response:
    headers = sb._limit(call, "v1.3.analyze")
    body = call.json()
    _tasks.check_sunset(body, sb.sunset, _v13.DEFAULT_MODEL)
    resp = _v13.analyze(sb._world, body, sb._model, noise=sb.noise, seed=sb.seed, latency_ms=sb.latency_ms,
                        max_duration_s=_v13.SYNC_MAX_DURATION_S)
    resp.headers.update(headers)
    return resp


def _task_create(sb: Sandbox, call: _Call) -> Response:
    headers = sb._limit(call, "v1.3.analyze")
    resp = sb._task_store.create(sb._world, call.json(), sb._model, idem_key=call.headers.get("idempotency-key"),
                            noise=sb.noise, seed=sb.seed, latency_ms=sb.task_latency_ms, sunset=sb.sunset)
    resp.headers.update(headers)
    return resp


def _owner(call: _Call) -> str:
    return hashlib.sha256(call.api_key.encode()).hexdigest()[:16]


def _batch_create(sb: Sandbox, call: _Call) -> Response:
    headers = sb._limit(call, "v1.3.analyze")
    resp = sb._batch_store.create(sb._world, call.json(), sb._model, owner=_owner(call),
                                  idem_key=call.headers.get("idempotency-key"), noise=sb.noise, seed=sb.seed,
                                  latency_ms=sb.task_latency_ms)
    resp.headers.update(headers)
    return resp


def _world_get(sb: Sandbox, call: _Call) -> Response:
    return Response(200, sb.world)


def _world_post(sb: Sandbox, call: _Call) -> Response:
    try:
        sb.set_world(call.json())
    except WorldError as exc:
        raise ApiError(400, "world_invalid", str(exc)) from exc
    return Response(200, {"ok": True, "summary": sb._world.describe()})


def _requests_get(sb: Sandbox, call: _Call) -> Response:
    return Response(200, {"requests": sb.requests()})


def _requests_delete(sb: Sandbox, call: _Call) -> Response:
    sb.clear_requests()
    return Response(200, {"ok": True})


def _thumbnail(sb: Sandbox, call: _Call) -> Response:
    if call.params[0] not in sb._world.videos:
        raise ApiError(404, "resource_not_exist", f"Resource with id {call.params[0]} does not exist in videos.")
    return Response(200, body=THUMBNAIL_JPEG, content_type="image/jpeg", video=call.params[0])


def _r(method: str, pattern: str, endpoint: str, handler: Handler, api: bool = True) -> _Route:
    return (method, re.compile("^" + pattern + "$"), endpoint, handler, api)


_V12 = r"/(?:p/)?v1\.2"
_ID = r"([^/]+)"
ROUTES: List[_Route] = [
    _r("POST", _V12 + r"/classify", "v1.2.classify", lambda sb, c: _classify(sb, c, bulk=False)),
    _r("POST", _V12 + r"/classify/bulk", "v1.2.classify.bulk", lambda sb, c: _classify(sb, c, bulk=True)),
    _r("GET", _V12 + r"/classify/" + _ID, "v1.2.classify.page", _classify_page),
    _r("POST", r"/v1\.3/analyze", "v1.3.analyze", _analyze),
    _r("POST", r"/v1\.3/analyze/tasks", "v1.3.tasks.create", _task_create),
    _r("GET", r"/v1\.3/analyze/tasks", "v1.3.tasks.list", lambda sb, c: sb._task_store.list(c.query)),
    _r("GET", r"/v1\.3/analyze/tasks/" + _ID, "v1.3.tasks.get", lambda sb, c: sb._task_store.get(c.params[0])),
    _r("DELETE", r"/v1\.3/analyze/tasks/" + _ID, "v1.3.tasks.delete",
       lambda sb, c: sb._task_store.delete(c.params[0])),
    _r("POST", r"/v1\.3/analyze/batches", "v1.3.batches.create", _batch_create),
    _r("GET", r"/v1\.3/analyze/batches", "v1.3.batches.list",
       lambda sb, c: sb._batch_store.list(c.query, _owner(c))),
    _r("GET", r"/v1\.3/analyze/batches/" + _ID, "v1.3.batches.get",
       lambda sb, c: sb._batch_store.get(c.params[0])),
    _r("DELETE", r"/v1\.3/analyze/batches/" + _ID, "v1.3.batches.delete",
       lambda sb, c: sb._batch_store.delete(c.params[0])),
    _r("GET", r"/v1\.3/analyze/batches/" + _ID + "/results", "v1.3.batches.results",
       lambda sb, c: sb._batch_store.results(c.params[0])),
    _r("POST", r"/v1\.3/analyze/batches/" + _ID + "/cancel", "v1.3.batches.cancel",
       lambda sb, c: sb._batch_store.cancel(c.params[0])),
    _r("GET", r"/v1\.3/indexes", "v1.3.indexes", lambda sb, c: _v13.list_indexes(sb._world, c.query)),
    _r("GET", r"/v1\.3/indexes/" + _ID, "v1.3.index", lambda sb, c: _v13.get_index(sb._world, c.params[0])),
    _r("GET", r"/v1\.3/indexes/" + _ID + "/videos", "v1.3.videos",
       lambda sb, c: _v13.list_videos(sb._world, c.params[0], c.query)),
    _r("GET", r"/v1\.3/indexes/" + _ID + "/videos/" + _ID, "v1.3.video",
       lambda sb, c: _v13.get_video(sb._world, c.params[0], c.params[1], c.query)),
    _r("GET", r"/_sandbox/world", "sandbox.world", _world_get, api=False),
    _r("POST", r"/_sandbox/world", "sandbox.world.set", _world_post, api=False),
    _r("GET", r"/_sandbox/requests", "sandbox.requests", _requests_get, api=False),
    _r("DELETE", r"/_sandbox/requests", "sandbox.requests.clear", _requests_delete, api=False),
    _r("GET", r"/_sandbox/thumbnails/" + _ID + r"/(\d+)\.jpe?g", "sandbox.thumbnail", _thumbnail, api=False),
]


class _Server(ThreadingHTTPServer):
    """Tracks open connections so stop() can cut keep-alive clients off like a real outage."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a client opening 32 connections at once had the
    # rest of its SYNs dropped and retransmitted a second later (1.3-1.8 s first calls). A real
    # API front end accepts far more; 128 is the usual SOMAXCONN.
    request_queue_size = 128

    def __init__(self, addr: Tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.open_sockets: Set[socket.socket] = set()
        self.sock_lock = threading.Lock()
        super().__init__(addr, _RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sock_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sock_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)
        self.sandbox._activity_changed(0)  # wait_idle(connections=True) may be waiting for this

    def connections(self) -> int:
        with self.sock_lock:
            return len(self.open_sockets)

    def cut_connections(self) -> None:
        with self.sock_lock:
            socks = list(self.open_sockets)
            self.open_sockets.clear()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _DropConnection(Exception):
    """Injected fault: close the connection without answering."""


class _InjectedError(ApiError):
    """Injected fault answered with a 5xx status (marked in the request log)."""


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "classify-shim-sandbox"
    sys_version = ""
    timeout = 120
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence stderr logging (and never print headers, which carry the API key)."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        sb = self.server.sandbox
        sb._activity_changed(+1)
        try:
            self._dispatch(method)
        finally:
            sb._activity_changed(-1)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self, method: str) -> None:
        sb = self.server.sandbox
        started = time.time()
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        query: Dict[str, str] = {}
        for k, v in parse_qsl(split.query, keep_blank_values=True):
            query[k] = f"{query[k]},{v}" if k in query else v
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        endpoint, handler, params, is_api, allowed = self._route(method, path)
        is_v13 = path.startswith("/v1.3")
        entry: Dict[str, Any] = {
            "method": method,
            "path": path,
            "query": {k: ("***" if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in query.items()},
            "status": 0,
            "time": iso_ms(started),
            "duration_ms": 0.0,
            "endpoint": endpoint,
            "video": None,
            "model": None,
        }
        resp: Optional[Response] = None
        try:
            if handler is None:
                if allowed:
                    raise ApiError(405, "method_not_allowed", f"Method {method} is not allowed on {path}.")
                raise ApiError(404, "not_found", f"No route for {method} {path}.")
            if is_api:
                sb._maybe_fault()
                key = (self.headers.get("x-api-key") or "").strip()
                if not key:
                    raise ApiError(401, "api_key_invalid",
                                   "The API key is missing or invalid. Provide it in the x-api-key header.")
            else:
                key = ""
            hdrs = {k.lower(): v for k, v in self.headers.items() if k.lower() != "x-api-key"}
            call = _Call(method, path, query, params, body, key, hdrs)
            resp = handler(sb, call)
        except _DropConnection:
            entry.update(status=0, fault="dropped", duration_ms=round((time.time() - started) * 1000, 3))
            sb._log(entry)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        except ApiError as err:
            err_body: Dict[str, Any] = {"code": err.code, "message": err.message}
            if endpoint.startswith(("v1.3.tasks", "v1.3.batches")):  # the 2026-07 spec wraps task errors in an envelope
                err_body = {"error": err_body}
            resp = Response(err.status, err_body, headers=err.headers)
            if isinstance(err, _InjectedError):
                entry["fault"] = "status"
            if err.status == 429 and path.startswith(("/v1.2", "/p/v1.2")):
                resp.body = b""  # v1.2 documents an empty 429 body
        except Exception as exc:  # pragma: no cover - a bug in the sandbox itself
            resp = Response(500, {"code": "sandbox_error", "message": f"{type(exc).__name__}: {exc}"})
        if is_v13:
            resp.headers["X-Api-Version"] = "1.3"
        entry["video"] = resp.video
        entry.update(resp.extra_log)
        entry["status"] = resp.status
        entry["duration_ms"] = round((time.time() - started) * 1000, 3)
        sb._log(entry)  # before the answer leaves: a client that got it finds it in the log
        try:
            self._write(resp)
        except OSError:
            self.close_connection = True

    def _route(self, method: str, path: str) -> Tuple[str, Optional[Handler], Tuple[str, ...], bool, bool]:
        allowed = False
        for r_method, pattern, endpoint, handler, api in ROUTES:
            m = pattern.match(path)
            if m is None:
                continue
            if r_method == method:
                return endpoint, handler, m.groups(), api, True
            allowed = True
        api = path.startswith(("/v1.", "/p/v1."))
        return "unknown", None, (), api, allowed

    def _write(self, resp: Response) -> None:
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        if resp.stream is not None:
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in resp.stream:
                if chunk:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        else:
            if resp.body or resp.status != 429:
                self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            self.wfile.write(resp.body)
        self.wfile.flush()


class Sandbox:
    """An offline HTTP emulator of the TwelveLabs v1.2 Classify and v1.3 analyze/indexes APIs.

    Use as a context manager or call start()/stop(); settings are plain
    attributes and may be changed while it runs (e.g. ``sb.legacy = "retired"``).
    """

    _world: World
    _task_store: _tasks.TaskStore
    _batch_store: _batches.BatchStore

    def __init__(
        self,
        world: WorldInput = None,
        host: str = "127.0.0.1",
        port: int = 0,
        legacy: Optional[str] = None,
        latency_ms: float = 0,
        rate_limit_rpm: Optional[int] = None,
        fault_rate: float = 0.0,
        noise: str = "none",
        seed: int = 0,
        token_ttl_s: float = 300.0,
        sunset: str = "none",
        task_latency_ms: float = 0.0,
        rate_limit_window_s: float = 60.0,
    ) -> None:
        if legacy is None:
            # After the 1.2 sunset the v1.2 Classify endpoint (retired 2025-02-28) is long gone too.
            legacy = "retired" if sunset == "pegasus1.2" else "live"
        if legacy not in LEGACY_MODES:
            raise ValueError(f"legacy must be one of {LEGACY_MODES}")
        if noise not in NOISE_MODES:
            raise ValueError(f"noise must be one of {NOISE_MODES}")
        if sunset not in _tasks.SUNSET_MODES:
            raise ValueError(f"sunset must be one of {_tasks.SUNSET_MODES}")
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        if rate_limit_rpm is not None and rate_limit_rpm < 1:
            raise ValueError("rate_limit_rpm must be >= 1 or None")
        if not rate_limit_window_s > 0:
            raise ValueError("rate_limit_window_s must be > 0")
        self.host = host
        self.port = port
        self.legacy = legacy
        self.latency_ms = latency_ms
        self.rate_limit_rpm = rate_limit_rpm
        self.fault_rate = fault_rate
        self.noise = noise
        self.seed = seed
        self.token_ttl_s = token_ttl_s
        self.sunset = sunset
        self.task_latency_ms = task_latency_ms
        self.rate_limit_window_s = rate_limit_window_s
        self._task_store = _tasks.TaskStore()
        self._batch_store = _batches.BatchStore(self._task_store)
        self._world = World(load_world(world))
        self._pages = _v12.PageStore()
        self._limiter = RateLimiter()
        self._model = ModelState()
        self._fault_rng = random.Random(f"faults:{seed}")
        self._fault_lock = threading.Lock()
        self._log_entries: Deque[Dict[str, Any]] = collections.deque(maxlen=_MAX_LOG)
        self._log_lock = threading.Lock()
        self._activity = threading.Condition()  # notified when a request starts, is logged or ends
        self._handling = 0  # requests being handled (a log entry may still be on its way)
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Sandbox:
        """Bind and serve in a daemon thread (same port as before after a stop())."""
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), self)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"classify-sandbox-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open keep-alive connections; start() resumes on the same port."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.cut_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def running(self) -> bool:
        """Whether the server is currently accepting connections."""
        return self._server is not None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` without a trailing slash or API version."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # ------------------------------------------------------------------ world
    @property
    def world(self) -> Dict[str, Any]:
        """The loaded (validated, normalized) world dict."""
        return self._world.data

    def set_world(self, world: WorldInput) -> None:
        """Replace the world (validated first; the old one stays on error). Its scripted answers
        start from the first, also for video ids the old world had."""
        self._world = World(load_world(world))
        self._model.restart_scripted()

    # ------------------------------------------------------------------ request log
    def requests(self) -> List[Dict[str, Any]]:
        """Copies of the logged requests, oldest first (API keys are never logged)."""
        with self._log_lock:
            return [dict(e) for e in self._log_entries]

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._log_lock:
            self._log_entries.clear()

    def reset_rate_limits(self) -> None:
        """Forget counted requests (rate-limit windows start afresh)."""
        self._limiter.reset()

    def wait_idle(
        self, until: Optional[Callable[[List[Dict[str, Any]]], bool]] = None, timeout: float = 30.0,
        *, connections: bool = False,
    ) -> List[Dict[str, Any]]:
        """The request log once no request is being handled (and ``until(log)`` holds).

        Event-driven: woken by every request's start, log entry and end, never by polling. A
        client that gave up on a request (a timeout, a cut connection) returns before the sandbox
        has finished it; this waits for that entry. ``connections=True`` also waits until every
        connection is closed (a killed client's requests already sent are then all handled).
        ``timeout`` only bounds a test that would otherwise hang; the log as it stands is
        returned then.
        """
        deadline = time.monotonic() + timeout
        with self._activity:
            while True:
                entries = self.requests()
                server = self._server
                open_now = server.connections() if connections and server is not None else 0
                if self._handling == 0 and open_now == 0 and (until is None or until(entries)):
                    return entries
                left = deadline - time.monotonic()
                if left <= 0:
                    return entries
                self._activity.wait(left)

    def _activity_changed(self, delta: int) -> None:
        with self._activity:
            self._handling += delta
            self._activity.notify_all()

    def _log(self, entry: Dict[str, Any]) -> None:
        if entry["path"].startswith("/_sandbox/") and entry["endpoint"] != "sandbox.thumbnail":
            return  # introspection is not traffic; thumbnails are (clients fetch them like a CDN)
        with self._log_lock:
            self._log_entries.append(entry)
        with self._activity:
            self._activity.notify_all()

    # ------------------------------------------------------------------ hooks used by handlers
    def _maybe_fault(self) -> None:
        if self.fault_rate <= 0:
            return
        with self._fault_lock:
            hit = self._fault_rng.random() < self.fault_rate
            kind = self._fault_rng.choice((500, 502, 503, 0))
        if not hit:
            return
        if kind == 0:
            raise _DropConnection()
        code, message = {
            500: ("internal_server_error", "An internal error occurred (injected by the sandbox)."),
            502: ("bad_gateway", "Bad gateway (injected by the sandbox)."),
            503: ("service_unavailable", "Service temporarily unavailable (injected by the sandbox)."),
        }[kind]
        headers = {"Retry-After": "1"} if kind == 503 else {}
        raise _InjectedError(kind, code, message, headers)

    def _limit(self, call: _Call, family: str) -> Dict[str, str]:
        key_hash = hashlib.sha256(call.api_key.encode()).hexdigest()[:16]
        allowed, headers, retry_after = self._limiter.hit(key_hash, family, self.rate_limit_rpm, self.rate_limit_window_s)
        if allowed:
            return headers
        if family.startswith("v1.2"):
            raise ApiError(429, "too_many_requests", "", headers)
        headers["Retry-After"] = str(retry_after)
        headers["X-Ratelimit-Dimensions"] = "Request"
        raise ApiError(429, "too_many_requests",
                       f"You have exceeded the rate limit ({self.rate_limit_rpm} requests per {_per(self.rate_limit_window_s)}). "
                       f"Please try again later after {retry_after} seconds.", headers)
