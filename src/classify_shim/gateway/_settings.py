"""What a gateway process is told at start: one frozen record, passed to workers as JSON."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Optional

from .._types import BACKEND_NAMES

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "DEFAULT_SUNSET", "ENV_SETTINGS", "MIGRATION_PATH", "GatewaySettings"]

DEFAULT_BACKEND = "pegasus"
#: The backends a gateway may serve from, its default first (shadow needs a live v1.2 endpoint to compare).
BACKENDS = (DEFAULT_BACKEND, *(name for name in BACKEND_NAMES if name not in (DEFAULT_BACKEND, "shadow")))
#: The day TwelveLabs switched Classify off (RFC 8594 ``Sunset`` is an HTTP-date).
DEFAULT_SUNSET = "Fri, 28 Feb 2025 00:00:00 GMT"
#: Served by the gateway itself, so the ``Link`` header works offline and behind any proxy.
MIGRATION_PATH = "/_gateway/migration"
#: Worker processes read their settings from this variable (uvicorn spawns them by import string).
ENV_SETTINGS = "CLASSIFY_SHIM_GATEWAY_SETTINGS"


@dataclass(frozen=True)
class GatewaySettings:
    """``base_url`` is the upstream (None: ``TWELVELABS_BASE_URL`` or the public host, as for clients).

    ``rate_limit`` caps classify POSTs per caller per ``rate_window_s`` (0: no cap; the
    ``X-Ratelimit-*`` headers are sent either way). ``max_callers`` bounds how many callers'
    clients are kept open (least recently used are closed first).
    """

    host: str = "127.0.0.1"
    port: int = 8080
    backend: Optional[str] = None  # None: TWELVELABS_CLASSIFY_BACKEND, else "pegasus"
    workers: int = 1
    base_url: Optional[str] = None
    rate_limit: int = 0
    rate_window_s: int = 86_400
    sunset: str = DEFAULT_SUNSET
    docs_url: str = MIGRATION_PATH
    max_callers: int = 256
    access_log: bool = False

    def resolved_backend(self) -> str:
        value = self.backend or os.environ.get("TWELVELABS_CLASSIFY_BACKEND") or DEFAULT_BACKEND
        value = value.strip().lower()
        if value not in BACKENDS:
            raise ValueError(f"gateway backend {value!r} is not one of {', '.join(BACKENDS)}")
        return value

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GatewaySettings:
        return cls(**json.loads(text))

    @classmethod
    def from_env(cls) -> GatewaySettings:
        raw = os.environ.get(ENV_SETTINGS)
        return cls.from_json(raw) if raw else cls()
