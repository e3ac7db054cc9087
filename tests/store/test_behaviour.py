"""One behaviour suite for every persistent store: SQLite and a real Redis server.

Each test runs twice (``store_kind``); ``make_store()`` opens the SAME store again, as another
process would. What is checked: round trips, scoping, expiry, per-page results, claims,
jobs, decisions with evidence, JSON-only values, stats/prune/clear.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List

import pytest

from classify_shim._store import (
    KINDS,
    DecisionRecord,
    Evidence,
    FailureRecord,
    JobRecord,
    ResultHeader,
    Store,
)
from classify_shim._store._records import failure_from_json

FAILURES = (
    FailureRecord(video_id="x", stage="parse", message="m", attempts=2),
    FailureRecord(video_id="y", stage="analyze", message="RateLimitError: é", attempts=1),
)


def _header(scope: str, pages: int, *, limit: int = 2, expires_at: int = 0) -> ResultHeader:
    return ResultHeader(
        scope=scope, page_limit=limit, total_results=pages * limit, pages=pages,
        expires_at=expires_at or int(time.time() + 600), errors=list(FAILURES),
        total_videos=pages * limit + 1, model="pegasus1.2",
    )


def test_answers_round_trip_and_are_shared(store: Store, make_store: Any) -> None:
    store.put_answer("k1", {"data": "é", "finish_reason": "stop"})
    assert store.get_answer("k1") == {"data": "é", "finish_reason": "stop"}
    assert store.get_answer("k2") is None
    other = make_store()  # another process, same store
    assert other.get_answer("k1") == {"data": "é", "finish_reason": "stop"}


def test_non_json_values_are_refused_never_pickled(store: Store) -> None:
    with pytest.raises(TypeError):
        store.put_answer("b", {"data": object()})
    with pytest.raises(ValueError):
        store.put_answer("c", {"data": float("nan")})
    assert store.get_answer("b") is None and store.get_answer("c") is None


def test_videos_and_placements_are_scoped(store: Store) -> None:
    store.put_video("scopeA", "idx", "vid", {"duration": 3})
    assert store.get_video("scopeA", "idx", "vid") == {"duration": 3}
    assert store.get_video("scopeB", "idx", "vid") is None
    assert store.get_video("scopeA", "other-index", "vid") is None
    store.put_video_index("scopeA", {"v1": "i1", "v2": "i2"})
    assert store.get_video_indexes("scopeA", ["v1", "v2", "v3"]) == {"v1": "i1", "v2": "i2"}
    assert store.get_video_indexes("scopeB", ["v1"]) == {}
    store.forget_video_index("scopeA", "v2")
    assert store.get_video_indexes("scopeA", ["v2"]) == {}


def test_forget_video_drops_metadata_and_placement(store: Store) -> None:
    store.put_video("s", "i", "v", {"duration": 1})
    store.put_video("s", "i", "w", {"duration": 2})
    store.put_video_index("s", {"v": "i", "w": "i"})
    store.forget_video("s", "v")
    assert store.get_video("s", "i", "v") is None and store.get_video_indexes("s", ["v"]) == {}
    assert store.get_video("s", "i", "w") == {"duration": 2} and store.get_video_indexes("s", ["w"]) == {"w": "i"}


def test_many_placements_in_one_call(store: Store) -> None:
    mapping = {f"v{i}": f"i{i % 7}" for i in range(1500)}  # more than one SQL/MGET batch
    store.put_video_index("s", mapping)
    assert store.get_video_indexes("s", list(mapping)) == mapping


def test_result_pages_are_rows_of_their_own(store: Store, make_store: Any) -> None:
    rid = "a" * 32
    pages = [[{"video_id": f"v{p}{i}"} for i in range(2)] for p in range(3)]
    store.put_result(rid, _header("scopeA", 3), pages)
    other = make_store()
    for n in range(3):
        found = other.get_page(rid, "scopeA", n)
        assert found is not None
        header, items = found
        assert items == pages[n]
        assert header.pages == 3 and header.total_results == 6
        assert header.errors == list(FAILURES)  # typed records, the same from every store
        assert [type(e["attempts"]) for e in header.errors] == [int, int]
    assert other.get_page(rid, "scopeB", 0) is None  # another key's results are invisible
    assert other.get_page("b" * 32, "scopeA", 0) is None
    found = other.get_page(rid, "scopeA", 7)  # a page past the end: the header, no items
    assert found is not None and found[1] == []


@pytest.mark.parametrize(
    ("stored", "problem"),
    [
        ({"stage": "parse", "message": "m"}, KeyError),
        ({"video_id": "x", "message": "m"}, KeyError),
        ({"video_id": 7, "stage": "parse"}, TypeError),
        ({"video_id": "x", "stage": "parse", "attempts": "2"}, ValueError),
        ({"video_id": "x", "stage": "parse", "attempts": 0}, ValueError),
        ({"video_id": "x", "stage": "parse", "attempts": True}, ValueError),
        (["x", "parse"], TypeError),
    ],
)
def test_a_damaged_failure_record_is_refused(stored: Any, problem: type) -> None:
    with pytest.raises(problem):
        failure_from_json(stored)
    header = dict(_header("s", 1).to_json(), errors=[stored])
    with pytest.raises(problem):
        ResultHeader.from_json(header)  # the stores then answer "no such result" (a miss)


def test_a_failure_record_without_attempts_reads_as_one_attempt_like_video_failure() -> None:
    assert failure_from_json({"video_id": "x", "stage": "parse", "message": "m"}) == FailureRecord(
        video_id="x", stage="parse", message="m", attempts=1
    )


def test_expired_results_are_gone(store: Store) -> None:
    rid = "c" * 32
    store.put_result(rid, _header("s", 1, expires_at=int(time.time()) - 7200), [[{"video_id": "v"}]])
    assert store.get_page(rid, "s", 0) is None  # past its expiry plus the grace hour


def test_claims_exclude_others_and_expire(store: Store, make_store: Any) -> None:
    other = make_store()
    assert store.claim("answer-1", "host:1:a", 30.0)
    assert store.claim("answer-1", "host:1:a", 30.0)  # the holder may claim again (renew)
    assert not other.claim("answer-1", "host:2:b", 30.0)
    assert other.claim_owner("answer-1") == "host:1:a"
    assert not other.renew_claim("answer-1", "host:2:b", 30.0)
    other.release_claim("answer-1", "host:2:b")  # not the holder: nothing happens
    assert store.claim_owner("answer-1") == "host:1:a"
    assert store.renew_claim("answer-1", "host:1:a", 30.0)
    store.release_claim("answer-1", "host:1:a")
    assert other.claim_owner("answer-1") is None
    assert other.claim("answer-1", "host:2:b", 0.05)
    time.sleep(0.1)  # let the 50 ms claim lapse (no timing is asserted)
    assert store.claim_owner("answer-1") is None
    assert store.claim("answer-1", "host:1:a", 30.0)


def test_claim_of_a_dead_local_process_is_taken_over(store: Store) -> None:
    import socket
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    from classify_shim._store import _owners

    dead = f"{_owners._HOST}:{proc.pid}:deadbeef"
    assert store.claim("k", dead, 600.0)
    assert socket.gethostname()  # the owner names this machine
    assert store.claim_owner("k") is None
    assert store.claim("k", "host:1:alive", 600.0)


def test_jobs_are_written_and_found_again(store: Store, make_store: Any) -> None:
    job = JobRecord(scope="s", key="req-1", kind="batch", job_id="batch_123", created_at=1.0, updated_at=1.0,
                    payload={"videos": ["a", "b"]})
    store.put_job(job)
    other = make_store()
    assert other.get_job("s", "req-1") == job
    assert other.get_job("t", "req-1") is None
    store.put_job(JobRecord(scope="t", key="req-2", kind="task", job_id="task_9", created_at=2.0))
    assert [j.job_id for j in other.list_jobs()] == ["batch_123", "task_9"]
    assert [j.job_id for j in other.list_jobs("s")] == ["batch_123"]
    other.delete_job("s", "req-1")
    assert store.get_job("s", "req-1") is None


def test_decisions_are_per_host_and_version_with_evidence(store: Store, make_store: Any) -> None:
    evidence = Evidence(status=410, code="endpoint_deprecated", message="gone", at=1234.5)
    record = DecisionRecord.new("http://h", "v1.2", "pegasus", evidence)
    store.put_decision(record)
    other = make_store()
    assert other.get_decision("http://h", "v1.2") == record
    assert other.get_decision("http://h", "v1.3") is None
    assert other.get_decision("http://other", "v1.2") is None
    assert other.list_decisions() == [record]
    stale = DecisionRecord.new("http://old", "v1.2", "pegasus", evidence, now=time.time() - 30 * 86400)
    store.put_decision(stale)  # past its revalidation: not trusted, not listed
    assert other.get_decision("http://old", "v1.2") is None
    assert other.clear_decisions() == 1
    assert store.get_decision("http://h", "v1.2") is None


def test_stats_prune_clear(store: Store) -> None:
    store.put_answer("k", {"data": "x"})
    store.put_video("s", "i", "v", {"duration": 1})
    store.put_result("d" * 32, _header("s", 2), [[{"video_id": "a"}], [{"video_id": "b"}]])
    stats = store.stats()
    assert set(stats) == set(KINDS)
    assert stats["answers"].entries == 1 and stats["results"].entries == 1 and stats["videos"].entries == 1
    assert (stats["answers"].bytes or 0) > 0
    assert set(store.prune()) == set(KINDS)
    assert store.get_answer("k") == {"data": "x"}  # live entries survive a prune
    cleared = store.clear(["answers"])
    assert cleared["answers"] == 1
    assert store.get_answer("k") is None and store.get_video("s", "i", "v") == {"duration": 1}
    store.clear()
    assert all(s.entries == 0 for s in store.stats().values())


def test_values_are_json_text(store: Store, store_kind: str, tmp_path: Any, redis_url: str) -> None:
    store.put_answer("a", {"data": '{"classes": []}', "finish_reason": "stop"})
    store.put_result("e" * 32, _header("s", 1), [[{"video_id": "v"}]])
    if store_kind == "redis":
        import redis

        raw = redis.Redis.from_url(redis_url, decode_responses=True)
        prefix = store.prefix
        names = list(raw.scan_iter(match=prefix + "*"))
        assert names, "nothing written under the store's prefix"
        for name in names:
            if raw.type(name) == "string":
                json.loads(raw.get(name) or "")  # every value is JSON text
        raw.close()
    else:
        import sqlite3

        db = sqlite3.connect(str(tmp_path / "store.sqlite3"))
        for table in ("answers", "results", "pages"):
            for (text,) in db.execute(f"SELECT value FROM {table}"):
                assert isinstance(text, str)
                json.loads(text)
        db.close()


def test_reading_one_page_decodes_that_page_only(
    store: Store, store_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Work counted, not timed: serving page k of a 10,000-video result decodes one page of JSON
    (10 items), whatever k and N — so walking all pages is linear in N, not quadratic."""
    from classify_shim._store import _redis, _sqlite

    module = _redis if store_kind == "redis" else _sqlite
    decoded: List[int] = []
    real = module.loads_list

    def counting(text: Any) -> List[Dict[str, Any]]:
        out = real(text)
        decoded.append(len(out))
        return out

    monkeypatch.setattr(module, "loads_list", counting)
    n, limit = 10_000, 10
    pages = [[{"video_id": f"v{i}"} for i in range(s, s + limit)] for s in range(0, n, limit)]
    store.put_result("f" * 32, _header("s", len(pages), limit=limit), pages)
    for p in (0, 500, len(pages) - 1):
        found = store.get_page("f" * 32, "s", p)
        assert found is not None and found[1] == pages[p]
    assert decoded == [limit, limit, limit]


def test_a_result_given_as_a_lazy_sequence_is_written_page_by_page(store: Store, make_store: Any) -> None:
    """The engine hands its pages as a sequence that decodes each page when read; a store takes
    any re-iterable sequence (more pages than one Redis round trip carries) and keeps them all."""
    from collections.abc import Sequence as SequenceABC

    made: List[int] = []

    class Lazy(SequenceABC):  # type: ignore[type-arg]
        def __len__(self) -> int:
            return 250

        def __getitem__(self, n: Any) -> Any:
            if isinstance(n, slice) or not 0 <= n < 250:
                raise IndexError(n)
            made.append(n)
            return [{"video_id": f"v{n}-{i}"} for i in range(2)]

    store.put_result("9" * 32, _header("s", 250), Lazy())
    assert sorted(set(made)) == list(range(250))
    other = make_store()
    for n in (0, 99, 100, 101, 249):
        found = other.get_page("9" * 32, "s", n)
        assert found is not None and found[1] == [{"video_id": f"v{n}-{i}"} for i in range(2)]


def test_a_redis_page_read_is_a_fixed_few_key_lookups(redis_prefix_url: str) -> None:
    """Counted by the server itself (``INFO commandstats``): reading a page of a 2,000-page result
    sends as many commands as a page of a 10-page one — single-key reads (GET/MGET/STRLEN), never
    a scan of the keyspace or of the result."""
    import redis

    from classify_shim._store import RedisStore

    store = RedisStore.from_url(redis_prefix_url)
    server = redis.Redis.from_url(redis_prefix_url.split("?")[0])

    def calls() -> Dict[str, int]:
        return {k: int(v["calls"]) for k, v in server.info("commandstats").items()}

    try:
        for rid, n in (("s" * 32, 10), ("l" * 32, 2000)):
            pages = [[{"video_id": f"{rid[0]}{p}"}] for p in range(n)]
            store.put_result(rid, _header("s", n, limit=1), pages)
        used: Dict[str, List[int]] = {}
        for rid, page in (("s" * 32, 7), ("l" * 32, 1999), ("l" * 32, 3), ("s" * 32, 2)):
            store.get_page(rid, "s", 0)  # the header is then known to the store, as on a walk
            before = calls()
            found = store.get_page(rid, "s", page)
            after = calls()
            assert found is not None and found[1] == [{"video_id": f"{rid[0]}{page}"}]
            delta = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
            delta.pop("cmdstat_info", None)
            used.setdefault(rid[0], []).append(sum(delta.values()))
            assert set(delta) <= {"cmdstat_get", "cmdstat_mget", "cmdstat_strlen"}, delta
        assert max(used["l"]) <= 2 and used["l"] == used["s"]
    finally:
        store.close()
