"""Emulation of ``/v1.3/analyze/tasks``: async analysis with Idempotency-Key and a sunset switch.

A task's answer is computed when it is created (by the same simulated model
as ``/analyze``) and revealed once ``task_latency_ms`` has passed, so clients
exercise the queued → processing → ready cycle and polling.  A repeated
``Idempotency-Key`` returns the first task instead of creating (and billing) a
new one.  ``analysis_mode: time_based_metadata`` is not emulated yet and is
refused with a 400 naming the field (never a made-up answer).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from typing import Any, Dict, List, Mapping, Optional, Tuple

from . import _segments
from ._common import ApiError, Response, invalid, is_number, iso_ms, not_exist
from ._model import ModelState, fingerprint, token_count
from ._world import World

SUNSET_MODES = ("none", "pegasus1.2")
#: What a sunset model answers: 410 Gone with a retirement code (documented in docs/sandbox.md).
SUNSET_STATUS = 410
SUNSET_CODE = "model_sunset"
TASK_MODELS = ("pegasus1.2", "pegasus1.5")


def sunset_error(what: str) -> ApiError:
    """The answer to a call that needs the retired Pegasus 1.2 (``model_name`` or ``video_id``)."""
    return ApiError(SUNSET_STATUS, SUNSET_CODE,
                    f"{what} has been sunset and is no longer supported; use pegasus1.5 with "
                    "video {type: asset_id}.")


def check_sunset(body: Any, sunset: str, default_model: str) -> None:
    """Refuse 1.2 / ``video_id`` requests once 1.2 is sunset."""
    if sunset != "pegasus1.2" or not isinstance(body, dict):
        return
    if body.get("video_id") is not None:
        raise sunset_error("video_id (Pegasus 1.2 addressing)")
    if (body.get("model_name") or default_model) == "pegasus1.2":
        raise sunset_error("The model pegasus1.2")


def answer(world: World, inner: Dict[str, Any], state: ModelState, *, noise: str,
           seed: int, mode: str = "general") -> Tuple[Dict[str, Any], Optional[str]]:
    """Run one non-streamed ``/analyze`` body through the simulated model → (task result, video id)."""
    from . import _v13  # the analyze validation and model, shared with /analyze

    if mode == "time_based_metadata":
        return _segment_answer(world, inner, state, noise=noise, seed=seed)
    resp = _v13.analyze(world, dict(inner, stream=False), state, noise=noise, seed=seed, latency_ms=0.0)
    result = dict(json.loads(resp.body))
    result["generation_id"] = result.pop("id")
    result.pop("error", None)
    return result, resp.video


def _segment_answer(world: World, inner: Dict[str, Any], state: ModelState, *, noise: str,
                    seed: int) -> Tuple[Dict[str, Any], Optional[str]]:
    """``time_based_metadata``: validated like the spec says, answered from the video's content."""
    from . import _v13

    model = str(inner.get("model_name") or "pegasus1.5")
    rf = _segments.check_format(inner.get("response_format"), model, inner)
    if inner.get("temperature") is not None and (not is_number(inner["temperature"])
                                                 or not 0 <= float(inner["temperature"]) <= 1):
        raise invalid("temperature", "must be a number between 0 and 1")
    video = _v13._resolve_video(world, inner, model)
    fp = fingerprint(inner)
    scripted = state.next_scripted(video)
    rng = random.Random(f"{seed}|{fp}|{state.next_call(fp)}")
    if scripted is not None:
        text, finish = str(scripted["text"]), str(scripted.get("finish_reason") or "stop")
    else:
        text, finish = _segments.answer(video, rf, inner, noise, rng), "stop"
    prompt = inner.get("prompt") if isinstance(inner.get("prompt"), str) else ""
    result = {"generation_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "data": text,
              "finish_reason": finish,
              "usage": {"output_tokens": token_count(text),
                        "input_tokens": token_count(str(prompt) + json.dumps(rf))}}
    return result, str(video["_id"])


class TaskStore:
    """Tasks by id plus the Idempotency-Key index (thread-safe)."""

    def __init__(self) -> None:
        self._tasks: Dict[str, Dict[str, Any]] = {}
        self._by_key: Dict[str, str] = {}
        self._lock = threading.Lock()

    def create(self, world: World, body: Any, state: ModelState, *, idem_key: Optional[str], noise: str,
               seed: int, latency_ms: float, sunset: str) -> Response:
        """``POST /v1.3/analyze/tasks`` → 202 ``{task_id, status}``."""
        if idem_key:
            with self._lock:
                known = self._by_key.get(idem_key)
                task = self._tasks.get(known) if known is not None else None
                if known is not None and task is not None:
                    return Response(202, {"task_id": known, "status": self._status(task)},
                                    extra_log={"model": task["model"], "task": known, "idempotent_replay": True})
        if not isinstance(body, dict):
            raise invalid("body", "must be a JSON object")
        model = body.get("model_name") or "pegasus1.5"
        if model not in TASK_MODELS:
            raise invalid("model_name", f"must be one of {', '.join(TASK_MODELS)}")
        check_sunset(dict(body, model_name=model), sunset, "pegasus1.5")
        mode = body.get("analysis_mode") or "general"
        if mode not in ("general", "time_based_metadata"):
            raise invalid("analysis_mode", "must be general or time_based_metadata")
        custom_id = body.get("custom_id")
        if custom_id is not None and not isinstance(custom_id, str):
            raise invalid("custom_id", "must be a string")
        inner = {k: v for k, v in body.items() if k not in ("analysis_mode", "custom_id", "prompt_v2")}
        inner["model_name"] = model
        inner["stream"] = False
        if "prompt" not in inner and isinstance(body.get("prompt_v2"), dict):
            inner["prompt"] = body["prompt_v2"].get("input_text")
        result, video_id = answer(world, inner, state, noise=noise, seed=seed, mode=mode)
        now = time.time()
        raw_video = body.get("video")
        video: Dict[str, Any] = (dict(raw_video) if isinstance(raw_video, dict)
                                 else {"type": "video_id", "video_id": body.get("video_id")})
        task_id = self.add(custom_id=custom_id, model=model, mode=mode, video_source=video,
                           ready_at=now + latency_ms / 1000.0, result=result, video=video_id)
        if idem_key:
            with self._lock:
                self._by_key[idem_key] = task_id
        return Response(202, {"task_id": task_id, "status": "queued"}, video=video_id,
                        extra_log={"model": model, "task": task_id})

    def add(self, *, custom_id: Optional[str], model: str, mode: str, video_source: Dict[str, Any],
            ready_at: float, result: Dict[str, Any], video: Optional[str]) -> str:
        """Record a task whose answer is already known (also used for batch items)."""
        task_id = uuid.uuid4().hex[:24]
        task = {"task_id": task_id, "custom_id": custom_id, "model": model, "mode": mode,
                "video_source": video_source, "created": time.time(), "ready_at": ready_at,
                "result": result, "video": video}
        with self._lock:
            self._tasks[task_id] = task
        return task_id

    def idempotent(self, key: Optional[str]) -> Optional[str]:
        """The id recorded for an Idempotency-Key (any kind of creation), if any."""
        if not key:
            return None
        with self._lock:
            return self._by_key.get(key)

    def remember(self, key: Optional[str], created_id: str) -> None:
        """Bind an Idempotency-Key to what it created."""
        if key:
            with self._lock:
                self._by_key[key] = created_id

    @staticmethod
    def _status(task: Dict[str, Any]) -> str:
        if task.get("canceled"):
            return "canceled"
        left = task["ready_at"] - time.time()
        if left <= 0:
            return "ready"
        return "processing" if left < (task["ready_at"] - task["created"]) / 2 else "queued"

    def _json(self, task: Dict[str, Any]) -> Dict[str, Any]:
        status = self._status(task)
        out: Dict[str, Any] = {
            "task_id": task["task_id"],
            "custom_id": task["custom_id"],
            "video_source": task["video_source"],
            "status": status,
            "created_at": iso_ms(task["created"]),
        }
        if status == "ready":
            out["completed_at"] = iso_ms(task["ready_at"])
            out["result"] = task["result"]
        return out

    def status(self, task_id: str) -> str:
        """Current status of a known task ('' when unknown)."""
        with self._lock:
            task = self._tasks.get(task_id)
        return self._status(task) if task is not None else ""

    def entry(self, task_id: str) -> Optional[Dict[str, Any]]:
        """The raw record of a task (batch results read it)."""
        with self._lock:
            return self._tasks.get(task_id)

    def cancel_queued(self, task_id: str) -> None:
        """Cancel a task that has not started (batch cancellation); processing ones finish."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is not None and self._status(task) == "queued":
                task["canceled"] = True

    def get(self, task_id: str) -> Response:
        """``GET /v1.3/analyze/tasks/{id}``."""
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None:
            raise not_exist(task_id, "tasks", status=404)
        return Response(200, self._json(task), video=task["video"],
                        extra_log={"model": task["model"], "task": task_id})

    def delete(self, task_id: str) -> Response:
        """``DELETE /v1.3/analyze/tasks/{id}`` (409 while it is still being processed)."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                raise not_exist(task_id, "tasks", status=404)
            if self._status(task) != "ready":
                raise ApiError(409, "task_in_progress", f"Task {task_id} is still being processed.")
            del self._tasks[task_id]
        return Response(200, {"task_id": task_id, "deleted": True}, extra_log={"task": task_id})

    def list(self, query: Mapping[str, str]) -> Response:
        """``GET /v1.3/analyze/tasks`` filtered by status, asset_id, video_id, analysis_mode; newest first."""
        from . import _v13

        page, limit = _v13._page_args(query)
        with self._lock:
            tasks = list(self._tasks.values())
        items: List[Dict[str, Any]] = []
        for task in sorted(tasks, key=lambda t: t["created"], reverse=True):
            src = task["video_source"]
            if query.get("status") and self._status(task) not in query["status"].split(","):
                continue
            if query.get("asset_id") and src.get("asset_id") != query["asset_id"]:
                continue
            if query.get("video_id") and src.get("video_id") != query["video_id"]:
                continue
            if query.get("analysis_mode") and task["mode"] != query["analysis_mode"]:
                continue
            items.append(self._json(task))
        return Response(200, _v13._paged(items, page, limit))
