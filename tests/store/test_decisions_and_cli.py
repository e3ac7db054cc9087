"""Remembered decisions (per host AND API version, with evidence, expiry, revalidation) and the
``classify-shim cache stats|prune|clear`` command, on a real classify run against the sandbox."""

from __future__ import annotations

import json
import sqlite3
import time
import warnings
from pathlib import Path
from typing import Any, List

import pytest

from classify_shim import TwelveLabs
from classify_shim._config import ClientConfig
from classify_shim._store import DECISION_REVALIDATE_S, open_existing
from classify_shim.cli import main

KEY = "tlk_store_decisions_key"
CLASSES = [{"name": "DanceTok", "prompts": ["Dance tutorial"]}, {"name": "CookTok", "prompts": ["Cooking"]}]


def _ids(sb: Any) -> List[str]:
    return [v["_id"] for ix in sb.world["indexes"] for v in ix["videos"]]


def _run(sb: Any, cache: Any, backend: str = "auto") -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TwelveLabs(KEY, classify_backend=backend, base_url=sb.base_url, cache=cache, max_retries=0) as c:
            return c.classify.videos(_ids(sb), ["visual"], CLASSES, page_limit=4)


def _config(sb: Any, cache: Any) -> ClientConfig:
    return ClientConfig.build(KEY, "v1.2", classify_backend="auto", base_url=sb.base_url, timeout=5.0,
                              max_retries=0, cache=cache)


def _probes(sb: Any) -> int:
    return sum(1 for r in sb.requests() if r.get("endpoint") == "v1.2.classify")


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = main(["cache", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_decision_record_carries_host_version_and_evidence(sb: Any, tmp_path: Path) -> None:
    sb.legacy = "retired"
    cache = tmp_path / "c.sqlite3"
    before = time.time()
    assert _run(sb, cache).backend == "pegasus"
    store = open_existing(_config(sb, cache))
    assert store is not None
    record = store.get_decision(sb.base_url.rstrip("/"), "v1.2")
    assert store.get_decision(sb.base_url.rstrip("/"), "v1.3") is None  # per API version
    store.close()
    assert record is not None and record.backend == "pegasus"
    assert record.evidence.status == 410 and record.evidence.code
    assert before <= record.evidence.at <= time.time()
    assert record.revalidate_at == pytest.approx(record.decided_at + DECISION_REVALIDATE_S)


def test_doctor_shows_the_decision_and_cache_clear_forgets_it(
    sb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sb.legacy = "retired"
    cache = tmp_path / "c.sqlite3"
    _run(sb, cache)
    monkeypatch.setenv("TWELVELABS_CLASSIFY_CACHE", str(cache))
    monkeypatch.setenv("TWELVELABS_BASE_URL", sb.base_url)
    monkeypatch.setenv("TWELVELABS_API_KEY", KEY)
    main(["doctor", "--no-network", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["backend"]["decision"] == "pegasus"
    [shown] = report["cache"]["decisions"]
    assert shown["evidence"]["status"] == 410 and shown["api_version"] == "v1.2" and shown["revalidate"]
    main(["doctor", "--no-network"])
    assert "HTTP 410" in capsys.readouterr().out
    code, cleared = _cli(capsys, "clear", "--decisions")
    assert code == 0 and cleared["removed"] == {"decisions": 1}
    sb.clear_requests()
    assert _run(sb, cache).backend == "pegasus"
    assert _probes(sb) == 1  # forgotten: the endpoint is asked again, once


def test_a_decision_due_for_revalidation_is_probed_again(sb: Any, tmp_path: Path) -> None:
    sb.legacy = "retired"
    cache = tmp_path / "c.sqlite3"
    _run(sb, cache)
    sb.clear_requests()
    _run(sb, cache)
    assert _probes(sb) == 0  # trusted while fresh
    db = sqlite3.connect(str(cache))
    db.execute("UPDATE decisions SET expires = ?", (time.time() - 1,))  # a week has passed
    db.commit()
    db.close()
    sb.legacy = "live"
    sb.clear_requests()
    assert _run(sb, cache).backend == "legacy"  # revalidated: the endpoint answers again
    assert _probes(sb) == 1


def test_cache_stats_prune_clear(sb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "c.sqlite3"
    code, report = _cli(capsys, "stats", "--cache", str(cache))
    assert code == 1 and report["exists"] is False and not cache.exists()  # never creates a cache
    _run(sb, cache, backend="pegasus")
    n = len(_ids(sb))
    code, report = _cli(capsys, "stats", "--cache", str(cache))
    assert code == 0
    assert report["kinds"]["answers"]["entries"] == n and report["kinds"]["results"]["entries"] == 1
    assert report["kinds"]["answers"]["bytes"] > 0 and report["file_bytes"] > 0
    db = sqlite3.connect(str(cache))
    db.execute("UPDATE videos SET expires = 1")  # metadata a week old
    db.commit()
    db.close()
    code, report = _cli(capsys, "prune", "--cache", str(cache))
    assert report["removed"]["videos"] == n and report["removed"]["answers"] == 0
    code, report = _cli(capsys, "clear", "--cache", str(cache), "--kind", "answers")
    assert report["removed"] == {"answers": n}
    code, report = _cli(capsys, "stats", "--cache", str(cache))
    assert report["kinds"]["answers"]["entries"] == 0 and report["kinds"]["results"]["entries"] == 1
    code, report = _cli(capsys, "clear", "--cache", str(cache))
    assert all(s["entries"] == 0 for s in _cli(capsys, "stats", "--cache", str(cache))[1]["kinds"].values())
    assert main(["cache", "stats", "--decisions"]) == 2  # --decisions goes with clear


def test_cache_cli_on_redis(sb: Any, redis_prefix_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _run(sb, redis_prefix_url, backend="pegasus")
    code, report = _cli(capsys, "stats", "--cache", redis_prefix_url)
    assert code == 0 and report["kind"] == "redis"
    assert report["kinds"]["answers"]["entries"] == len(_ids(sb))
    code, report = _cli(capsys, "clear", "--cache", redis_prefix_url)
    assert report["removed"]["answers"] == len(_ids(sb))
    assert _cli(capsys, "stats", "--cache", redis_prefix_url)[1]["kinds"]["answers"]["entries"] == 0
