"""``scan`` reports raw HTTP calls to the v1.2 Classify endpoints and points them at the gateway."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

from classify_shim.scan import scan_sources

HEADER = "import os\nimport requests\nAPI_KEY = os.environ['API_KEY']\n"


def raw(source: str) -> List[Tuple[int, str]]:
    report = scan_sources([("m.py", source)])
    assert report.errors == []
    return [(f.line, f.code) for f in report.findings if f.kind == "raw-http"]


# Shapes seen in public code (hackathon scripts, TwelveLabs' playbook notebooks) and neighbours.
REPORTED = {
    "playbook f-string constant": (
        'API_URL = "https://api.twelvelabs.io/p/v1.2"\n'
        'CLASSIFY_BULK_URL = f"{API_URL}/classify/bulk"\n'
        'r = requests.post(CLASSIFY_BULK_URL, headers={"x-api-key": API_KEY}, json={})\n'
    ),
    "concatenation": 'API_URL = "https://api.twelvelabs.io/v1.2"\nr = requests.post(API_URL + "/classify/bulk", json={})\n',
    "env default": 'API_URL = os.getenv("TL_URL", "https://api.twelvelabs.io/v1.2")\nrequests.post(f"{API_URL}/classify", json={})\n',
    "unknown base, key header": 'BASE = os.environ["BASE"]\nrequests.post(BASE + "/classify", headers={"x-api-key": API_KEY})\n',
    "page fetch in a loop": (
        'API_URL = "https://api.twelvelabs.io/v1.2"\n'
        "token = 'x'\n"
        "while token:\n"
        '    page = requests.get(f"{API_URL}/classify/{token}", headers={"x-api-key": API_KEY}).json()\n'
        "    token = page['page_info']['next_page_token']\n"
    ),
    "request with method": 'requests.request("POST", "https://api.twelvelabs.io/v1.2/classify/bulk", json={})\n',
    "url keyword and format": 'U = "https://api.twelvelabs.io/{}"\nrequests.post(url=U.format("v1.2") + "/classify")\n',
    "percent formatting": 'H = "https://api.twelvelabs.io"\nrequests.post("%s/v1.2/classify/bulk" % H)\n',
    "session attribute": (
        "class C:\n"
        "    def __init__(self):\n"
        '        self.base = "https://api.twelvelabs.io/v1.2"\n'
        "        self.s = requests.Session()\n"
        "    def go(self):\n"
        '        return self.s.post(self.base + "/classify", json={})\n'
    ),
    "httpx client": 'import httpx\nwith httpx.Client() as c:\n    c.post("https://api.twelvelabs.io/v1.2/classify", json={})\n',
    "urllib Request": 'import urllib.request\nurllib.request.Request("https://api.twelvelabs.io/v1.2/classify", data=b"{}")\n',
    "urljoin": 'from urllib.parse import urljoin\nrequests.post(urljoin("https://api.twelvelabs.io/v1.2/", "classify/bulk"))\n',
}


@pytest.mark.parametrize("name", sorted(REPORTED))
def test_raw_http_calls_are_reported(name: str) -> None:
    found = raw(HEADER + REPORTED[name])
    assert len(found) == 1, found
    assert "post(" in found[0][1] or "get(" in found[0][1] or "Request(" in found[0][1] or "request(" in found[0][1]


def test_aiohttp_session_post() -> None:
    src = (
        "import aiohttp\n"
        'API_URL = "https://api.twelvelabs.io/p/v1.2"\n'
        "async def go(key):\n"
        "    async with aiohttp.ClientSession() as s:\n"
        '        async with s.post(f"{API_URL}/classify/bulk", headers={"x-api-key": key}) as r:\n'
        "            return await r.json()\n"
    )
    assert [line for line, _ in raw(src)] == [5]


QUIET = {
    "own classify service": 'requests.post("http://localhost:5000/classify", json={"text": "hi"})\n',
    "other twelvelabs endpoint": 'requests.get("https://api.twelvelabs.io/v1.2/indexes")\n',
    "v1.3 analyze": 'requests.post("https://api.twelvelabs.io/v1.3/analyze", json={})\n',
    "classify in a longer path": 'requests.post("https://api.twelvelabs.io/v1.2/classify/a/b")\n',
    "unknown base, no TwelveLabs context": 'import requests as r2\nB = os.environ["B"]\nr2.post(B + "/classify")\n',
}


@pytest.mark.parametrize("name", sorted(QUIET))
def test_lookalikes_are_not_reported(name: str) -> None:
    source = QUIET[name]
    header = "import os\nimport requests\n" if name == "unknown base, no TwelveLabs context" else HEADER
    assert raw(header + source) == []


def test_without_an_http_library_nothing_is_reported() -> None:
    assert raw('URL = "https://api.twelvelabs.io/v1.2/classify"\nclient.post(URL)\n') == []


def test_ignore_comment_and_cli_output(tmp_path: Path) -> None:
    (tmp_path / "hack.py").write_text(
        HEADER
        + 'API_URL = "https://api.twelvelabs.io/p/v1.2"\n'
        + 'requests.post(API_URL + "/classify/bulk", json={})\n'
        + 'requests.post(API_URL + "/classify", json={})  # classify-shim: ignore[raw-http]\n',
        encoding="utf-8",
    )
    proc = subprocess.run([sys.executable, "-m", "classify_shim.cli", "scan", "--json", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    doc = json.loads(proc.stdout)
    kinds = [(f["line"], f["kind"], f["migration"]) for f in doc["findings"]]
    assert kinds == [(5, "raw-http", "MIGRATION.md#not-using-the-python-sdk")]
