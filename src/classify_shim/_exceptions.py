"""The exception tree of ``twelvelabs`` 0.3.2, same names, same status mapping.

Differences from 0.3.2, all additive: the real cause is always chained (0.3.2 turned any
failure into "Failed connection"), and input we reject before the network raises
:class:`ClassifyValidationError`, which *is* a :class:`BadRequestError` (what the server
would have answered) and also a :class:`ValueError`.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, List, Literal, Optional, Tuple, Type

import httpx

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClassifyValidationError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "TwelveLabsError",
    "UnprocessableEntityError",
]  # the public names; classify_shim.exceptions re-exports exactly these


_INTEROP: Dict[Type[BaseException], Type[BaseException]] = {}
_EXTRA_BASES: List[Type[BaseException]] = []  # 1.x ``ApiError`` once a 1.x client was attached


def enable_v1_interop(api_error: Type[BaseException]) -> None:
    """Called by ``attach()`` on a 1.x client: later shim errors are also its ``ApiError``."""
    if api_error not in _EXTRA_BASES:
        _EXTRA_BASES.append(api_error)
        _INTEROP.clear()


def _official_bases(cls: Type[BaseException]) -> Tuple[Type[BaseException], ...]:
    """The official SDK classes an instance of ``cls`` must also be, so ``except`` clauses
    written against ``twelvelabs`` keep catching. Only when the caller has imported it (code
    that names ``twelvelabs.BadRequestError`` has); without it, nothing changes."""
    official = sys.modules.get("twelvelabs.exceptions")
    bases: List[Type[BaseException]] = []
    if official is not None:
        for own in cls.__mro__:  # the nearest same-named class (ClassifyValidationError -> BadRequestError)
            theirs = getattr(official, own.__name__, None)
            if isinstance(theirs, type) and issubclass(theirs, BaseException) and not issubclass(cls, theirs):
                bases.append(theirs)
                break
    bases += [b for b in _EXTRA_BASES if not issubclass(cls, b)]
    return tuple(bases)


def _interop_class(cls: Type[BaseException]) -> Type[BaseException]:
    if cls in _INTEROP:
        return _INTEROP[cls]
    bases = _official_bases(cls)
    made: Type[BaseException] = cls
    if bases:
        # Our methods first; ``Exception.__str__`` kept (1.x ``ApiError`` would print its own).
        made = type(cls.__name__, (cls, *bases), {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                                                  "__str__": Exception.__str__, "_shim_class": cls})
    _INTEROP[cls] = made
    return made


def shim_class(exc: BaseException) -> Type[BaseException]:
    """The shim's own class of ``exc`` (without the official SDK bases added for interop)."""
    return getattr(type(exc), "_shim_class", type(exc))


class TwelveLabsError(Exception):
    """Base of every shim error. With ``twelvelabs`` 0.x imported, each instance is also the
    same-named ``twelvelabs.exceptions`` class; after ``attach()`` on a 1.x client, also its
    ``ApiError`` (``status_code``, ``body``)."""

    status_code: Optional[int] = None
    body: Optional[object] = None

    def __new__(cls, *args: Any, **kwargs: Any) -> TwelveLabsError:
        if "_shim_class" not in cls.__dict__ and ("twelvelabs.exceptions" in sys.modules or _EXTRA_BASES):
            cls = _interop_class(cls)  # type: ignore[assignment]
        return super().__new__(cls, *args)

    def __init__(self, *args: object) -> None:
        Exception.__init__(self, *args)  # ends the chain: the official classes' __init__ never runs


class APIError(TwelveLabsError):
    message: str
    request: Optional[httpx.Request]
    body: Optional[object]

    def __init__(self, message: str, request: Optional[httpx.Request], *, body: Optional[object]) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.body = body


class APIStatusError(APIError):
    """The API answered with a 4xx or 5xx status."""

    response: httpx.Response
    status_code: int

    def __init__(self, message: str, *, response: httpx.Response, body: Optional[object]) -> None:
        super().__init__(message, response.request, body=body)
        self.response = response
        self.status_code = response.status_code


class APIConnectionError(APIError):
    def __init__(self, *, message: str = "Failed connection", request: Optional[httpx.Request]) -> None:
        super().__init__(message, request, body=None)


class APITimeoutError(APIConnectionError):
    def __init__(self, *, request: Optional[httpx.Request]) -> None:
        super().__init__(message="Request timed out", request=request)


class BadRequestError(APIStatusError):
    status_code: Literal[400] = 400


class AuthenticationError(APIStatusError):
    status_code: Literal[401] = 401


class PermissionDeniedError(APIStatusError):
    status_code: Literal[403] = 403


class NotFoundError(APIStatusError):
    status_code: Literal[404] = 404


class ConflictError(APIStatusError):
    status_code: Literal[409] = 409


class UnprocessableEntityError(APIStatusError):
    status_code: Literal[422] = 422


class RateLimitError(APIStatusError):
    status_code: Literal[429] = 429


class InternalServerError(APIStatusError):
    pass


class APIResponseValidationError(APIError):
    """A success status whose body is not what the API documents (e.g. malformed JSON).

    0.3.2 let ``json.JSONDecodeError`` escape here; it is an :class:`APIError` now, with the
    decoding error chained as ``__cause__`` and the status and raw text kept.
    """

    def __init__(self, message: str, *, response: httpx.Response, body: Optional[object]) -> None:
        super().__init__(message, response.request, body=body)
        self.response = response
        self.status_code = response.status_code


def _local_response(status: int, body: Dict[str, Any]) -> httpx.Response:
    """The response the API would have sent, for errors raised before any request."""
    request = httpx.Request("POST", "http://classify-shim.invalid/validation")
    return httpx.Response(status, json=body, request=request)


def missing_key_error(problem: str) -> AuthenticationError:
    """401 for a missing or malformed key, raised at the first call (never contains the key)."""
    text = (
        f"{problem}. Pass api_key= to TwelveLabs(...) or set TWELVELABS_API_KEY; the key is on the "
        "API Key page of the TwelveLabs dashboard."
    )
    body: Dict[str, Any] = {"code": "api_key_invalid", "message": text}
    return AuthenticationError(text, response=_local_response(401, body), body=body)


class ClassifyValidationError(BadRequestError, ValueError):
    """Input rejected before any request: the 400 the server would have sent, without sending.

    ``field`` names the offending parameter; ``body`` is the ``{code, message}`` the v1.2
    API uses for this case (``parameter_invalid`` / ``parameter_not_provided``).
    """

    def __init__(self, field: str, message: str, *, code: str = "parameter_invalid") -> None:
        self.field = field
        text = f"{field}: {message}"
        body: Dict[str, Any] = {"code": code, "message": text}
        super().__init__(text, response=_local_response(400, body), body=body)


_STATUS_MAP: Dict[int, Type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def make_status_error(response: httpx.Response) -> APIStatusError:
    """0.3.2's mapping and message format (``Error code: <status> - <body>``)."""
    text = response.text.strip() if response.is_stream_consumed or not response.is_closed else ""
    body: Optional[object] = text if response.is_stream_consumed or not response.is_closed else None
    try:
        body = json.loads(text)
        message = f"Error code: {response.status_code} - {body}"
    except ValueError:
        message = text or f"Error code: {response.status_code}"
    status = response.status_code
    cls = _STATUS_MAP.get(status)
    if cls is None:
        cls = InternalServerError if status >= 500 else APIStatusError
    return cls(message, response=response, body=body)
