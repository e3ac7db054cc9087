"""The gateway over real HTTP: v1.2 shapes (contract-checked against the official v1.2 spec),
v1.2 errors, deprecation and rate-limit headers, the seed's request, every recorded request body,
the real ``twelvelabs`` 0.3.2 client, and answers identical to a Python caller's."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Tuple

import httpx
import pytest

from sandbox.test_sandbox_contract import _response_schema, _validate
from seed import SEED_FILE, SEED_REFERENCE, load_examples
from shared_inputs import missing, shared_file

from .conftest import GatewayProcess, start_gateway

KEY = "tlk_gateway_caller_key_0001"
CLASSES: List[Dict[str, Any]] = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]
BASE: Dict[str, Any] = {"options": ["visual", "conversation"], "classes": CLASSES}
PREFIXES = ("/v1.2", "/p/v1.2")
RECORDED = shared_file("reference/v12-recorded")
SPEC_PATHS = {"classify": "/classify", "classify/bulk": "/classify/bulk"}


def post(gw: GatewayProcess, path: str, body: Any, key: str = KEY) -> httpx.Response:
    return httpx.post(gw.url + path, json=body, headers={"x-api-key": key}, timeout=60)


def get(gw: GatewayProcess, path: str, key: str = KEY) -> httpx.Response:
    return httpx.get(gw.url + path, headers={"x-api-key": key}, timeout=60)


def assert_deprecation_headers(r: httpx.Response) -> None:
    assert r.headers["deprecation"] == "@1740700800"  # RFC 9745: 2025-02-28T00:00:00Z
    assert r.headers["sunset"] == "Fri, 28 Feb 2025 00:00:00 GMT"  # RFC 8594 HTTP-date
    assert re.search(r'<[^>]+>; rel="deprecation"', r.headers["link"])
    assert re.search(r'<[^>]+>; rel="sunset"', r.headers["link"])


def assert_ratelimit_headers(r: httpx.Response) -> None:
    for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset"):
        assert r.headers[name].isdigit(), name
    assert int(r.headers["x-ratelimit-used"]) >= 1


def walk_pages(gw: GatewayProcess, prefix: str, first: Dict[str, Any]) -> List[Dict[str, Any]]:
    pages = [first]
    while pages[-1]["page_info"].get("next_page_token"):
        r = get(gw, f"{prefix}/classify/{pages[-1]['page_info']['next_page_token']}")
        assert r.status_code == 200, r.text
        assert_deprecation_headers(r)
        _validate(r.json(), _response_schema("/classify/{page_token}", "get", "200"))
        pages.append(r.json())
    return pages


# ---- shapes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("extras", [
    {},
    {"include_clips": True, "show_detailed_score": True, "page_limit": 2},
    {"threshold": {"min_video_score": 80, "min_duration_ratio": 0.5}, "conversation_option": "semantic"},
    {"threshold": 60, "page_limit": 1},  # the /bulk spec's integer threshold
])
def test_bulk_answers_are_v12_pages(gateway: GatewayProcess, world_index: str, prefix: str, extras: Dict[str, Any]) -> None:
    r = post(gateway, f"{prefix}/classify/bulk", dict(BASE, index_id=world_index, **extras))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert_deprecation_headers(r)
    assert_ratelimit_headers(r)
    assert r.headers["x-classify-shim-backend"] == "pegasus"
    body = r.json()
    _validate(body, _response_schema("/classify/bulk", "post", "200"))
    pages = walk_pages(gateway, prefix, body)
    videos = [v for p in pages for v in p["data"]]
    assert len(videos) == body["page_info"]["total_results"]
    assert len({v["video_id"] for v in videos}) == len(videos)
    limit = extras.get("page_limit", 10)
    assert all(len(p["data"]) <= limit for p in pages)
    clips_requested = bool(extras.get("include_clips"))
    for video in videos:
        for cls in video["classes"]:
            assert ("clips" in cls) is clips_requested
            assert ("detailed_scores" in cls) is bool(extras.get("show_detailed_score"))


def test_videos_endpoint_and_page_tokens_across_prefixes(gateway: GatewayProcess, world_videos: List[str]) -> None:
    r = post(gateway, "/v1.2/classify", dict(BASE, video_ids=world_videos, page_limit=1, include_clips=True))
    assert r.status_code == 200, r.text
    _validate(r.json(), _response_schema("/classify", "post", "200"))
    token = r.json()["page_info"]["next_page_token"]
    assert token
    a, b = get(gateway, f"/v1.2/classify/{token}"), get(gateway, f"/p/v1.2/classify/{token}")
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json()
    back = get(gateway, f"/v1.2/classify/{a.json()['page_info']['prev_page_token']}")
    assert back.status_code == 200 and back.json()["data"] == r.json()["data"]


def test_same_answer_as_a_python_caller(gateway: GatewayProcess, gateway_cache: Path, sandbox: Any, world_index: str) -> None:
    """The gateway serves the library's backend: a Python caller on the same store gets the same pages."""
    from classify_shim import TwelveLabs

    body = dict(BASE, index_id=world_index, include_clips=True, show_detailed_score=True, page_limit=3)
    over_http = post(gateway, "/v1.2/classify/bulk", body).json()
    client = TwelveLabs(api_key=KEY, base_url=sandbox.base_url, classify_backend="pegasus", cache=str(gateway_cache))
    with pytest.warns(Warning):
        result = client.classify.index(world_index, BASE["options"], CLASSES, include_clips=True,
                                       show_detailed_score=True, page_limit=3)
    python_side = json.loads(result.model_dump_json(exclude_none=True)) if hasattr(result, "model_dump_json") else None
    assert python_side is not None
    assert python_side["data"] == over_http["data"]
    for name in ("limit_per_page", "total_results"):
        assert python_side["page_info"][name] == over_http["page_info"][name]


# ---- the seed's request and the recorded request bodies ---------------------------------------


def _seed_index_body(index_id: str) -> Dict[str, Any]:
    """The keyword arguments of the seed's documented ``client.classify.index(...)`` call, as JSON."""
    if SEED_REFERENCE is None:
        pytest.skip(missing(SEED_FILE))
    code = load_examples()["index"].code
    tree = ast.parse(code)
    names: Dict[str, Any] = {}
    body: Dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                names[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "index":
            for kw in node.keywords:
                assert kw.arg is not None
                value = kw.value
                body[kw.arg] = names[value.id] if isinstance(value, ast.Name) else ast.literal_eval(value)
    assert body, "the seed's index example has no classify.index(...) call"
    body["index_id"] = index_id
    return body


def test_seed_request_body_to_bulk_returns_a_v12_page(gateway: GatewayProcess, world_index: str) -> None:
    body = _seed_index_body(world_index)
    assert body["page_limit"] == 1 and body["include_clips"] is True
    r = httpx.post(gateway.url + "/v1.2/classify/bulk", content=json.dumps(body),
                   headers={"x-api-key": KEY, "content-type": "application/json"}, timeout=60)
    assert r.status_code == 200, r.text
    page = r.json()
    _validate(page, _response_schema("/classify/bulk", "post", "200"))
    assert page["page_info"]["limit_per_page"] == 1 and len(page["data"]) == 1
    assert page["page_info"]["next_page_token"]


def _recorded() -> List[Tuple[str, str, Dict[str, Any]]]:
    if RECORDED is None:
        return []
    out = []
    for path in sorted(RECORDED.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if "request" in doc and "_endpoint" in doc:
            endpoint = doc["_endpoint"].split()[1]
            route = endpoint.split("api.twelvelabs.io", 1)[1]
            out.append((path.name, route, doc["request"]))
    return out


RECORDED_BODIES = _recorded()


@pytest.mark.skipif(not RECORDED_BODIES, reason=missing("reference/v12-recorded"))
@pytest.mark.parametrize(("name", "route", "body"), RECORDED_BODIES, ids=[n for n, _, _ in RECORDED_BODIES])
def test_every_recorded_request_body_is_accepted(gateway: GatewayProcess, world_index: str, name: str, route: str, body: Dict[str, Any]) -> None:
    sent = json.loads(json.dumps(body).replace('"<INDEX_ID>"', json.dumps(world_index)))
    r = post(gateway, route, sent)
    assert r.status_code == 200, f"{name}: {r.status_code} {r.text}"
    _validate(r.json(), _response_schema(route.split("/v1.2", 1)[1] or "/classify", "post", "200"))


def test_recorded_bodies_cover_both_prefixes_and_threshold_objects() -> None:
    if not RECORDED_BODIES:
        pytest.skip(missing("reference/v12-recorded"))
    assert len(RECORDED_BODIES) >= 8
    assert all(route.startswith("/p/v1.2/") for _, route, _ in RECORDED_BODIES)
    assert any(isinstance(b.get("threshold"), dict) for _, _, b in RECORDED_BODIES)


# ---- the real twelvelabs 0.3.2 client ---------------------------------------------------------


def test_real_sdk_032_client_pointed_at_the_gateway(gateway: GatewayProcess, world_index: str, world_videos: List[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import twelvelabs  # the dev extra pins 0.3.2

    monkeypatch.setenv("TWELVELABS_BASE_URL", gateway.url)
    client = twelvelabs.TwelveLabs(api_key=KEY)
    result = client.classify.index(index_id=world_index, options=["visual", "conversation"], classes=CLASSES,
                                   include_clips=True, show_detailed_score=True, page_limit=1)
    seen = [v.video_id for v in result.data]
    for page in result:  # 0.3.2 pages with next(result): GET /v1.2/classify/{token}
        seen.extend(v.video_id for v in page)
    assert len(seen) == result.page_info.total_results and len(set(seen)) == len(seen)
    first = client.classify.videos(video_ids=world_videos, options=["visual"], classes=CLASSES, page_limit=2)
    token = first.page_info.next_page_token
    assert token
    again = client.classify.by_page_token(token)
    assert again.page_info.prev_page_token
    with pytest.raises(twelvelabs.BadRequestError) as info:  # the v1.2 error body, parsed by the real SDK
        client.classify.videos(video_ids=world_videos, options=["logo"], classes=CLASSES)
    assert "parameter_invalid" in str(info.value)
    with pytest.raises(twelvelabs.AuthenticationError):
        twelvelabs.TwelveLabs(api_key="").classify.videos(video_ids=world_videos, options=["visual"], classes=CLASSES)


# ---- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body", "status", "code", "field"), [
    ("/v1.2/classify", {"options": ["visual"], "classes": CLASSES}, 400, "parameter_not_provided", "video_ids"),
    ("/v1.2/classify", {"video_ids": ["v1"], "options": ["logo"], "classes": CLASSES}, 400, "parameter_invalid", "options[0]"),
    ("/v1.2/classify/bulk", {"index_id": "i", "options": ["visual"], "classes": CLASSES, "page_limit": 51}, 400, "parameter_invalid", "page_limit"),
    ("/v1.2/classify/bulk", {"index_id": "i", "options": ["visual"], "classes": [{"name": "x", "prompts": ["p"] * 101}]}, 400, "parameter_invalid", "classes"),
    ("/v1.2/classify/bulk", {"index_id": "i", "options": ["visual"], "classes": CLASSES, "threshold": {"min_video_score": 0}}, 400, "parameter_invalid", "threshold.min_video_score"),
    ("/p/v1.2/classify/bulk", [1, 2], 400, "parameter_invalid", "body"),
])
def test_bad_requests_get_v12_errors(gateway: GatewayProcess, sandbox: Any, path: str, body: Any, status: int, code: str, field: str) -> None:
    before = len(sandbox.requests())
    r = post(gateway, path, body)
    assert r.status_code == status
    assert r.json()["code"] == code and r.json()["message"].startswith(field)
    assert set(r.json()) <= {"code", "message", "docs_url"}
    _validate(r.json(), _response_schema("/classify" if path.endswith("/classify") else "/classify/bulk", "post", "400"))
    assert_deprecation_headers(r)
    after = len(sandbox.requests())
    assert after == before, "a rejected request reached the upstream"


def test_auth_json_routes_and_methods(gateway: GatewayProcess) -> None:
    r = httpx.post(gateway.url + "/v1.2/classify", json=BASE, timeout=10)
    assert r.status_code == 401 and r.json()["code"] == "api_key_invalid"
    assert_deprecation_headers(r)
    r = httpx.post(gateway.url + "/v1.2/classify", content=b"{not json", headers={"x-api-key": KEY}, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == "parameter_invalid"
    r = get(gateway, "/v1.2/classify")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
    r = get(gateway, "/v1.2/classify/bulk")
    assert r.status_code == 405
    r = get(gateway, "/v1.2/nothing")
    assert r.status_code == 404 and set(r.json()) == {"code", "message"}
    r = get(gateway, "/v1.2/classify/not-a-token")
    assert r.status_code == 400 and r.json()["code"] == "parameter_invalid"
    health = httpx.get(gateway.url + "/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok" and "deprecation" not in health.headers
    note = httpx.get(gateway.url + "/_gateway/migration", timeout=10)
    assert note.status_code == 200 and "v1.3" in note.text and "baseUrl" in note.text


def test_page_tokens_are_bound_to_the_callers_key(gateway: GatewayProcess, world_index: str) -> None:
    first = post(gateway, "/v1.2/classify/bulk", dict(BASE, index_id=world_index, page_limit=1)).json()
    token = first["page_info"]["next_page_token"]
    r = get(gateway, f"/v1.2/classify/{token}", key="tlk_someone_else")
    assert r.status_code == 400 and r.json()["code"] == "parameter_invalid"
    assert get(gateway, f"/v1.2/classify/{token}").status_code == 200


def test_legacy_backend_gateway_relays_the_v12_endpoint(legacy_gateway: GatewayProcess, world_index: str) -> None:
    r = post(legacy_gateway, "/v1.2/classify/bulk", dict(BASE, index_id=world_index, page_limit=2, include_clips=True))
    assert r.status_code == 200, r.text
    assert r.headers["x-classify-shim-backend"] == "legacy"
    _validate(r.json(), _response_schema("/classify/bulk", "post", "200"))
    pages = walk_pages(legacy_gateway, "/v1.2", r.json())
    assert sum(len(p["data"]) for p in pages) == r.json()["page_info"]["total_results"]


# ---- rate limit, caller log, key hygiene ------------------------------------------------------


def test_rate_limit_headers_429_and_one_log_line_per_caller(sandbox: Any, world_index: str, tmp_path: Path) -> None:
    gw = start_gateway(sandbox.base_url, "--backend", "pegasus", "--rate-limit", "2",
                       TWELVELABS_CLASSIFY_CACHE=str(tmp_path / "s.sqlite3"))
    secret_a, secret_b = "tlk_SECRET_alpha_9f8e7d", "tlk_SECRET_bravo_1a2b3c"
    try:
        body = dict(BASE, index_id=world_index, page_limit=1)
        answers = [post(gw, "/v1.2/classify/bulk", body, key=secret_a) for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 429]
        assert [r.headers["x-ratelimit-remaining"] for r in answers] == ["1", "0", "0"]
        assert all(r.headers["x-ratelimit-limit"] == "2" for r in answers)
        assert answers[2].json()["code"] == "too_many_requests" and int(answers[2].headers["retry-after"]) > 0
        assert_deprecation_headers(answers[2])
        token = answers[0].json()["page_info"]["next_page_token"]
        assert get(gw, f"/v1.2/classify/{token}", key=secret_a).status_code == 200  # page fetches are not counted
        assert post(gw, "/v1.2/classify/bulk", body, key=secret_b).status_code == 200  # per caller
    finally:
        gw.close()
    log = gw.stderr_text()
    caller_lines = [line for line in log.splitlines() if "uses the retired Classify v1.2 API" in line]
    assert len(caller_lines) == 2, log
    assert "SECRET" not in log and secret_a not in log and secret_b not in log
    assert token not in log  # page tokens are not logged either


def test_port_zero_prints_the_url_first_and_health_answers(gateway: GatewayProcess) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", gateway.first_line)
    assert httpx.get(gateway.url + "/health", timeout=10).json()["backend"] == "pegasus"
