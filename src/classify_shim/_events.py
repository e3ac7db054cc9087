"""What the shim tells user callbacks while it works, and the callbacks' types.

Kept apart from the backends so the public :mod:`classify_shim.types` and the configuration can
name them without importing an adapter (adapters load only when selected).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Literal

if TYPE_CHECKING:
    from ._compare import ClassComparison

__all__ = ["MismatchCallback", "Progress", "ProgressCallback", "ProgressStatus"]

ProgressStatus = Literal["analyzed", "cached", "exact_match", "failed"]


@dataclass(frozen=True)
class Progress:
    """Passed to ``on_progress`` after each video: ``status`` is ``"analyzed"`` (model called),
    ``"cached"`` (answers from the cache), ``"exact_match"`` (transcript only, no model call) or
    ``"failed"`` (reported in ``result.errors``). The sync client calls it from its worker
    thread; an exception it raises is logged and ignored."""

    done: int
    total: int
    video_id: str
    status: ProgressStatus


ProgressCallback = Callable[[Progress], object]
"""``on_progress``: called once per video of a Pegasus run, in completion order (what it returns
is ignored, so ``list.append`` or ``queue.put`` work as they are)."""

MismatchCallback = Callable[["ClassComparison"], object]
"""``on_mismatch``: called by shadow mode for each (video, class) pair outside the tolerances."""
