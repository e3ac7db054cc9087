"""Which index holds each video, and what the model needs to know about it.

``classify.videos(video_ids)`` never named an index (v1.2 did not need one); v1.3 reads videos
per index. Resolution, in order, stopping as soon as every id is placed:

1. the cached map (SQLite when the cache is on, this client's memory otherwise);
2. the hint ``ClientConfig.index_id`` (``index_id=`` or ``TWELVELABS_CLASSIFY_INDEX_ID``): one
   ``GET indexes/{hint}/videos/{id}`` per video, which also yields its metadata;
3. discovery: ``GET indexes`` and ``GET indexes/{id}/videos`` (all pages), at most once per
   classify call and only while an id is still missing; every pair seen is cached.

An id still missing after that raises the v1.2 server's error (``BadRequestError``, code
``resource_not_exist``) before any ``/analyze`` call is made. A cached pair that turns out
stale (the video's ``GET`` answers 404) is dropped and the id resolved again.

Records that resolution did not need (videos placed by a listing: every video of
``classify.index``, the discovered ones of ``classify.videos``) are left ``pending`` and loaded
by the engine one video at a time (``Resolver.record``), so each video's analysis can start as
soon as its own record is in instead of after every record.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

from classify_shim._exceptions import (
    APIStatusError,
    AuthenticationError,
    ClassifyValidationError,
    TwelveLabsError,
)
from classify_shim._store import Store, offload
from classify_shim._types import RequestOptions

from ._v13 import RateGate, V13Client, VideoRecord

__all__ = ["Resolved", "Resolver", "is_not_found"]

log = logging.getLogger("classify_shim.pegasus")


def is_not_found(exc: BaseException) -> bool:
    """v1.3 answers 404 for a missing index/video; some servers use 400 ``resource_not_exist``."""
    if not isinstance(exc, APIStatusError):
        return False
    code = exc.body.get("code") if isinstance(exc.body, Mapping) else None
    return exc.status_code == 404 or code == "resource_not_exist"


class _Gone(Exception):
    """Internal: the video's record answered "not found"."""


@dataclass
class Resolved:
    """Every video of a run, in result order, each in exactly one of ``records`` (loaded),
    ``errors`` (its record could not be loaded) or ``pending`` (placed: id -> index, record
    still to load with ``Resolver.record``)."""

    order: List[str]
    records: Dict[str, VideoRecord] = field(default_factory=dict)
    errors: Dict[str, Exception] = field(default_factory=dict)
    pending: Dict[str, str] = field(default_factory=dict)


class Resolver:
    """Places videos in indexes and loads their records, through the rate gate and the store."""

    def __init__(
        self,
        client: V13Client,
        gate: RateGate,
        store: Store,
        scope: str,
        hint: Optional[str],
        options: Optional[RequestOptions],
        *,
        needs_transcript: bool = True,
    ) -> None:
        self._client = client
        self._gate = gate
        self._store = store
        self._scope = scope
        self._hint = hint
        self._options = options
        self._discovered = False
        # A list item carries id, asset id and duration: enough unless exact_match needs the
        # transcript, so such runs make no per-video GET (10,000 videos: 200 list pages, not 10,000 GETs).
        self._use_listing = not needs_transcript
        self._listed: Dict[str, VideoRecord] = {}
        self.calls = 0  # v1.3 GETs made by this resolver (for logs)

    # ------------------------------------------------------------------ records

    async def _fetch(self, index_id: str, video_id: str) -> VideoRecord:
        """The record, from the store or ``GET``; raises ``_Gone`` on 404."""
        store = self._store
        cached = await offload(store, lambda: store.get_video(self._scope, index_id, video_id))
        if cached is not None:
            try:
                found = VideoRecord.from_json(cached)
            except (KeyError, TypeError, ValueError):
                pass  # unreadable row: fetch again
            else:
                if found.transcript_loaded or self._use_listing:
                    return found
        try:
            self.calls += 1
            record = await self._gate.run(
                lambda: self._client.get_video(index_id, video_id, self._options), f"video {video_id}"
            )
        except APIStatusError as exc:
            if is_not_found(exc):
                raise _Gone(video_id) from exc
            raise
        value = record.to_json()
        await offload(store, lambda: store.put_video(self._scope, index_id, video_id, value))
        return record

    async def _try_fetch(
        self, index_id: str, video_id: str
    ) -> Tuple[str, Union[VideoRecord, _Gone, Exception]]:
        try:
            return video_id, await self._fetch(index_id, video_id)
        except AuthenticationError:
            raise  # a bad key fails the call, not each video
        except (_Gone, TwelveLabsError) as exc:
            return video_id, exc

    async def _place(self, pairs: Mapping[str, str]) -> None:
        store = self._store
        await offload(store, lambda: store.put_video_index(self._scope, pairs))

    async def _unplace(self, video_id: str) -> None:
        store = self._store
        await offload(store, lambda: store.forget_video_index(self._scope, video_id))

    # ------------------------------------------------------------------ discovery

    async def _discover(self, missing: Set[str]) -> Dict[str, str]:
        """List indexes and their videos until every missing id is seen; cache every pair."""
        self._discovered = True
        self.calls += 1
        indexes = await self._gate.run(lambda: self._client.list_indexes(self._options), "list indexes")
        if self._hint in indexes:  # already asked about the hint index video by video
            indexes = [self._hint, *[i for i in indexes if i != self._hint]]
        found: Dict[str, str] = {}
        step = max(1, self._gate.limit)
        for start in range(0, len(indexes), step):
            batch = indexes[start:start + step]

            async def listing(index_id: str) -> Tuple[str, List[str]]:
                self.calls += 1
                listed = await self._gate.run(
                    lambda: self._client.list_video_records(index_id, self._options), f"list index {index_id}"
                )
                await self._remember(listed, missing)
                return index_id, [vid for vid, _ in listed]

            for index_id, ids in await asyncio.gather(*(listing(i) for i in batch)):
                pairs = {vid: index_id for vid in ids}
                await self._place(pairs)
                found.update(pairs)
            if missing <= found.keys():
                break
        log.info("discovered %d videos in %d indexes", len(found), len(indexes))
        return found

    # ------------------------------------------------------------------ public

    async def for_videos(self, video_ids: Sequence[str]) -> Resolved:
        """Every id placed in its index (records loaded where placing needed them: the hint's
        and cached placements' ``GET``). Raises for unknown ids, before any ``/analyze``."""
        records: Dict[str, VideoRecord] = {}
        errors: Dict[str, Exception] = {}
        store = self._store
        placed = await offload(store, lambda: store.get_video_indexes(self._scope, list(video_ids)))
        unplaced = [v for v in video_ids if v not in placed]
        if self._hint and unplaced:
            for vid, outcome in await asyncio.gather(*(self._try_fetch(self._hint, v) for v in unplaced)):
                if isinstance(outcome, VideoRecord):
                    records[vid] = outcome
                    await self._place({vid: self._hint})
                elif not isinstance(outcome, _Gone):
                    errors[vid] = outcome
        # Records of cached placements; a stale placement goes back to "missing".
        cached = [v for v in video_ids if v in placed]
        for vid, outcome in await asyncio.gather(*(self._try_fetch(placed[v], v) for v in cached)):
            if isinstance(outcome, VideoRecord):
                records[vid] = outcome
            elif isinstance(outcome, _Gone):
                await self._unplace(vid)
            else:
                errors[vid] = outcome
        pending: Dict[str, str] = {}
        missing = {v for v in video_ids if v not in records and v not in errors}
        if missing and not self._discovered:
            found = await self._discover(missing)
            for vid in video_ids:
                if vid in missing and vid in found:
                    if vid in self._listed:
                        records[vid] = self._listed[vid]
                    else:
                        pending[vid] = found[vid]
            missing -= pending.keys()
            missing -= records.keys()
        if missing:
            ordered = [(i, v) for i, v in enumerate(video_ids) if v in missing]
            first_i, first = ordered[0]
            more = f" (and {len(ordered) - 1} more: {', '.join(v for _, v in ordered[1:4])})" if len(ordered) > 1 else ""
            raise ClassifyValidationError(
                f"video_ids[{first_i}]",
                f"Resource with id {first} does not exist in videos{more}. "
                "No index visible to this API key holds it.",
                code="resource_not_exist",
            )
        return Resolved(list(video_ids), records, errors, pending)

    async def for_index(self, index_id: str) -> Resolved:
        """Every video of the index (API order), each pending: its record is loaded later."""
        try:
            self.calls += 1
            listed = await self._gate.run(
                lambda: self._client.list_video_records(index_id, self._options), "list index"
            )
        except APIStatusError as exc:
            if is_not_found(exc):
                raise ClassifyValidationError(
                    "index_id", f"Resource with id {index_id} does not exist in indexes.", code="resource_not_exist"
                ) from exc
            raise
        await self._remember(listed)
        seen: Dict[str, None] = {}
        for vid, _ in listed:
            seen.setdefault(vid, None)
        ids = list(seen)
        await self._place({vid: index_id for vid in ids})
        records = {vid: self._listed[vid] for vid in ids if vid in self._listed}
        return Resolved(ids, records=records, pending={vid: index_id for vid in ids if vid not in records})

    async def _remember(
        self, listed: Sequence[Tuple[str, Optional[VideoRecord]]], wanted: Optional[Set[str]] = None
    ) -> None:
        """Keep (and store) the records a listing carried for the videos of this run; a stored
        full record is not replaced."""
        picked: List[VideoRecord] = []
        for vid, record in listed:
            if record is None or (wanted is not None and vid not in wanted):
                continue
            if self._use_listing:
                self._listed[vid] = record
            picked.append(record)
        if not picked:
            return
        store, scope = self._store, self._scope

        def write() -> None:
            for record in picked:
                if store.get_video(scope, record.index_id, record.video_id) is None:
                    store.put_video(scope, record.index_id, record.video_id, record.to_json())

        await offload(store, write)

    async def record(self, index_id: str, video_id: str) -> Union[VideoRecord, Exception]:
        """A placed video's record, or the error to report for that one video."""
        _, outcome = await self._try_fetch(index_id, video_id)
        if isinstance(outcome, _Gone):
            return TwelveLabsError(f"video {video_id} was listed in index {index_id} but its record is gone")
        return outcome
