"""Async analysis tasks (``/analyze/tasks``): create once, store the id at once, poll, collect.

Billing is never paid twice:

* every create carries an ``Idempotency-Key`` derived from the answer key (and the budget), so
  a create the server already saw returns the same task;
* the task id is written to the store the moment the create answers, before any polling; a run
  that is killed, crashes or is interrupted and starts again finds the id and collects that task
  instead of creating a new one.

Polling backs off from 1 s to 30 s and honours ``Retry-After`` (and ``retry-after-ms``) on the
status answer. A stored task the API no longer knows (404: deleted or past retention) is
forgotten and created again once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Optional

from classify_shim._exceptions import APIStatusError, TwelveLabsError
from classify_shim._http import RetryPolicy
from classify_shim._store import JobRecord, Store
from classify_shim._types import RequestOptions

from ._v13 import RateGate, V13Client

__all__ = [
    "POLL_INITIAL_S",
    "POLL_MAX_S",
    "JobFailed",
    "TaskAnswer",
    "TaskRunner",
    "idempotency_key",
    "item_key",
]

log = logging.getLogger("classify_shim.pegasus")

POLL_INITIAL_S = 1.0
POLL_MAX_S = 30.0
POLL_GROWTH = 1.5
TASK_DEADLINE_S = 6 * 3600.0
"""A task still not finished after this long is reported (tasks analyze up to 2 h of video)."""

TASK = "task"


def item_key(answer_key: str, max_tokens: int) -> str:
    """One model question at one budget: the unit a task or batch item answers (64 hex chars,
    also a valid ``custom_id``)."""
    return hashlib.sha256(f"{answer_key}|{int(max_tokens)}".encode("ascii")).hexdigest()


def idempotency_key(kind: str, key: str) -> str:
    """``Idempotency-Key`` of a create: derived from what is asked, never random."""
    return f"tlcs-{kind}-{key[:48]}"


class JobFailed(TwelveLabsError):
    """A task or batch item ended ``failed`` / ``canceled`` / ``expired``; ``message`` says why."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class TaskAnswer:
    """The result of a finished task or batch item (``AnalyzeTaskResult``)."""

    data: Optional[str]
    finish_reason: Optional[str]
    output_tokens: Optional[int]
    generation_id: Optional[str]


def task_answer(result: Any) -> TaskAnswer:
    if not isinstance(result, Mapping):
        return TaskAnswer(None, None, None, None)
    data = result.get("data")
    if isinstance(data, (dict, list)):
        import json

        data = json.dumps(data)
    usage = result.get("usage") if isinstance(result.get("usage"), Mapping) else {}
    tokens = usage.get("output_tokens") if usage else None
    reason = result.get("finish_reason")
    gid = result.get("generation_id")
    return TaskAnswer(
        data=data if isinstance(data, str) else None,
        finish_reason=reason if isinstance(reason, str) else None,
        output_tokens=tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None,
        generation_id=gid if isinstance(gid, str) else None,
    )


def _error_message(body: Mapping[str, Any]) -> str:
    error = body.get("error")
    if isinstance(error, Mapping):
        return str(error.get("message") or error.get("code") or "no reason given")
    return str(error or "no reason given")


class TaskRunner:
    """Creates (or resumes) one task per question and polls it to the end."""

    def __init__(
        self,
        client: V13Client,
        gate: RateGate,
        store: Store,
        scope: str,
        options: Optional[RequestOptions],
        *,
        sleep: Optional[Callable[[float], Awaitable[None]]] = None,
        poll_initial: float = POLL_INITIAL_S,
        poll_max: float = POLL_MAX_S,
    ) -> None:
        self._client = client
        self._gate = gate
        self._store = store
        self._scope = scope
        self._options = options
        self._sleep = sleep or asyncio.sleep
        self._poll_initial = poll_initial
        self._poll_max = poll_max
        self.created = 0
        self.resumed = 0
        self.polls = 0

    @staticmethod
    def _job_key(key: str) -> str:
        return f"task:{key}"

    async def run(self, body: Mapping[str, Any], key: str, label: str) -> TaskAnswer:
        """The answer of the task asking ``body`` (``key`` from :func:`item_key`)."""
        for attempt in range(2):
            stored = self._store.get_job(self._scope, self._job_key(key))
            found = stored.job_id if stored is not None and stored.kind == TASK else None
            task_id: str
            if isinstance(found, str) and found:
                task_id = found
                self.resumed += 1
                log.info("%s: resuming task %s", label, task_id)
            else:
                task_id = await self._gate.run(
                    lambda: self._client.create_task(body, idempotency_key("task", key), self._options),
                    f"create task {label}",
                )
                self.created += 1
                # Written before anything else can fail: a rerun collects this task.
                now = time.time()
                self._store.put_job(JobRecord(self._scope, self._job_key(key), TASK, task_id,
                                              created_at=now, updated_at=now, payload={"label": label}))
            try:
                return await self._poll(task_id, label)
            except APIStatusError as exc:
                if exc.status_code == 404 and attempt == 0:
                    log.info("%s: task %s is gone; creating it again", label, task_id)
                    self._store.delete_job(self._scope, self._job_key(key))
                    continue
                raise
            except JobFailed:
                self._store.delete_job(self._scope, self._job_key(key))
                raise
        raise TwelveLabsError(f"{label}: the task could not be created")  # pragma: no cover - loop returns

    async def _poll(self, task_id: str, label: str) -> TaskAnswer:
        delay = self._poll_initial
        deadline = time.monotonic() + TASK_DEADLINE_S
        while True:
            self.polls += 1
            response = await self._gate.run(lambda: self._client.get_task(task_id, self._options),
                                            f"task {task_id}")
            body = response.body if isinstance(response.body, Mapping) else {}
            status = str(body.get("status") or "")
            if status == "ready":
                return task_answer(body.get("result"))
            if status in ("failed", "canceled", "expired"):
                raise JobFailed(f"task {task_id} {status}: {_error_message(body)}")
            if time.monotonic() > deadline:
                raise JobFailed(f"task {task_id} still {status or 'unknown'} after {TASK_DEADLINE_S:.0f} s")
            server = RetryPolicy.server_delay(response.headers)
            wait = server if server is not None and server > 0 else delay
            await self._sleep(min(wait, max(self._poll_max, 1.0) * 2))
            delay = min(self._poll_max, delay * POLL_GROWTH)
