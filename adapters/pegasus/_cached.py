"""A sync ``classify.videos`` whose every answer is already stored, served on the caller's thread.

The engine (``_engine.Core.run``) is async: a sync client runs it on its background loop thread,
and every store read goes through the store's own thread (``offload``), so even a call that
makes no request paid two thread hand-offs per store read, a worker pool and the loop's
scheduling — about 2-3 times a legacy call. When everything a call needs is in the store — each
video's placement and record, and a readable answer for each of its questions — nothing can
block for long, so :func:`serve_cached` does the same work in the caller's thread, reading the
store directly: it places the videos, picks the model, computes the answer keys and parses the
stored answers exactly as a run does (the same ``Core`` helpers), then maps, orders and stores
the result as a new result id, and reports progress for each video.

It is all or nothing: the first thing not in the store (an unplaced video, a record without
the transcript ``exact_match`` needs, a missing or unreadable answer, a question that cannot be
asked at all) makes it return ``None`` before anything is written, reported or counted, and the
call runs through the engine as before, which then pays for what is missing. Only the ``sync``
strategy is served here (``batch`` and ``segments`` runs keep their own bookkeeping), only
``classify.videos`` (``classify.index`` always lists the index), and only requests without a
repeated video id. With ``samples=k`` every one of the k answers must be stored; they are
voted as a run votes them (``map_video_samples``). With ``samples="auto"`` the stored answers
are read round by round as a run asks them (``_adaptive``): the ones a run would ask must all
be stored.
"""

from __future__ import annotations

import logging
import time
from typing import Dict, List, Optional, Tuple

from classify_shim._backend import BackendPage, optional_callback
from classify_shim._events import Progress
from classify_shim._request import ClassifyRequest, ClassSpec

from ._adaptive import answer_rounds, undecided
from ._engine import (
    Core,
    RunStats,
    _VideoOutcome,
    answers_per_video,
    choose_strategy,
    exact_segments,
    template_version,
)
from ._limits import PEGASUS12
from ._mapping import map_video_samples
from ._parse import ParsedAnswer, merge_samples
from ._prompt import needs_exact_match, plan_chunks
from ._schema import SchemaBook
from ._select import ModelPicker
from ._v13 import RateGate, VideoRecord

__all__ = ["serve_cached"]

log = logging.getLogger("classify_shim.pegasus")


def _records(core: Core, video_ids: List[str], needs_transcript: bool) -> Optional[Dict[str, VideoRecord]]:
    """Every video's stored record, as ``Resolver.for_videos`` would read it; None if one is missing."""
    store, scope = core.store, core.scope
    placed = store.get_video_indexes(scope, video_ids)
    records: Dict[str, VideoRecord] = {}
    for vid in video_ids:
        index_id = placed.get(vid)
        if index_id is None:
            return None
        stored = store.get_video(scope, index_id, vid)
        if stored is None:
            return None
        try:
            record = VideoRecord.from_json(stored)
        except (KeyError, TypeError, ValueError):
            return None
        if needs_transcript and not record.transcript_loaded:
            return None
        records[vid] = record
    return records


def _outcome(
    core: Core, schemas: SchemaBook, picker: ModelPicker, record: VideoRecord, request: ClassifyRequest,
    stats: RunStats, plans: Dict[str, List[Tuple[ClassSpec, ...]]],
) -> Optional[_VideoOutcome]:
    """What ``Core._video`` makes of a video whose every answer is stored; None at the first miss."""
    exact = exact_segments(record, request)
    model = picker.model_for(record)
    chunks = plans.get(model)
    if chunks is None:
        chunks = plans[model] = plan_chunks(request.classes, model)
    k = core.config.samples
    rounds = answer_rounds(k, core.config.adaptive_samples)
    parts: List[List[ParsedAnswer]] = [[] for _ in range(k)]  # per sample (``samples=k``)
    have = 0
    for upto in rounds:
        if have and not undecided(merge_samples(parts[:have]), exact,
                                  record.duration, request, core.config.calibration):
            break  # samples="auto": no close call left, as the run decides
        for chunk in chunks:
            for sample in range(have, upto):
                try:
                    key = core._question(schemas, record, chunk, model, "sync", 1, sample)[1]
                except Exception:  # e.g. no asset id for a 1.5 model: the engine reports it
                    return None
                parsed = core.read_cached(core.store.get_answer(key), "sync", record, chunk)
                if parsed is None:
                    return None
                parts[sample].append(parsed)
        stats.cached_chunks += len(chunks) * (upto - have)
        have = upto
    if have > rounds[0]:
        stats.resampled += 1
    answers = merge_samples(parts[:have])
    item = map_video_samples(record.video_id, record.duration, answers, exact, request, core.config.calibration)
    return _VideoOutcome(record.video_id, item, None, "cached" if chunks else "exact_match", 0)


def serve_cached(core: Core, request: ClassifyRequest) -> Optional[Tuple[BackendPage, RunStats]]:
    """Page 0 of a new result and the run's counts when the store answers the whole call, else None
    (nothing written, reported or counted: the caller then runs the engine)."""
    if request.kind != "videos" or not request.video_ids:
        return None
    started = time.monotonic()
    config = core.config
    order = list(request.video_ids)
    if len(set(order)) != len(order):
        return None
    needs_model = bool(plan_chunks(request.classes, PEGASUS12))
    strategy = choose_strategy(config.strategy, config.pegasus_model, len(order) if needs_model else 0)
    if strategy != "sync":
        return None
    records = _records(core, order, any(needs_exact_match(c) for c in request.classes))
    if records is None:
        return None
    store = core.store
    stats = RunStats(videos=len(order), strategy=strategy, samples=config.samples,
                     adaptive=config.adaptive_samples, template=template_version(strategy))
    picker = ModelPicker(config.pegasus_model, store, config.host)
    schemas = SchemaBook(store, config.host)
    outcomes: Dict[str, _VideoOutcome] = {}
    plans: Dict[str, List[Tuple[ClassSpec, ...]]] = {}  # chunks per model, as a run's ``chunks``
    for vid in order:
        outcome = _outcome(core, schemas, picker, records[vid], request, stats, plans)
        if outcome is None:
            return None
        outcomes[vid] = outcome
    # Everything is in hand: from here on the call happens, as a run would make it.
    core.last_run = stats
    if log.isEnabledFor(logging.INFO):
        log.info(
            "classifying %d video(s), %d class(es), model %s, strategy %s, %s answer(s) per video, up to %d in flight",
            len(order), len(request.classes), picker.describe(), strategy, answers_per_video(config),
            RateGate(config.max_concurrency).limit,
        )
    total = len(order)
    for done, vid in enumerate(order, start=1):
        status = outcomes[vid].status
        log.info("video %s: %s (%d/%d)", vid, status, done, total)
        optional_callback(config.on_progress, Progress(done, total, vid, status))
    result_id, header, pages = core.result_of(order, outcomes, stats, request.page_limit)
    store.put_result(result_id, header, pages)
    return core.saved(result_id, header, pages, stats, started), stats
