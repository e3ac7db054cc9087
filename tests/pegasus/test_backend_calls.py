"""What the Pegasus backend sends, and how often: counted on the sandbox's request log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import httpx
import pytest

from classify_shim import BadRequestError, TwelveLabs

from .conftest import video_ids

KEY = "tlk_pegasus_calls_0001"
CLASSES = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]


pytestmark = pytest.mark.usefixtures("quiet")


def _calls(sb: Any, endpoint: str = "v1.3.analyze") -> List[Dict[str, Any]]:
    return [r for r in sb.requests() if r["endpoint"] == endpoint]


def _client(sb: Any, tmp_path: Path, **kwargs: Any) -> TwelveLabs:
    kwargs.setdefault("cache", tmp_path / "c.sqlite3")
    return TwelveLabs(api_key=KEY, classify_backend="pegasus", base_url=sb.base_url, max_retries=0, **kwargs)


def test_one_analyze_call_per_video_then_zero_from_cache(sb: Any, tmp_path: Path) -> None:
    vids = video_ids(sb)
    with _client(sb, tmp_path) as client:
        first = client.classify.videos(vids, ["visual", "conversation", "text_in_video"], CLASSES, page_limit=3)
        calls = _calls(sb)
        assert len(calls) == len(vids)
        assert sorted(c["video"] for c in calls) == sorted(vids)
        assert all(c["stream"] is False and c["status"] == 200 for c in calls)
        assert first.errors == []
        sb.clear_requests()
        again = client.classify.videos(vids, ["visual", "conversation", "text_in_video"], CLASSES, page_limit=3)
        assert _calls(sb) == []
        assert again.data == first.data and again.page_info.total_results == first.page_info.total_results
    # A new client (another process) on the same cache pays nothing either.
    sb.clear_requests()
    with _client(sb, tmp_path) as other:
        third = other.classify.videos(vids, ["visual", "conversation", "text_in_video"], CLASSES, page_limit=3)
    assert _calls(sb) == [] and _calls(sb, "v1.3.video") == [] and _calls(sb, "v1.3.indexes") == []
    assert third.data == first.data


def test_hundred_prompts_still_one_call_per_video(sb: Any, tmp_path: Path) -> None:
    classes = [
        {"name": f"Class {i}", "prompts": [f"people doing activity number {i} variant {j}" for j in range(10)]}
        for i in range(10)
    ]
    classes[0]["prompts"][0] = "Dance tutorial"
    vids = video_ids(sb)[:3]
    with _client(sb, tmp_path) as client:
        result = client.classify.videos(vids, ["visual", "conversation", "text_in_video"], classes)
    assert len(_calls(sb)) == len(vids)
    assert result.errors == []


def test_changed_request_is_asked_again(sb: Any, tmp_path: Path) -> None:
    vids = video_ids(sb)[:2]
    with _client(sb, tmp_path) as client:
        client.classify.videos(vids, ["visual"], CLASSES)
        client.classify.videos(vids, ["visual", "conversation"], CLASSES)
    assert len(_calls(sb)) == 4  # other sources = other prompt = other cache key


def test_page_fetches_make_no_call_at_all(sb: Any, tmp_path: Path) -> None:
    vids = video_ids(sb)
    with _client(sb, tmp_path) as client:
        result = client.classify.videos(vids, ["visual", "conversation"], CLASSES, page_limit=2)
        total = result.page_info.total_results
        assert total > 4
        token = result.page_info.next_page_token
        sb.clear_requests()
        seen = len(result.data)
        for data in result:
            seen += len(data)
        assert seen == total
        assert result.page_info.next_page_token == ""
        again = client.classify.by_page_token(token)
        assert len(again.data) == 2
    # Another client with the same cache (another process of the same user) serves the page too.
    with _client(sb, tmp_path) as other:
        page = other.classify.by_page_token(token)
        assert page.data == again.data
        back = other.classify.by_page_token(page.page_info.prev_page_token)
        assert back.page_info.prev_page_token == ""
    assert sb.requests() == []  # not a single request of any kind


def test_exact_match_only_makes_no_model_call(sb: Any, tmp_path: Path) -> None:
    vids = video_ids(sb)
    with _client(sb, tmp_path) as client:
        result = client.classify.videos(
            vids, ["conversation"], CLASSES, conversation_option="exact_match", include_clips=True
        )
    assert _calls(sb) == []
    assert result.errors == []
    assert result.data, "the transcripts of the default world say the seed prompts verbatim"
    for video in result.data:
        for cls in video.classes:
            assert all(clip.option == "conversation" for clip in cls.clips)


def test_exact_match_mixed_with_visual_still_one_call(sb: Any, tmp_path: Path) -> None:
    vids = video_ids(sb)[:4]
    classes = [dict(CLASSES[0], conversation_option="exact_match", options=["conversation"]), CLASSES[1]]
    with _client(sb, tmp_path) as client:
        client.classify.videos(vids, ["visual"], classes)
    assert len(_calls(sb)) == len(vids)  # CookTok needs the model; DanceTok does not


def test_cache_off_works_and_pages_stay_in_the_process(sb: Any, tmp_path: Path) -> None:
    vids = video_ids(sb)
    with _client(sb, tmp_path, cache=False) as client:
        result = client.classify.videos(vids, ["visual"], CLASSES, page_limit=2)
        assert len(_calls(sb)) == len(vids)
        token = result.page_info.next_page_token
        assert token
        sb.clear_requests()
        assert len(client.classify.by_page_token(token).data) >= 1
        assert _calls(sb) == []
        client.classify.videos(vids, ["visual"], CLASSES, page_limit=2)
        assert len(_calls(sb)) == len(vids)  # no answer cache when the cache is off
    with _client(sb, tmp_path, cache=False) as other, pytest.raises(BadRequestError) as info:
        other.classify.by_page_token(token)
    assert "cache is off" in str(info.value)
    assert not list(tmp_path.iterdir())  # nothing written anywhere


def test_unknown_video_is_a_legacy_error_before_any_analyze(sb: Any, tmp_path: Path) -> None:
    vids = [*video_ids(sb)[:2], "ffffffffffffffffffffffff"]
    with _client(sb, tmp_path) as client, pytest.raises(BadRequestError) as info:
        client.classify.videos(vids, ["visual"], CLASSES)
    assert info.value.body["code"] == "resource_not_exist"
    assert "ffffffffffffffffffffffff" in str(info.value)
    assert "video_ids[2]" in str(info.value)
    assert _calls(sb) == []


def test_index_hint_skips_discovery(sb: Any, tmp_path: Path) -> None:
    index = sb.world["indexes"][0]
    vids = [v["_id"] for v in index["videos"]][:3]
    with _client(sb, tmp_path, index_id=index["_id"]) as client:
        client.classify.videos(vids, ["visual"], CLASSES)
    assert _calls(sb, "v1.3.indexes") == [] and _calls(sb, "v1.3.videos") == []
    assert len(_calls(sb, "v1.3.video")) == 3
    assert all(r["query"].get("transcription") == "true" for r in _calls(sb, "v1.3.video"))


def test_hint_from_env_and_fallback_to_discovery(sb: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = sb.world["indexes"][0], sb.world["indexes"][1]
    monkeypatch.setenv("TWELVELABS_CLASSIFY_INDEX_ID", first["_id"])
    vids = [first["videos"][0]["_id"], second["videos"][0]["_id"]]
    with _client(sb, tmp_path) as client:
        result = client.classify.videos(vids, ["visual"], CLASSES)
        assert result.errors == []
        assert len(_calls(sb, "v1.3.indexes")) == 1  # the second video is not in the hint index
        sb.clear_requests()
        client.classify.videos(vids, ["visual", "text_in_video"], CLASSES)
    # Map and metadata are cached: only the two (new) analyze calls.
    assert [r["endpoint"] for r in sb.requests()] == ["v1.3.analyze", "v1.3.analyze"]


def test_discovery_pages_through_all_videos(sb: Any, tmp_path: Path) -> None:
    from classify_shim.sandbox import synthetic_world

    sb.set_world(synthetic_world(120, n_indexes=2, seed=3))
    last = sb.world["indexes"][1]["videos"][-1]["_id"]
    with _client(sb, tmp_path) as client:
        result = client.classify.videos([last], ["visual"], CLASSES)
    assert result.errors == []
    listing = _calls(sb, "v1.3.videos")
    assert all(r["query"].get("page_limit") == "50" for r in listing)
    assert len(listing) >= 2 and any(r["query"].get("page") == "2" for r in listing)


def test_classify_index_lists_and_classifies_every_video(sb: Any, tmp_path: Path) -> None:
    index = sb.world["indexes"][0]
    with _client(sb, tmp_path) as client:
        result = client.classify.index(index["_id"], ["visual", "conversation"], CLASSES, page_limit=50)
    assert len(_calls(sb)) == len(index["videos"])
    assert result.errors == []
    assert {d.video_id for d in result.data} <= {v["_id"] for v in index["videos"]}


def test_index_listing_fetches_each_page_once_and_every_video_is_classified_once(sb: Any, tmp_path: Path) -> None:
    # 470 videos = 10 listing pages of 50: page 1, then pages 2-9 together, then page 10.
    from classify_shim.sandbox import synthetic_world

    sb.set_world(synthetic_world(470, seed=5))
    index = sb.world["indexes"][0]
    with _client(sb, tmp_path, strategy="sync") as client:  # one /analyze per video, counted below
        result = client.classify.index(index["_id"], ["visual", "conversation"], CLASSES, page_limit=50)
        returned = [d.video_id for d in result.data] + [d.video_id for page in result for d in page]
    pages = sorted(int(r["query"]["page"]) for r in _calls(sb, "v1.3.videos"))
    assert pages == list(range(1, 11))
    analyzed = sorted(c["video"] for c in _calls(sb))
    assert analyzed == sorted(v["_id"] for v in index["videos"])  # each video exactly once
    assert result.errors == [] and len(returned) == len(set(returned)) == result.page_info.total_results


def _lister(pages: List[List[Dict[str, Any]]], total_page: Any) -> Any:
    from classify_shim.adapters.pegasus._v13 import V13Client

    class Listing(V13Client):
        asked: List[int] = []

        async def _list_page(self, path: str, page: int, options: Any) -> Any:
            self.asked.append(page)
            return (pages[page - 1] if page <= len(pages) else []), total_page

    return Listing(httpx.AsyncClient())  # type: ignore[arg-type]


def test_listing_without_total_page_reads_until_a_short_page() -> None:
    import asyncio

    full = [{"_id": f"v{i}"} for i in range(50)]
    lister = _lister([full, full, [{"_id": "last"}], full], None)
    items = asyncio.run(lister._pages("indexes/x/videos", None))
    assert lister.asked == [1, 2, 3] and len(items) == 101


def test_listing_stops_at_the_first_empty_page_even_when_more_were_announced() -> None:
    import asyncio

    full = [{"_id": f"v{i}"} for i in range(50)]
    lister = _lister([full, full, [], full], 12)
    items = asyncio.run(lister._pages("indexes/x/videos", None))
    assert len(items) == 100  # page 4 was fetched in the same window but is not used
    assert lister.asked[0] == 1 and sorted(lister.asked[1:]) == list(range(2, 10))


def test_unknown_index_is_a_legacy_error(sb: Any, tmp_path: Path) -> None:
    with _client(sb, tmp_path) as client, pytest.raises(BadRequestError) as info:
        client.classify.index("eeeeeeeeeeeeeeeeeeeeeeee", ["visual"], CLASSES)
    assert info.value.body["code"] == "resource_not_exist"
    assert _calls(sb) == []


def _capturing_client(bodies: List[Dict[str, Any]]) -> httpx.Client:
    def hook(request: httpx.Request) -> None:
        if request.url.path.endswith("/analyze"):
            bodies.append(json.loads(request.content))

    return httpx.Client(event_hooks={"request": [hook]})


def test_pegasus12_body(sb: Any, tmp_path: Path) -> None:
    """An explicit ``pegasus1.2`` is honoured: ``video_id``, 1.2's budget (the default is ``auto``)."""
    bodies: List[Dict[str, Any]] = []
    vid = video_ids(sb)[0]
    with _capturing_client(bodies) as http, _client(
        sb, tmp_path, http_client=http, pegasus_model="pegasus1.2"
    ) as client:
        client.classify.videos([vid], ["visual"], CLASSES)
    assert len(bodies) == 1
    body = bodies[0]
    assert body["model_name"] == "pegasus1.2" and body["video_id"] == vid and "video" not in body
    assert body["stream"] is False
    assert body["temperature"] == 0.0
    assert body["response_format"]["type"] == "json_schema"
    assert isinstance(body["max_tokens"], int) and 2 <= body["max_tokens"] <= 4096
    assert "DanceTok" in body["prompt"] and "CookTok" in body["prompt"]


def test_pegasus15_sends_the_asset_id(sb: Any, tmp_path: Path) -> None:
    bodies: List[Dict[str, Any]] = []
    video = sb.world["indexes"][0]["videos"][0]
    with _capturing_client(bodies) as http, _client(
        sb, tmp_path, http_client=http, pegasus_model="pegasus1.5"
    ) as client:
        result = client.classify.videos([video["_id"]], ["visual"], CLASSES)
    assert result.errors == []
    assert bodies[0]["video"] == {"type": "asset_id", "asset_id": video["asset_id"]}
    assert "video_id" not in bodies[0]
    assert bodies[0]["model_name"] == "pegasus1.5"
    assert 512 <= bodies[0]["max_tokens"] <= 98_304
    assert [c["model"] for c in _calls(sb)] == ["pegasus1.5"]


def test_pegasus15_without_asset_id_is_reported(sb: Any, tmp_path: Path) -> None:
    """A 1.5 model cannot take ``video_id``: a video record without asset id is a VideoFailure."""
    from classify_shim.adapters.pegasus._v13 import VideoRecord, build_analyze_body

    record = VideoRecord(video_id="v", index_id="i", duration=10.0, asset_id=None)
    with pytest.raises(Exception, match="asset_id"):
        build_analyze_body("pegasus1.5", record, "p", {"type": "json_schema"}, 0.0, 600)
    assert build_analyze_body("pegasus1.2", record, "p", {"type": "json_schema"}, 0.0, 600)["video_id"] == "v"


def test_a_video_deleted_after_caching_is_reported_then_unknown(sb: Any, tmp_path: Path) -> None:
    import copy

    vids = video_ids(sb)[:3]
    with _client(sb, tmp_path) as client:
        client.classify.videos(vids, ["visual"], CLASSES)  # map + metadata cached
        world = copy.deepcopy(sb.world)
        world["indexes"][0]["videos"] = [v for v in world["indexes"][0]["videos"] if v["_id"] != vids[0]]
        sb.set_world(world)
        sb.clear_requests()
        result = client.classify.videos(vids, ["visual", "conversation"], CLASSES)  # new prompt: asks again
        assert [(e.video_id, e.stage) for e in result.errors] == [(vids[0], "analyze")]
        assert "resource_not_exist" in result.errors[0].message
        sb.clear_requests()
        with pytest.raises(BadRequestError) as info:  # forgotten: now resolved afresh, and unknown
            client.classify.videos(vids, ["visual", "text_in_video"], CLASSES)
    assert info.value.body["code"] == "resource_not_exist"
    assert _calls(sb) == []


def test_every_answer_cached_sync_call_makes_no_request_and_reuses_one_loop(sb: Any, tmp_path: Path) -> None:
    vids = video_ids(sb)
    with _client(sb, tmp_path) as client:
        first = client.classify.videos(vids, ["visual", "conversation"], CLASSES)
        runner = client._backend._runner
        loop = runner.loop
        assert loop is not None and loop.is_running()
        sb.clear_requests()
        for _ in range(3):
            again = client.classify.videos(vids, ["visual", "conversation"], CLASSES)
            assert again.data == first.data
        assert sb.requests() == []  # placements, records and answers all from the cache
        assert runner.loop is loop  # one loop thread for the client's life, not one per call
        thread = runner._state.thread
    assert loop.is_closed() and thread is not None and not thread.is_alive()  # closed with the client
