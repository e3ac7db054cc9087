"""Page tokens: signed, self-describing, bound to the API key, expiring like v1.2 pages."""

from __future__ import annotations

import base64
import time

import pytest

from classify_shim._exceptions import BadRequestError, ClassifyValidationError
from classify_shim._request import check_page_token
from classify_shim._tokens import (
    TOKEN_PREFIX,
    is_shim_token,
    key_fingerprint,
    make_token,
    read_token,
    rfc3339,
)

KEY = "tlk_key_one"
RID = "0123456789abcdef0123456789abcdef"


def _future() -> int:
    return int(time.time()) + 300


def test_round_trip_and_prefix() -> None:
    expires = _future()
    token = make_token(KEY, RID, 3, expires)
    assert token.startswith(TOKEN_PREFIX)
    assert is_shim_token(token)
    ref = read_token(KEY, token)
    assert (ref.result_id, ref.page, ref.expires_at) == (RID, 3, expires)


def test_token_passes_the_request_layer_check() -> None:
    token = make_token(KEY, RID, 0, _future())
    assert check_page_token(token) == token


def test_tokens_are_deterministic_per_key_and_page() -> None:
    expires = _future()
    assert make_token(KEY, RID, 1, expires) == make_token(KEY, RID, 1, expires)
    assert make_token(KEY, RID, 1, expires) != make_token(KEY, RID, 2, expires)
    assert make_token(KEY, RID, 1, expires) != make_token("other", RID, 1, expires)


@pytest.mark.parametrize("token", ["a1b2c3d4-0000-1111-2222-333344445555-1", "846670", "", None, 12])
def test_legacy_tokens_are_not_shim_tokens(token: object) -> None:
    assert not is_shim_token(token)


def test_other_key_is_rejected() -> None:
    token = make_token(KEY, RID, 0, _future())
    with pytest.raises(ClassifyValidationError) as info:
        read_token("tlk_key_two", token)
    assert isinstance(info.value, BadRequestError)
    assert info.value.field == "page_token"
    assert info.value.body["code"] == "parameter_invalid"
    assert "another API key" in str(info.value)


def _swap_payload(token: str, payload: str) -> str:
    body = token[len(TOKEN_PREFIX):]
    _, _, sig = body.partition(".")
    encoded = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return f"{TOKEN_PREFIX}{encoded}.{sig}"


def test_tampered_payload_is_rejected() -> None:
    expires = _future()
    token = make_token(KEY, RID, 0, expires)
    # Point the same signature at another page, and extend the expiry: both must fail.
    for payload in (f"{RID}:1:{expires}", f"{RID}:0:{expires + 3600}"):
        with pytest.raises(ClassifyValidationError) as info:
            read_token(KEY, _swap_payload(token, payload))
        assert info.value.body["code"] == "parameter_invalid"


def test_tampered_signature_is_rejected() -> None:
    token = make_token(KEY, RID, 0, _future())
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(ClassifyValidationError):
        read_token(KEY, flipped)


@pytest.mark.parametrize("token", ["tlcs1.", "tlcs1.abc", "tlcs1..sig", "tlcs1.abc.", "not-a-token"])
def test_malformed_tokens_are_rejected(token: str) -> None:
    with pytest.raises(ClassifyValidationError):
        read_token(KEY, token)


def test_expired_token_has_its_own_code() -> None:
    token = make_token(KEY, RID, 0, 1_000_000)
    with pytest.raises(ClassifyValidationError) as info:
        read_token(KEY, token)
    assert isinstance(info.value, BadRequestError)
    assert info.value.body["code"] == "page_token_expired"
    assert rfc3339(1_000_000) in str(info.value)


def test_expiry_boundary_uses_now() -> None:
    token = make_token(KEY, RID, 0, 2_000)
    assert read_token(KEY, token, now=1_999.0).page == 0
    with pytest.raises(ClassifyValidationError):
        read_token(KEY, token, now=2_000.0)


def test_signature_is_checked_before_expiry() -> None:
    """A forged token must not learn anything from the expiry message."""
    token = make_token(KEY, RID, 0, 1_000_000)
    with pytest.raises(ClassifyValidationError) as info:
        read_token("another", token)
    assert info.value.body["code"] == "parameter_invalid"


def test_bad_inputs_to_make_token() -> None:
    with pytest.raises(ValueError):
        make_token(KEY, "not-hex", 0, _future())
    with pytest.raises(ValueError):
        make_token(KEY, RID, -1, _future())


def test_rfc3339_shape_and_fingerprint() -> None:
    assert rfc3339(0) == "1970-01-01T00:00:00Z"
    assert rfc3339(1_718_777_276.9) == "2024-06-19T06:07:56Z"
    fp = key_fingerprint(KEY)
    assert fp == key_fingerprint(KEY) and fp != key_fingerprint("other")
    assert KEY not in fp and len(fp) == 32
