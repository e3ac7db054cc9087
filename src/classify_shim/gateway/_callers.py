"""One shim client per caller key, so each request is served with the caller's own ``x-api-key``.

Clients are the library's own (``AsyncTwelveLabs``), so backends, store, page tokens (bound to
the key that made them) and calibration are exactly what a Python caller gets. The key lives
only inside its client in memory; it is looked up and logged by fingerprint.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import List, Optional, Set, Tuple

from .._backend import AsyncBackend
from .._client import AsyncTwelveLabs
from .._tokens import key_fingerprint
from ._settings import GatewaySettings
from ._wire import caller_fingerprint

__all__ = ["Callers"]

log = logging.getLogger("classify_shim.gateway")


class Callers:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.backend_name = settings.resolved_backend()
        self._clients: OrderedDict[str, AsyncTwelveLabs] = OrderedDict()
        self._seen: Set[str] = set()
        self._lock = asyncio.Lock()

    async def backend_for(self, key: str, *, path: str, user_agent: Optional[str]) -> Tuple[str, AsyncBackend]:
        """``(fingerprint, backend)`` for this key; logs one line the first time a caller shows up."""
        fingerprint = caller_fingerprint(key)
        slot = key_fingerprint(key)  # 128 bits: two keys never share a client
        evicted: List[AsyncTwelveLabs] = []
        async with self._lock:
            client = self._clients.get(slot)
            if client is None:
                client = AsyncTwelveLabs(
                    api_key=key, classify_backend=self.backend_name, base_url=self.settings.base_url
                )
                self._clients[slot] = client
                while len(self._clients) > max(1, self.settings.max_callers):
                    evicted.append(self._clients.popitem(last=False)[1])
            self._clients.move_to_end(slot)
            first = fingerprint not in self._seen
            self._seen.add(fingerprint)
        for old in evicted:
            await _close(old)
        if first:
            log.warning(
                "caller %s uses the retired Classify v1.2 API (%s, User-Agent %r); served by the %s backend. "
                "Migrate to v1.3 analyze: see %s",
                fingerprint,
                path,
                (user_agent or "-")[:120],
                self.backend_name,
                self.settings.docs_url,
            )
        return fingerprint, client._backend

    @property
    def open_clients(self) -> int:
        return len(self._clients)

    @property
    def callers_seen(self) -> int:
        return len(self._seen)

    async def aclose(self) -> None:
        async with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            await _close(client)


async def _close(client: AsyncTwelveLabs) -> None:
    try:
        await client.aclose()
    except Exception:  # closing one caller's client must not break another's request
        log.exception("closing a caller's client failed")
