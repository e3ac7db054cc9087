"""Run the gateway under Uvicorn: bind first, print the URL, then serve (one or N workers)."""

from __future__ import annotations

import inspect
import logging
import os
import socket
import sys
from typing import Optional, TextIO

from ._settings import ENV_SETTINGS, GatewaySettings

__all__ = ["bind", "configure_logging", "serve"]


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose proto is
    # IPPROTO_TCP, and uvicorn writes headers and body separately; with proto 0 every keep-alive
    # response waited ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def configure_logging() -> None:
    """Library progress lines stay quiet (WARNING); the gateway's own lines are INFO."""
    logger = logging.getLogger("classify_shim")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logging.getLogger("classify_shim.gateway").setLevel(logging.INFO)


def serve(settings: GatewaySettings, *, out: Optional[TextIO] = None) -> int:
    """Blocks until interrupted. The first line on ``out`` is the base URL (``--port 0`` works)."""
    import uvicorn

    stream = out or sys.stdout
    backend = settings.resolved_backend()
    sock = bind(settings.host, settings.port)
    url = url_of(sock)
    stream.write(url + "\n")
    stream.write(
        f"serving v1.2 classify at {url}/v1.2/ and {url}/p/v1.2/ from the {backend} backend "
        f"with {settings.workers} worker(s); health at {url}/health\n"
    )
    stream.flush()
    configure_logging()
    common = {"log_level": "warning", "access_log": settings.access_log, "lifespan": "on"}
    try:
        if settings.workers <= 1:
            from ._app import build_app

            config = uvicorn.Config(build_app(settings), **common)  # type: ignore[arg-type]
            uvicorn.Server(config).run(sockets=[sock])
        else:
            from uvicorn.supervisors import Multiprocess

            os.environ[ENV_SETTINGS] = settings.to_json()
            config = uvicorn.Config(
                "classify_shim.gateway._app:app_from_env", factory=True, workers=settings.workers, **common  # type: ignore[arg-type]
            )
            server = uvicorn.Server(config)
            if "target" in inspect.signature(Multiprocess.__init__).parameters:  # uvicorn < 0.30
                Multiprocess(config, target=server.run, sockets=[sock]).run()  # type: ignore[call-arg]
            else:
                Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0
