"""Helpers shared by the legacy drop-in tests (imported by ``conftest.py`` and the test modules).

Kept out of ``conftest.py`` so test modules can import them by a unique module name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

API_KEY = "tlk_test_0123456789abcdef"
REPO = Path(__file__).resolve().parents[1]


def world_videos(world: Mapping[str, Any]) -> List[Tuple[str, str]]:
    """``(index_id, video_id)`` for every video of a sandbox world, in world order."""
    return [(ix["_id"], v["_id"]) for ix in world["indexes"] for v in ix["videos"]]


# --------------------------------------------------------------------------- capturing server


def valid_page(video_id: str = "vid-1", *, next_token: Optional[str] = "", prev_token: Optional[str] = "") -> Dict[str, Any]:
    """A v1.2 result page with every optional part present."""
    page_info: Dict[str, Any] = {"limit_per_page": 10, "total_results": 1, "page_expired_at": "2024-06-01T10:05:00Z"}
    if next_token is not None:
        page_info["next_page_token"] = next_token
    if prev_token is not None:
        page_info["prev_page_token"] = prev_token
    return {
        "data": [
            {
                "video_id": video_id,
                "classes": [
                    {
                        "name": "DanceTok",
                        "score": 96.23,
                        "duration_ratio": 0.73,
                        "clips": [
                            {"start": 1.5, "end": 14.96875, "score": 88.1, "option": "visual", "prompt": "Dance group",
                             "thumbnail_url": "https://thumbs.invalid/1.jpeg"},
                            {"start": 20, "end": 31, "score": 70, "option": "conversation", "prompt": "Dance tutorial"},
                        ],
                        "detailed_scores": {"max_score": 88.1, "avg_score": 79.05, "normalized_score": 100},
                    }
                ],
            }
        ],
        "page_info": page_info,
    }


@dataclass
class Captured:
    method: str
    path: str
    query: str
    headers: Dict[str, str]  # lower-cased names; a repeated header keeps its last value here
    body: bytes
    header_lines: List[Tuple[str, str]] = field(default_factory=list)  # every line as sent, names lower-cased

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: Dict[str, str] = field(default_factory=dict)


class CaptureServer:
    """Records requests; answers queued replies, else a valid page."""

    def __init__(self) -> None:
        self.requests: List[Captured] = []
        self.replies: List[Reply] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                with owner._lock:
                    owner.requests.append(
                        Captured(self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, body,
                                 [(k.lower(), v) for k, v in self.headers.items()])
                    )
                    reply = owner.replies.pop(0) if owner.replies else None
                if reply is None:
                    reply = Reply(200, json.dumps(valid_page()).encode(), {"Content-Type": "application/json"})
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.replies.clear()

    def queue(self, status: int, payload: Any = None, *, raw: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None) -> None:
        body = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        hdrs = dict(headers or {})
        if payload is not None and raw is None:
            hdrs.setdefault("Content-Type", "application/json")
        with self._lock:
            self.replies.append(Reply(status, body, hdrs))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --------------------------------------------------------------------------- subprocesses


def child_env(**extra: str) -> Dict[str, str]:
    """The current environment without TWELVELABS_*/PYTHONWARNINGS, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWELVELABS_") and k != "PYTHONWARNINGS"}
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


def run_python(
    args: List[str], *, cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env if env is not None else child_env(),
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def paced_client(pacing: Any, *args: Any, client_class: Any = None, **kwargs: Any) -> Any:
    """``TwelveLabs(*args, **kwargs)`` (or ``client_class``) whose waits between tries are
    ``pacing`` (a :class:`classify_shim._http.Pacing`) instead of the shim's defaults.

    The client's own configuration carries them (``ClientConfig.pacing``): nothing is patched for
    the rest of the process, and every other client keeps the real waits.
    """
    import dataclasses

    from classify_shim import AsyncTwelveLabs, TwelveLabs
    from classify_shim._config import DEFAULT_API_VERSION, DEFAULT_MAX_RETRIES, ClientConfig
    from classify_shim._types import NOT_GIVEN

    cls = client_class or TwelveLabs
    api_key = args[0] if args else kwargs.pop("api_key", None)
    version = args[1] if len(args) > 1 else kwargs.pop("version", DEFAULT_API_VERSION)
    for name, default in (("classify_backend", None), ("base_url", None), ("timeout", NOT_GIVEN),
                          ("max_retries", DEFAULT_MAX_RETRIES)):
        kwargs.setdefault(name, default)
    if cls is AsyncTwelveLabs and "http_client" in kwargs:
        kwargs["async_http_client"] = kwargs.pop("http_client")
    config = dataclasses.replace(ClientConfig.build(api_key, version, **kwargs), pacing=pacing)
    return cls._from_config(config)
