"""Emulation of the retired v1.2 Classify endpoints.

Validation mirrors the documented request schema (with the real-world quirks:
integer ``threshold`` on /bulk, nested JSON nulls); results come from the
shared relevance in ``_match`` so they agree with the simulated Pegasus model.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ._common import ApiError, invalid, is_int, is_number, not_exist, not_provided, rfc3339
from ._match import SOURCES, Clip, class_score, duration_ratio, find_clips, softmax_percent
from ._world import World

MAX_PROMPTS = 100
MAX_TOTAL_DURATION_S = 10 * 3600
CONVERSATION_OPTIONS = ("semantic", "exact_match")
DEFAULT_THRESHOLDS = {"min_video_score": 75.0, "min_clip_score": 30.0, "min_duration_ratio": 0.5}
_THRESHOLD_RANGES = {
    "min_video_score": (1.0, 100.0),
    "min_clip_score": (1.0, 100.0),
    "min_duration_ratio": (0.01, 1.0),
}


class ClassSpec:
    """One requested class with its effective sources and conversation option."""

    def __init__(self, name: str, prompts: List[str], options: List[str], conversation_option: str) -> None:
        self.name = name
        self.prompts = prompts
        self.options = options
        self.conversation_option = conversation_option


class ClassifyRequest:
    """A validated /classify or /classify/bulk body."""

    def __init__(self) -> None:
        self.video_ids: List[str] = []
        self.index_id: Optional[str] = None
        self.classes: List[ClassSpec] = []
        self.page_limit = 10
        self.include_clips = False
        self.show_detailed_score = False
        self.thresholds: Dict[str, float] = dict(DEFAULT_THRESHOLDS)


def _absent(body: Dict[str, Any], key: str) -> bool:
    return body.get(key) is None


def _options(value: Any, name: str) -> List[str]:
    if not isinstance(value, list):
        raise invalid(name, "must be an array of strings")
    if not value:
        raise invalid(name, "must contain at least one item")
    for item in value:
        if item not in SOURCES:
            raise invalid(name, f"{item!r} is not one of {', '.join(SOURCES)}")
    return list(dict.fromkeys(value))


def _conversation_option(value: Any, name: str) -> str:
    if value not in CONVERSATION_OPTIONS:
        raise invalid(name, "must be 'semantic' or 'exact_match'")
    return str(value)


def _bool(body: Dict[str, Any], key: str) -> bool:
    value = body.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid(key, "must be a boolean")
    return value


def _thresholds(value: Any) -> Dict[str, float]:
    out = dict(DEFAULT_THRESHOLDS)
    if value is None:
        return out
    if is_number(value) and not isinstance(value, dict):
        # /classify/bulk documents an integer threshold (a v1.1.1 leftover), 0-100: min_video_score.
        if not 0 <= float(value) <= 100:
            raise invalid("threshold", "as an integer must be between 0 and 100")
        out["min_video_score"] = float(value)
        return out
    if not isinstance(value, dict):
        raise invalid("threshold", "must be an object (or an integer min_video_score)")
    for key, raw in value.items():
        if key not in _THRESHOLD_RANGES:
            continue  # the spec's object does not forbid other keys: ignored, as by the API
        if raw is None:
            continue
        lo, hi = _THRESHOLD_RANGES[key]
        if not is_number(raw) or not lo <= float(raw) <= hi:
            raise invalid(f"threshold.{key}", f"must be a number between {lo:g} and {hi:g}")
        out[key] = float(raw)
    return out


def parse_request(body: Any, bulk: bool) -> ClassifyRequest:
    """Validate a classify body the way the real server documents it; raise ApiError(400)."""
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    req = ClassifyRequest()
    if bulk:
        if _absent(body, "index_id"):
            raise not_provided("index_id")
        if not isinstance(body["index_id"], str) or not body["index_id"]:
            raise invalid("index_id", "must be a non-empty string")
        req.index_id = body["index_id"]
    else:
        if _absent(body, "video_ids"):
            raise not_provided("video_ids")
        ids = body["video_ids"]
        if not isinstance(ids, list) or not all(isinstance(v, str) and v for v in ids):
            raise invalid("video_ids", "must be an array of video ids")
        if not ids:
            raise invalid("video_ids", "must contain at least one video id")
        req.video_ids = list(dict.fromkeys(ids))
    if _absent(body, "options"):
        raise not_provided("options")
    options = _options(body["options"], "options")
    conv = "semantic"
    if not _absent(body, "conversation_option"):
        conv = _conversation_option(body["conversation_option"], "conversation_option")
    if _absent(body, "classes"):
        raise not_provided("classes")
    classes = body["classes"]
    if not isinstance(classes, list) or not classes:
        raise invalid("classes", "must be a non-empty array of objects")
    total_prompts = 0
    for i, cls in enumerate(classes):
        where = f"classes[{i}]"
        if not isinstance(cls, dict):
            raise invalid(where, "must be an object")
        if _absent(cls, "name"):
            raise not_provided(f"{where}.name")
        if not isinstance(cls["name"], str) or not cls["name"]:
            raise invalid(f"{where}.name", "must be a non-empty string")
        if _absent(cls, "prompts"):
            raise not_provided(f"{where}.prompts")
        prompts = cls["prompts"]
        if not isinstance(prompts, list) or not prompts:
            raise invalid(f"{where}.prompts", "must be a non-empty array of strings")
        if not all(isinstance(p, str) for p in prompts):
            raise invalid(f"{where}.prompts", "every prompt must be a string")
        total_prompts += len(prompts)
        cls_opts = options if _absent(cls, "options") else _options(cls["options"], f"{where}.options")
        cls_conv = conv
        if not _absent(cls, "conversation_option"):
            cls_conv = _conversation_option(cls["conversation_option"], f"{where}.conversation_option")
        req.classes.append(ClassSpec(cls["name"], list(prompts), cls_opts, cls_conv))
    if total_prompts > MAX_PROMPTS:
        raise invalid("classes", f"the total number of prompts ({total_prompts}) exceeds the limit of {MAX_PROMPTS}")
    if not _absent(body, "page_limit"):
        pl = body["page_limit"]
        if not is_int(pl) or not 1 <= int(pl) <= 50:
            raise invalid("page_limit", "must be an integer between 1 and 50")
        req.page_limit = int(pl)
    req.include_clips = _bool(body, "include_clips")
    req.show_detailed_score = _bool(body, "show_detailed_score")
    req.thresholds = _thresholds(body.get("threshold"))
    return req


def resolve_videos(world: World, req: ClassifyRequest) -> List[Dict[str, Any]]:
    """The videos a request targets, or 400 resource_not_exist / duration limit."""
    if req.index_id is not None:
        idx = world.indexes.get(req.index_id)
        if idx is None:
            raise not_exist(req.index_id, "indexes")
        return list(idx["videos"])
    videos = []
    for vid in req.video_ids:
        video = world.videos.get(vid)
        if video is None:
            raise not_exist(vid, "videos")
        videos.append(video)
    total = sum(float(v["duration"]) for v in videos)
    if total > MAX_TOTAL_DURATION_S:
        raise ApiError(400, "parameter_invalid",
                       f"The total duration(seconds) {int(total)} of videos exceeds the limit.")
    return videos


def _thumbnail(base_url: str, video: Dict[str, Any], start: float) -> str:
    second = min(int(start) + 1, max(int(float(video["duration"])), 1))
    return f"{base_url}/_sandbox/thumbnails/{video['_id']}/{second}.jpeg"


def _clip_json(clip: Clip, video: Dict[str, Any], base_url: str) -> Dict[str, Any]:
    return {
        "start": clip.start,
        "end": clip.end,
        "score": clip.score,
        "option": clip.option,
        "prompt": clip.prompt,
        "thumbnail_url": _thumbnail(base_url, video, clip.start),
    }


def classify_video(video: Dict[str, Any], req: ClassifyRequest, base_url: str) -> Optional[Dict[str, Any]]:
    """The ``data[]`` element for one video, or None when no class passes."""
    th = req.thresholds
    duration = float(video["duration"])
    passed: List[Tuple[float, int, Dict[str, Any], List[Clip]]] = []
    for order, spec in enumerate(req.classes):
        clips = find_clips(video, spec.prompts, spec.options, spec.conversation_option)
        ratio = duration_ratio(clips, duration)
        score = class_score(clips, ratio)
        if not clips or score < th["min_video_score"] or ratio < th["min_duration_ratio"]:
            continue
        entry: Dict[str, Any] = {"name": spec.name, "score": score, "duration_ratio": ratio}
        if req.include_clips:
            entry["clips"] = [_clip_json(c, video, base_url) for c in clips if c.score >= th["min_clip_score"]]
        passed.append((score, order, entry, clips))
    if not passed:
        return None
    passed.sort(key=lambda p: (-p[0], p[1]))
    if req.show_detailed_score:
        shares = softmax_percent([p[0] for p in passed])
        for (_, _, entry, clips), share in zip(passed, shares):
            scores = [c.score for c in clips]
            entry["detailed_scores"] = {
                "max_score": max(scores),
                "avg_score": round(sum(scores) / len(scores), 2),
                "normalized_score": share,
            }
    return {"video_id": video["_id"], "classes": [p[2] for p in passed]}


def classify(videos: Sequence[Dict[str, Any]], req: ClassifyRequest, base_url: str) -> List[Dict[str, Any]]:
    """All passing videos, sorted by top class score desc (ties: video id)."""
    results = [r for r in (classify_video(v, req, base_url) for v in videos) if r is not None]
    results.sort(key=lambda r: (-r["classes"][0]["score"], r["video_id"]))
    return results


_TOKEN_RE = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-(\d+)$")


class _ResultSet:
    __slots__ = ("expires_at", "page_limit", "results")

    def __init__(self, results: List[Dict[str, Any]], page_limit: int, expires_at: float) -> None:
        self.results: Optional[List[Dict[str, Any]]] = results
        self.page_limit = page_limit
        self.expires_at = expires_at


class PageStore:
    """In-memory result pages behind ``<uuid4>-<page index>`` tokens."""

    _TOMBSTONE_S = 3600.0

    def __init__(self) -> None:
        self._sets: Dict[str, _ResultSet] = {}
        self._lock = threading.Lock()

    def _purge(self, now: float) -> None:
        for key in [k for k, s in self._sets.items() if s.expires_at + self._TOMBSTONE_S < now]:
            del self._sets[key]
        for s in self._sets.values():
            if s.expires_at <= now:
                s.results = None  # keep the id to answer page_token_expired, drop the data

    def first_page(self, results: List[Dict[str, Any]], page_limit: int, ttl_s: float) -> Dict[str, Any]:
        """Store a result set and answer its first page."""
        now = time.time()
        key = str(uuid.uuid4())
        rs = _ResultSet(results, page_limit, now + ttl_s)
        with self._lock:
            self._purge(now)
            self._sets[key] = rs
        return self._page(key, rs, results, 0)

    def page(self, token: str) -> Dict[str, Any]:
        """Answer ``GET /classify/{token}``."""
        m = _TOKEN_RE.match(token)
        with self._lock:
            rs = self._sets.get(m.group(1)) if m else None
            if rs is None or m is None:
                raise invalid("page_token", f"the page token {token!r} is not valid")
            results = rs.results
            if results is None or rs.expires_at <= time.time():
                rs.results = None
                raise ApiError(400, "page_token_expired", f"The page token {token} has expired.")
        index = int(m.group(2))
        if index >= max(1, -(-len(results) // rs.page_limit)):
            raise invalid("page_token", f"the page token {token!r} is not valid")
        return self._page(m.group(1), rs, results, index)

    @staticmethod
    def _page(key: str, rs: _ResultSet, results: List[Dict[str, Any]], index: int) -> Dict[str, Any]:
        n_pages = max(1, -(-len(results) // rs.page_limit))
        lo = index * rs.page_limit
        return {
            "data": results[lo: lo + rs.page_limit],
            "page_info": {
                "limit_per_page": rs.page_limit,
                "total_results": len(results),
                "page_expired_at": rfc3339(rs.expires_at),
                "next_page_token": f"{key}-{index + 1}" if index + 1 < n_pages else "",
                "prev_page_token": f"{key}-{index - 1}" if index > 0 else "",
            },
        }


RETIRED_MESSAGE = (
    "The Classify API was retired on 2025-02-28 and is no longer available. "
    "To classify videos, use POST /v1.3/analyze with Pegasus."
)


def retired_error() -> ApiError:
    """The answer every classify call gets in ``legacy="retired"`` mode."""
    return ApiError(410, "endpoint_deprecated", RETIRED_MESSAGE)
