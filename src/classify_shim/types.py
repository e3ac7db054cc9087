"""Public types, importable from one place: ``from classify_shim.types import Progress, ...``.

* what a result reports beside its data: :class:`VideoFailure` (``result.errors``);
* what callbacks receive and their types: :class:`Progress` / :data:`ProgressCallback`
  (``on_progress``), :class:`ClassComparison` / :data:`MismatchCallback` (``on_mismatch``);
* comparison and shadow reports: :class:`Tolerances`, :class:`MismatchReport`,
  :class:`ComparisonSummary`, :class:`ShadowReport` (``shadow_report(client)``);
* the v1.2 result bodies as typed dicts (``result.model_dump()`` has this shape, and so does
  what the gateway sends): :class:`PageBody` and the pieces it is made of.

The result *models* (``ClassifyPageResult``, ``AsyncClassifyPageResult``, ...) stay in
:mod:`classify_shim.models`, where ``twelvelabs.models`` had them.
"""

from __future__ import annotations

from ._backend import VideoFailure
from ._bodies import (
    ClassBody,
    ClassParamsBody,
    ClipBody,
    DetailedScoresBody,
    PageBody,
    PageInfoBody,
    VideoBody,
)
from ._compare import ClassComparison, ComparisonSummary, MismatchReport, ShadowReport, Tolerances
from ._events import MismatchCallback, Progress, ProgressCallback, ProgressStatus

__all__ = [
    "ClassBody",
    "ClassComparison",
    "ClassParamsBody",
    "ClipBody",
    "ComparisonSummary",
    "DetailedScoresBody",
    "MismatchCallback",
    "MismatchReport",
    "PageBody",
    "PageInfoBody",
    "Progress",
    "ProgressCallback",
    "ProgressStatus",
    "ShadowReport",
    "Tolerances",
    "VideoBody",
    "VideoFailure",
]

