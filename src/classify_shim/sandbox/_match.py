"""Shared relevance and scoring used by BOTH API emulations.

The v1.2 Classify emulation and the simulated Pegasus model must agree on what
a video contains, otherwise the project could not check that a Pegasus-backed
shim reproduces legacy pass/fail decisions.  Everything that decides "does this
segment match this prompt, and how strongly" lives here and nowhere else.
"""

from __future__ import annotations

import hashlib
import math
import re
from functools import lru_cache
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

SOURCES: Tuple[str, ...] = ("visual", "conversation", "text_in_video")

#: A segment needs this share of the prompt's content words to count as a clip.
RELEVANCE_FLOOR = 0.6
#: Clip score for an exact-match hit in the transcript.
EXACT_MATCH_SCORE = 92.0

_STOP_WORDS: FrozenSet[str] = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "been", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "for", "from", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "no", "nor", "not", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "video", "videos", "clip", "clips", "show", "shows", "showing", "shown", "about", "someone", "something", "person", "people", "one", "ones"]
)

# Sloppy spellings that should count as the same word (the seed data says "ustensils").
_ALIASES: Dict[str, str] = {"ustensil": "utensil"}

_WORD_RE = re.compile(r"[a-z0-9]+")


def stem(word: str) -> str:
    """Very light suffix stripping so 'dancing', 'dancers', 'dance' meet."""
    w = word
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith("sses"):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith("ss") and not w.endswith("us"):
        w = w[:-1]
    if len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
    elif (len(w) > 4 and w.endswith("ed")) or (len(w) > 5 and w.endswith("er")):
        w = w[:-2]
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    # "dancing" -> "danc", "cooking" -> "cook", "runn" -> "run"
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
        w = w[:-1]
    return _ALIASES.get(w, w)


@lru_cache(maxsize=65536)
def content_words(text: str) -> FrozenSet[str]:
    """Stemmed content words of a text (cached: world texts repeat a lot)."""
    words = _WORD_RE.findall(text.lower().replace("'", ""))
    return frozenset(stem(w) for w in words if w not in _STOP_WORDS)


def relevance(prompt: str, segment_text: str) -> float:
    """Share of the prompt's content words found in the segment, in [0, 1]."""
    want = content_words(prompt)
    if not want:
        return 0.0
    have = content_words(segment_text)
    return len(want & have) / len(want)


@lru_cache(maxsize=4096)
def _phrase_re(prompt: str) -> re.Pattern[str]:
    words = _WORD_RE.findall(prompt.lower())
    body = r"\W+".join(re.escape(w) for w in words) if words else re.escape(prompt.lower())
    return re.compile(r"(?<![a-z0-9])" + body + r"(?![a-z0-9])")


def exact_match(prompt: str, transcript_text: str) -> bool:
    """Case-insensitive, word-boundary match of the whole prompt phrase."""
    if not prompt.strip():
        return False
    return _phrase_re(prompt).search(transcript_text.lower()) is not None


def _jitter(*parts: object) -> float:
    """Deterministic value in [-1, 1] so scores are not all identical."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return (int.from_bytes(digest[:4], "big") / 0xFFFFFFFF) * 2.0 - 1.0


def clip_score(rel: float, *key: object) -> float:
    """Clip score 0-100 from a relevance: 30 + 65*r, +-1.5 deterministic jitter."""
    return round(min(99.0, max(1.0, 30.0 + 65.0 * rel + 1.5 * _jitter("clip", *key))), 2)


class Clip:
    """One matching stretch of a video for one prompt and one source."""

    __slots__ = ("end", "option", "prompt", "score", "start")

    def __init__(self, start: float, end: float, score: float, option: str, prompt: str) -> None:
        self.start = start
        self.end = end
        self.score = score
        self.option = option
        self.prompt = prompt

    def sort_key(self) -> Tuple[float, float, float, str, str]:
        """Score desc, then time, option and prompt: deterministic tie-breaks."""
        return (-self.score, self.start, self.end, self.option, self.prompt)


def find_clips(
    video: Dict[str, Any],
    prompts: Sequence[str],
    sources: Iterable[str],
    conversation_option: str = "semantic",
) -> List[Clip]:
    """All clips of one class in one video, sorted by score desc."""
    content = video.get("content") or {}
    vid = video.get("_id", "")
    duration = float(video.get("duration") or 0.0)
    clips: List[Clip] = []
    for source in sources:
        for seg in content.get(source) or ():
            text = str(seg.get("text", ""))
            start = max(0.0, float(seg.get("start", 0.0)))
            end = float(seg.get("end", start))
            if duration > 0:
                end = min(end, duration)
            if end <= start:
                continue
            for prompt in prompts:
                if source == "conversation" and conversation_option == "exact_match":
                    if not exact_match(prompt, text):
                        continue
                    score = round(EXACT_MATCH_SCORE + 3.0 * _jitter("exact", vid, start, prompt), 2)
                else:
                    rel = relevance(prompt, text)
                    if rel < RELEVANCE_FLOOR:
                        continue
                    score = clip_score(rel, vid, source, start, prompt)
                clips.append(Clip(start, end, score, source, prompt))
    clips.sort(key=Clip.sort_key)
    return clips


def union_length(intervals: Iterable[Tuple[float, float]]) -> float:
    """Total length covered by possibly overlapping intervals."""
    total = 0.0
    cur_s: Optional[float] = None
    cur_e = 0.0
    for s, e in sorted(intervals):
        if cur_s is None or s > cur_e:
            if cur_s is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_s is not None:
        total += cur_e - cur_s
    return total


def duration_ratio(clips: Sequence[Clip], duration: float) -> float:
    """Union of clip intervals over the video duration, in [0, 1]."""
    if duration <= 0 or not clips:
        return 0.0
    return round(min(1.0, union_length((c.start, c.end) for c in clips) / duration), 4)


def class_score(clips: Sequence[Clip], ratio: float) -> float:
    """Class score 0-100: the best clip, pulled toward 100 by coverage.

    score = 100 - (100 - max_clip) * (1 - ratio / 2).  Monotone in evidence:
    more or better clips never lower it; 0 without clips.
    """
    if not clips:
        return 0.0
    best = max(c.score for c in clips)
    return round(100.0 - (100.0 - best) * (1.0 - ratio / 2.0), 2)


def softmax_percent(scores: Sequence[float]) -> List[float]:
    """Softmax of 0-100 scores (temperature 100), as percentages summing to 100.

    Temperature 100 reproduces a recorded v1.2 answer (96.23 / 90.78 -> 51.46 / 48.54) to 0.1.
    """
    if not scores:
        return []
    top = max(scores)
    exps = [math.exp((s - top) / 100.0) for s in scores]
    total = sum(exps)
    return [100.0 * e / total for e in exps]
