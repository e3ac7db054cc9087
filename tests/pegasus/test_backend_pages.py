"""Pegasus result pages: v1.2 ``page_info``, signed tokens, expiry, other keys, other processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, List

import pytest

from classify_shim import BadRequestError, TwelveLabs
from classify_shim._tokens import make_token, read_token

from .conftest import video_ids

KEY = "tlk_pegasus_pages_00001"
CLASSES = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


pytestmark = pytest.mark.usefixtures("quiet")


def _client(sb: Any, tmp_path: Path, key: str = KEY, **kwargs: Any) -> TwelveLabs:
    kwargs.setdefault("cache", tmp_path / "c.sqlite3")
    return TwelveLabs(api_key=key, classify_backend="pegasus", base_url=sb.base_url, **kwargs)


def test_page_info_has_the_v12_shape(sb: Any, tmp_path: Path) -> None:
    with _client(sb, tmp_path) as client:
        result = client.classify.videos(video_ids(sb), ["visual", "conversation"], CLASSES, page_limit=3)
        info = result.page_info
        assert info.limit_per_page == 3
        assert info.total_results >= 7
        assert RFC3339.match(info.page_expired_at)
        assert info.prev_page_token == ""
        assert info.next_page_token.startswith("tlcs1.")
        pages = [result.data]
        tokens = [info.next_page_token]
        for data in result:
            pages.append(data)
            tokens.append(result.page_info.next_page_token)
    assert [len(p) for p in pages[:-1]] == [3] * (len(pages) - 1)
    assert sum(len(p) for p in pages) == info.total_results
    assert tokens[-1] == ""
    assert result.page_info.page_expired_at == info.page_expired_at  # one expiry for the whole result
    # Video order across pages: by top class score, descending (v1.2 observed order).
    tops = [max(c.score for c in v.classes) for page in pages for v in page]
    assert tops == sorted(tops, reverse=True)


def test_default_page_limit_is_ten(sb: Any, tmp_path: Path) -> None:
    from classify_shim.sandbox import synthetic_world

    sb.set_world(synthetic_world(25, seed=1))
    with _client(sb, tmp_path) as client:
        result = client.classify.videos(video_ids(sb), ["visual"], CLASSES)
    assert result.page_info.limit_per_page == 10
    assert len(result.data) == min(10, result.page_info.total_results)


def test_no_passing_video_gives_an_empty_single_page(sb: Any, tmp_path: Path) -> None:
    classes = [{"name": "Astronomy", "prompts": ["Telescope pointed at the night sky"]}]
    with _client(sb, tmp_path) as client:
        result = client.classify.videos(video_ids(sb)[:3], ["visual"], classes)
    assert len(result.data) == 0 and result.errors == []
    assert result.page_info.total_results == 0
    assert result.page_info.next_page_token == "" and result.page_info.prev_page_token == ""


def _first_token(sb: Any, tmp_path: Path, **kwargs: Any) -> str:
    with _client(sb, tmp_path, **kwargs) as client:
        result = client.classify.videos(video_ids(sb), ["visual", "conversation"], CLASSES, page_limit=2)
    token = result.page_info.next_page_token
    assert token
    return token


def test_token_from_another_key_is_rejected(sb: Any, tmp_path: Path) -> None:
    token = _first_token(sb, tmp_path)
    with _client(sb, tmp_path, key="tlk_someone_else_000001") as other, pytest.raises(BadRequestError) as info:
        other.classify.by_page_token(token)
    assert info.value.body["code"] == "parameter_invalid"
    assert "page_token" in str(info.value)


def test_tampered_token_is_rejected(sb: Any, tmp_path: Path) -> None:
    token = _first_token(sb, tmp_path)
    payload, sig = token[len("tlcs1."):].split(".")
    import base64

    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    rid, _, expires = raw.split(":")
    forged = base64.urlsafe_b64encode(f"{rid}:0:{expires}".encode()).decode().rstrip("=")
    with _client(sb, tmp_path) as client:
        for bad in (f"tlcs1.{forged}.{sig}", token[:-2] + "xx", token + "A"):
            with pytest.raises(BadRequestError) as info:
                client.classify.by_page_token(bad)
            assert info.value.body["code"] == "parameter_invalid"


def test_expired_token_is_a_bad_request(sb: Any, tmp_path: Path) -> None:
    token = _first_token(sb, tmp_path)
    ref = read_token(KEY, token)
    expired = make_token(KEY, ref.result_id, ref.page, 1_000_000)  # properly signed, but long expired
    with _client(sb, tmp_path) as client, pytest.raises(BadRequestError) as info:
        client.classify.by_page_token(expired)
    assert info.value.body["code"] == "page_token_expired"


def test_page_ttl_is_configurable(sb: Any, tmp_path: Path) -> None:
    import time

    before = time.time()
    token = _first_token(sb, tmp_path, page_ttl_s=30.0)
    assert 29 <= read_token(KEY, token).expires_at - before <= 32
    zero = _first_token(sb, tmp_path, page_ttl_s=0.0)
    with _client(sb, tmp_path) as client, pytest.raises(BadRequestError) as info:
        client.classify.by_page_token(zero)
    assert info.value.body["code"] == "page_token_expired"


def test_another_process_serves_the_page_without_any_request(sb: Any, tmp_path: Path) -> None:
    token = _first_token(sb, tmp_path)
    sb.clear_requests()
    code = textwrap.dedent(
        f"""
        import warnings
        warnings.simplefilter("ignore")
        from classify_shim import TwelveLabs
        client = TwelveLabs(api_key={KEY!r}, classify_backend="pegasus", base_url={sb.base_url!r},
                            cache={str(tmp_path / "c.sqlite3")!r})
        page = client.classify.by_page_token({token!r})
        print(len(page.data), page.page_info.total_results, bool(page.page_info.prev_page_token))
        """
    )
    script = tmp_path / "other_process.py"
    script.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWELVELABS_")}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    n, total, has_prev = out.stdout.split()
    assert int(n) == 2 and int(total) >= 7 and has_prev == "True"
    assert sb.requests() == []


def _walk(result: Any) -> List[Any]:
    return [v.model_dump() for v in result.data] + [v.model_dump() for page in result for v in page]


def test_a_run_stores_the_pages_an_all_cached_repeat_and_a_memory_store_give(sb: Any, tmp_path: Path) -> None:
    # The run keeps each finished video as compact JSON and decodes one page at a time when it
    # stores the result; the all-cached repeat orders the mapped objects themselves; a client
    # with the cache off stores them in memory. All three must give the same pages.
    from classify_shim.sandbox import synthetic_world

    sb.set_world(synthetic_world(60, seed=7))
    ids = video_ids(sb)
    options = ["visual", "conversation", "text_in_video"]
    with _client(sb, tmp_path, strategy="sync") as client:
        first = client.classify.videos(ids, options, CLASSES, page_limit=7, include_clips=True)
        walked = _walk(first)
        again = _walk(client.classify.videos(ids, options, CLASSES, page_limit=7, include_clips=True))
    with _client(sb, tmp_path, strategy="sync", cache=False) as memory:
        in_memory = _walk(memory.classify.videos(ids, options, CLASSES, page_limit=7, include_clips=True))
    assert walked == again == in_memory
    vids = [v["video_id"] for v in walked]
    assert len(vids) == len(set(vids)) == first.page_info.total_results > 7  # each video once, several pages
    tops = [max(c["score"] for c in v["classes"]) for v in walked]
    assert tops == sorted(tops, reverse=True)


def test_lazy_result_pages_cut_like_a_list() -> None:
    import json

    from classify_shim.adapters.pegasus._engine import _LazyPages

    items = [{"video_id": f"v{i}", "classes": [{"name": "A", "score": 90 - i}]} for i in range(23)]
    pages = _LazyPages([json.dumps(i) for i in items], 5)
    expected = [items[s:s + 5] for s in range(0, 23, 5)]
    assert len(pages) == 5 and list(pages) == expected and pages[-1] == expected[-1]
    assert pages[1:3] == expected[1:3]
    assert pages[0] is not pages[0]  # decoded afresh on every read: nothing is held as objects
    with pytest.raises(IndexError):
        pages[5]
    empty = _LazyPages([], 5)
    assert len(empty) == 1 and list(empty) == [[]]  # no video: one empty page, as before
