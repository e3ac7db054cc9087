"""A caught Ctrl-C stops the bill: no ``/analyze`` call starts after the KeyboardInterrupt.

The interrupt is delivered the way Ctrl-C is (SIGINT to the process) while the sync
client waits on its Pegasus run; the caller catches it (REPL / notebook style). The sandbox
request log (each entry stamped with its arrival time) is the witness.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from classify_shim import TwelveLabs

VIDEOS = 60


@pytest.fixture
def slow_sandbox() -> Iterator[Any]:
    from classify_shim.sandbox import Sandbox, synthetic_world

    sb = Sandbox(world=synthetic_world(VIDEOS), latency_ms=150).start()
    yield sb
    sb.stop()


def _arrived(entry: Dict[str, Any]) -> float:
    return datetime.strptime(entry["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def _analyze(sb: Any) -> List[Dict[str, Any]]:
    return [r for r in sb.requests() if r.get("endpoint") == "v1.3.analyze"]


def test_caught_keyboard_interrupt_cancels_the_run(slow_sandbox: Any, tmp_path: Path) -> None:
    sb = slow_sandbox
    ids = [str(v["_id"]) for ix in sb.world["indexes"] for v in ix["videos"]][:VIDEOS]
    interrupted_at: List[float] = []

    def ctrl_c() -> None:
        while not _analyze(sb):  # wait until the run is billing
            time.sleep(0.01)
        time.sleep(0.2)
        interrupted_at.append(time.time())
        os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does

    client = TwelveLabs("tlk_interrupt", classify_backend="pegasus", base_url=sb.base_url, cache=tmp_path / "c.db",
                        max_concurrency=4, max_retries=0)
    threading.Thread(target=ctrl_c, daemon=True).start()
    with pytest.raises(KeyboardInterrupt), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.classify.videos(ids, ["visual"], [{"name": "Soccer", "prompts": ["soccer goal"]}])
    time.sleep(1.0)  # anything still queued would have started by now
    calls = _analyze(sb)
    after = [c for c in calls if _arrived(c) > interrupted_at[0] + 0.005]
    assert after == [], f"{len(after)} /analyze call(s) started after Ctrl-C"
    assert 0 < len(calls) < VIDEOS
    # The client stays usable for the next cell of the notebook.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = client.classify.videos(ids[:2], ["visual"], [{"name": "Soccer", "prompts": ["soccer goal"]}])
    assert again.errors == []
    client.close()
    print(f"FIGURE analyze calls started: {len(calls)} of {VIDEOS}; after Ctrl-C: {len(after)}")
