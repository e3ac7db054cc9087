"""Contract test: the sandbox's v1.2 answers validate against the official v1.2 OpenAPI spec.

The spec's response schemas are loose (no ``required``, open objects), so the
test tightens them: every object that declares ``properties`` gets
``additionalProperties: false`` (the sandbox must not invent fields) and
``page_info`` gets the fields SDK 0.3.2 requires.  Requests are validated too.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Dict, Iterator, List, Tuple

import httpx
import jsonschema
import pytest
import yaml

from classify_shim.sandbox import Sandbox, default_world
from shared_inputs import require

SPEC: Dict[str, Any] = yaml.safe_load(
    require("specs/twelvelabs-v1.2-openapi.yaml", module=True).read_text(encoding="utf-8")
)


def _deref(node: Any, seen: Tuple[str, ...] = ()) -> Any:
    """Inline every local ``$ref`` of the spec (the classify schemas are not recursive)."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/") and ref not in seen, ref
            target: Any = SPEC
            for part in ref[2:].split("/"):
                target = target[part]
            return _deref(target, (*seen, ref))
        return {k: _deref(v, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_deref(v, seen) for v in node]
    return node


def _tighten(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _tighten(v) for k, v in schema.items() if k not in ("example", "examples")}
        if isinstance(out.get("properties"), dict):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [_tighten(v) for v in schema]
    return schema


def _response_schema(path: str, method: str, status: str) -> Dict[str, Any]:
    resp = _deref(SPEC["paths"][path][method]["responses"][status])
    schema = _tighten(resp["content"]["application/json"]["schema"])
    if status == "200":
        page_info = schema["properties"]["page_info"]
        page_info["required"] = ["limit_per_page", "total_results", "page_expired_at"]
        schema["required"] = ["data", "page_info"]
    else:
        schema["required"] = ["code", "message"]
    return schema  # type: ignore[no-any-return]


def _request_schema(path: str) -> Dict[str, Any]:
    body = _deref(SPEC["paths"][path]["post"]["requestBody"])
    return body["content"]["application/json"]["schema"]  # type: ignore[no-any-return]


def _validate(instance: Any, schema: Dict[str, Any]) -> None:
    jsonschema.Draft7Validator(schema).validate(instance)


WORLD = default_world()
CLASSES: List[Dict[str, Any]] = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]
BASE = {"options": ["visual", "conversation"], "conversation_option": "semantic", "classes": CLASSES}


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with Sandbox() as sb, httpx.Client(base_url=sb.base_url, headers={"x-api-key": "k"}) as c:
        yield c


@pytest.mark.parametrize("extras", [
    {},
    {"include_clips": True},
    {"show_detailed_score": True},
    {"include_clips": True, "show_detailed_score": True, "page_limit": 2,
     "threshold": {"min_video_score": 80, "min_clip_score": 50, "min_duration_ratio": 0.6}},
])
def test_classify_responses_match_spec(client: httpx.Client, extras: Dict[str, Any]) -> None:
    body = dict(BASE, video_ids=[v["_id"] for v in WORLD["indexes"][0]["videos"]], **extras)
    _validate(body, _request_schema("/classify"))
    r = client.post("/v1.2/classify", json=body)
    assert r.status_code == 200
    _validate(r.json(), _response_schema("/classify", "post", "200"))
    token = r.json()["page_info"]["next_page_token"]
    if token:
        page = client.get(f"/v1.2/classify/{token}")
        assert page.status_code == 200
        _validate(page.json(), _response_schema("/classify/{page_token}", "get", "200"))


@pytest.mark.parametrize("extras", [
    {},
    {"include_clips": True, "show_detailed_score": True, "page_limit": 1},
    {"threshold": 80},
])
def test_bulk_responses_match_spec(client: httpx.Client, extras: Dict[str, Any]) -> None:
    body = dict(BASE, index_id=WORLD["indexes"][0]["_id"], **extras)
    _validate(body, _request_schema("/classify/bulk"))
    # Quirk: the spec types /bulk `threshold` as an integer (a v1.1.1 leftover), yet real clients sent
    # the object form and the server accepted it. The sandbox accepts both; only the integer form is
    # valid against the spec, so the object form is exercised without request validation.
    obj = dict(body, threshold={"min_video_score": 80, "min_duration_ratio": 0.5})
    with pytest.raises(jsonschema.ValidationError):
        _validate(obj, _request_schema("/classify/bulk"))
    for sent in (body, obj):
        r = client.post("/v1.2/classify/bulk", json=sent)
        assert r.status_code == 200
        _validate(r.json(), _response_schema("/classify/bulk", "post", "200"))
        token = r.json()["page_info"]["next_page_token"]
        if token:
            page = client.get(f"/v1.2/classify/{token}")
            _validate(page.json(), _response_schema("/classify/{page_token}", "get", "200"))


def test_error_bodies_match_spec(client: httpx.Client) -> None:
    bad = copy.deepcopy(dict(BASE, video_ids=["ffffffffffffffffffffffff"]))
    r = client.post("/v1.2/classify", json=bad)
    assert r.status_code == 400
    _validate(r.json(), _response_schema("/classify", "post", "400"))
    r = client.post("/v1.2/classify/bulk", json=dict(BASE, index_id=WORLD["indexes"][0]["_id"], page_limit=99))
    assert r.status_code == 400
    _validate(r.json(), _response_schema("/classify/bulk", "post", "400"))
    r = client.get("/v1.2/classify/garbage-token")
    assert r.status_code == 400
    _validate(r.json(), _response_schema("/classify/{page_token}", "get", "400"))


def test_tightened_schema_catches_invented_fields() -> None:
    """The contract check itself must be able to fail."""
    schema = _response_schema("/classify", "post", "200")
    good = {"data": [], "page_info": {"limit_per_page": 10, "total_results": 0, "page_expired_at": "x"}}
    _validate(good, schema)
    with pytest.raises(jsonschema.ValidationError):
        _validate(dict(good, extra=1), schema)
    with pytest.raises(jsonschema.ValidationError):
        _validate({"data": [{"video_id": "v", "classes": [{"name": "a", "score": "high"}]}],
                   "page_info": good["page_info"]}, schema)


class _Recording(httpx.HTTPTransport):
    """Forwards to the sandbox and keeps every request our client sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: List[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.sent.append(request)
        return super().handle_request(request)


@pytest.mark.filterwarnings("ignore::classify_shim.ClassifyDeprecationWarning")
def test_our_client_requests_match_spec() -> None:
    """What the shim's legacy backend puts on the wire is a valid v1.2 request, and the answers
    it gets back validate too (the same calls a user makes, through the public client)."""
    from classify_shim import TwelveLabs
    from classify_shim.models import ClassifyClassParams

    transport = _Recording()
    with Sandbox() as sb, httpx.Client(transport=transport) as http:
        client = TwelveLabs("k", classify_backend="legacy", base_url=sb.base_url, http_client=http)
        ids = [v["_id"] for v in WORLD["indexes"][0]["videos"]]
        classes = [ClassifyClassParams("DanceTok", ["Dance tutorial"], options=["visual"]), CLASSES[1]]
        result = client.classify.videos(
            ids, ["visual", "conversation"], classes, include_clips=True, show_detailed_score=True,
            page_limit=2, threshold={"min_video_score": 80, "min_clip_score": 40, "min_duration_ratio": 0.5},
        )
        for _ in result:
            pass
        # /bulk with the integer threshold the spec documents for it (the object form is the quirk above).
        client.classify.index(WORLD["indexes"][0]["_id"], ["visual"], CLASSES, threshold=80, page_limit=50)
    kinds = [(r.method, r.url.path) for r in transport.sent]
    assert kinds[0] == ("POST", "/v1.2/classify") and ("POST", "/v1.2/classify/bulk") in kinds
    assert any(m == "GET" and p.startswith("/v1.2/classify/") for m, p in kinds), kinds
    for request in transport.sent:
        if request.method == "POST":
            path = "/classify" if request.url.path.endswith("/classify") else "/classify/bulk"
            _validate(json.loads(request.content), _request_schema(path))
        else:
            assert not request.content and "content-type" not in request.headers
