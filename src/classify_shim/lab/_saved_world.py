"""A lab world for saved results whose videos are gone: labels reconstructed from the decisions.

Recorded v1.2 traffic names real videos that no sandbox has. To run ``calibrate`` end to end on
such a recording, this builds a world with exactly those video ids: a recorded pass becomes a
true presence covering its recorded ``duration_ratio`` with a strength that gives back its
recorded score (the lab's truth formula, ``_worlds.truth_score``); a recorded absence becomes,
drawn per pair, nothing, a partial presence too short to pass, or a near-miss distractor. The
modelled Pegasus (``_simulator``) then answers from these labels with its usual errors.

What a run on it measures: the calibration machinery on the real recorded decisions and score
distribution, under a modelled Pegasus; not Pegasus on those videos.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any, Dict, List, Tuple

from classify_shim._saved import SavedResults

from ._worlds import SOURCES, Label, LabVideo, LabWorld

__all__ = ["SavedLabWorld", "saved_world"]


class SavedLabWorld(LabWorld):
    """A :class:`LabWorld` whose classes are the saved requests' (not the lab's topics)."""

    def to_sandbox_world(self, scripted: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
        videos = []
        for i, v in enumerate(self.videos):
            content: Dict[str, List[Dict[str, Any]]] = {s: [] for s in SOURCES}
            for lab in sorted(v.labels, key=lambda x: (x.source, x.start, x.end, x.topic)):
                text = lab.prompt if lab.kind != "near_miss" else f"something that only looks like {lab.prompt.lower()}"
                content[lab.source].append({"start": round(lab.start, 3), "end": round(lab.end, 3), "text": text})
            videos.append({"_id": v.video_id, "filename": f"saved_{i}.mp4", "duration": v.duration,
                           "content": content, "scripted_answers": scripted.get(v.video_id, [])})
        return {"name": f"saved-{self.seed}",
                "indexes": [{"_id": self.index_id, "index_name": f"saved-{self.seed}", "videos": videos}]}


def _strength(score: float, coverage: float) -> float:
    """Inverse of the lab's truth score ``100 * (0.5 + 0.4 * strength + 0.1 * coverage)``."""
    return max(0.3, min(1.0, (score / 100.0 - 0.5 - 0.1 * min(1.0, coverage)) / 0.4))


def _span(rng: random.Random, duration: float, share: float) -> Tuple[float, float]:
    length = max(0.5, share * duration)
    start = rng.uniform(0.0, max(0.0, duration - length))
    return round(start, 3), round(min(duration, start + length), 3)


def saved_world(saved: SavedResults, seed: int = 0) -> SavedLabWorld:
    """One index holding every saved video, with labels reconstructed from the saved pairs."""
    index_id = hashlib.sha256(f"saved-world-index:{seed}".encode()).hexdigest()[:24]
    classes: Dict[str, Dict[str, Any]] = {}
    for request in saved.requests():
        for c in request.classes:
            classes.setdefault(c.name, {"name": c.name, "prompts": list(c.prompts) or [c.name],
                                        "options": list(request.options) or ["visual"]})
    for name in saved.class_names:
        classes.setdefault(name, {"name": name, "prompts": [name], "options": ["visual"]})
    passes: Dict[Tuple[str, str], List[Tuple[float, float]]] = {}
    asked: Dict[str, List[str]] = {}
    for p in saved.pairs():
        asked.setdefault(p.video_id, [])
        if p.class_name not in asked[p.video_id]:
            asked[p.video_id].append(p.class_name)
        if p.passed and p.score is not None and p.duration_ratio is not None:
            passes.setdefault((p.video_id, p.class_name), []).append((p.score, p.duration_ratio))
    videos: List[LabVideo] = []
    for vid in saved.video_ids:
        vrng = random.Random(f"saved-world:{seed}:{vid}")
        video = LabVideo(vid, round(vrng.uniform(60.0, 600.0), 2))
        for name in asked.get(vid, []):
            prompt = vrng.choice(classes[name]["prompts"])
            seen = passes.get((vid, name))
            if seen:
                score = sum(s for s, _ in seen) / len(seen)
                share = sum(r for _, r in seen) / len(seen)
                start, end = (0.0, video.duration) if share >= 0.999 else _span(vrng, video.duration, share)
                strength = round(_strength(score, share), 3)
                for source in ("visual", "conversation"):
                    video.labels.append(Label(name, source, start, end, strength, "match", prompt))
                continue
            r = vrng.random()
            if r < 0.4:
                continue
            if r < 0.75:  # present, but too briefly to pass
                start, end = _span(vrng, video.duration, vrng.uniform(0.05, 0.45))
                video.labels.append(Label(name, "visual", start, end, round(vrng.uniform(0.5, 0.9), 3),
                                          "match", prompt))
            else:  # a look-alike a yes-biased model may take for the class
                start, end = _span(vrng, video.duration, vrng.uniform(0.3, 1.0))
                video.labels.append(Label(name, "visual", start, end, round(vrng.uniform(0.1, 0.4), 3),
                                          "near_miss", prompt))
        videos.append(video)
    return SavedLabWorld(seed, index_id, videos, list(classes.values()))
