"""What the Pegasus backend tests share: warnings kept quiet, sandboxes stopped after the test, video ids."""

from __future__ import annotations

import copy
import warnings
from typing import Any, Callable, Dict, Iterator, List

import pytest

from classify_shim.sandbox import Sandbox, default_world


@pytest.fixture
def quiet() -> Iterator[None]:
    """These tests check results, not the migration warnings every classify call gives."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """``make(world, **options)`` starts a sandbox; every one started is stopped after the test."""
    started: List[Sandbox] = []

    def make(world: Dict[str, Any], **kwargs: Any) -> Sandbox:
        sb = Sandbox(world=world, **kwargs).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


def video_ids(sb: Any) -> List[str]:
    """Every video of the sandbox's world, index by index, in the world's order."""
    return [v["_id"] for ix in sb.world["indexes"] for v in ix["videos"]]


def scripted_world(scripted: List[List[Dict[str, Any]]]) -> Dict[str, Any]:
    """The default world's first videos (100 s each, one per list), answering with the scripted
    answers in order."""
    world = copy.deepcopy(default_world())
    world["indexes"] = [world["indexes"][0]]
    videos = world["indexes"][0]["videos"][: len(scripted)]
    for video, answers in zip(videos, scripted):
        video["duration"] = 100.0
        video["content"] = {s: [c for c in cues if c["end"] <= 100.0] for s, cues in video["content"].items()}
        video["scripted_answers"] = answers
    world["indexes"][0]["videos"] = videos
    return world
