"""``client.classify``: the three legacy methods with 0.3.2's exact signatures.

Parameter names, order, kinds and defaults are those of ``twelvelabs`` 0.3.2 (checked by a
test against the real package). Everything that is not I/O lives in the shared base, so the
sync and async twins cannot drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Literal, Mapping, Optional, Sequence, Union

from .._backend import BackendPage
from .._models import AsyncClassifyPageResult, ClassifyClassParams, ClassifyPageResult
from .._request import (
    ClassifyRequest,
    build_index_request,
    build_videos_request,
    check_api_key,
    check_page_token,
    parse_request_options,
)
from .._types import RequestOptions
from .._warnings import PendingWarning, raise_if_escalated, warn_legacy_call

if TYPE_CHECKING:
    from .._client import AsyncTwelveLabs, TwelveLabs

__all__ = ["AsyncClassify", "Classify"]

# Sequences (covariant) so typed user code passing list[dict[str, list[str]]] type-checks.
Options = Sequence[Union[str, Literal["visual", "conversation", "text_in_video"]]]
Classes = Sequence[Union[ClassifyClassParams, Mapping[str, Any]]]
ConversationOption = Optional[Union[str, Literal["semantic", "exact_match"]]]


class _ClassifyBase:
    _backend_name: Callable[[], str]
    _version: str
    _client: Any

    def _videos_request(
        self, video_ids: Any, options: Any, classes: Any, conversation_option: Any, page_limit: Any,
        include_clips: Any, threshold: Any, show_detailed_score: Any, kwargs: Dict[str, Any],
    ) -> tuple[ClassifyRequest, RequestOptions, Optional[PendingWarning]]:
        check_api_key(self._client.config.api_key)
        request = build_videos_request(
            video_ids, options, classes, conversation_option=conversation_option, page_limit=page_limit,
            include_clips=include_clips, threshold=threshold, show_detailed_score=show_detailed_score,
        )
        opts = parse_request_options(kwargs)
        return request, opts, raise_if_escalated("videos", self._backend_name(), self._version)

    def _index_request(
        self, index_id: Any, options: Any, classes: Any, conversation_option: Any, page_limit: Any,
        include_clips: Any, threshold: Any, show_detailed_score: Any, kwargs: Dict[str, Any],
    ) -> tuple[ClassifyRequest, RequestOptions, Optional[PendingWarning]]:
        check_api_key(self._client.config.api_key)
        request = build_index_request(
            index_id, options, classes, conversation_option=conversation_option, page_limit=page_limit,
            include_clips=include_clips, threshold=threshold, show_detailed_score=show_detailed_score,
        )
        opts = parse_request_options(kwargs)
        return request, opts, raise_if_escalated("index", self._backend_name(), self._version)

    def _page_request(self, page_token: Any, kwargs: Dict[str, Any]) -> tuple[str, RequestOptions, Optional[PendingWarning]]:
        check_api_key(self._client.config.api_key)
        token = check_page_token(page_token)
        opts = parse_request_options(kwargs)
        return token, opts, raise_if_escalated("by_page_token", self._backend_name(), self._version)

    def _result(self, page: BackendPage) -> ClassifyPageResult:
        return ClassifyPageResult.from_page(self, page)

    def _async_result(self, page: BackendPage) -> AsyncClassifyPageResult:
        return AsyncClassifyPageResult.from_page(self, page)

    def _warn(self, method: str, page: Optional[BackendPage], pending: Optional[PendingWarning]) -> None:
        if pending is not None:  # None: silenced (``TWELVELABS_CLASSIFY_WARNINGS=off``)
            warn_legacy_call(method, page.backend if page is not None else self._backend_name(), self._version, pending)


class Classify(_ClassifyBase):
    """Classify a set of videos, a whole index, or fetch a page of results."""

    def __init__(self, client: TwelveLabs) -> None:
        self._client = client
        self._version = client.version
        self._backend_name = lambda: client._backend.name

    def videos(
        self,
        video_ids: Sequence[str],
        options: Options,
        classes: Classes,
        *,
        conversation_option: ConversationOption = "semantic",
        page_limit: Optional[int] = None,
        include_clips: Optional[bool] = None,
        threshold: Optional[Union[Mapping[str, Any], int, float]] = None,
        show_detailed_score: Optional[bool] = None,
        **kwargs: Any,
    ) -> ClassifyPageResult:
        request, opts, pending = self._videos_request(
            video_ids, options, classes, conversation_option, page_limit, include_clips, threshold,
            show_detailed_score, kwargs,
        )
        page: Optional[BackendPage] = None
        try:
            page = self._client._open_backend().classify(request, opts)
            return self._result(page)
        finally:
            self._warn("videos", page, pending)

    def index(
        self,
        index_id: str,
        options: Options,
        classes: Classes,
        *,
        conversation_option: ConversationOption = "semantic",
        page_limit: Optional[int] = None,
        include_clips: Optional[bool] = None,
        threshold: Optional[Union[Mapping[str, Any], int, float]] = None,
        show_detailed_score: Optional[bool] = None,
        **kwargs: Any,
    ) -> ClassifyPageResult:
        request, opts, pending = self._index_request(
            index_id, options, classes, conversation_option, page_limit, include_clips, threshold,
            show_detailed_score, kwargs,
        )
        page: Optional[BackendPage] = None
        try:
            page = self._client._open_backend().classify(request, opts)
            return self._result(page)
        finally:
            self._warn("index", page, pending)

    def by_page_token(self, page_token: str, **kwargs: Any) -> ClassifyPageResult:
        token, opts, pending = self._page_request(page_token, kwargs)
        page: Optional[BackendPage] = None
        try:
            page = self._client._open_backend().page(token, opts)
            return self._result(page)
        finally:
            self._warn("by_page_token", page, pending)


class AsyncClassify(_ClassifyBase):
    """Async twin of :class:`Classify`: results are :class:`AsyncClassifyPageResult` (``async for
    data in result``, ``await result.anext()``)."""

    def __init__(self, client: AsyncTwelveLabs) -> None:
        self._client = client
        self._version = client.version
        self._backend_name = lambda: client._backend.name

    async def videos(
        self,
        video_ids: Sequence[str],
        options: Options,
        classes: Classes,
        *,
        conversation_option: ConversationOption = "semantic",
        page_limit: Optional[int] = None,
        include_clips: Optional[bool] = None,
        threshold: Optional[Union[Mapping[str, Any], int, float]] = None,
        show_detailed_score: Optional[bool] = None,
        **kwargs: Any,
    ) -> AsyncClassifyPageResult:
        request, opts, pending = self._videos_request(
            video_ids, options, classes, conversation_option, page_limit, include_clips, threshold,
            show_detailed_score, kwargs,
        )
        page: Optional[BackendPage] = None
        try:
            page = await self._client._open_backend().classify(request, opts)
            return self._async_result(page)
        finally:
            self._warn("videos", page, pending)

    async def index(
        self,
        index_id: str,
        options: Options,
        classes: Classes,
        *,
        conversation_option: ConversationOption = "semantic",
        page_limit: Optional[int] = None,
        include_clips: Optional[bool] = None,
        threshold: Optional[Union[Mapping[str, Any], int, float]] = None,
        show_detailed_score: Optional[bool] = None,
        **kwargs: Any,
    ) -> AsyncClassifyPageResult:
        request, opts, pending = self._index_request(
            index_id, options, classes, conversation_option, page_limit, include_clips, threshold,
            show_detailed_score, kwargs,
        )
        page: Optional[BackendPage] = None
        try:
            page = await self._client._open_backend().classify(request, opts)
            return self._async_result(page)
        finally:
            self._warn("index", page, pending)

    async def by_page_token(self, page_token: str, **kwargs: Any) -> AsyncClassifyPageResult:
        token, opts, pending = self._page_request(page_token, kwargs)
        page: Optional[BackendPage] = None
        try:
            page = await self._client._open_backend().page(token, opts)
            return self._async_result(page)
        finally:
            self._warn("by_page_token", page, pending)
