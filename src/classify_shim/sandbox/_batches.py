"""Emulation of ``/v1.3/analyze/batches``: many tasks under one id, results as JSON Lines.

Rules from the 2026-07 spec: Pegasus 1.5 only, ``video: {type: asset_id}``
only, at most 1,000 requests and 2,000 content hours per batch, unique
``custom_id`` values, at most 5 active (pending/processing/canceling) batches
per API key (the sixth answers 429), ``Idempotency-Key`` honoured.  Every item
is an ordinary task (readable at ``/analyze/tasks/{id}``) answered by the
simulated model when the batch is created and ready after ``task_latency_ms``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any, Dict, List, Mapping, Optional

from ._common import ApiError, Response, invalid, iso_ms, not_exist, not_provided
from ._model import ModelState
from ._tasks import TaskStore, answer
from ._world import World

MAX_REQUESTS = 1000
MAX_CONTENT_S = 2000 * 3600.0
MAX_ACTIVE = 5
RETENTION_S = 24 * 3600.0
_ITEM_KEYS = ("prompt", "response_format", "temperature", "max_tokens", "min_segment_duration",
              "max_segment_duration", "start_time", "end_time")


class BatchStore:
    """Batches by id, per API key for the active-batch limit (thread-safe)."""

    def __init__(self, tasks: TaskStore) -> None:
        self._tasks = tasks
        self._batches: Dict[str, Dict[str, Any]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ status
    def _counts(self, batch: Dict[str, Any]) -> Dict[str, int]:
        counts = {"queued": 0, "processing": 0, "ready": 0, "failed": 0, "canceled": 0}
        for task_id in batch["task_ids"]:
            st = self._tasks.status(task_id) or "failed"
            counts["queued" if st == "pending" else st] += 1
        return counts

    def _status(self, batch: Dict[str, Any], counts: Dict[str, int]) -> str:
        open_items = counts["queued"] + counts["processing"]
        if batch["canceling"]:
            return "canceling" if counts["processing"] else "canceled"
        if open_items == 0:
            return "completed"
        if time.time() > batch["created"] + RETENTION_S:
            return "expired"
        return "processing" if counts["queued"] < batch["total"] else "pending"

    def _json(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        counts = self._counts(batch)
        status = self._status(batch, counts)
        out: Dict[str, Any] = {
            "batch_id": batch["batch_id"],
            "analysis_mode": batch["mode"],
            "model_name": batch["model"],
            "status": status,
            "total_items": batch["total"],
            "created_at": iso_ms(batch["created"]),
            "expires_at": iso_ms(batch["created"] + RETENTION_S),
            "queued_items": counts["queued"],
            "processing_items": counts["processing"],
            "ready_items": counts["ready"],
            "failed_items": counts["failed"],
            "canceled_items": counts["canceled"],
        }
        if status == "completed":
            out["completed_at"] = iso_ms(batch["ready_at"])
        if status == "canceled":
            out["canceled_at"] = iso_ms(batch["canceled_at"] or time.time())
        return out

    def _active(self, key_hash: str) -> int:
        with self._lock:
            mine = [b for b in self._batches.values() if b["owner"] == key_hash]
        return sum(1 for b in mine if self._status(b, self._counts(b)) in ("pending", "processing", "canceling"))

    # ------------------------------------------------------------------ endpoints
    def create(self, world: World, body: Any, state: ModelState, *, owner: str, idem_key: Optional[str],
               noise: str, seed: int, latency_ms: float) -> Response:
        """``POST /v1.3/analyze/batches`` → 201 ``{batch_id, status, total_items, created_at, expires_at, items}``."""
        known = self._tasks.idempotent(idem_key)
        if known is not None:
            with self._lock:
                batch = self._batches.get(known)
            if batch is not None:
                return Response(201, self._created(batch), extra_log={
                    "model": batch["model"], "batch": known, "items": batch["total"], "idempotent_replay": True})
        if not isinstance(body, dict):
            raise invalid("body", "must be a JSON object")
        model = body.get("model_name")
        if model is None:
            raise not_provided("model_name")
        if model != "pegasus1.5":
            raise invalid("model_name", "batch analysis requires pegasus1.5")
        mode = body.get("analysis_mode")
        if mode is None:
            raise not_provided("analysis_mode")
        if mode not in ("general", "time_based_metadata"):
            raise invalid("analysis_mode", "must be general or time_based_metadata")
        defaults = body.get("defaults") or {}
        if not isinstance(defaults, dict):
            raise invalid("defaults", "must be an object")
        reqs = body.get("requests")
        if reqs is None:
            raise not_provided("requests")
        if not isinstance(reqs, list) or not reqs:
            raise invalid("requests", "must be a non-empty array")
        if len(reqs) > MAX_REQUESTS:
            raise invalid("requests", f"a batch takes at most {MAX_REQUESTS} requests")
        seen: set[str] = set()
        inners: List[Dict[str, Any]] = []
        content_s = 0.0
        for i, req in enumerate(reqs):
            if not isinstance(req, dict):
                raise invalid(f"requests[{i}]", "must be an object")
            video = req.get("video")
            if not isinstance(video, dict) or video.get("type") != "asset_id":
                raise invalid(f"requests[{i}].video", "must be {type: asset_id, asset_id}")
            custom_id = req.get("custom_id")
            if custom_id is not None:
                if not isinstance(custom_id, str) or custom_id in seen:
                    raise invalid(f"requests[{i}].custom_id", "must be a string unique within the batch")
                seen.add(custom_id)
            merged = {k: defaults[k] for k in _ITEM_KEYS if k in defaults}
            merged.update({k: req[k] for k in _ITEM_KEYS if k in req})
            prompt = merged.pop("prompt", None)
            if prompt is None and mode == "time_based_metadata":
                prompt = {"input_text": ""}
            if not isinstance(prompt, dict) or not isinstance(prompt.get("input_text"), str):
                raise invalid(f"requests[{i}].prompt", "needs prompt.input_text (here or in defaults)")
            if mode == "general":
                for k in ("min_segment_duration", "max_segment_duration"):
                    if merged.pop(k, None) is not None:
                        raise invalid(k, "requires analysis_mode time_based_metadata")
            inner = dict(merged, model_name=model, video=video, prompt=prompt["input_text"])
            asset = world.assets.get(str(video.get("asset_id")))
            if asset is None:
                raise not_exist(str(video.get("asset_id")), "assets", status=404)
            content_s += float(asset["duration"])
            inners.append({"body": inner, "custom_id": custom_id, "video": video})
        if content_s > MAX_CONTENT_S:
            raise invalid("requests", "a batch takes at most 2,000 content hours")
        if self._active(owner) >= MAX_ACTIVE:
            raise ApiError(429, "too_many_active_batches",
                           f"You already have {MAX_ACTIVE} active batches. Wait for one to finish.",
                           {"Retry-After": "1"})
        answers = [answer(world, it["body"], state, noise=noise, seed=seed, mode=mode) for it in inners]
        now = time.time()
        ready_at = now + latency_ms / 1000.0
        task_ids = [self._tasks.add(custom_id=it["custom_id"], model=model, mode=mode, video_source=it["video"],
                                    ready_at=ready_at, result=res, video=vid)
                    for it, (res, vid) in zip(inners, answers)]
        batch_id = uuid.uuid4().hex[:24]
        batch = {"batch_id": batch_id, "owner": owner, "model": model, "mode": mode, "created": now,
                 "ready_at": ready_at, "total": len(task_ids), "task_ids": task_ids,
                 "custom_ids": [it["custom_id"] for it in inners], "canceling": False, "canceled_at": None}
        with self._lock:
            self._batches[batch_id] = batch
        self._tasks.remember(idem_key, batch_id)
        return Response(201, self._created(batch),
                        extra_log={"model": model, "batch": batch_id, "items": len(task_ids)})

    def _created(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        full = self._json(batch)
        return {"batch_id": batch["batch_id"], "status": full["status"], "total_items": batch["total"],
                "created_at": full["created_at"], "expires_at": full["expires_at"],
                "items": [{"task_id": t, "custom_id": c} for t, c in zip(batch["task_ids"], batch["custom_ids"])]}

    def _find(self, batch_id: str) -> Dict[str, Any]:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None:
            raise not_exist(batch_id, "batches", status=404)
        return batch

    def get(self, batch_id: str) -> Response:
        """``GET /v1.3/analyze/batches/{id}``."""
        batch = self._find(batch_id)
        return Response(200, self._json(batch), extra_log={"model": batch["model"], "batch": batch_id})

    def list(self, query: Mapping[str, str], owner: str) -> Response:
        """``GET /v1.3/analyze/batches`` (newest first; ``status`` and ``analysis_mode`` filters)."""
        from . import _v13

        page, limit = _v13._page_args(query)
        with self._lock:
            mine = [b for b in self._batches.values() if b["owner"] == owner]
        items = [self._json(b) for b in sorted(mine, key=lambda b: b["created"], reverse=True)]
        if query.get("status"):
            items = [b for b in items if b["status"] in query["status"].split(",")]
        if query.get("analysis_mode"):
            items = [b for b in items if b["analysis_mode"] == query["analysis_mode"]]
        return Response(200, _v13._paged(items, page, limit))

    def results(self, batch_id: str) -> Response:
        """``GET /v1.3/analyze/batches/{id}/results`` as JSON Lines, one entry per item."""
        batch = self._find(batch_id)
        lines: List[bytes] = []
        for task_id, custom_id in zip(batch["task_ids"], batch["custom_ids"]):
            status = self._tasks.status(task_id)
            entry: Dict[str, Any] = {"task_id": task_id, "custom_id": custom_id, "status": status or "failed"}
            task = self._tasks.entry(task_id)
            if status == "ready" and task is not None:
                entry["data"] = task["result"]
            elif not status:
                entry["error"] = {"code": "task_not_found", "message": f"Task {task_id} was deleted."}
            lines.append((json.dumps(entry) + "\n").encode("utf-8"))
        return Response(200, body=b"".join(lines), content_type="application/jsonl",
                        extra_log={"model": batch["model"], "batch": batch_id})

    def cancel(self, batch_id: str) -> Response:
        """``POST /v1.3/analyze/batches/{id}/cancel`` → 202 (409 once terminal)."""
        batch = self._find(batch_id)
        status = self._status(batch, self._counts(batch))
        if status in ("completed", "canceled", "expired"):
            raise ApiError(409, f"batch_{status}", f"Batch {batch_id} is already {status}.")
        for task_id in batch["task_ids"]:
            self._tasks.cancel_queued(task_id)
        batch["canceling"] = True
        batch["canceled_at"] = time.time()
        return Response(202, self._json(batch), extra_log={"model": batch["model"], "batch": batch_id})

    def delete(self, batch_id: str) -> Response:
        """``DELETE /v1.3/analyze/batches/{id}`` (terminal batches only, else 409 batch_not_terminal)."""
        batch = self._find(batch_id)
        if self._status(batch, self._counts(batch)) not in ("completed", "canceled", "expired"):
            raise ApiError(409, "batch_not_terminal", f"Batch {batch_id} is not in a terminal state.")
        with self._lock:
            self._batches.pop(batch_id, None)
        return Response(200, {}, extra_log={"batch": batch_id})
