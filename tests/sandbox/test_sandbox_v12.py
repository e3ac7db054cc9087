"""The sandbox's v1.2 Classify emulation, driven over HTTP on loopback."""

from __future__ import annotations

import copy
import time
from typing import Any, Dict, Iterator, List

import httpx
import pytest

from classify_shim.sandbox import Sandbox, default_world

CLASSES: List[Dict[str, Any]] = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]
KEY = {"x-api-key": "tlk_sandbox_test_key"}
WORLD = default_world()
INDEX1 = WORLD["indexes"][0]
INDEX2 = WORLD["indexes"][1]
VIDEOS1 = [v["_id"] for v in INDEX1["videos"]]
BY_NAME = {v["filename"]: v for idx in WORLD["indexes"] for v in idx["videos"]}


def vid(filename: str) -> str:
    return str(BY_NAME[filename]["_id"])


@pytest.fixture()
def sb() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture()
def client(sb: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sb.base_url, headers=KEY) as c:
        yield c


def body(**kw: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {"options": ["visual", "conversation"], "classes": copy.deepcopy(CLASSES)}
    out.update(kw)
    if "index_id" not in out and "video_ids" not in out:
        out["video_ids"] = list(VIDEOS1)
    return out


def classes_of(payload: Dict[str, Any]) -> Dict[str, List[str]]:
    return {d["video_id"]: [c["name"] for c in d["classes"]] for d in payload["data"]}


# --------------------------------------------------------------------------- happy paths

def test_classify_videos_returns_expected_classes(client: httpx.Client) -> None:
    r = client.post("/v1.2/classify", json=body(page_limit=50))
    assert r.status_code == 200
    got = classes_of(r.json())
    assert got == {
        vid("hiphop_basics_tutorial.mp4"): ["DanceTok"],
        vid("street_crew_routine.mp4"): ["DanceTok"],
        vid("ballroom_finals.mp4"): ["DanceTok"],
        vid("pasta_from_scratch.mp4"): ["CookTok"],
        vid("knife_and_spatula_review.mp4"): ["CookTok"],
        vid("kitchen_dance_party.mp4"): ["DanceTok", "CookTok"],
    }
    for item in r.json()["data"]:
        for cls in item["classes"]:
            assert "clips" not in cls and "detailed_scores" not in cls
            assert 75 <= cls["score"] <= 100
            assert 0.5 <= cls["duration_ratio"] <= 1


def test_bulk_classifies_whole_index(client: httpx.Client) -> None:
    r = client.post("/v1.2/classify/bulk", json=body(index_id=INDEX2["_id"]))
    assert r.status_code == 200
    assert classes_of(r.json()) == {
        vid("salsa_social_night.mp4"): ["DanceTok"],
        vid("brisket_smoking_guide.mp4"): ["CookTok"],
    }


def test_playground_prefix_is_accepted(client: httpx.Client) -> None:
    r = client.post("/p/v1.2/classify/bulk", json=body(index_id=INDEX2["_id"]))
    assert r.status_code == 200
    assert len(r.json()["data"]) == 2


def test_distractors_never_pass_with_default_thresholds(client: httpx.Client) -> None:
    r = client.post("/v1.2/classify", json=body(options=["visual", "conversation", "text_in_video"], page_limit=50))
    returned = set(classes_of(r.json()))
    for name in ("derby_highlights.mp4", "evening_news.mp4", "tokyo_day_one.mp4", "marathon_training_week.mp4"):
        assert vid(name) not in returned


def test_clips_and_detailed_scores_only_when_requested(client: httpx.Client, sb: Sandbox) -> None:
    r = client.post("/v1.2/classify", json=body(include_clips=True, show_detailed_score=True, page_limit=50))
    data = r.json()["data"]
    assert data
    for item in data:
        total = 0.0
        for cls in item["classes"]:
            clips = cls["clips"]
            assert clips, "a passing class has at least one clip"
            scores = [c["score"] for c in clips]
            assert scores == sorted(scores, reverse=True)
            for c in clips:
                assert set(c) == {"start", "end", "score", "option", "prompt", "thumbnail_url"}
                assert c["option"] in ("visual", "conversation")
                assert c["prompt"] in CLASSES[0]["prompts"] + CLASSES[1]["prompts"]
                assert 0 <= c["start"] < c["end"]
                assert c["thumbnail_url"].startswith(f"{sb.base_url}/_sandbox/thumbnails/{item['video_id']}/")
                assert c["thumbnail_url"].endswith(".jpeg")
            ds = cls["detailed_scores"]
            assert set(ds) == {"max_score", "avg_score", "normalized_score"}
            assert ds["max_score"] == max(scores)
            assert ds["avg_score"] <= ds["max_score"]
            total += ds["normalized_score"]
        assert total == pytest.approx(100.0)
    two = next(d for d in data if len(d["classes"]) == 2)
    norm = [c["detailed_scores"]["normalized_score"] for c in two["classes"]]
    assert norm[0] >= norm[1] and norm[1] > 0


def test_thumbnail_is_served(client: httpx.Client) -> None:
    r = client.post("/v1.2/classify", json=body(include_clips=True, video_ids=[vid("ballroom_finals.mp4")]))
    url = r.json()["data"][0]["classes"][0]["clips"][0]["thumbnail_url"]
    img = httpx.get(url)
    assert img.status_code == 200
    assert img.headers["content-type"] == "image/jpeg"
    assert img.content[:2] == b"\xff\xd8" and img.content[-2:] == b"\xff\xd9"


def test_ordering_is_by_score_desc(client: httpx.Client) -> None:
    r = client.post("/v1.2/classify", json=body(page_limit=50, threshold={"min_video_score": 1,
                                                                          "min_duration_ratio": 0.01}))
    data = r.json()["data"]
    tops = [d["classes"][0]["score"] for d in data]
    assert tops == sorted(tops, reverse=True)
    for d in data:
        scores = [c["score"] for c in d["classes"]]
        assert scores == sorted(scores, reverse=True)


def test_thresholds_filter_classes_and_clips(client: httpx.Client) -> None:
    loose = client.post("/v1.2/classify", json=body(page_limit=50, threshold={"min_video_score": 1,
                                                                              "min_duration_ratio": 0.01}))
    loose_map = classes_of(loose.json())
    # the soccer video's short group dance passes only once min_duration_ratio is tiny
    assert loose_map[vid("derby_highlights.mp4")] == ["DanceTok"]
    strict = client.post("/v1.2/classify", json=body(page_limit=50, threshold={"min_video_score": 99}))
    assert strict.json()["data"] == []
    ratio = client.post("/v1.2/classify", json=body(page_limit=50, threshold={"min_duration_ratio": 0.9}))
    for d in ratio.json()["data"]:
        assert all(c["duration_ratio"] >= 0.9 for c in d["classes"])
    assert len(ratio.json()["data"]) < len(loose.json()["data"])
    clips = client.post("/v1.2/classify", json=body(include_clips=True, threshold={"min_clip_score": 95}))
    listed = [c for d in clips.json()["data"] for k in d["classes"] for c in k["clips"]]
    assert listed and all(c["score"] >= 95 for c in listed)
    everything = client.post("/v1.2/classify", json=body(include_clips=True, threshold={"min_clip_score": 1}))
    all_clips = [c for d in everything.json()["data"] for k in d["classes"] for c in k["clips"]]
    assert len(all_clips) > len(listed)


def test_integer_threshold_means_min_video_score(client: httpx.Client) -> None:
    r = client.post("/v1.2/classify/bulk", json=body(index_id=INDEX1["_id"], threshold=99))
    assert r.status_code == 200 and r.json()["data"] == []
    r = client.post("/v1.2/classify/bulk", json=body(index_id=INDEX1["_id"], threshold=80))
    assert len(r.json()["data"]) == 6


def test_exact_match_vs_semantic_conversation(client: httpx.Client) -> None:
    crew = vid("street_crew_routine.mp4")
    sem = client.post("/v1.2/classify", json=body(video_ids=[crew], options=["conversation"]))
    assert classes_of(sem.json()) == {crew: ["DanceTok"]}
    exact = client.post("/v1.2/classify", json=body(video_ids=[crew], options=["conversation"],
                                                    conversation_option="exact_match"))
    assert exact.json()["data"] == []  # "dancing as a group" is not the phrase "dance group"
    hiphop = vid("hiphop_basics_tutorial.mp4")
    exact2 = client.post("/v1.2/classify", json=body(video_ids=[hiphop], options=["conversation"],
                                                     conversation_option="exact_match", include_clips=True))
    clips = exact2.json()["data"][0]["classes"][0]["clips"]
    assert {c["prompt"] for c in clips} == {"Dance tutorial"}


def test_per_class_overrides_and_nested_nulls(client: httpx.Client) -> None:
    ballroom = vid("ballroom_finals.mp4")
    classes = copy.deepcopy(CLASSES)
    classes[0]["options"] = ["text_in_video"]
    classes[1]["options"] = None
    classes[1]["conversation_option"] = None
    r = client.post("/v1.2/classify", json=body(video_ids=[ballroom], options=["conversation"], classes=classes,
                                                include_clips=True))
    assert r.status_code == 200
    dance = r.json()["data"][0]["classes"][0]
    assert {c["option"] for c in dance["clips"]} == {"text_in_video"}
    crew = vid("street_crew_routine.mp4")
    classes = copy.deepcopy(CLASSES)
    classes[0]["conversation_option"] = "exact_match"
    r = client.post("/v1.2/classify", json=body(video_ids=[crew], options=["conversation"], classes=classes))
    assert r.json()["data"] == []


def test_response_headers_on_success(client: httpx.Client) -> None:
    r = client.post("/v1.2/classify", json=body())
    for h in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset"):
        assert h in r.headers
    assert int(r.headers["x-ratelimit-reset"]) > time.time() - 5
    r2 = client.post("/v1.2/classify", json=body())
    assert int(r2.headers["x-ratelimit-used"]) == int(r.headers["x-ratelimit-used"]) + 1


# --------------------------------------------------------------------------- validation

@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda b: b.pop("video_ids"), "parameter_not_provided"),
        (lambda b: b.pop("options"), "parameter_not_provided"),
        (lambda b: b.pop("classes"), "parameter_not_provided"),
        (lambda b: b.update(video_ids=[]), "parameter_invalid"),
        (lambda b: b.update(video_ids="abc"), "parameter_invalid"),
        (lambda b: b.update(options=[]), "parameter_invalid"),
        (lambda b: b.update(options=["logo"]), "parameter_invalid"),
        (lambda b: b.update(classes=[]), "parameter_invalid"),
        (lambda b: b.update(classes=[{"name": "X"}]), "parameter_not_provided"),
        (lambda b: b.update(classes=[{"prompts": ["a"]}]), "parameter_not_provided"),
        (lambda b: b.update(classes=[{"name": "X", "prompts": []}]), "parameter_invalid"),
        (lambda b: b.update(classes=[{"name": "X", "prompts": ["a"], "options": []}]), "parameter_invalid"),
        (lambda b: b.update(classes=[{"name": "X", "prompts": ["a"], "conversation_option": "fuzzy"}]),
         "parameter_invalid"),
        (lambda b: b.update(classes=[{"name": f"c{i}", "prompts": ["p"] * 11} for i in range(10)]),
         "parameter_invalid"),
        (lambda b: b.update(conversation_option="fuzzy"), "parameter_invalid"),
        (lambda b: b.update(page_limit=0), "parameter_invalid"),
        (lambda b: b.update(page_limit=51), "parameter_invalid"),
        (lambda b: b.update(page_limit="10"), "parameter_invalid"),
        (lambda b: b.update(threshold={"min_video_score": 0}), "parameter_invalid"),
        (lambda b: b.update(threshold={"min_video_score": 101}), "parameter_invalid"),
        (lambda b: b.update(threshold={"min_clip_score": 0.5}), "parameter_invalid"),
        (lambda b: b.update(threshold={"min_duration_ratio": 0.001}), "parameter_invalid"),
        (lambda b: b.update(threshold={"min_duration_ratio": 1.5}), "parameter_invalid"),
        (lambda b: b.update(threshold="high"), "parameter_invalid"),
        (lambda b: b.update(include_clips="yes"), "parameter_invalid"),
        (lambda b: b.update(video_ids=["0" * 24]), "resource_not_exist"),
    ],
)
def test_validation_errors(client: httpx.Client, mutate: Any, code: str) -> None:
    b = body()
    mutate(b)
    r = client.post("/v1.2/classify", json=b)
    assert r.status_code == 400
    err = r.json()
    assert err["code"] == code
    assert isinstance(err["message"], str) and err["message"]


def test_exactly_100_prompts_is_allowed(client: httpx.Client) -> None:
    classes = [{"name": f"c{i}", "prompts": ["Dance group"] * 10} for i in range(10)]
    assert client.post("/v1.2/classify", json=body(classes=classes)).status_code == 200


def test_unknown_ids_name_the_resource(client: httpx.Client) -> None:
    r = client.post("/v1.2/classify", json=body(video_ids=[VIDEOS1[0], "ffffffffffffffffffffffff"]))
    assert r.json() == {"code": "resource_not_exist",
                        "message": "Resource with id ffffffffffffffffffffffff does not exist in videos."}
    r = client.post("/v1.2/classify/bulk", json=body(index_id="eeeeeeeeeeeeeeeeeeeeeeee"))
    assert r.status_code == 400 and r.json()["code"] == "resource_not_exist"
    r = client.post("/v1.2/classify/bulk", json={"options": ["visual"], "classes": CLASSES})
    assert r.json()["code"] == "parameter_not_provided"


def test_total_duration_limit(client: httpx.Client, sb: Sandbox) -> None:
    world = copy.deepcopy(WORLD)
    world["indexes"][0]["videos"][0]["duration"] = 36000.0
    sb.set_world(world)
    r = client.post("/v1.2/classify", json=body(video_ids=VIDEOS1[:2]))
    assert r.status_code == 400
    assert r.json()["code"] == "parameter_invalid"
    assert "total duration" in r.json()["message"]
    # /bulk has no such limit
    assert client.post("/v1.2/classify/bulk", json=body(index_id=INDEX1["_id"])).status_code == 200


def test_malformed_json(client: httpx.Client) -> None:
    r = client.post("/v1.2/classify", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "parameter_invalid"


def test_api_key_required(sb: Sandbox) -> None:
    with httpx.Client(base_url=sb.base_url) as c:
        r = c.post("/v1.2/classify", json=body())
        assert r.status_code == 401 and r.json()["code"] == "api_key_invalid"
        r = c.get("/v1.2/classify/whatever", headers={"x-api-key": ""})
        assert r.status_code == 401


# --------------------------------------------------------------------------- pagination

def test_pagination_walks_all_pages(client: httpx.Client) -> None:
    first = client.post("/v1.2/classify/bulk", json=body(index_id=INDEX1["_id"], page_limit=4)).json()
    info = first["page_info"]
    assert info["limit_per_page"] == 4 and info["total_results"] == 6
    assert info["prev_page_token"] == ""
    assert len(first["data"]) == 4
    token = info["next_page_token"]
    prefix, _, idx = token.rpartition("-")
    assert idx == "1" and len(prefix) == 36
    assert len(info["page_expired_at"]) == 20 and info["page_expired_at"].endswith("Z")
    second = client.get(f"/v1.2/classify/{token}")  # GET without Content-Type
    assert second.status_code == 200
    page2 = second.json()
    assert len(page2["data"]) == 2
    assert page2["page_info"]["next_page_token"] == ""
    assert page2["page_info"]["prev_page_token"] == f"{prefix}-0"
    back = client.get(f"/v1.2/classify/{prefix}-0").json()
    assert back["data"] == first["data"]
    seen = [d["video_id"] for d in first["data"] + page2["data"]]
    assert len(set(seen)) == 6


def test_single_page_has_empty_tokens(client: httpx.Client) -> None:
    info = client.post("/v1.2/classify", json=body()).json()["page_info"]
    assert info["next_page_token"] == "" and info["prev_page_token"] == ""


def test_bad_and_expired_tokens() -> None:
    with Sandbox(token_ttl_s=0.2) as sb, httpx.Client(base_url=sb.base_url, headers=KEY) as c:
        first = c.post("/v1.2/classify/bulk", json=body(index_id=INDEX1["_id"], page_limit=1)).json()
        token = first["page_info"]["next_page_token"]
        assert c.get(f"/v1.2/classify/{token}").status_code == 200
        r = c.get("/v1.2/classify/not-a-token")
        assert r.status_code == 400 and r.json()["code"] == "parameter_invalid"
        prefix = token.rpartition("-")[0]
        r = c.get(f"/v1.2/classify/{prefix}-99")
        assert r.status_code == 400 and r.json()["code"] == "parameter_invalid"
        time.sleep(0.3)
        r = c.get(f"/v1.2/classify/{token}")
        assert r.status_code == 400 and r.json()["code"] == "page_token_expired"


# --------------------------------------------------------------------------- rate limits and retirement

def test_rate_limit_429_has_empty_body_and_headers() -> None:
    with Sandbox(rate_limit_rpm=2) as sb, httpx.Client(base_url=sb.base_url, headers=KEY) as c:
        ok1 = c.post("/v1.2/classify", json=body())
        ok2 = c.post("/v1.2/classify", json=body())
        assert ok1.headers["x-ratelimit-limit"] == "2"
        assert ok1.headers["x-ratelimit-remaining"] == "1" and ok2.headers["x-ratelimit-remaining"] == "0"
        limited = c.post("/v1.2/classify/bulk", json=body(index_id=INDEX1["_id"]))
        assert limited.status_code == 429
        assert limited.content == b""
        assert limited.headers["x-ratelimit-remaining"] == "0"
        assert int(limited.headers["x-ratelimit-reset"]) >= int(time.time())
        # limits are per API key
        other = c.post("/v1.2/classify", json=body(), headers={"x-api-key": "another-key"})
        assert other.status_code == 200
        # v1.3 analyze has its own budget
        a = c.post("/v1.3/analyze", json={"video_id": VIDEOS1[0], "prompt": "Summarize", "stream": False})
        assert a.status_code == 200
        sb.reset_rate_limits()
        assert c.post("/v1.2/classify", json=body()).status_code == 200


def test_retired_mode_answers_410() -> None:
    with Sandbox(legacy="retired") as sb, httpx.Client(base_url=sb.base_url, headers=KEY) as c:
        for r in (c.post("/v1.2/classify", json=body()),
                  c.post("/v1.2/classify/bulk", json=body(index_id=INDEX1["_id"])),
                  c.get("/v1.2/classify/abc-0"),
                  c.post("/p/v1.2/classify", json=body())):
            assert r.status_code == 410
            err = r.json()
            assert err["code"] == "endpoint_deprecated"
            assert "2025-02-28" in err["message"] and "/v1.3/analyze" in err["message"]
        # v1.3 keeps working
        assert c.get("/v1.3/indexes").status_code == 200
        sb.legacy = "live"
        assert c.post("/v1.2/classify", json=body()).status_code == 200


def test_legacy_sdk_drives_the_sandbox(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    import twelvelabs  # the dev extra pins 0.3.2, which has classify

    monkeypatch.setenv("TWELVELABS_BASE_URL", sb.base_url)
    client = twelvelabs.TwelveLabs(api_key="tlk_legacy_key")
    res = client.classify.index(index_id=INDEX1["_id"], options=["visual", "conversation"], classes=CLASSES,
                                include_clips=True, show_detailed_score=True, page_limit=1)
    ids = [res.data[0].video_id] + [page[0].video_id for page in res]
    assert len(ids) == 6 and len(set(ids)) == 6
    assert res.data[0].classes[0].clips
