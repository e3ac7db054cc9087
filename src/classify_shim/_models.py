"""Result and parameter models with the exact shape of ``twelvelabs`` 0.3.2.

Field names, types, optionality and the iterator behaviour of ``ClassifyPageResult`` match
0.3.2. One compatible superset: ``ClassifyClip.detailed_scores`` (None unless the server sends
it) so the documented example scripts, which read it, do not crash.
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Iterable,
    List,
    Literal,
    Optional,
    TypeVar,
    Union,
    get_args,
)

from pydantic import BaseModel, GetCoreSchemaHandler, PrivateAttr, TypeAdapter
from pydantic_core import core_schema

from ._bodies import ClassParamsBody, PageBody

if TYPE_CHECKING:
    from ._backend import BackendPage, VideoFailure

__all__ = [
    "AsyncClassifyPageResult",
    "ClassifyClass",
    "ClassifyClassParams",
    "ClassifyClip",
    "ClassifyDetailedScore",
    "ClassifyPageResult",
    "ClassifyVideoData",
    "RootModelList",
    "TokenPageInfo",
    "page_from_json",
]

T = TypeVar("T")
_Page = TypeVar("_Page", bound="ClassifyPageResult")

OptionName = Union[str, Literal["visual", "conversation", "text_in_video"]]
ConversationOption = Union[str, Literal["semantic", "exact_match"]]


class TokenPageInfo(BaseModel):
    limit_per_page: int
    total_results: int
    page_expired_at: str
    next_page_token: Optional[str] = None
    prev_page_token: Optional[str] = None


class RootModelList(List[T]):
    """A list of models: iterates, indexes, has ``len`` and ``.root`` like 0.3.2's RootModelList.

    0.3.2's was a pydantic ``RootModel``, which is *not* a ``list``: the SDK's own documented
    pagination example tests ``isinstance(data, list)`` and crashed. Ours is a real list that
    pydantic validates and serialises as one, and keeps the RootModel methods users call.
    """

    def __init__(self, _list: Iterable[T] = ()) -> None:
        super().__init__(_list)

    @property
    def root(self) -> List[T]:
        return self

    def model_dump(self, **kwargs: Any) -> List[Any]:
        return [item.model_dump(**kwargs) if isinstance(item, BaseModel) else item for item in self]

    def model_dump_json(self, **kwargs: Any) -> str:
        return TypeAdapter(List[Any]).dump_json(self.model_dump(), **kwargs).decode()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        args = get_args(source)
        items = handler.generate_schema(args[0] if args else Any)
        return core_schema.no_info_after_validator_function(cls, core_schema.list_schema(items))

    def __repr__(self) -> str:
        return f"RootModelList({list.__repr__(self)})"


class ClassifyClassParams:
    """A class to look for. Plain object as in 0.3.2; unlike 0.3.2 it serialises.

    ``ClassifyClassParams()`` followed by attribute assignment (how 0.2.0-0.2.4 code built
    it, that class had no constructor) works too; a missing field is reported at the call.
    """

    name: str
    prompts: List[str]
    options: Optional[List[OptionName]] = None
    conversation_option: Optional[ConversationOption] = None

    def __init__(
        self,
        name: Optional[str] = None,  # optional only for 0.2.0-0.2.4 style code
        prompts: Optional[List[str]] = None,
        *,
        options: Optional[List[OptionName]] = None,
        conversation_option: Optional[ConversationOption] = None,
    ) -> None:
        self.name = name  # type: ignore[assignment]
        self.prompts = prompts  # type: ignore[assignment]
        self.options = options
        self.conversation_option = conversation_option

    def to_dict(self) -> ClassParamsBody:
        out: ClassParamsBody = {}
        if self.name is not None:
            out["name"] = self.name
        if self.prompts is not None:
            out["prompts"] = self.prompts
        if self.options is not None:
            out["options"] = self.options
        if self.conversation_option is not None:
            out["conversation_option"] = self.conversation_option
        return out

    def __repr__(self) -> str:
        return f"ClassifyClassParams({self.to_dict()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClassifyClassParams) and other.to_dict() == self.to_dict()

    __hash__ = None  # type: ignore[assignment]


class ClassifyDetailedScore(BaseModel):
    max_score: float
    avg_score: float
    normalized_score: float


class ClassifyClip(BaseModel):
    start: float
    end: float
    score: float
    option: str
    prompt: str
    thumbnail_url: Optional[str] = None
    # Superset of 0.3.2: the documented examples read it. None unless the server sends it.
    detailed_scores: Optional[ClassifyDetailedScore] = None


class ClassifyClass(BaseModel):
    name: str
    score: float
    duration_ratio: float
    clips: Optional[RootModelList[ClassifyClip]] = None
    detailed_scores: Optional[ClassifyDetailedScore] = None


class ClassifyVideoData(BaseModel):
    video_id: str
    classes: RootModelList[ClassifyClass]


class ClassifyPageResult(BaseModel):
    """One page of results; also its own iterator over the *following* pages (as 0.3.2).

    ``next(result)`` fetches the page named by ``page_info.next_page_token``, returns its
    ``data`` and moves ``page_info`` along; it stops on an empty or missing token.
    ``errors`` lists videos a backend could not classify (never silently dropped).
    """

    _resource: Any = PrivateAttr(default=None)
    _errors: List[VideoFailure] = PrivateAttr(default_factory=list)
    _backend: str = PrivateAttr(default="")
    _error_source: Any = PrivateAttr(default=None)
    """The backend's error list these errors were copied from (pages of one stored result share it)."""
    data: RootModelList[ClassifyVideoData]
    page_info: TokenPageInfo

    def __init__(self, resource: Any = None, **data: Any) -> None:
        super().__init__(**data)
        self._resource = resource

    @classmethod
    def from_body(
        cls: type[_Page], resource: Any, body: PageBody, errors: Iterable[VideoFailure] = (), backend: str = ""
    ) -> _Page:
        """The page a backend served, wrapped for the caller (``resource`` fetches the next ones).

        The body is checked by the model's own validator, as ``cls(resource, **body)`` does; the
        private state is then written in place instead of attribute by attribute through
        pydantic's ``__setattr__`` (half the cost of wrapping a small page)."""
        result = cls.__new__(cls)
        cls.__pydantic_validator__.validate_python(body, self_instance=result)
        return result._attach(resource, errors, backend)

    @classmethod
    def from_page(cls: type[_Page], resource: Any, page: BackendPage) -> _Page:
        """The page a backend served, wrapped: a model validated from the page's bytes as they
        arrived (:class:`~classify_shim._backend.ValidatedPage`) is wrapped as it is, any other
        page through :meth:`from_body`."""
        result = getattr(page, "result", None)
        if type(result) is not cls:  # not validated, or into another class (then from its body)
            return cls.from_body(resource, page.body, page.errors, page.backend)
        return result._attach(resource, page.errors, page.backend)

    def _attach(self: _Page, resource: Any, errors: Iterable[VideoFailure], backend: str) -> _Page:
        """The private state of a validated page, written in place (see :meth:`from_body`)."""
        private = self.__pydantic_private__
        if private is None:  # pragma: no cover - pydantic always sets the private defaults
            private = {}
            object.__setattr__(self, "__pydantic_private__", private)
        private["_resource"] = resource
        kept: List[VideoFailure] = list(errors)
        private["_errors"] = kept
        private["_error_source"] = errors if kept else None
        private["_backend"] = backend
        return self

    @property
    def errors(self) -> List[VideoFailure]:
        """Videos that ended in the error report instead of ``data`` (Pegasus backend)."""
        return self._errors

    @property
    def backend(self) -> str:
        """Which backend served this page: ``legacy`` or ``pegasus``."""
        return self._backend

    def __iter__(self) -> ClassifyPageResult:  # type: ignore[override]
        return self

    def __next__(self) -> RootModelList[ClassifyVideoData]:
        token = self.page_info.next_page_token
        if not token:
            raise StopIteration
        page: ClassifyPageResult = self._resource.by_page_token(token)
        self._advance(page)
        return page.data

    def _advance(self, page: ClassifyPageResult) -> None:
        self.page_info = page.page_info
        if not page.errors:
            return
        # Every page carries the run's whole error list. The pages of one stored result copy
        # the same list (``_error_source``): merged once, the following pages cost nothing;
        # else a set keeps the merge linear in failures (a list scan per error was quadratic).
        source = page._error_source
        if source is not None and source is self._error_source:
            return
        self._error_source = source
        seen = set(self._errors)
        for failure in page.errors:
            if failure not in seen:
                seen.add(failure)
                self._errors.append(failure)


def page_from_json(raw: bytes) -> Optional[ClassifyPageResult]:
    """The page validated straight from a server's JSON bytes, or None when they are not a valid
    page: the caller then takes the long way (decode, check, validate), which raises what it
    always raised, where it always did."""
    result = ClassifyPageResult.__new__(ClassifyPageResult)
    try:
        ClassifyPageResult.__pydantic_validator__.validate_json(raw, self_instance=result)
    except Exception:
        return None
    return result


class AsyncClassifyPageResult(ClassifyPageResult):
    """A page from :class:`~classify_shim.AsyncTwelveLabs`: the same data, paged with ``await``.

    ``async for data in result`` yields this page's ``data`` first, then each following page's;
    ``await result.anext()`` (or ``await anext(result)`` on Python 3.10+) fetches the *next*
    page and returns its ``data``, as ``next(result)`` does for the sync client, raising
    ``StopAsyncIteration`` after the last. ``next(result)`` and ``for data in result`` raise
    ``TypeError``: fetching a page is a coroutine here, and one that is never awaited would
    silently fetch nothing.
    """

    def __iter__(self) -> AsyncClassifyPageResult:  # type: ignore[override]
        raise TypeError(_SYNC_ON_ASYNC)

    def __next__(self) -> RootModelList[ClassifyVideoData]:
        raise TypeError(_SYNC_ON_ASYNC)

    def __aiter__(self) -> AsyncIterator[RootModelList[ClassifyVideoData]]:
        return self._aiter_pages()

    async def _aiter_pages(self) -> AsyncIterator[RootModelList[ClassifyVideoData]]:
        yield self.data
        while True:
            try:
                yield await self.anext()
            except StopAsyncIteration:
                return

    async def __anext__(self) -> RootModelList[ClassifyVideoData]:
        return await self.anext()

    async def anext(self) -> RootModelList[ClassifyVideoData]:
        """The next page's ``data`` (``page_info`` moves along); ``StopAsyncIteration`` at the end."""
        token = self.page_info.next_page_token
        if not token:
            raise StopAsyncIteration
        page: ClassifyPageResult = await self._resource.by_page_token(token)
        self._advance(page)
        return page.data


_SYNC_ON_ASYNC = (
    "a result of AsyncTwelveLabs pages asynchronously: use `await result.anext()` (or "
    "`await anext(result)` on Python 3.10+) instead of next(result), and `async for data in result` "
    "instead of `for data in result`"
)
