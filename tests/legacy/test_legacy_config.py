"""Client configuration: key, base URL (as 0.3.2), backend selection and warning mode."""

from __future__ import annotations

import datetime as dt
import importlib.util
from typing import Any, List, Optional, Tuple

import httpx
import pytest
import twelvelabs  # type: ignore[import-untyped]

import classify_shim
from classify_shim import TwelveLabs, UnsupportedWarning
from classify_shim._config import (
    BACKEND_CHOICES,
    ClientConfig,
    api_version_number,
    classify_version,
    lacks_classify,
    resolve_backend,
)
from classify_shim._types import NOT_GIVEN
from classify_shim._warnings import build_warning
from legacy_support import API_KEY

pytestmark = pytest.mark.filterwarnings("ignore::classify_shim.ClassifyDeprecationWarning")


def build(api_key: Optional[str] = API_KEY, classify_backend: Optional[str] = None, **kwargs: Any) -> ClientConfig:
    """The resolution step alone (no backend module is imported)."""
    return ClientConfig.build(api_key, kwargs.pop("version", "v1.2"), classify_backend=classify_backend,
                              base_url=kwargs.pop("base_url", None), timeout=NOT_GIVEN, max_retries=2, **kwargs)


# --------------------------------------------------------------------------- API key


@pytest.mark.parametrize("key", [None, "", "   "], ids=["none", "empty", "blank"])
def test_missing_key_is_a_clear_error_at_the_first_call(key: Optional[str]) -> None:
    """0.3.2 built the client without a key and failed at the call with 401: modules that build
    their client at import time must keep importing."""
    client = TwelveLabs(key, classify_backend="legacy", base_url="http://classify.test")
    with pytest.raises(classify_shim.AuthenticationError) as info:
        client.classify.videos(["v1"], ["visual"], [{"name": "A", "prompts": ["a"]}])
    message = str(info.value)
    assert "api_key" in message and "TWELVELABS_API_KEY" in message
    assert info.value.status_code == 401
    client.close()


def test_missing_key_error_is_raised_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_CLASSIFY_BACKEND", "legacy")
    sent: List[httpx.Request] = []
    client = TwelveLabs(http_client=httpx.Client(transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(500))))
    with pytest.raises(classify_shim.AuthenticationError, match="TWELVELABS_API_KEY"):
        client.classify.by_page_token("tok-1")
    assert sent == []


def test_key_falls_back_to_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_API_KEY", "tlk_from_env")
    client = TwelveLabs(classify_backend="legacy")
    assert client.api_key == "tlk_from_env"
    client.close()


def test_explicit_key_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_API_KEY", "tlk_from_env")
    client = TwelveLabs("tlk_explicit", classify_backend="legacy")
    assert client.api_key == "tlk_explicit"
    client.close()


def test_key_is_not_in_repr() -> None:
    client = TwelveLabs(API_KEY, classify_backend="legacy")
    assert API_KEY not in repr(client) and API_KEY not in repr(client.config)
    client.close()


# --------------------------------------------------------------------------- base URL


@pytest.mark.parametrize("version", ["v1.2", "v1.1"])
@pytest.mark.parametrize("custom", [None, "http://127.0.0.1:8123", "https://api.example.test/p", "http://localhost"])
def test_base_url_is_computed_exactly_as_0_3_2(custom: Optional[str], version: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    if custom is not None:
        monkeypatch.setenv("TWELVELABS_BASE_URL", custom)
    real = twelvelabs.TwelveLabs(API_KEY, version)
    client = TwelveLabs(API_KEY, version, classify_backend="legacy")
    assert client.base_url == real.base_url
    expected = f"{custom or 'https://api.twelvelabs.io'}/{version}/"
    assert client.base_url == expected
    client.close()


def test_base_url_argument_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_BASE_URL", "http://127.0.0.1:1")
    client = TwelveLabs(API_KEY, classify_backend="legacy", base_url="http://127.0.0.1:2")
    assert client.base_url == "http://127.0.0.1:2/v1.2/"
    client.close()


@pytest.mark.parametrize("custom", ["http://127.0.0.1:8123/", "http://127.0.0.1:8123/v1.2", "http://127.0.0.1:8123/v1.2/"])
def test_base_url_is_normalised_where_0_3_2_built_broken_urls(custom: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """0.3.2 produced ``//v1.2/`` or ``/v1.2/v1.2/`` here; we accept host-with-version or a trailing slash."""
    monkeypatch.setenv("TWELVELABS_BASE_URL", custom)
    client = TwelveLabs(API_KEY, classify_backend="legacy")
    assert client.base_url == "http://127.0.0.1:8123/v1.2/"
    assert twelvelabs.TwelveLabs(API_KEY).base_url != client.base_url
    client.close()


@pytest.mark.parametrize("version", ["1.2", "latest", "v", 12])
def test_bad_version_is_rejected(version: Any) -> None:
    with pytest.raises(classify_shim.TwelveLabsError, match="version"):
        TwelveLabs(API_KEY, version, classify_backend="legacy")



# One reading of an API version (classify's redirect to v1.2 and the warnings' "unsupported" agree).
# Expected values are written out, not derived: (text, its number, has no Classify).
_VERSIONS = [
    ("v1.2", (1, 2), False),
    ("1.2", (1, 2), False),
    ("v1.1", (1, 1), False),
    ("v1", (1,), False),
    ("v1.3", (1, 3), True),
    ("1.3", (1, 3), True),
    ("v1.3.1", (1, 3, 1), True),
    ("/v1.3/", (1, 3), True),
    ("V1.3", (1, 3), True),
    ("v1.10", (1, 10), True),
    ("v2", (2,), True),
    ("latest", None, False),
    ("v1.3rc1", None, False),
    ("", None, False),
    ("v", None, False),
    ("//v1.3", None, False),
]


@pytest.mark.parametrize(("text", "number", "lacks"), _VERSIONS, ids=[repr(v[0]) for v in _VERSIONS])
def test_one_reading_of_api_versions(text: str, number: Optional[Tuple[int, ...]], lacks: bool) -> None:
    assert api_version_number(text) == number
    assert lacks_classify(text) is lacks
    assert classify_version(text) == ("v1.2" if lacks else text)
    # The warning a call on this version raises, before the sunset date: the same rule.
    message = build_warning("videos", "legacy", text, today=dt.date(2025, 1, 1))
    assert isinstance(message, UnsupportedWarning) is lacks


def test_a_v13_client_is_sent_to_v12_with_the_requested_version_kept() -> None:
    config = build(version="v1.3")
    assert (config.version, config.requested_version) == ("v1.2", "v1.3")
    assert config.legacy_base_url.endswith("/v1.2/")
    config = build(version="v1.2")
    assert (config.version, config.requested_version) == ("v1.2", None)

# --------------------------------------------------------------------------- backend selection


def test_backend_default_is_auto() -> None:
    assert resolve_backend(None) == ("auto", "default")
    config = build()
    assert (config.backend, config.backend_source) == ("auto", "default")


def test_backend_env_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_CLASSIFY_BACKEND", "Pegasus ")
    config = build()
    assert (config.backend, config.backend_source) == ("pegasus", "env")


def test_backend_argument_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_CLASSIFY_BACKEND", "pegasus")
    config = build(classify_backend="legacy")
    assert (config.backend, config.backend_source) == ("legacy", "argument")
    client = TwelveLabs(API_KEY, classify_backend="legacy")
    assert client.classify_backend == "legacy"
    assert client._backend.name == "legacy"
    client.close()


def test_env_selects_the_backend_of_a_real_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_CLASSIFY_BACKEND", "legacy")
    client = TwelveLabs(API_KEY)
    assert client.classify_backend == "legacy" and client._backend.name == "legacy"
    client.close()


@pytest.mark.skipif(importlib.util.find_spec("classify_shim.adapters.auto") is None,
                    reason="auto backend not in this tree yet")
def test_default_client_uses_auto() -> None:
    client = TwelveLabs(API_KEY, cache=False)
    assert client.classify_backend == "auto"
    client.close()


@pytest.mark.parametrize("value", ["legacy2", "v1.2", "none"])
def test_unknown_backend_argument_lists_allowed_values(value: str) -> None:
    with pytest.raises(classify_shim.TwelveLabsError) as info:
        TwelveLabs(API_KEY, classify_backend=value)  # type: ignore[arg-type]
    message = str(info.value)
    assert "classify_backend" in message and repr(value) in message
    assert all(choice in message for choice in BACKEND_CHOICES)


def test_unknown_backend_env_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_CLASSIFY_BACKEND", "gpt")
    with pytest.raises(classify_shim.TwelveLabsError) as info:
        TwelveLabs(API_KEY)
    assert "TWELVELABS_CLASSIFY_BACKEND" in str(info.value)
    assert all(choice in str(info.value) for choice in BACKEND_CHOICES)


# --------------------------------------------------------------------------- warning mode


def test_bad_warning_mode_is_an_error_naming_the_allowed_values(monkeypatch: pytest.MonkeyPatch, capture: Any) -> None:
    monkeypatch.setenv("TWELVELABS_CLASSIFY_WARNINGS", "loud")
    client = TwelveLabs(API_KEY, classify_backend="legacy", base_url=capture.url)
    with pytest.raises(classify_shim.TwelveLabsError) as info:
        client.classify.by_page_token("tok-1")
    message = str(info.value)
    assert "TWELVELABS_CLASSIFY_WARNINGS" in message and "'loud'" in message
    assert all(mode in message for mode in ("default", "off", "error"))
    assert capture.requests == []
    client.close()


@pytest.mark.parametrize("mode", ["off", "OFF", "error", "default", ""])
def test_valid_warning_modes_are_accepted(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from classify_shim._config import resolve_warning_mode

    monkeypatch.setenv("TWELVELABS_CLASSIFY_WARNINGS", mode)
    assert resolve_warning_mode() == (mode.lower() or "default")


@pytest.mark.parametrize("bad", [-1, True, 1.5])
def test_bad_max_retries(bad: Any) -> None:
    with pytest.raises(classify_shim.TwelveLabsError, match="max_retries"):
        TwelveLabs(API_KEY, classify_backend="legacy", max_retries=bad)


def test_other_resources_point_to_attach() -> None:
    client = TwelveLabs(API_KEY, classify_backend="legacy")
    with pytest.raises(AttributeError, match="attach"):
        client.index  # noqa: B018
    client.close()


@pytest.mark.parametrize("off", ["off", "OFF", " off ", "false"])
def test_cache_off_as_an_argument_means_off_like_the_env_var(off: str, tmp_path: Any, monkeypatch: Any) -> None:
    from classify_shim._config import ClientConfig

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TWELVELABS_CLASSIFY_CACHE", raising=False)
    config = ClientConfig.build("tlk_x", "v1.2", classify_backend=None, base_url=None, timeout=None,
                                max_retries=0, cache=off)
    assert config.cache_path is None and config.cache_url is None
    assert not (tmp_path / off.strip()).exists()
