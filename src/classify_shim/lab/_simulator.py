"""A modelled Pegasus: answers driven by the lab's ground-truth labels and a few documented knobs.

It never looks at the sandbox's matcher. Each knob is one way real Pegasus answers are known to
differ from the truth (see the project's field notes): it misses short moments, says "yes" to
near misses, verbalises confidences in lumps, gets boundaries wrong, strays off the label list
and breaks the format. ``SimConfig.ideal()`` switches every detection error off.
"""

from __future__ import annotations

import functools
import json
import math
import random
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Sequence, Tuple

from ._worlds import TOPICS, LabVideo, LabWorld

__all__ = ["SimConfig", "boundary_sigma", "simulate_answers"]


@dataclass(frozen=True)
class SimConfig:
    """Knobs of the answer simulator (all probabilities per answer / label)."""

    name: str = "realistic"
    recall_long: float = 0.97
    """Probability a long true presence is reported."""
    recall_half_s: float = 4.0
    """Presence length (s) at which recall has fallen to half of ``recall_long``."""
    yes_bias: float = 0.3
    """Probability a near-miss distractor is reported as the class (with its spans)."""
    hallucination: float = 0.03
    """Probability an absent class is reported present with an invented short span."""
    target_miou: float = 0.5
    """Mean IoU of a reported span with its true span (boundary error), over the world's spans."""
    wild: float = 0.05
    """Share of reported spans placed at invented times (counted in the mIoU)."""
    fragment: float = 0.25
    """Probability a reported span is split into 2-3 pieces with small gaps."""
    confidence_sd: float = 8.0
    """Noise (points) of verbalised confidences around the label strength."""
    lumps: Tuple[int, ...] = (5, 10)
    """Confidences are rounded to a multiple of one of these (lumpy verbalisation)."""
    saturate: float = 0.15
    """Probability a confident answer saturates at 100."""
    coverage_sd: float = 0.12
    """Error (share of the video) of the model's own coverage estimate."""
    off_list: float = 0.05
    """Probability of an extra class that was not requested, or a re-cased name."""
    format_noise: float = 0.1
    """Probability of fences, prose, string numbers or clock-style times."""
    sample_correlation: float = field(default=0.0, repr=False)
    """For ``samples=k``: probability that one random draw (a recall decision, a boundary
    error, a confidence's noise, ...) of one answer is also the draw of another answer to the
    same question: 0 is independent answers, 1 identical ones. Per (video, class) there is one
    shared stream of draws, the error component the answers have in common. (Kept out of the
    ``repr``, which seeds the draws, so configs without it keep their answers.)"""

    @staticmethod
    def ideal() -> SimConfig:
        return SimConfig(name="ideal", recall_long=1.0, recall_half_s=0.0, yes_bias=0.0,
                         hallucination=0.0, target_miou=1.0, wild=0.0, fragment=0.0, coverage_sd=0.0,
                         off_list=0.0, format_noise=0.0)

    def with_(self, **changes: Any) -> SimConfig:
        return replace(self, **changes)


class _Correlated(random.Random):
    """Draws of one answer: each is, with probability ``sqrt(correlation)``, the draw of the
    class's shared stream, else the answer's own; two answers then share a draw with
    probability ``correlation``. Every other method of ``random.Random`` goes through
    :meth:`random`, so all of the simulator's draws mix."""

    def __init__(self, seed: str, correlation: float) -> None:
        super().__init__(seed)
        self._pick = random.Random(seed + ":pick")
        self._share = math.sqrt(max(0.0, min(1.0, correlation)))
        self._shared: random.Random = random.Random(seed + ":shared")

    def begin(self, shared_seed: str) -> None:
        """Start the shared stream of one class (the same seed in every answer)."""
        self._shared = random.Random(shared_seed)

    def random(self) -> float:
        own = super().random()
        shared = self._shared.random()
        return shared if self._pick.random() < self._share else own


def _iou(a: Tuple[float, float], b: Tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def _perturb(rng: random.Random, a: float, b: float, k: float, wild: float,
             duration: float) -> Tuple[float, float]:
    """Reported span for a true span ``a-b``: each end off by N(0, k * sqrt(duration)) seconds
    (a model samples a long video more coarsely, so its times are coarser), and with
    probability ``wild`` an invented placement of about the right length anywhere in the video."""
    if wild > 0 and rng.random() < wild:
        length = (b - a) * rng.uniform(0.5, 1.5)
        s = rng.uniform(0.0, max(0.0, duration - length))
        return s, min(duration, s + max(0.2, length))
    sd = k * math.sqrt(duration)
    s = a + rng.gauss(0.0, sd)
    e = b + rng.gauss(0.0, sd)
    s, e = max(0.0, min(s, e)), min(duration, max(s, e))
    if e - s < 0.2:
        s, e = max(0.0, min(s, duration - 0.2)), min(duration, max(s, duration - 0.2) + 0.2)
    return s, e


def _spans_iou(spans: Sequence[Tuple[float, float, float]], k: float, wild: float) -> float:
    """Mean IoU of reported spans (drawn by :func:`_perturb` from ``Random(11)``) with ``spans``.
    The definition; :func:`boundary_sigma` uses the same draws through :class:`_SpanDraws`."""
    rng = random.Random(11)
    total = 0.0
    for a, b, d in spans:
        total += _iou((a, b), _perturb(rng, a, b, k, wild, d))
    return total / len(spans)


class _SpanDraws:
    """The draws :func:`_spans_iou` makes, taken once: which draws :func:`_perturb` takes does
    not depend on ``k`` (a wild placement ignores it, else two ``gauss`` calls scale by it), so
    the wild spans' IoUs and the standard normal draws are fixed, and :meth:`mean_iou` redoes
    only the ``k``-dependent arithmetic, in the same order: the same floats as ``_spans_iou``."""

    def __init__(self, spans: Sequence[Tuple[float, float, float]], wild: float) -> None:
        rng = random.Random(11)
        self.n = len(spans)
        # per span: (None, iou) for a wild placement, else (a, b, d, sqrt(d), z_start, z_end)
        self.items: List[Tuple[Any, ...]] = []
        for a, b, d in spans:
            if wild > 0 and rng.random() < wild:
                length = (b - a) * rng.uniform(0.5, 1.5)
                s = rng.uniform(0.0, max(0.0, d - length))
                self.items.append((None, _iou((a, b), (s, min(d, s + max(0.2, length))))))
            else:
                # gauss(0, 1) is 0.0 + z * 1.0: z itself, up to the sign of a zero, which
                # 0.0 + z * sd below erases as gauss(0, sd) does
                self.items.append((a, b, d, math.sqrt(d), rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0)))

    def mean_iou(self, k: float) -> float:
        total = 0.0
        for item in self.items:
            if item[0] is None:
                total += item[1]
                continue
            a, b, d, root, za, zb = item
            sd = k * root
            s = a + (0.0 + za * sd)
            e = b + (0.0 + zb * sd)
            s, e = max(0.0, min(s, e)), min(d, max(s, e))
            if e - s < 0.2:
                s, e = max(0.0, min(s, d - 0.2)), min(d, max(s, d - 0.2) + 0.2)
            # _iou((a, b), (s, e))
            inter = max(0.0, min(b, e) - max(a, s))
            union = max(b, e) - min(a, s)
            total += inter / union if union > 0 else 0.0
        return total / self.n


@functools.lru_cache(maxsize=64)
def _span_draws(spans: Tuple[Tuple[float, float, float], ...], wild: float) -> _SpanDraws:
    return _SpanDraws(spans, wild)


@functools.lru_cache(maxsize=256)
def _boundary_sigma(target_miou: float, spans: Tuple[Tuple[float, float, float], ...], wild: float) -> float:
    draws = _span_draws(spans * max(1, 600 // len(spans)), wild)
    lo, hi = 0.0, 20.0
    if draws.mean_iou(hi) > target_miou:
        return hi
    for _ in range(30):
        mid = (lo + hi) / 2
        if draws.mean_iou(mid) > target_miou:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def boundary_sigma(target_miou: float, spans: Sequence[Tuple[float, float, float]] = (),
                   wild: float = 0.0) -> float:
    """The ``k`` (seconds per sqrt-second of video) at which reported spans of these true spans
    (start, end, video duration) have mean IoU ``target_miou`` with them; 0 for 1.0. Bisection
    over ``_spans_iou`` (its draws taken once), memoised on the exact inputs."""
    if target_miou >= 0.999 or not spans:
        return 0.0
    return _boundary_sigma(target_miou, tuple((a, b, d) for a, b, d in spans), wild)


def _lump(rng: random.Random, value: float, cfg: SimConfig) -> int:
    step = rng.choice(cfg.lumps) if cfg.lumps else 1
    v = int(step * round(max(0.0, min(100.0, value)) / step))
    if v >= 85 and rng.random() < cfg.saturate:
        v = 100
    return max(0, min(100, v))


def _recall(cfg: SimConfig, length: float) -> float:
    if cfg.recall_half_s <= 0:
        return cfg.recall_long
    return cfg.recall_long * length / (length + cfg.recall_half_s)


def _spans(rng: random.Random, cfg: SimConfig, k: float, a: float, b: float,
           duration: float) -> List[Tuple[float, float]]:
    s, e = _perturb(rng, a, b, k, cfg.wild, duration)
    if e - s > 6 and rng.random() < cfg.fragment:
        n = rng.choice((2, 3))
        cut = sorted(rng.uniform(s, e) for _ in range(n - 1))
        edges = [s, *cut, e]
        out = []
        for i in range(n):
            lo, hi = edges[i], edges[i + 1]
            gap = min(2.0, (hi - lo) * 0.1) * rng.random()
            if hi - gap > lo:
                out.append((lo, hi - gap))
        return out
    return [(s, e)]


def _union(intervals: Sequence[Tuple[float, float]]) -> float:
    total, end = 0.0, -math.inf
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def _class_answer(rng: random.Random, cfg: SimConfig, k: float, video: LabVideo, name: str,
                  prompts: Sequence[str], sources: Sequence[str]) -> Dict[str, Any]:
    labels = [lab for lab in video.labels if lab.topic == name and lab.source in sources]
    true = [lab for lab in labels if lab.kind != "near_miss"]
    near = [lab for lab in labels if lab.kind == "near_miss"]
    reported: List[Tuple[float, float, str, str, float]] = []  # start, end, prompt, source, strength
    seen: List[Tuple[float, float]] = []  # the true spans the model noticed
    for lab in true:
        if rng.random() < _recall(cfg, lab.end - lab.start):
            seen.append((lab.start, lab.end))
            for s, e in _spans(rng, cfg, k, lab.start, lab.end, video.duration):
                reported.append((s, e, lab.prompt, lab.source, lab.strength))
    if not reported and near and rng.random() < cfg.yes_bias:
        for lab in near:
            seen.append((lab.start, lab.end))
            for s, e in _spans(rng, cfg, k, lab.start, lab.end, video.duration):
                # a model fooled by a near miss is unsure: strength about 0.45-0.7
                reported.append((s, e, prompts[0], lab.source, 0.45 + lab.strength * 0.6))
    if not reported and not true and rng.random() < cfg.hallucination:
        s = rng.uniform(0, video.duration * 0.8)
        e = min(video.duration, s + max(1.0, video.duration * 0.1))
        seen.append((s, e))
        reported.append((s, e, prompts[0], sources[0], rng.uniform(0.4, 0.7)))
    if not reported:
        return {"name": name, "present": False, "confidence": _lump(rng, rng.uniform(0, 25), cfg),
                "coverage": 0, "segments": []}
    best = max(r[4] for r in reported)
    conf = _lump(rng, 100 * (0.45 + 0.5 * best) + rng.gauss(0, cfg.confidence_sd), cfg)
    # The model's coverage is a holistic judgement of what it noticed, not a sum of its spans.
    cov = _union(seen) / video.duration
    if cfg.coverage_sd > 0:
        cov = cov + rng.gauss(0, cfg.coverage_sd)
    cov_pct = _lump(rng, 100 * max(0.0, min(1.0, cov)), cfg.with_(saturate=0.0)) if cfg.coverage_sd > 0 \
        else round(100 * max(0.0, min(1.0, cov)), 1)
    segments = []
    for s, e, prompt, source, strength in sorted(reported):
        sc = _lump(rng, 100 * (0.45 + 0.5 * strength) + rng.gauss(0, cfg.confidence_sd), cfg)
        segments.append({"start": round(s, 1), "end": round(e, 1), "prompt": prompt, "source": source,
                         "confidence": sc})
    return {"name": name, "present": conf >= 50, "confidence": conf, "coverage": cov_pct, "segments": segments}


def _mmss(t: float) -> str:
    return f"{int(t // 60):02d}:{int(t % 60):02d}"


def _render(rng: random.Random, cfg: SimConfig, answer: Dict[str, Any], requested: Sequence[str]) -> str:
    classes: List[Dict[str, Any]] = answer["classes"]
    if rng.random() < cfg.off_list:
        others = [t.name for t in TOPICS if t.name not in requested] or ["Sports"]
        classes.append({"name": rng.choice(others) + " videos", "present": True, "confidence": 80,
                        "coverage": 50, "segments": []})
    if rng.random() < cfg.off_list and classes:
        c = rng.choice(classes)
        c["name"] = c["name"].upper()
    if rng.random() < cfg.format_noise:
        how = rng.choice(("string_numbers", "mmss"))
        for c in classes:
            for seg in c["segments"]:
                if how == "string_numbers":
                    seg["confidence"] = str(seg["confidence"])
                elif seg["end"] >= 60 and seg["end"] - seg["start"] > 10:
                    seg["start"], seg["end"] = _mmss(seg["start"]), _mmss(seg["end"])
    text = json.dumps(answer)
    if rng.random() < cfg.format_noise:
        text = "```json\n" + text + "\n```"
    if rng.random() < cfg.format_noise:
        text = "\n\n" + text + "\nThese results are based on the video content."
    return text


def simulate_answers(world: LabWorld, cfg: SimConfig, run: int = 0, samples: int = 1
                     ) -> Dict[str, List[Dict[str, Any]]]:
    """``samples`` scripted answers per video (``{"text": ..., "finish_reason": "stop"}``) for
    the world's request, deterministic for (world seed, config, run, sample). The answers to
    one video are independent draws unless ``cfg.sample_correlation`` > 0; the first is the
    answer of ``samples=1``."""
    out: Dict[str, List[Dict[str, Any]]] = {}
    spans = [(lab.start, lab.end, v.duration) for v in world.videos for lab in v.labels]
    k = boundary_sigma(cfg.target_miou, spans, cfg.wild)
    names = [c["name"] for c in world.classes]
    for video in world.videos:
        answers = []
        for sample in range(samples):
            seed = f"sim:{world.seed}:{cfg!r}:{run}:{video.video_id}" + (f":sample{sample}" if sample else "")
            rng: random.Random
            if cfg.sample_correlation > 0:
                seed += f":corr{cfg.sample_correlation}"
                rng = _Correlated(seed, cfg.sample_correlation)
            else:
                rng = random.Random(seed)
            classes = []
            for c in world.classes:
                if isinstance(rng, _Correlated):
                    rng.begin(f"sim-shared:{world.seed}:{cfg!r}:{cfg.sample_correlation}:{run}:{video.video_id}:"
                              f"{c['name']}")
                classes.append(_class_answer(rng, cfg, k, video, c["name"], c["prompts"], c["options"]))
            text = _render(rng, cfg, {"classes": classes}, names)
            answers.append({"text": text, "finish_reason": "stop"})
        out[video.video_id] = answers
    return out
