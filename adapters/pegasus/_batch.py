"""The ``batch`` strategy: every model question of a run goes through ``/analyze/batches``.

Each video's worker hands its question to :class:`BatchRunner` and waits. Questions are sent
when 1,000 are waiting (or 2,000 content hours), or when every worker of the run is waiting (the
last, smaller batch), so a run of N videos makes ``ceil(N / 1000)`` batches. Then:

* ``Idempotency-Key`` derived from the questions' keys; batch id and every item's key written to
  the store the moment the batch is created. A rerun after a crash finds its items' batch and
  collects it instead of creating another;
* a 429 on create (5 batches already active, or the rate limit) is waited out, never a failure;
* progress is read from the batch object (``ready_items`` of ``total_items``), polled with a
  backoff that honours ``Retry-After``;
* results are read from the JSONL of ``/results``; items that failed, were canceled or expired
  are sent once more in a later batch, then reported (``JobFailed`` → ``result.errors``).

Batches take Pegasus 1.5+ and asset ids only; the engine sends other videos to ``/analyze``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Set, TypeVar

from classify_shim._exceptions import APIStatusError, RateLimitError
from classify_shim._http import RetryPolicy
from classify_shim._store import JobRecord, Store
from classify_shim._types import RequestOptions

from ._limits import BATCH_MAX_CONTENT_HOURS, BATCH_MAX_REQUESTS
from ._tasks import POLL_MAX_S, JobFailed, TaskAnswer, idempotency_key, task_answer
from ._v13 import V13Client

__all__ = ["BatchRunner", "batch_item"]

log = logging.getLogger("classify_shim.pegasus")

BATCH = "batch"
BATCH_POLL_INITIAL_S = 2.0
ACTIVE_LIMIT_WAIT_S = 30.0
"""Wait after a 429 on create that names no ``Retry-After`` (5 active batches: minutes, not ms)."""
BATCH_DEADLINE_S = 25 * 3600.0
"""Batches expire 24 h after creation; a batch not finished an hour after that is given up."""
_TERMINAL = ("completed", "canceled", "expired")
_T = TypeVar("_T")


def batch_item(body: Mapping[str, Any], key: str) -> Dict[str, Any]:
    """A ``BatchItemRequest`` from an ``/analyze`` body (batches take ``prompt: {input_text}``)."""
    item: Dict[str, Any] = {"video": dict(body["video"]), "custom_id": key}
    if "prompt" in body:
        item["prompt"] = {"input_text": body["prompt"]}
    for name in ("response_format", "temperature", "max_tokens"):
        if name in body:
            item[name] = body[name]
    return item


@dataclass
class _Item:
    key: str
    request: Dict[str, Any]
    seconds: float
    future: asyncio.Future[TaskAnswer]
    attempts: int = 0
    batch_id: Optional[str] = None


@dataclass
class _Batch:
    batch_id: str
    keys: Set[str] = field(default_factory=set)


class BatchRunner:
    """Collects the questions of one run into batches and resolves each worker's answer."""

    def __init__(
        self,
        client: V13Client,
        store: Store,
        scope: str,
        model: str,
        options: Optional[RequestOptions],
        *,
        sleep: Optional[Callable[[float], Awaitable[None]]] = None,
        poll_initial: float = BATCH_POLL_INITIAL_S,
        poll_max: float = POLL_MAX_S,
        max_requests: int = BATCH_MAX_REQUESTS,
        on_progress: Optional[Callable[[str, Mapping[str, Any]], None]] = None,
    ) -> None:
        self._client = client
        self._store = store
        self._scope = scope
        self.model = model
        self._options = options
        self._sleep = sleep or asyncio.sleep
        self._poll_initial = poll_initial
        self._poll_max = poll_max
        self._max_requests = max(1, min(BATCH_MAX_REQUESTS, max_requests))
        self._on_progress = on_progress
        self._items: Dict[str, _Item] = {}
        self._pending: List[str] = []
        self._batches: Dict[str, _Batch] = {}
        self._background: Set[asyncio.Task[None]] = set()
        self.live = 0
        self.waiting = 0
        # counts, for logs, tests and the benchmark
        self.created = 0
        self.resumed = 0
        self.resubmitted = 0
        self.waited_429 = 0
        self.polls = 0
        self.api_calls = 0

    # ------------------------------------------------------------------ workers

    def add_workers(self, n: int) -> None:
        self.live += n

    def worker_done(self) -> None:
        self.live -= 1
        self._maybe_flush()

    @staticmethod
    def _job_key(key: str) -> str:
        return f"batch-item:{key}"

    async def ask(self, key: str, request: Dict[str, Any], seconds: float) -> TaskAnswer:
        """The answer to one question; waits while the batch it joined runs."""
        item = self._items.get(key)
        if item is None:
            loop = asyncio.get_running_loop()
            item = _Item(key, request, max(0.0, seconds), loop.create_future())
            self._items[key] = item
            stored = self._store.get_job(self._scope, self._job_key(key))
            batch_id = stored.job_id if stored is not None and stored.kind == BATCH else None
            if isinstance(batch_id, str) and batch_id:
                self.resumed += 1
                self._attach(batch_id, item)
            else:
                self._pending.append(key)
        self.waiting += 1
        self._maybe_flush()
        try:
            return await asyncio.shield(item.future)
        finally:
            self.waiting -= 1
            if item.future.done() and self._items.get(key) is item:
                # Answered (and cached by the caller): the question, its request body and the
                # answer text are not kept for the rest of the run (≈ 1 KB per video).
                del self._items[key]

    # ------------------------------------------------------------------ submitting

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _maybe_flush(self) -> None:
        while self._pending:
            full = len(self._pending) >= self._max_requests
            hours = sum(self._items[k].seconds for k in self._pending) / 3600.0
            if not (full or hours >= BATCH_MAX_CONTENT_HOURS or self.waiting >= self.live):
                return
            take: List[str] = []
            seconds = 0.0
            for key in self._pending:
                s = self._items[key].seconds
                if take and (len(take) >= self._max_requests or (seconds + s) / 3600.0 > BATCH_MAX_CONTENT_HOURS):
                    break
                take.append(key)
                seconds += s
            self._pending = self._pending[len(take):]
            self._spawn(self._submit(take))

    def _body(self, keys: List[str]) -> Dict[str, Any]:
        requests = [dict(self._items[k].request) for k in keys]
        body: Dict[str, Any] = {"model_name": self.model, "analysis_mode": "general"}
        defaults: Dict[str, Any] = {}
        for name in ("prompt", "response_format", "temperature"):
            values = [r.get(name) for r in requests]
            if values and values[0] is not None and all(v == values[0] for v in values):
                defaults[name] = values[0]
                for r in requests:
                    r.pop(name, None)
        if defaults:
            body["defaults"] = defaults
        body["requests"] = requests
        return body

    async def _submit(self, keys: List[str]) -> None:
        body = self._body(keys)
        digest = hashlib.sha256("".join(sorted(keys)).encode("ascii")).hexdigest()
        idem = idempotency_key("batch", digest)
        attempt = 0
        while True:
            try:
                self.api_calls += 1
                created = await self._client.create_batch(body, idem, self._options)
                break
            except RateLimitError as exc:  # 5 active batches, or the rate limit: wait, never fail
                self.waited_429 += 1
                server = RetryPolicy.server_delay(exc.response.headers)
                wait = server if server is not None and server > 0 else ACTIVE_LIMIT_WAIT_S
                log.info("batch of %d: create answered 429 (%s); waiting %.1f s", len(keys),
                         "active-batch or rate limit", wait)
                await self._sleep(wait)
                attempt += 1
            except Exception as exc:  # the batch was not created: every item gets the error
                for key in keys:
                    self._fail(key, exc)
                return
        batch_id = str(created["batch_id"])
        now = time.time()
        # Written at once: a rerun after a crash collects this batch instead of paying again.
        self._store.put_job(JobRecord(self._scope, f"batch:{batch_id}", BATCH, batch_id, created_at=now,
                                      updated_at=now, payload={"model": self.model, "items": len(keys)}))
        for k in keys:
            self._store.put_job(JobRecord(self._scope, self._job_key(k), BATCH, batch_id, created_at=now,
                                          updated_at=now, payload={"custom_id": k}))
        self.created += 1
        log.info("batch %s created: %d item(s) (%d waiting in this run)", batch_id, len(keys), self.waiting)
        batch = _Batch(batch_id, set(keys))
        self._batches[batch_id] = batch
        for key in keys:
            self._items[key].batch_id = batch_id
        self._spawn(self._collect(batch))

    def _attach(self, batch_id: str, item: _Item) -> None:
        item.batch_id = batch_id
        batch = self._batches.get(batch_id)
        if batch is None:
            batch = _Batch(batch_id, {item.key})
            self._batches[batch_id] = batch
            self._spawn(self._collect(batch, resumed=True))
        else:
            batch.keys.add(item.key)

    # ------------------------------------------------------------------ collecting

    async def _collect(self, batch: _Batch, resumed: bool = False) -> None:
        if resumed:
            await asyncio.sleep(0)  # let the other resumed items of this batch attach first
        delay = self._poll_initial
        deadline = time.monotonic() + BATCH_DEADLINE_S
        status = ""
        try:
            while True:
                self.polls += 1
                response = await self._patiently(lambda: self._client.get_batch(batch.batch_id, self._options))
                body = response.body if isinstance(response.body, Mapping) else {}
                status = str(body.get("status") or "")
                if self._on_progress is not None:
                    self._on_progress(batch.batch_id, body)
                log.info("batch %s: %s, %s of %s ready, %s failed", batch.batch_id, status,
                         body.get("ready_items"), body.get("total_items"), body.get("failed_items"))
                if status in _TERMINAL or time.monotonic() > deadline:
                    break
                server = RetryPolicy.server_delay(response.headers)
                await self._sleep(server if server is not None and server > 0 else delay)
                delay = min(self._poll_max, delay * 1.5)
            entries = await self._patiently(lambda: self._client.batch_results(batch.batch_id, self._options))
        except APIStatusError as exc:
            if exc.status_code == 404:  # the batch is gone (deleted, past retention): ask again
                log.info("batch %s is gone; its items are sent again", batch.batch_id)
                for key in list(batch.keys):
                    self._retry_or_fail(key, f"batch {batch.batch_id} no longer exists", force_retry=True)
            else:
                for key in list(batch.keys):
                    self._fail(key, exc)
            self._batches.pop(batch.batch_id, None)
            self._maybe_flush()
            return
        except Exception as exc:
            for key in list(batch.keys):
                self._fail(key, exc)
            self._batches.pop(batch.batch_id, None)
            return
        by_id = {str(e.get("custom_id")): e for e in entries if e.get("custom_id") is not None}
        for key in list(batch.keys):
            entry = by_id.get(key)
            item_status = str(entry.get("status") or "") if entry else ""
            if entry is not None and item_status == "ready":
                item = self._items[key]
                self._store.delete_job(self._scope, self._job_key(key))
                if not item.future.done():
                    item.future.set_result(task_answer(entry.get("data")))
                continue
            if entry is None:
                why = f"batch {batch.batch_id} ({status}) returned no result for this item"
            else:
                raw_error = entry.get("error")
                error: Mapping[str, Any] = raw_error if isinstance(raw_error, Mapping) else {}
                message = error.get("message") or error.get("code") or item_status or "no reason given"
                why = f"batch {batch.batch_id} item {item_status or 'unknown'}: {message}"
            self._retry_or_fail(key, why)
        self._store.delete_job(self._scope, f"batch:{batch.batch_id}")
        self._batches.pop(batch.batch_id, None)
        self._maybe_flush()

    async def _patiently(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """A status or results read; a 429 (after the HTTP layer's own retries) is waited out."""
        delay = self._poll_initial or 1.0
        while True:
            self.api_calls += 1
            try:
                return await call()
            except RateLimitError as exc:
                self.waited_429 += 1
                server = RetryPolicy.server_delay(exc.response.headers)
                await self._sleep(server if server is not None and server > 0 else delay)
                delay = min(self._poll_max, delay * 2)

    def _retry_or_fail(self, key: str, why: str, force_retry: bool = False) -> None:
        item = self._items[key]
        self._store.delete_job(self._scope, self._job_key(key))
        if item.attempts == 0 or (force_retry and item.attempts < 2):
            item.attempts += 1
            item.batch_id = None
            self.resubmitted += 1
            log.info("%s; sending it once more", why)
            self._pending.append(key)
            return
        self._fail(key, JobFailed(f"{why} (after one resubmission)"))

    def _fail(self, key: str, exc: BaseException) -> None:
        item = self._items.get(key)
        if item is not None and not item.future.done():
            item.future.set_exception(exc)
            item.future.exception()  # retrieved here too: a worker cancelled meanwhile leaves no warning

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
