"""What each Pegasus model accepts, in one table: every per-model rule of the backend reads it.

Sources: the 2026-07 v1.3 spec (``/analyze``, ``/analyze/tasks``, ``/analyze/batches``) and the
official SDK 1.3.6. A model name we do not know is read by its version number: below 1.5 it
gets 1.2's (most restrictive) row, 1.5 and later the newest row we know, so a prompt or budget
we build is never outside what the model documents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

__all__ = [
    "AUTO_MODEL",
    "MODEL_TABLE",
    "PEGASUS12",
    "PEGASUS15",
    "SYNC_MAX_DURATION_S",
    "ModelSpec",
    "model_spec",
    "model_version",
]

AUTO_MODEL = "auto"
"""``pegasus_model="auto"`` (the default): 1.5 by asset id, 1.2 by ``video_id`` only without one."""

PEGASUS12 = "pegasus1.2"
PEGASUS15 = "pegasus1.5"


@dataclass(frozen=True)
class ModelSpec:
    """One model's documented limits and features."""

    name: str
    video_ref: str
    """``"video_id"`` (indexed video, Pegasus 1.2 only) or ``"asset_id"`` (``video: {type: asset_id}``)."""
    prompt_limit: int
    """Largest prompt we send, in estimated tokens (1.2: the documented 2,000; 1.5+: a modest share
    of a context window whose size is not documented)."""
    max_tokens: Tuple[int, int]
    """``max_tokens`` range of ``/analyze`` and general tasks."""
    segment_max_tokens: Optional[Tuple[int, int]]
    """``max_tokens`` range (and the budget we use) of ``time_based_metadata`` tasks; None = no segmentation."""
    segment_default_tokens: int
    tasks: bool
    """``/analyze/tasks`` (async) accepts the model."""
    batches: bool
    """``/analyze/batches`` accepts the model (batches take asset ids only)."""
    timestamp_type: bool
    """``{"type": "timestamp"}`` in schemas; the reserved ``start_time``/``end_time`` names get special handling."""
    max_segment_definitions: int = 20
    max_field_enum: int = 100

    @property
    def segments(self) -> bool:
        return self.segment_max_tokens is not None


_P12 = ModelSpec(
    name=PEGASUS12,
    video_ref="video_id",
    prompt_limit=2_000,
    max_tokens=(2, 4_096),
    segment_max_tokens=None,
    segment_default_tokens=0,
    tasks=True,
    batches=False,
    timestamp_type=False,
)
_P15 = ModelSpec(
    name=PEGASUS15,
    video_ref="asset_id",
    prompt_limit=32_000,
    max_tokens=(512, 98_304),
    segment_max_tokens=(2_048, 98_304),
    segment_default_tokens=32_768,
    tasks=True,
    batches=True,
    timestamp_type=True,
)

MODEL_TABLE: Dict[str, ModelSpec] = {
    PEGASUS12: _P12,
    PEGASUS15: _P15,
    # SDK 1.3.6 lists 1.6 with 1.5's limits for video (its image input is not used here).
    "pegasus1.6": ModelSpec(**{**_P15.__dict__, "name": "pegasus1.6"}),
}

SYNC_MAX_DURATION_S = 3_600.0
"""Longest video sync ``POST /analyze`` takes ("Maximum duration: 1 hour"); a longer one is asked
through ``/analyze/tasks`` ("Videos longer than 1 hour", up to 2 hours). v1.2 Classify took
videos of up to 10 hours per request in total, so a v1.2 caller may well send one."""

BATCH_MAX_REQUESTS = 1_000
BATCH_MAX_CONTENT_HOURS = 2_000.0
BATCH_MAX_ACTIVE = 5

_VERSION = re.compile(r"pegasus\s*(\d+)(?:\.(\d+))?", re.IGNORECASE)


def model_version(model_name: str) -> Optional[Tuple[int, int]]:
    m = _VERSION.search(model_name or "")
    if not m:
        return None
    return int(m.group(1)), int(m.group(2) or 0)


def model_spec(model_name: str) -> ModelSpec:
    """The row for ``model_name``; unknown names by version (see the module docstring)."""
    known = MODEL_TABLE.get((model_name or "").strip().lower())
    if known is not None:
        return known
    version = model_version(model_name)
    base = _P15 if version is not None and version >= (1, 5) else _P12
    return ModelSpec(**{**base.__dict__, "name": model_name})
