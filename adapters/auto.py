"""The ``auto`` backend (the default): legacy while the v1.2 endpoint lives, Pegasus after.

On TwelveLabs' public host (``_config.PUBLIC_API_HOSTS``) the sunset date has passed: there
``auto`` serves Pegasus from the first call and never probes v1.2 (no request wasted per
process, nothing stored). Only custom base URLs - private deployments, proxies, the sandbox -
are probed: each classify call goes to the v1.2 endpoint until it answers with the retirement error
(:func:`~classify_shim.adapters.legacy.is_retirement_error`). That call is then served by
Pegasus, and so is every later call of this client, with ONE ``BackendSwitchWarning``. The
decision is remembered in the store (``classify_shim._store.DecisionRecord``), keyed by host
AND API version and carrying the answer that caused it, so later processes go straight to
Pegasus without probing (quietly: each call's deprecation warning already names the backend
that served it). A remembered decision is trusted for ``DECISION_REVALIDATE_S`` (a week), then
the endpoint is probed once more. With the cache off it lasts for the client's life.
``by_page_token`` routes the shim's own tokens (``tlcs1.``) to Pegasus and everything else to
the legacy endpoint.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import Optional, Type

from classify_shim._backend import BackendPage
from classify_shim._config import ClientConfig, is_public_host, redact_url
from classify_shim._exceptions import APIStatusError
from classify_shim._request import ClassifyRequest
from classify_shim._store import (
    DECISION_REVALIDATE_S,
    DecisionRecord,
    Evidence,
    Store,
    open_existing,
    open_store,
)
from classify_shim._tokens import is_shim_token
from classify_shim._types import RequestOptions
from classify_shim._warnings import user_stacklevel

from .legacy import AsyncLegacyBackend, LegacyBackend, is_retirement_error
from .pegasus import AsyncPegasusBackend, PegasusBackend

__all__ = ["AsyncAutoBackend", "AutoBackend", "auto_decision"]

log = logging.getLogger("classify_shim.pegasus")

PEGASUS = "pegasus"


def remembered_decision(config: ClientConfig) -> Optional[DecisionRecord]:
    """The live decision record for ``config.host`` and ``config.version``, or None when
    undecided, due for revalidation, or the cache is off. Never creates the cache file."""
    store = open_existing(config)
    if store is None:
        return None
    try:
        return store.get_decision(config.host, config.version)
    finally:
        store.close()


def auto_decision(config: ClientConfig) -> Optional[str]:
    """The remembered backend (``"pegasus"``) for this host and API version, or None."""
    record = remembered_decision(config)
    return record.backend if record is not None else None


def evidence_of(exc: APIStatusError) -> Evidence:
    """What the endpoint answered, as stored with the decision (never the API key)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    code = body.get("code")
    message = body.get("message") or getattr(exc, "message", None) or str(exc)
    return Evidence(
        status=exc.status_code, code=str(code) if code is not None else None, message=str(message)[:300], at=time.time()
    )


def _switch_message(config: ClientConfig, exc: APIStatusError) -> str:
    code = exc.body.get("code") if isinstance(exc.body, dict) else None
    answer = f"HTTP {exc.status_code}" + (f" {code}" if code else "")
    where = redact_url(config.cache_url) if config.cache_url else config.cache_path
    remembered = (
        f"remembered in {where} for {config.host} {config.version} (revalidated after "
        f"{DECISION_REVALIDATE_S / 86400:.0f} days; `classify-shim cache clear --decisions` forgets it), "
        "so later runs skip the check"
        if where is not None
        else "for this client's life (the cache is off)"
    )
    return (
        f"The v1.2 Classify endpoint at {config.host} answered {answer}: it is retired. "
        f"This call and all later ones are served by Pegasus (v1.3 /analyze, model {config.pegasus_model}); "
        f"decision {remembered}. Results are equivalent but not identical to v1.2 scores "
        "(see docs/scoring.md). Pass classify_backend='pegasus' to choose it explicitly."
    )


class _Decision:
    """The switch state shared by the sync and async twins. The cache is opened only once
    Pegasus is needed, so a user on a live legacy endpoint gets no cache file."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self._store: Optional[Store] = None
        self.public_host = is_public_host(config.host)
        if self.public_host:  # past the sunset there: no probe, no stored decision
            self.pegasus = True
            log.info("auto backend: %s is TwelveLabs' public host, where v1.2 Classify was retired; "
                     "using Pegasus without probing", config.host)
            return
        self.pegasus = auto_decision(config) == PEGASUS
        if self.pegasus:
            log.info("auto backend: %s was found retired earlier; using Pegasus", config.host)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.config)
        return self._store

    def switch(self, exc: APIStatusError) -> None:
        if self.pegasus:
            return
        self.pegasus = True
        record = DecisionRecord.new(self.config.host, self.config.version, PEGASUS, evidence_of(exc))
        self.store.put_decision(record)
        warnings.warn(_switch_message(self.config, exc), self._category(), stacklevel=user_stacklevel())

    def close_unused_store(self) -> None:
        """Close the store when no Pegasus backend owns it."""
        if self._store is not None:
            self._store.close()

    @staticmethod
    def _category() -> Type[Warning]:
        from classify_shim._warnings import BackendSwitchWarning

        return BackendSwitchWarning


class AutoBackend:
    name = "auto"

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self._decision = _Decision(config)
        self._legacy = LegacyBackend(config)
        self._pegasus: Optional[PegasusBackend] = None

    @property
    def decision(self) -> Optional[str]:
        return PEGASUS if self._decision.pegasus else None

    def _peg(self) -> PegasusBackend:
        if self._pegasus is None:
            self._pegasus = PegasusBackend(self.config, store=self._decision.store)
        return self._pegasus

    def classify(self, request: ClassifyRequest, options: RequestOptions) -> BackendPage:
        if not self._decision.pegasus:
            try:
                return self._legacy.classify(request, options)
            except APIStatusError as exc:
                if not is_retirement_error(exc):
                    raise
                self._decision.switch(exc)
        return self._peg().classify(request, options)

    def page(self, token: str, options: RequestOptions) -> BackendPage:
        if is_shim_token(token):
            return self._peg().page(token, options)
        return self._legacy.page(token, options)

    def close(self) -> None:
        self._legacy.close()
        if self._pegasus is not None:
            self._pegasus.close()  # closes the shared store
        else:
            self._decision.close_unused_store()


class AsyncAutoBackend:
    name = "auto"

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self._decision = _Decision(config)
        self._legacy = AsyncLegacyBackend(config)
        self._pegasus: Optional[AsyncPegasusBackend] = None

    @property
    def decision(self) -> Optional[str]:
        return PEGASUS if self._decision.pegasus else None

    def _peg(self) -> AsyncPegasusBackend:
        if self._pegasus is None:
            self._pegasus = AsyncPegasusBackend(self.config, store=self._decision.store)
        return self._pegasus

    async def classify(self, request: ClassifyRequest, options: RequestOptions) -> BackendPage:
        if not self._decision.pegasus:
            try:
                return await self._legacy.classify(request, options)
            except APIStatusError as exc:
                if not is_retirement_error(exc):
                    raise
                self._decision.switch(exc)
        return await self._peg().classify(request, options)

    async def page(self, token: str, options: RequestOptions) -> BackendPage:
        if is_shim_token(token):
            return await self._peg().page(token, options)
        return await self._legacy.page(token, options)

    async def aclose(self) -> None:
        await self._legacy.aclose()
        if self._pegasus is not None:
            await self._pegasus.aclose()
        else:
            self._decision.close_unused_store()
