"""The ``classify_sandbox`` pytest fixture, exercised the way users meet it: in their own suite.

Each test writes a small user test file and runs pytest on it in a child process
(``pytester.runpytest_subprocess``); the plugin is found through the package's ``pytest11``
entry point, exactly as in a user's environment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from classify_shim import pytest_plugin

pytest_plugins = ["pytester"]

CLASSES = repr([
    {"name": "DanceTok", "prompts": ["dance tutorial", "dance group", "dancing"]},
    {"name": "CookTok", "prompts": ["cooking tutorial", "cooking"]},
])

TINY_WORLD = {
    "name": "tiny",
    "indexes": [{
        "_id": "0123456789abcdef01234567",
        "index_name": "tiny-index",
        "videos": [{
            "_id": "0123456789abcdef0123aaaa",
            "filename": "salsa.mp4",
            "duration": 60.0,
            "content": {"visual": [{"start": 0.0, "end": 58.0, "text": "A couple dancing salsa, a dance tutorial"}]},
        }],
    }],
}


INLINE_WORLD = json.dumps({**TINY_WORLD, "name": "inline"})


# Third-party plugins of this dev environment that the user suites here do not use: loading
# them is most of a child pytest's start-up (hypothesis alone ≈ 0.9 s of CPU). Ours still comes
# in through its entry point; ``-p no:NAME`` is a no-op where NAME is not installed.
_UNUSED_PLUGINS = ("hypothesispytest", "xdist", "anyio", "timeout")


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    skip = [a for name in _UNUSED_PLUGINS for a in ("-p", f"no:{name}")]
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *skip, "-W", "ignore::DeprecationWarning", *args)


def test_fixture_points_the_client_at_a_running_sandbox(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user=f"""
        import os
        from classify_shim import TwelveLabs

        CLASSES = {CLASSES}

        def test_classify(classify_sandbox):
            assert os.environ["TWELVELABS_BASE_URL"] == classify_sandbox.base_url
            assert classify_sandbox.base_url.startswith("http://127.0.0.1:")
            assert os.environ["TWELVELABS_API_KEY"]
            assert os.environ["TWELVELABS_CLASSIFY_CACHE"] == "off"
            client = TwelveLabs(classify_backend="legacy")   # key and host from the environment
            assert client.config.cache_path is None
            index = classify_sandbox.world["indexes"][0]
            ids = [v["_id"] for v in index["videos"]][:3]
            result = client.classify.videos(ids, ["visual", "conversation"], CLASSES, page_limit=1)
            assert result.data[0].classes[0].name == "DanceTok"
            client.classify.by_page_token(result.page_info.next_page_token)
            # the first call's entry is in by now (the server logs it before serving the
            # next request on the same keep-alive connection)
            log = classify_sandbox.requests()
            assert [(r["method"], r["path"], r["status"]) for r in log][:1] == [("POST", "/v1.2/classify", 200)]
            classify_sandbox.clear_requests()
            assert classify_sandbox.requests() == []
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1)


def test_request_log_is_complete_when_the_response_arrives(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user=f"""
        import pytest
        from classify_shim import TwelveLabs

        CLASSES = {CLASSES}

        @pytest.mark.parametrize("n", range(20))
        def test_log(classify_sandbox, n):
            client = TwelveLabs(classify_backend="legacy")
            ids = [v["_id"] for v in classify_sandbox.world["indexes"][0]["videos"]][:2]
            client.classify.videos(ids, ["visual"], CLASSES)
            assert len(classify_sandbox.requests()) == 1
        """
    )
    _run(pytester).assert_outcomes(passed=20)


def test_each_test_gets_a_fresh_sandbox_and_env_is_restored(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user=f"""
        import os
        from classify_shim import TwelveLabs

        CLASSES = {CLASSES}
        SEEN = []

        def test_first(classify_sandbox):
            SEEN.append(classify_sandbox.base_url)
            client = TwelveLabs(classify_backend="legacy")
            client.classify.index(classify_sandbox.world["indexes"][0]["_id"], ["visual"], CLASSES)
            assert len(classify_sandbox.requests()) == 1
            classify_sandbox.legacy = "retired"

        def test_second(classify_sandbox):
            assert classify_sandbox.requests() == []        # a new log
            assert classify_sandbox.legacy == "live"        # settings from the last test are gone
            SEEN.append(classify_sandbox.base_url)

        def test_without_the_fixture():
            assert "TWELVELABS_BASE_URL" not in os.environ
            assert "TWELVELABS_API_KEY" not in os.environ
        """
    )
    # the child must not inherit a developer's TWELVELABS_* settings
    result = _run(pytester)
    result.assert_outcomes(passed=3)


def test_world_marker_with_a_path_beside_the_test_file(pytester: pytest.Pytester) -> None:
    (pytester.path / "worlds").mkdir()
    (pytester.path / "worlds" / "tiny.json").write_text(json.dumps(TINY_WORLD), encoding="utf-8")
    pytester.makepyfile(
        test_user=f"""
        import json
        import pytest
        from classify_shim import TwelveLabs

        CLASSES = {CLASSES}
        pytestmark = pytest.mark.classify_world("worlds/tiny.json")

        def test_module_world(classify_sandbox):
            assert classify_sandbox.world["name"] == "tiny"
            client = TwelveLabs(classify_backend="legacy")
            result = client.classify.index("0123456789abcdef01234567", ["visual"], CLASSES)
            assert [d.video_id for d in result.data] == ["0123456789abcdef0123aaaa"]

        @pytest.mark.classify_world(json.loads({INLINE_WORLD!r}))
        def test_closest_marker_wins(classify_sandbox):
            assert classify_sandbox.world["name"] == "inline"

        def test_set_world_in_the_test(classify_sandbox):
            world = dict(classify_sandbox.world, name="changed")
            classify_sandbox.set_world(world)
            assert classify_sandbox.world["name"] == "changed"
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=3)


def _bad(change: str) -> Any:
    world = json.loads(json.dumps(TINY_WORLD))
    video = world["indexes"][0]["videos"][0]
    if change == "duration":
        video["duration"] = "60"
    elif change == "source":
        video["content"]["audio"] = []
    else:
        video["content"]["visual"][0]["end"] = 61.0
    return world


def test_bad_world_fails_with_the_suites_validation_message(pytester: pytest.Pytester) -> None:
    """A user's bad world (file or inline) fails setup with the very message load_world gives."""
    from classify_shim.sandbox import WorldError, load_world

    expected = []
    for change in ("duration", "source", "end"):
        with pytest.raises(WorldError) as err:
            load_world(_bad(change))
        expected.append(str(err.value))
    assert expected[0].startswith("world.indexes[0].videos[0].duration: ")
    assert expected[1].startswith("world.indexes[0].videos[0].content.audio: unknown source")
    assert expected[2].startswith("world.indexes[0].videos[0]: ")
    (pytester.path / "bad.json").write_text(json.dumps(_bad("duration")), encoding="utf-8")
    pytester.makepyfile(
        test_user=f"""
        import json
        import pytest

        @pytest.mark.classify_world("bad.json")
        def test_file(classify_sandbox):
            pass

        @pytest.mark.classify_world(json.loads({json.dumps(_bad("source"))!r}))
        def test_inline_source(classify_sandbox):
            pass

        @pytest.mark.classify_world(json.loads({json.dumps(_bad("end"))!r}))
        def test_inline_end(classify_sandbox):
            pass
        """
    )
    result = _run(pytester)
    result.assert_outcomes(errors=3)
    lines = result.stdout.lines
    for message in expected:  # the whole message, as load_world words it, on an error line
        assert any(line.startswith("E ") and line.endswith("WorldError: " + message) for line in lines), message


def test_options_marker_retired_legacy_and_official_client(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user=f"""
        import os
        import pytest
        import twelvelabs
        from classify_shim import TwelveLabs, NotFoundError, APIStatusError

        CLASSES = {CLASSES}

        @pytest.mark.classify_sandbox(legacy="retired", seed=3)
        def test_retired(classify_sandbox):
            assert classify_sandbox.legacy == "retired" and classify_sandbox.seed == 3
            client = TwelveLabs(classify_backend="legacy", max_retries=0)
            with pytest.raises(APIStatusError) as err:
                client.classify.index(classify_sandbox.world["indexes"][0]["_id"], ["visual"], CLASSES)
            assert err.value.status_code == 410

        @pytest.mark.classify_sandbox(legacy="retired")
        def test_auto_falls_back_to_pegasus(classify_sandbox):
            client = TwelveLabs(max_retries=0)
            result = client.classify.index(classify_sandbox.world["indexes"][0]["_id"], ["visual"], CLASSES)
            assert result.backend == "pegasus"
            assert any(r["path"] == "/v1.3/analyze" for r in classify_sandbox.requests())

        def test_official_sdk_client(classify_sandbox):
            client = twelvelabs.TwelveLabs(os.environ["TWELVELABS_API_KEY"])
            assert client.base_url == classify_sandbox.base_url + "/v1.2/"
            ids = [v["_id"] for v in classify_sandbox.world["indexes"][0]["videos"]][:2]
            result = client.classify.videos(ids, ["visual"], CLASSES)
            assert len(result.data) >= 1
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=3)


def test_bad_marker_usage_fails_with_a_clear_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        import pytest

        @pytest.mark.classify_sandbox(legasy="retired")
        def test_typo(classify_sandbox):
            pass

        @pytest.mark.classify_sandbox("retired")
        def test_positional(classify_sandbox):
            pass

        @pytest.mark.classify_world()
        def test_world_without_argument(classify_sandbox):
            pass

        @pytest.mark.classify_sandbox(noise="loud")
        def test_bad_value(classify_sandbox):
            pass
        """
    )
    result = _run(pytester)
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines([
        "*unknown option(s) legasy; allowed: world, legacy, noise*",
        "*classify_sandbox takes keyword arguments only*",
        "*classify_world takes one argument*",
        "*noise must be one of*",
    ])


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        import pytest

        @pytest.mark.classify_world(None)
        @pytest.mark.classify_sandbox(noise="none")
        def test_strict(classify_sandbox):
            assert classify_sandbox.noise == "none"
        """
    )
    _run(pytester, "--strict-markers").assert_outcomes(passed=1)
    markers = _run(pytester, "--markers")
    markers.stdout.fnmatch_lines(["*classify_world(world)*", "*classify_sandbox(**options)*"])


def test_options_documented_match_the_sandbox() -> None:
    import inspect

    from classify_shim.sandbox import Sandbox

    params = inspect.signature(Sandbox).parameters
    assert set(pytest_plugin.SANDBOX_OPTIONS) <= set(params)
    assert set(params) - set(pytest_plugin.SANDBOX_OPTIONS) == {"world", "host", "port"}


def test_in_process_use(classify_sandbox: Any, tmp_path: Path) -> None:
    """Our own suite can use the fixture too (the plugin is loaded by the entry point)."""
    import os

    assert os.environ["TWELVELABS_BASE_URL"] == classify_sandbox.base_url
    assert os.environ["TWELVELABS_API_KEY"] == pytest_plugin.SANDBOX_API_KEY
    assert classify_sandbox.running
