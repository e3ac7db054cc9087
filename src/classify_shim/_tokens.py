"""Page tokens for results the shim builds itself (Pegasus): the one place they are made and read.

A token is self-describing and signed, so any process of the same user can serve the page from
the shared cache, and nobody can forge or alter one::

    tlcs1.<base64url(result_id:page:expires_epoch)>.<base64url(HMAC-SHA256(k, prefix + payload))>

``k`` is derived from the API key, so a token only works with the key that created it. The
recognisable prefix lets the ``auto`` backend route shim tokens to Pegasus and everything else
(the v1.2 server's ``<uuid>-<n>`` tokens) to the legacy endpoint. Every character is in the set
:func:`classify_shim._request.check_page_token` accepts.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Optional

from ._exceptions import ClassifyValidationError

__all__ = [
    "TOKEN_PREFIX",
    "PageRef",
    "is_shim_token",
    "key_fingerprint",
    "make_token",
    "read_token",
    "rfc3339",
]

TOKEN_PREFIX = "tlcs1."
_KEY_CONTEXT = b"twelvelabs-classify-shim/page-token/v1"
_FINGERPRINT_CONTEXT = b"twelvelabs-classify-shim/key-fingerprint/v1"
_RESULT_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class PageRef:
    """What a valid token points at: page ``page`` (0-based) of stored result ``result_id``."""

    result_id: str
    page: int
    expires_at: int  # UTC epoch seconds


def _derive(api_key: str, context: bytes) -> bytes:
    return hmac.new(api_key.encode("utf-8"), context, hashlib.sha256).digest()


def key_fingerprint(api_key: str) -> str:
    """A stable, non-reversible id for the key: scopes cache rows without storing the key."""
    return _derive(api_key, _FINGERPRINT_CONTEXT).hex()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(api_key: str, payload: str) -> str:
    mac = hmac.new(_derive(api_key, _KEY_CONTEXT), (TOKEN_PREFIX + payload).encode("ascii"), hashlib.sha256)
    return _b64(mac.digest())


def make_token(api_key: str, result_id: str, page: int, expires_at: int) -> str:
    if not _RESULT_ID.match(result_id):
        raise ValueError(f"result id must be 32 lowercase hex digits, got {result_id!r}")
    if page < 0:
        raise ValueError(f"page must be >= 0, got {page}")
    payload = _b64(f"{result_id}:{page}:{int(expires_at)}".encode("ascii"))
    return f"{TOKEN_PREFIX}{payload}.{_sign(api_key, payload)}"


def is_shim_token(token: object) -> bool:
    """True for tokens this module made (by shape only; :func:`read_token` checks the signature)."""
    return isinstance(token, str) and token.startswith(TOKEN_PREFIX)


def _invalid(reason: str) -> ClassifyValidationError:
    return ClassifyValidationError(
        "page_token",
        f"is not a valid page token ({reason}); use a next_page_token/prev_page_token returned by "
        "a classify call made with the same API key",
    )


def read_token(api_key: str, token: str, *, now: Optional[float] = None) -> PageRef:
    """Checks signature, then expiry. Raises ``ClassifyValidationError`` (a ``BadRequestError``)."""
    if not is_shim_token(token):
        raise _invalid("not a classify-shim token")
    body = token[len(TOKEN_PREFIX):]
    payload, sep, signature = body.partition(".")
    if not sep or not payload or not signature:
        raise _invalid("malformed")
    if not hmac.compare_digest(_sign(api_key, payload), signature):
        raise _invalid("signature mismatch: altered, or created with another API key")
    try:
        result_id, page_text, expires_text = _unb64(payload).decode("ascii").split(":")
        page, expires_at = int(page_text), int(expires_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _invalid("malformed payload") from None
    if not _RESULT_ID.match(result_id) or page < 0:
        raise _invalid("malformed payload")
    current = time.time() if now is None else now
    if current >= expires_at:
        raise ClassifyValidationError(
            "page_token",
            f"the page expired at {rfc3339(expires_at)}; pages live as long as page_ttl_s after the "
            "classify call that made them. Run the classify call again (its answers are cached).",
            code="page_token_expired",
        )
    return PageRef(result_id, page, expires_at)


def rfc3339(epoch: float) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC, as v1.2's ``page_expired_at``."""
    moment = _dt.datetime.fromtimestamp(int(epoch), tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
