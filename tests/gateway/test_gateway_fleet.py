"""Two gateway processes on one real Redis store: each serves the other's page tokens, and the
second pays no model call for a request the first already answered."""

from __future__ import annotations

from typing import Any, Dict, List

import httpx

from .conftest import start_gateway

KEY = "tlk_fleet_caller"
BODY: Dict[str, Any] = {
    "options": ["visual", "conversation"],
    "classes": [{"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group"]},
                {"name": "CookTok", "prompts": ["Cooking tutorial"]}],
    "page_limit": 1,
    "include_clips": True,
}


def analyze_calls(sb: Any) -> int:
    """/analyze calls that started during this test (``sb`` hides earlier tests' late entries),
    counted once the sandbox has finished every request it was handling."""
    return sum(1 for e in sb.wait_idle() if e.get("endpoint") == "v1.3.analyze")


def test_two_gateways_on_one_redis_serve_each_others_tokens(sb: Any, redis_prefix_url: str, world_index: str) -> None:
    sandbox = sb
    a = start_gateway(sandbox.base_url, "--backend", "pegasus", TWELVELABS_CLASSIFY_CACHE=redis_prefix_url)
    b = start_gateway(sandbox.base_url, "--backend", "pegasus", TWELVELABS_CLASSIFY_CACHE=redis_prefix_url)
    headers = {"x-api-key": KEY}
    try:
        first = httpx.post(a.url + "/v1.2/classify/bulk", json=dict(BODY, index_id=world_index), headers=headers, timeout=120)
        assert first.status_code == 200, first.text
        paid = analyze_calls(sandbox)
        assert paid > 0
        pages_a: List[Dict[str, Any]] = [first.json()]
        pages_b: List[Dict[str, Any]] = [first.json()]
        while pages_a[-1]["page_info"]["next_page_token"]:
            token = pages_a[-1]["page_info"]["next_page_token"]
            from_b = httpx.get(f"{b.url}/v1.2/classify/{token}", headers=headers, timeout=30)
            from_a = httpx.get(f"{a.url}/p/v1.2/classify/{token}", headers=headers, timeout=30)
            assert from_b.status_code == 200, from_b.text
            assert from_b.json() == from_a.json()
            pages_b.append(from_b.json())
            pages_a.append(from_a.json())
        assert len(pages_b) == first.json()["page_info"]["total_results"] > 1
        again = httpx.post(b.url + "/v1.2/classify/bulk", json=dict(BODY, index_id=world_index), headers=headers, timeout=120)
        assert again.status_code == 200
        assert again.json()["data"] == first.json()["data"]
        assert analyze_calls(sandbox) == paid, "the second gateway paid again for stored answers"
    finally:
        a.close()
        b.close()
