"""Small shared types: the "not given" sentinel and per-call request options."""

from __future__ import annotations

from typing import Any, Dict, Literal, Mapping, Optional, TypeVar, Union

import httpx

__all__ = ["NOT_GIVEN", "BackendName", "NotGiven", "RequestOptions", "TimeoutTypes"]

_T = TypeVar("_T")


class NotGiven:
    """Tells "argument omitted" apart from an explicit ``None`` (which may be meaningful)."""

    _instance: Optional[NotGiven] = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven()


BackendName = Literal["legacy", "pegasus", "auto", "shadow"]
TimeoutTypes = Union[float, httpx.Timeout, None]

# The per-call options 0.3.2 forwarded to httpx through ``**kwargs``.
REQUEST_OPTION_KEYS = frozenset({"headers", "params", "timeout", "extensions", "cookies"})


class RequestOptions:
    """What a caller passed as ``**kwargs`` to a classify method, checked and typed.

    0.3.2 handed ``**kwargs`` straight to ``httpx.Client.request``; we accept the same
    keys and reject anything else before the network (0.3.2 failed with "Failed connection").
    """

    __slots__ = ("cookies", "extensions", "headers", "params", "timeout")

    def __init__(
        self,
        *,
        headers: Optional[Mapping[str, str]] = None,
        params: Optional[Mapping[str, Any]] = None,
        timeout: Union[TimeoutTypes, NotGiven] = NOT_GIVEN,
        extensions: Optional[Dict[str, Any]] = None,
        cookies: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.headers: Dict[str, str] = dict(headers or {})
        self.params: Dict[str, Any] = dict(params or {})
        self.timeout = timeout
        self.extensions: Dict[str, Any] = dict(extensions or {})
        self.cookies: Dict[str, str] = dict(cookies or {})

    def __repr__(self) -> str:
        safe = {k: ("***" if k.lower() == "x-api-key" else v) for k, v in self.headers.items()}
        return f"RequestOptions(headers={safe!r}, params={self.params!r}, timeout={self.timeout!r})"
