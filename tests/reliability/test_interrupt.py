"""A caught Ctrl-C stops the bill: no ``/analyze`` call starts after the KeyboardInterrupt.

The interrupt is delivered the way Ctrl-C is (SIGINT to the process) while the sync
client waits on its Pegasus run; the caller catches it (REPL / notebook style). The sandbox
request log is the witness: counted when the caller has the exception, and again after a
quiet second (arrival stamps are not compared; under load they lag the sends).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from classify_shim import TwelveLabs

VIDEOS = 60
MAX_IN_FLIGHT = 4


@pytest.fixture
def slow_sandbox() -> Iterator[Any]:
    from classify_shim.sandbox import Sandbox, synthetic_world

    sb = Sandbox(world=synthetic_world(VIDEOS), latency_ms=150).start()
    yield sb
    sb.stop()


def _analyze(sb: Any, log: Optional[List[Dict[str, Any]]] = None) -> List[Dict[str, Any]]:
    return [r for r in (sb.requests() if log is None else log) if r.get("endpoint") == "v1.3.analyze"]


def test_caught_keyboard_interrupt_cancels_the_run(slow_sandbox: Any, tmp_path: Path) -> None:
    sb = slow_sandbox
    ids = [str(v["_id"]) for ix in sb.world["indexes"] for v in ix["videos"]][:VIDEOS]
    started_at_kill: List[int] = []

    def ctrl_c() -> None:
        while not _analyze(sb):  # wait until the run is billing
            time.sleep(0.01)
        time.sleep(0.2)
        started_at_kill.append(len(_analyze(sb)))
        os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does

    client = TwelveLabs("tlk_interrupt", classify_backend="pegasus", base_url=sb.base_url, cache=tmp_path / "c.db",
                        max_concurrency=MAX_IN_FLIGHT, max_retries=0)
    threading.Thread(target=ctrl_c, daemon=True).start()
    with pytest.raises(KeyboardInterrupt), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.classify.videos(ids, ["visual"], [{"name": "Soccer", "prompts": ["soccer goal"]}])
    # What was on the wire when the caller got the KeyboardInterrupt lands now; a run that went on
    # would keep starting MAX_IN_FLIGHT calls every 150 ms through the quiet second below.
    at_return = len(_analyze(sb, sb.wait_idle()))
    time.sleep(1.0)
    calls = _analyze(sb)
    assert len(calls) == at_return, f"{len(calls) - at_return} /analyze call(s) started after the caller caught Ctrl-C"
    # Between the signal and the raise at most the sends already in flight complete, plus one
    # round that was being dispatched when the signal arrived.
    assert len(calls) - started_at_kill[0] <= 2 * MAX_IN_FLIGHT, (started_at_kill, len(calls))
    assert 0 < len(calls) < VIDEOS
    # The client stays usable for the next cell of the notebook.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = client.classify.videos(ids[:2], ["visual"], [{"name": "Soccer", "prompts": ["soccer goal"]}])
    assert again.errors == []
    client.close()
    print(f"FIGURE analyze calls started: {len(calls)} of {VIDEOS}; at the signal: {started_at_kill[0]}")
