"""``AsyncTwelveLabs`` against the sandbox: same results, errors and validation as the sync client.

Every test drives both clients with the same calls and compares what comes back, so the two
twins cannot drift apart. Async code runs under ``asyncio.run`` (no async pytest plugin needed).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, TypeVar

import pytest

from classify_shim import (
    APIConnectionError,
    AsyncTwelveLabs,
    BadRequestError,
    ClassifyValidationError,
    RateLimitError,
    TwelveLabs,
)
from classify_shim._exceptions import APIStatusError
from classify_shim.models import AsyncClassifyPageResult, ClassifyClassParams, ClassifyPageResult
from classify_shim.resources.classify import AsyncClassify
from legacy_support import API_KEY

T = TypeVar("T")

CLASSES: List[Dict[str, Any]] = [
    {"name": "DanceTok", "prompts": ["dance tutorial", "dance group", "dancing"]},
    {"name": "CookTok", "prompts": ["cooking tutorial", "cooking"]},
]
OPTIONS = ["visual", "conversation"]
MISSING = "ffffffffffffffffffffffff"


@pytest.fixture(autouse=True)
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_CLASSIFY_WARNINGS", "off")


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def _index(sb: Any) -> str:
    return str(sb.world["indexes"][0]["_id"])


def _videos(sb: Any) -> List[str]:
    return [str(v["_id"]) for v in sb.world["indexes"][0]["videos"]]


def _sync(sb: Any, backend: str = "legacy", base_url: Optional[str] = None) -> TwelveLabs:
    return TwelveLabs(API_KEY, classify_backend=backend, base_url=base_url or sb.base_url,  # type: ignore[arg-type]
                      max_retries=0, cache=False)


def _async(sb: Any, backend: str = "legacy", base_url: Optional[str] = None) -> AsyncTwelveLabs:
    return AsyncTwelveLabs(API_KEY, classify_backend=backend, base_url=base_url or sb.base_url,  # type: ignore[arg-type]
                           max_retries=0, cache=False)


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _masked(result: ClassifyPageResult) -> str:
    """Two calls get two result sets: their tokens and expiry differ by design, nothing else."""
    dump = result.model_dump()
    info = dump["page_info"]
    for key in ("next_page_token", "prev_page_token"):
        if info.get(key):
            info[key] = _UUID.sub("<uuid>", info[key])
    info["page_expired_at"] = "<time>"
    return json.dumps(dump)


SAME_CALLS: List[Tuple[str, Dict[str, Any]]] = [
    ("videos", {}),
    ("videos", {"page_limit": 2, "include_clips": True, "show_detailed_score": True}),
    ("videos", {"threshold": {"min_video_score": 40, "min_clip_score": 20, "min_duration_ratio": 0.05},
                "conversation_option": "exact_match"}),
    ("index", {"page_limit": 3, "include_clips": True}),
    ("index", {"show_detailed_score": True}),
]


@pytest.mark.parametrize(("method", "kwargs"), SAME_CALLS)
def test_results_equal_the_sync_client(sb: Any, method: str, kwargs: Dict[str, Any]) -> None:
    target: Any = _videos(sb) if method == "videos" else _index(sb)
    with _sync(sb) as client:
        expected = getattr(client.classify, method)(target, OPTIONS, CLASSES, **kwargs)

    async def main() -> ClassifyPageResult:
        async with _async(sb) as client:
            assert isinstance(client.classify, AsyncClassify)
            result: ClassifyPageResult = await getattr(client.classify, method)(target, OPTIONS, CLASSES, **kwargs)
            return result

    got = run(main())
    assert type(expected) is ClassifyPageResult and type(got) is AsyncClassifyPageResult
    assert isinstance(got, ClassifyPageResult) and got.backend == expected.backend == "legacy"
    assert _masked(got) == _masked(expected)
    assert len(got.data) > 0


def test_classify_class_params_objects_work_alike(sb: Any) -> None:
    classes = [ClassifyClassParams(c["name"], c["prompts"]) for c in CLASSES]
    with _sync(sb) as client:
        expected = client.classify.videos(_videos(sb)[:4], OPTIONS, classes)

    async def main() -> ClassifyPageResult:
        async with _async(sb) as client:
            return await client.classify.videos(_videos(sb)[:4], OPTIONS, classes)

    assert _masked(run(main())) == _masked(expected)


def test_by_page_token_returns_the_same_page(sb: Any) -> None:
    with _sync(sb) as client:
        first = client.classify.index(_index(sb), OPTIONS, CLASSES, page_limit=1)
        token = first.page_info.next_page_token
        assert token
        expected = client.classify.by_page_token(token)

    async def main() -> ClassifyPageResult:
        async with _async(sb) as client:
            return await client.classify.by_page_token(token)

    got = run(main())
    assert json.dumps(got.model_dump()) == json.dumps(expected.model_dump())
    assert got.page_info.prev_page_token  # a second page points back


def test_async_for_pages_through_everything_first_page_first(sb: Any) -> None:
    with _sync(sb) as client:
        sync_result = client.classify.index(_index(sb), OPTIONS, CLASSES, page_limit=2)
        sync_pages = [sync_result.data, *sync_result]  # the sync iterator yields the *following* pages
        total = sync_result.page_info.total_results

    async def main() -> Tuple[List[Any], ClassifyPageResult, str]:
        async with _async(sb) as client:
            result = await client.classify.index(_index(sb), OPTIONS, CLASSES, page_limit=2)
            first = json.dumps(result.data.model_dump())
            pages = [page async for page in result]
            return pages, result, first

    pages, result, first = run(main())
    assert json.dumps(pages[0].model_dump()) == first
    assert [json.dumps(p.model_dump()) for p in pages] == [json.dumps(p.model_dump()) for p in sync_pages]
    ids = [v.video_id for page in pages for v in page]
    assert len(ids) == total == len(set(ids)) and len(pages) == -(-total // 2) > 1
    # the result moved along to the last page, as the sync iterator does
    assert result.page_info.next_page_token in ("", None) and result.page_info.prev_page_token


def test_anext_pages_like_sync_next(sb: Any) -> None:
    """``await result.anext()`` / ``await result.__anext__()`` = the sync ``next(result)``: the
    *following* page's data, ``page_info`` moved along, StopAsyncIteration after the last."""
    with _sync(sb) as client:
        sync_result = client.classify.index(_index(sb), OPTIONS, CLASSES, page_limit=2)
        sync_next = [json.dumps(d.model_dump()) for d in sync_result]
        sync_infos = sync_result.page_info.model_dump()
    assert len(sync_next) >= 2

    async def main() -> Tuple[List[str], Dict[str, Any], int]:
        async with _async(sb) as client:
            result = await client.classify.index(_index(sb), OPTIONS, CLASSES, page_limit=2)
            got = [json.dumps((await result.anext()).model_dump()),
                   json.dumps((await result.__anext__()).model_dump())]
            while True:
                try:
                    got.append(json.dumps((await result.anext()).model_dump()))
                except StopAsyncIteration:
                    break
            before = len(sb.requests())
            with pytest.raises(StopAsyncIteration):
                await result.anext()  # at the end it stays at the end, without a request
            return got, result.page_info.model_dump(), len(sb.requests()) - before

    got, info, sent = run(main())
    assert got == sync_next and sent == 0
    # the result moved to its last page, as the sync one did (tokens differ: two results)
    for pi in (info, sync_infos):
        assert pi["next_page_token"] in ("", None) and pi["prev_page_token"]
    assert (info["total_results"], info["limit_per_page"]) == (sync_infos["total_results"], 2)


@pytest.mark.skipif(sys.version_info < (3, 10), reason="the anext() builtin is Python 3.10+")
def test_builtin_anext_works(sb: Any) -> None:
    async def main() -> Tuple[int, int]:
        async with _async(sb) as client:
            result = await client.classify.index(_index(sb), OPTIONS, CLASSES, page_limit=2)
            second = await anext(result)  # noqa: F821 (3.10+)
            return len(second), len(result.data)

    second, first = run(main())
    assert second > 0 and first == 2


def test_sync_iteration_of_an_async_result_raises_a_clear_type_error(sb: Any) -> None:
    """next(result) used to return a coroutine that was never awaited (nothing fetched, a
    RuntimeWarning at best); now it says what to write instead, and sends nothing."""
    import warnings

    async def main() -> Tuple[List[str], int]:
        async with _async(sb) as client:
            result = await client.classify.index(_index(sb), OPTIONS, CLASSES, page_limit=2)
            assert result.page_info.next_page_token
            before = len(sb.requests())
            messages = []
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)  # a coroutine never awaited fails here
                for attempt in (lambda: next(result), lambda: [d for d in result], lambda: list(result)):
                    with pytest.raises(TypeError) as err:
                        attempt()
                    messages.append(str(err.value))
            return messages, len(sb.requests()) - before

    messages, sent = run(main())
    assert sent == 0
    for message in messages:
        assert "await result.anext()" in message and "async for" in message


def test_sync_results_keep_0_3_2_iteration_only(sb: Any) -> None:
    """The sync result is 0.3.2's iterator and nothing more: no async iteration to misuse."""
    with _sync(sb) as client:
        result = client.classify.index(_index(sb), OPTIONS, CLASSES, page_limit=2)
    assert not hasattr(result, "__aiter__") and not hasattr(result, "anext")
    assert iter(result) is result


def test_async_for_on_a_single_page_yields_it_once(sb: Any) -> None:
    async def main() -> List[Any]:
        async with _async(sb) as client:
            result = await client.classify.videos(_videos(sb)[:3], OPTIONS, CLASSES)
            return [page async for page in result]

    pages = run(main())
    assert len(pages) == 1 and len(pages[0]) > 0


def test_concurrent_calls_on_one_client(sb: Any) -> None:
    ids = _videos(sb)

    async def main() -> List[ClassifyPageResult]:
        async with _async(sb) as client:
            return list(await asyncio.gather(*(client.classify.videos([v], OPTIONS, CLASSES) for v in ids[:5])))

    results = run(main())
    with _sync(sb) as client:
        for vid, got in zip(ids, results):
            assert _masked(got) == _masked(client.classify.videos([vid], OPTIONS, CLASSES))


# --------------------------------------------------------------------------- errors


_HELD: List[socket.socket] = []


def _closed_port() -> str:
    """A loopback URL that refuses connections: the port stays bound, never listening, for the
    rest of the run, so no other test process can start a server on it meanwhile."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _HELD.append(s)
    return f"http://127.0.0.1:{s.getsockname()[1]}"


ErrorCase = Callable[[Any], Tuple[str, Tuple[Any, ...], Dict[str, Any]]]

ERROR_CASES: Dict[str, Tuple[ErrorCase, type]] = {
    "unknown video": (lambda sb: ("videos", ([MISSING], OPTIONS, CLASSES), {}), BadRequestError),
    "unknown index": (lambda sb: ("index", (MISSING, OPTIONS, CLASSES), {}), BadRequestError),
    "unknown page token": (
        lambda sb: ("by_page_token", ("00000000-0000-4000-8000-000000000000-1",), {}), BadRequestError),
}


def _outcome(exc: BaseException) -> Tuple[Any, ...]:
    status = exc.status_code if isinstance(exc, APIStatusError) else None
    body = exc.body if isinstance(exc, APIStatusError) else None
    return type(exc), str(exc), status, json.dumps(body, sort_keys=True, default=str)


def _both_fail(sb: Any, method: str, args: Tuple[Any, ...], kwargs: Dict[str, Any],
               base_url: Optional[str] = None) -> Tuple[Tuple[Any, ...], Tuple[Any, ...]]:
    with _sync(sb, base_url=base_url) as client, pytest.raises(Exception) as sync_err:
        getattr(client.classify, method)(*args, **kwargs)

    async def main() -> BaseException:
        async with _async(sb, base_url=base_url) as client:
            try:
                await getattr(client.classify, method)(*args, **kwargs)
            except Exception as exc:
                return exc
        raise AssertionError("the async call did not fail")

    return _outcome(sync_err.value), _outcome(run(main()))


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_api_errors_map_the_same(sb: Any, case: str) -> None:
    build, expected_type = ERROR_CASES[case]
    method, args, kwargs = build(sb)
    sync_out, async_out = _both_fail(sb, method, args, kwargs)
    assert sync_out == async_out
    assert issubclass(sync_out[0], expected_type) and sync_out[2] == 400


def test_retired_endpoint_maps_the_same(sb: Any) -> None:
    sb.legacy = "retired"
    sync_out, async_out = _both_fail(sb, "index", (_index(sb), OPTIONS, CLASSES), {})
    assert sync_out == async_out and sync_out[2] == 410


def test_rate_limit_maps_the_same(sb: Any) -> None:
    sb.rate_limit_rpm = 1
    with _sync(sb) as client:
        client.classify.videos(_videos(sb)[:1], OPTIONS, CLASSES)  # uses up the minute
    sync_out, async_out = _both_fail(sb, "videos", (_videos(sb)[:1], OPTIONS, CLASSES), {})
    assert sync_out == async_out
    assert issubclass(sync_out[0], RateLimitError) and sync_out[2] == 429


def test_connection_errors_map_the_same(sb: Any) -> None:
    sync_out, async_out = _both_fail(sb, "videos", (_videos(sb)[:1], OPTIONS, CLASSES), {}, base_url=_closed_port())
    # httpx words the refusal differently per I/O backend; our wrapping must be the same
    assert sync_out[0] is async_out[0] and issubclass(sync_out[0], APIConnectionError)
    assert sync_out[1].split(":")[0] == async_out[1].split(":")[0] == "Connection error"
    assert sync_out[2:] == async_out[2:]


# --------------------------------------------------------------------------- validation

# Repeated video ids, extra class keys and same-named classes are not here: v1.2 accepted them.
BAD_CALLS: List[Tuple[str, Tuple[Any, ...], Dict[str, Any]]] = [
    ("videos", ([], OPTIONS, CLASSES), {}),
    ("videos", ("66a0c1d2e3f4a5b6c7d90001", OPTIONS, CLASSES), {}),
    ("videos", (["a b"], OPTIONS, CLASSES), {}),
    ("videos", (["a"], ["audio"], CLASSES), {}),
    ("videos", (["a"], [], CLASSES), {}),
    ("videos", (["a"], OPTIONS, []), {}),
    ("videos", (["a"], OPTIONS, [{"name": "x"}]), {}),
    ("videos", (["a"], OPTIONS, [{"name": "x", "prompts": ["p"] * 101}]), {}),
    ("videos", (["a"], OPTIONS, CLASSES), {"page_limit": 51}),
    ("videos", (["a"], OPTIONS, CLASSES), {"page_limit": True}),
    ("videos", (["a"], OPTIONS, CLASSES), {"include_clips": "yes"}),
    ("videos", (["a"], OPTIONS, CLASSES), {"conversation_option": "fuzzy"}),
    ("videos", (["a"], OPTIONS, CLASSES), {"threshold": {"min_video_score": 0}}),
    ("videos", (["a"], OPTIONS, CLASSES), {"threshold": 101}),
    ("videos", (["a"], OPTIONS, CLASSES), {"threshold": "high"}),
    ("videos", (["a"], OPTIONS, CLASSES), {"colour": "red"}),
    ("videos", (["a"], OPTIONS, CLASSES), {"headers": "x"}),
    ("index", (None, OPTIONS, CLASSES), {}),
    ("index", ("idx/1", OPTIONS, CLASSES), {}),
    ("index", ("idx", OPTIONS, CLASSES), {"show_detailed_score": 1}),
    ("by_page_token", (None,), {}),
    ("by_page_token", ("",), {}),
    ("by_page_token", ("a/b",), {}),
    ("by_page_token", ("tok",), {"retries": 3}),
]


@pytest.mark.parametrize(("method", "args", "kwargs"), BAD_CALLS)
def test_validation_is_identical_and_sends_nothing(
    sb: Any, method: str, args: Tuple[Any, ...], kwargs: Dict[str, Any]
) -> None:
    sync_out, async_out = _both_fail(sb, method, args, kwargs)
    assert sync_out == async_out
    assert issubclass(sync_out[0], ClassifyValidationError)
    assert sb.requests() == []


# --------------------------------------------------------------------------- Pegasus, async


def test_async_pegasus_equals_sync_pegasus(sb: Any) -> None:
    ids = _videos(sb)[:6]
    kwargs: Dict[str, Any] = {"include_clips": True, "page_limit": 2}
    with _sync(sb, "pegasus") as client:
        expected = client.classify.videos(ids, OPTIONS, CLASSES, **kwargs)
        expected_pages = [expected.data, *list(expected)]

    async def main() -> Tuple[ClassifyPageResult, List[Any]]:
        async with _async(sb, "pegasus") as client:
            result = await client.classify.videos(ids, OPTIONS, CLASSES, **kwargs)
            pages = [page async for page in result]
            return result, pages

    got, pages = run(main())
    assert got.backend == "pegasus"
    assert [json.dumps(p.model_dump()) for p in pages] == [json.dumps(p.model_dump()) for p in expected_pages]
    assert got.page_info.total_results == expected.page_info.total_results
    assert [e.video_id for e in got.errors] == [e.video_id for e in expected.errors]


def test_async_pegasus_errors_and_validation_match_sync(sb: Any) -> None:
    for method, args, kwargs in [("videos", ([MISSING], OPTIONS, CLASSES), {}), BAD_CALLS[4], BAD_CALLS[11]]:
        with _sync(sb, "pegasus") as client, pytest.raises(Exception) as sync_err:
            getattr(client.classify, method)(*args, **kwargs)

        async def main(method: str = method, args: Tuple[Any, ...] = args, kwargs: Dict[str, Any] = kwargs) -> BaseException:
            async with _async(sb, "pegasus") as client:
                try:
                    await getattr(client.classify, method)(*args, **kwargs)
                except Exception as exc:
                    return exc
            raise AssertionError("the async call did not fail")

        assert _outcome(run(main())) == _outcome(sync_err.value)
