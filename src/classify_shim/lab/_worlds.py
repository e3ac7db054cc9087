"""Lab worlds: videos with ground-truth labels, and the decision a correct v1.2 would make.

A label says "topic T is shown on source S from a to b, this strongly" (``strength`` 0-1: 1 is
a literal depiction of a prompt, lower is a looser paraphrase). ``near_miss`` labels mark a
sibling topic (volleyball for a basketball class): a correct classifier does not count them.
The truth is computed from the labels alone, never from the sandbox's matcher:

* coverage = length of the union of the class's true labels on the requested sources / duration;
* truth score = ``100 * (0.5 + 0.4 * strength + 0.1 * min(1, coverage))`` with the strongest
  label's strength (the recorded v1.2 passes: 100 at ratio 1, about 89 at ratio 0.58);
* a class passes a threshold set when coverage >= ``min_duration_ratio`` and truth score >=
  ``min_video_score``, as v1.2 decided.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any, Dict, List, Sequence, Tuple

__all__ = [
    "SOURCE_SETS",
    "TOPICS",
    "LabVideo",
    "LabWorld",
    "Label",
    "Topic",
    "make_world",
    "truth_coverage",
    "truth_intervals",
    "truth_passes",
    "truth_score",
]

SOURCES = ("visual", "conversation", "text_in_video")


@dataclass(frozen=True)
class Topic:
    """A class as users wrote it, plus how its content is described in the world."""

    name: str
    prompts: Tuple[str, ...]
    paraphrases: Tuple[str, ...]
    near_miss: Tuple[str, ...]


TOPICS: Tuple[Topic, ...] = (
    Topic("Cooking", ("Cooking tutorial", "Chopping vegetables"),
          ("A chef prepares a meal step by step in a kitchen", "Someone slices carrots and onions on a board"),
          ("Friends eat dinner at a restaurant table",)),
    Topic("Dance", ("Dance tutorial", "Dance group"),
          ("An instructor teaches hip hop moves in a studio", "A crew performs choreography together"),
          ("People follow an aerobics workout in a gym",)),
    Topic("Basketball", ("Playing basketball", "Slam dunk"),
          ("Players dribble and shoot hoops on a court", "A player jumps and hammers the ball through the rim"),
          ("Players hit a volleyball over a net on the beach",)),
    Topic("Makeup", ("Makeup tutorial", "Applying lipstick"),
          ("A woman blends foundation and eyeshadow in front of a mirror", "Red colour is put on the lips"),
          ("A barber trims a customer's beard",)),
    Topic("Cars", ("Car review", "Driving a sports car"),
          ("A host inspects the interior of a new sedan", "A coupe speeds along a coastal road"),
          ("A cyclist rides along a mountain road",)),
    Topic("Pets", ("Playing with a dog", "Cat grooming"),
          ("A puppy chases a ball in the garden", "A kitten is brushed on a sofa"),
          ("Wild deer graze at the edge of a forest",)),
    Topic("News", ("News anchor reading headlines", "Press conference"),
          ("A presenter at a desk announces the day's top stories", "An official answers reporters' questions"),
          ("A talk show host jokes with a celebrity guest",)),
    Topic("Gaming", ("Video game livestream", "Playing a console game"),
          ("A streamer plays a shooter game and talks to the chat", "Two friends hold controllers in front of a TV"),
          ("A family plays a board game at the kitchen table",)),
)

SOURCE_SETS: Tuple[Tuple[str, ...], ...] = (
    ("visual",),
    ("visual", "conversation"),
    ("visual", "conversation", "text_in_video"),
    ("conversation",),
    ("conversation", "text_in_video"),
)


@dataclass(frozen=True)
class Label:
    """Ground truth: ``topic`` is shown on ``source`` from ``start`` to ``end`` seconds."""

    topic: str
    source: str
    start: float
    end: float
    strength: float
    kind: str  # "match" (literal prompt), "paraphrase", "near_miss"
    prompt: str


@dataclass
class LabVideo:
    video_id: str
    duration: float
    labels: List[Label] = field(default_factory=list)


@dataclass
class LabWorld:
    """Videos with labels and the request (classes with per-class sources) to run on them."""

    seed: int
    index_id: str
    videos: List[LabVideo]
    classes: List[Dict[str, Any]]  # legacy class dicts: name, prompts, options

    def class_sources(self, name: str) -> Tuple[str, ...]:
        for c in self.classes:
            if c["name"] == name:
                return tuple(c["options"])
        raise KeyError(name)

    def to_sandbox_world(self, scripted: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
        """A sandbox world: the labels become content (so the v1.2 emulation has something to
        match), and ``scripted`` (video id -> answers) become the simulated model's replies."""
        topics = {t.name: t for t in TOPICS}
        videos = []
        for i, v in enumerate(self.videos):
            content: Dict[str, List[Dict[str, Any]]] = {s: [] for s in SOURCES}
            for lab in sorted(v.labels, key=lambda x: (x.source, x.start, x.end, x.topic)):
                t = topics[lab.topic]
                if lab.kind == "match":
                    text = f"{lab.prompt}" if lab.source != "conversation" else f"now, {lab.prompt.lower()}"
                elif lab.kind == "paraphrase":
                    text = t.paraphrases[int(lab.strength * 100) % len(t.paraphrases)]
                else:
                    text = t.near_miss[0]
                if lab.source == "text_in_video":
                    text = text.upper()
                content[lab.source].append({"start": round(lab.start, 3), "end": round(lab.end, 3), "text": text})
            videos.append({
                "_id": v.video_id, "filename": f"lab_{self.seed}_{i}.mp4", "duration": v.duration,
                "content": content, "scripted_answers": scripted.get(v.video_id, []),
            })
        return {
            "name": f"fidelity-lab-{self.seed}",
            "indexes": [{"_id": self.index_id, "index_name": f"lab-{self.seed}", "videos": videos}],
        }


def _hex_id(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(24))


def _coverage_target(rng: random.Random) -> float:
    """Presence share: very short, around the 0.5 boundary, long, or in between."""
    r = rng.random()
    if r < 0.2:
        return rng.uniform(0.01, 0.1)
    if r < 0.55:
        return rng.uniform(0.38, 0.62)
    if r < 0.85:
        return rng.uniform(0.7, 1.0)
    return rng.uniform(0.1, 0.38)


def _intervals(rng: random.Random, duration: float, share: float) -> List[Tuple[float, float]]:
    """1-3 disjoint intervals covering about ``share`` of the video."""
    n = 1 if share > 0.85 or duration < 20 else rng.choice((1, 1, 2, 3))
    total = share * duration
    cuts = sorted(rng.random() for _ in range(n - 1))
    lengths = [total * (b - a) for a, b in zip([0.0, *cuts], [*cuts, 1.0])]
    free = duration - total
    gaps = sorted(rng.random() for _ in range(n))
    gap_sizes = [free * (b - a) for a, b in zip([0.0, *gaps], [*gaps, 1.0])]
    out: List[Tuple[float, float]] = []
    t = gap_sizes[0]
    for i, length in enumerate(lengths):
        out.append((round(t, 3), round(min(duration, t + length), 3)))
        t += length + gap_sizes[i + 1]
    return [(a, b) for a, b in out if b > a]


def make_world(seed: int, n_videos: int = 40) -> LabWorld:
    """A deterministic world of ``n_videos`` videos (5 s - 30 min) and one request over all topics."""
    rng = random.Random(f"lab-world:{seed}")
    index_id = _hex_id(rng)
    classes: List[Dict[str, Any]] = []
    for t in TOPICS:
        options = list(rng.choice(SOURCE_SETS))
        classes.append({"name": t.name, "prompts": list(t.prompts), "options": options})
    videos: List[LabVideo] = []
    for _ in range(n_videos):
        duration = round(math.exp(rng.uniform(math.log(5.0), math.log(1800.0))), 2)
        video = LabVideo(_hex_id(rng), duration)
        present = rng.sample(list(TOPICS), rng.choice((0, 1, 1, 2, 2, 3)))
        for t in present:
            r = rng.random()
            if r < 0.3:  # single-source evidence
                sources: Tuple[str, ...] = (rng.choice(SOURCES),)
            elif r < 0.8:
                sources = ("visual", "conversation")
            else:
                sources = SOURCES
            share = _coverage_target(rng)
            kind = "match" if rng.random() < 0.5 else "paraphrase"
            strength = rng.uniform(0.75, 1.0) if kind == "match" else rng.uniform(0.5, 0.95)
            base = _intervals(rng, duration, share)
            for src in sources:
                for a, b in base:
                    # other sources see the same moment, a little shifted
                    if src != sources[0]:
                        d = (b - a) * rng.uniform(-0.05, 0.05)
                        a, b = max(0.0, a + d), min(duration, b + d)
                    if b > a:
                        video.labels.append(Label(t.name, src, round(a, 3), round(b, 3),
                                                  round(strength, 3), kind, rng.choice(t.prompts)))
        others = [t for t in TOPICS if t not in present]
        if others and rng.random() < 0.45:  # near-miss distractor
            t = rng.choice(others)
            src = rng.choice(("visual", "visual", "conversation"))
            for a, b in _intervals(rng, duration, rng.uniform(0.3, 1.0)):
                video.labels.append(Label(t.name, src, a, b, round(rng.uniform(0.1, 0.4), 3),
                                          "near_miss", t.prompts[0]))
        videos.append(video)
    return LabWorld(seed, index_id, videos, classes)


def truth_intervals(video: LabVideo, topic: str, sources: Sequence[str]) -> List[Tuple[float, float]]:
    """The class's true intervals on the requested sources (near misses excluded)."""
    return [(lab.start, lab.end) for lab in video.labels
            if lab.topic == topic and lab.source in sources and lab.kind != "near_miss"]


def _union(intervals: Sequence[Tuple[float, float]]) -> float:
    total, end = 0.0, -math.inf
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def truth_coverage(video: LabVideo, topic: str, sources: Sequence[str]) -> float:
    return min(1.0, _union(truth_intervals(video, topic, sources)) / video.duration)


def truth_score(video: LabVideo, topic: str, sources: Sequence[str]) -> float:
    """0 when the class is not truly present on its sources, else the v1.2-like score."""
    strengths = [lab.strength for lab in video.labels
                 if lab.topic == topic and lab.source in sources and lab.kind != "near_miss"]
    if not strengths:
        return 0.0
    cov = truth_coverage(video, topic, sources)
    return 100.0 * (0.5 + 0.4 * max(strengths) + 0.1 * min(1.0, cov))


def truth_passes(video: LabVideo, topic: str, sources: Sequence[str], min_video_score: float,
                 min_duration_ratio: float) -> bool:
    """What a correct v1.2 would decide (rounded as the API rounded, 2 decimals)."""
    score = round(truth_score(video, topic, sources), 2)
    cov = round(truth_coverage(video, topic, sources), 2)
    return score > 0 and score >= min_video_score and cov >= min_duration_ratio
