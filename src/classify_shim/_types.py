"""Small shared types: the "not given" sentinel and per-call request options."""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, Tuple, TypeVar, Union, get_args

import httpx

__all__ = ["BACKEND_NAMES", "NOT_GIVEN", "BackendName", "NotGiven", "RequestOptions", "Secret", "TimeoutTypes"]

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


class Secret(str):
    """The API key: a real ``str`` (headers, HMACs and comparisons work unchanged) whose ``repr``
    and ``str`` are masked, so "traceback with locals" tools, debuggers and logs that print a
    frame's locals or an object's attributes never show it. ``reveal()`` is the raw value."""

    __slots__ = ()

    def reveal(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"

    def __str__(self) -> str:
        return "***" if self else ""

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


BackendName = Literal["legacy", "pegasus", "auto", "shadow"]
BACKEND_NAMES: Tuple[BackendName, ...] = get_args(BackendName)
"""The backends, in one place: each is ``classify_shim.adapters.<name>`` (see ``_backend.BACKENDS``)."""
TimeoutTypes = Union[float, httpx.Timeout, None]

# The per-call options 0.3.2 forwarded to ``httpx.Client.request`` through ``**kwargs`` (every
# keyword of that method except ``method``, ``url`` and ``json``, which 0.3.2 set itself).
REQUEST_OPTION_KEYS = frozenset(
    {"headers", "params", "timeout", "extensions", "cookies", "auth", "follow_redirects", "content", "data", "files"}
)
POST_OPTION_KEYS = frozenset({"stream"})
"""Keywords of 0.2.5-0.3.2's ``APIClient.post`` itself (``stream=False`` was accepted, and ignored)."""
BODY_OPTION_KEYS = frozenset({"content", "data", "files"})
"""Options that replace the JSON body in httpx (as they did in 0.3.2): legacy only."""


class RequestOptions:
    """What a caller passed as ``**kwargs`` to a classify method, checked and typed.

    0.3.2 handed ``**kwargs`` straight to ``httpx.Client.request``; we accept the same keys.
    The legacy backend forwards all of them; the Pegasus backend applies the ones that mean
    something for its v1.3 calls (headers, cookies, timeout, extensions, auth,
    follow_redirects) and logs the rest at DEBUG.
    """

    __slots__ = ("auth", "body", "cookies", "extensions", "follow_redirects", "headers", "params", "timeout")

    def __init__(
        self,
        *,
        headers: Any = None,
        params: Any = None,
        timeout: Union[TimeoutTypes, NotGiven] = NOT_GIVEN,
        extensions: Optional[Dict[str, Any]] = None,
        cookies: Any = None,
        auth: Any = NOT_GIVEN,
        follow_redirects: Union[bool, NotGiven] = NOT_GIVEN,
        body: Optional[Dict[str, Any]] = None,
    ) -> None:
        # Every form httpx accepts (0.3.2 handed them to httpx as given): a mapping or a list of
        # pairs for headers; a mapping, pairs or a query string for params; a dict, pairs, an
        # ``httpx.Cookies`` or a ``CookieJar`` for cookies. Repeated query keys are kept.
        # Header lines as given (names lower-cased): a repeated header stays two lines, as httpx sent it.
        self.headers: List[Tuple[str, str]] = httpx.Headers(headers or {}).multi_items()
        self.params: httpx.QueryParams = httpx.QueryParams(params or {})
        self.timeout = timeout
        self.extensions: Dict[str, Any] = dict(extensions or {})
        self.cookies: httpx.Cookies = httpx.Cookies(cookies or {})
        self.auth = auth
        self.follow_redirects = follow_redirects
        self.body: Dict[str, Any] = dict(body or {})  # content / data / files, legacy only

    def send_kwargs(self) -> Dict[str, Any]:
        """The ``httpx.Client.send`` keywords (``auth``, ``follow_redirects``) the caller gave."""
        out: Dict[str, Any] = {}
        if not isinstance(self.auth, NotGiven):
            out["auth"] = self.auth
        if not isinstance(self.follow_redirects, NotGiven):
            out["follow_redirects"] = self.follow_redirects
        return out

    def builds_nothing(self) -> bool:
        """True when none of these options changes how a request is built (only how it is sent)."""
        return not (self.headers or self.params or self.body or self.extensions or self.cookies
                    or not isinstance(self.timeout, NotGiven))

    def __repr__(self) -> str:
        safe = [(k, "***" if k == "x-api-key" else v) for k, v in self.headers]
        return f"RequestOptions(headers={safe!r}, params={self.params!r}, timeout={self.timeout!r})"
