"""The v1.2 Classify result bodies, as typed dictionaries.

Every backend hands the resource a page in exactly this shape (the JSON the v1.2 API sent and
the gateway sends), so the shape is written down once and type-checked end to end instead of
travelling as ``Dict[str, Any]``. Optional keys are optional because v1.2 itself left them out:
``clips`` without ``include_clips``, ``detailed_scores`` without ``show_detailed_score``.
"""

from __future__ import annotations

from typing import List, Optional

# typing_extensions (a pydantic dependency) so pydantic can validate these on Python < 3.12 too.
from typing_extensions import TypedDict

__all__ = ["ClassBody", "ClassParamsBody", "ClipBody", "DetailedScoresBody", "PageBody", "PageInfoBody", "VideoBody"]


class DetailedScoresBody(TypedDict):
    """``detailed_scores`` of a class (or, in older answers, a clip)."""

    max_score: float
    avg_score: float
    normalized_score: float


class _ClipRequired(TypedDict):
    start: float
    end: float
    score: float
    option: str
    prompt: str


class ClipBody(_ClipRequired, total=False):
    """One clip of a class: where in the video, from which source and prompt, how strongly."""

    thumbnail_url: Optional[str]
    detailed_scores: DetailedScoresBody


class _ClassRequired(TypedDict):
    name: str
    score: float
    duration_ratio: float


class ClassBody(_ClassRequired, total=False):
    """A class that passed the thresholds for a video."""

    clips: List[ClipBody]
    detailed_scores: DetailedScoresBody


class VideoBody(TypedDict):
    """One ``data[]`` item: a video and its passing classes, best first."""

    video_id: str
    classes: List[ClassBody]


class _PageInfoRequired(TypedDict):
    limit_per_page: int
    total_results: int
    page_expired_at: str


class PageInfoBody(_PageInfoRequired, total=False):
    """``page_info``: an empty or missing token means there is no such page."""

    next_page_token: Optional[str]
    prev_page_token: Optional[str]


class PageBody(TypedDict):
    """One page of a classify result: ``{"data": [...], "page_info": {...}}``."""

    data: List[VideoBody]
    page_info: PageInfoBody


class ClassParamsBody(TypedDict, total=False):
    """A class as posted in a request's ``classes`` (``ClassifyClassParams.to_dict()``)."""

    name: str
    prompts: List[str]
    options: List[str]
    conversation_option: str
