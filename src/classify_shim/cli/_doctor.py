"""``classify-shim doctor``: what is installed, what is configured, and why.

Every section is computed on its own, so one broken setting (an invalid environment value)
is reported as a problem without hiding the rest. The API key is never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Optional, TextIO

from packaging.version import InvalidVersion, Version

from .. import _config as cfg
from .._version import __version__

__all__ = ["register", "run", "sdk_status"]

EXIT_OK = 0
EXIT_PROBLEMS = 1

_CLASSIFY_FIRST = Version("0.1.24")  # first release with client.classify
_CLASSIFY_GONE = Version("0.4.0")  # "support api v1.3": classify deleted
_FERN = Version("1.0.0a0")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "doctor",
        help="show the installed SDK, the active backend and why, warnings, cache and API reachability",
        description=(
            "Report what the shim would do in this environment: the installed `twelvelabs` SDK and "
            "what it implies, the classify backend and where that choice comes from (for auto: the "
            "remembered decision), the warning mode, the cache file, and whether a configured API host "
            "answers (one GET, 2 s timeout; reported, never fatal; the default public host only with "
            "--network). The API key is never printed."
        ),
        epilog="Exit codes: 0 ok, 1 a setting is invalid or missing (TwelveLabs() would fail), 3 unexpected error.",
    )
    parser.add_argument("--backend", choices=cfg.BACKEND_CHOICES, help="check as if classify_backend=BACKEND")
    parser.add_argument("--base-url", metavar="URL", help="check as if base_url=URL")
    parser.add_argument("--no-network", action="store_true", help="skip the reachability check")
    parser.add_argument(
        "--network", action="store_true",
        help="also check the default public API host (by default only a configured base URL is contacted)",
    )
    parser.add_argument(
        "--timeout", type=float, default=2.0, metavar="S", help="reachability timeout (default 2 s)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


# --------------------------------------------------------------------------------------------
# Sections


def sdk_status(version_text: Optional[str] = None) -> Dict[str, Any]:
    """What the installed official SDK means for classify code (``version_text`` for tests)."""
    if version_text is None:
        try:
            version_text = metadata.version("twelvelabs")
        except metadata.PackageNotFoundError:
            return {
                "installed": False,
                "version": None,
                "has_classify": False,
                "api": None,
                "meaning": "not installed; the shim does not need it (install twelvelabs>=1 for the rest of v1.3)",
            }
    out: Dict[str, Any] = {"installed": True, "version": version_text}
    try:
        version = Version(version_text)
    except InvalidVersion:
        out.update(has_classify=None, api=None, meaning="unrecognised version string")
        return out
    if version < _CLASSIFY_FIRST:
        out.update(has_classify=False, api="v1.1/v1.2", meaning="predates client.classify (added in 0.1.24)")
    elif version < _CLASSIFY_GONE:
        out.update(
            has_classify=True,
            api="v1.2",
            meaning=(
                "has client.classify for API v1.2, which TwelveLabs retired on 2025-02-28: change "
                "`from twelvelabs import TwelveLabs` to `from classify_shim import TwelveLabs`, or keep this "
                "client for its other resources and call classify_shim.attach(client)"
            ),
        )
        if version < Version("0.2"):
            out["meaning"] += " (0.1.x classify predates paginated results and float clip times)"
    elif version < _FERN:
        out.update(
            has_classify=False,
            api="v1.3",
            meaning=(
                "0.4.x targets API v1.3 and removed client.classify (0.4.0): legacy code fails with "
                "AttributeError; use classify_shim.TwelveLabs, or classify_shim.attach(client)"
            ),
        )
    else:
        out.update(
            has_classify=False,
            api="v1.3",
            meaning=(
                "the v1.3 SDK (client.analyze); it has no classify: classify_shim.attach(client) adds one, "
                "and MIGRATION.md step 7 shows the native replacement"
            ),
        )
    return out


def _backend(args: argparse.Namespace, problems: List[str]) -> Dict[str, Any]:
    try:
        value, source = cfg.resolve_backend(args.backend)
    except Exception as exc:
        problems.append(str(exc))
        return {"value": None, "source": None, "decision": None, "why": str(exc)}
    where = {
        "argument": "--backend",
        "env": f"{cfg.ENV_BACKEND}",
        "default": "the default",
    }[source]
    why = {
        "legacy": "calls go to the v1.2 endpoints",
        "pegasus": "calls go to Pegasus via v1.3 /analyze",
        "shadow": "callers get v1.2 results; Pegasus runs on a sample and mismatches are reported",
        "auto": "calls try the v1.2 endpoint first and switch to Pegasus for good when it answers 'retired'",
    }[value]
    return {"value": value, "source": source, "set_by": where, "decision": None, "why": why}


def _decisions(cache: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Every remembered decision, read through the store (never creates the cache)."""
    from .._store import open_existing

    config = cfg.ClientConfig(
        api_key="doctor",
        cache_path=Path(cache["path"]) if cache.get("path") else None,
        cache_url=cfg._resolve_cache_url(None) if cache.get("url") else None,
    )
    store = open_existing(config)
    if store is None:
        return []
    try:
        records = store.list_decisions()
    finally:
        store.close()
    out = []
    for record in records:
        item = record.to_json()
        item["decided"] = _when(record.decided_at)
        item["revalidate"] = _when(record.revalidate_at)
        out.append(item)
    return out


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _warnings(problems: List[str]) -> Dict[str, Any]:
    source = "env" if os.environ.get(cfg.ENV_WARNINGS) else "default"
    try:
        mode = cfg.resolve_warning_mode()
    except Exception as exc:
        problems.append(str(exc))
        return {"mode": None, "source": source}
    meaning = {
        "default": "one warning per legacy call site, on your line of code; your warning filters win",
        "off": "no deprecation warnings",
        "error": "legacy calls raise the warning before any request is sent",
    }[mode]
    return {"mode": mode, "source": source, "meaning": meaning}


def _cache(problems: List[str]) -> Dict[str, Any]:
    source = "env" if os.environ.get(cfg.ENV_CACHE) else "default"
    try:
        path = cfg._resolve_cache(None)
    except Exception as exc:  # e.g. platformdirs unusable
        problems.append(f"cache location: {exc}")
        return {"enabled": None, "path": None, "source": source}
    url = cfg._resolve_cache_url(None)
    if url is not None:
        return {
            "enabled": True, "path": None, "url": cfg.redact_url(url), "source": source,
            "exists": True, "size_bytes": None,
        }
    if path is None:
        return {"enabled": False, "path": None, "source": source, "exists": False, "size_bytes": None}
    exists = path.is_file()
    size: Optional[int] = None
    if exists:
        try:
            size = path.stat().st_size
        except OSError:
            size = None
    return {"enabled": True, "path": str(path), "source": source, "exists": exists, "size_bytes": size}


def _pegasus(problems: List[str]) -> Dict[str, Any]:
    raw = os.environ.get(cfg.ENV_CONCURRENCY)
    concurrency: Any = "adaptive"
    if raw:
        try:
            value = int(raw)
            if value < 1:
                raise ValueError
            concurrency = value
        except ValueError:
            problems.append(f"{cfg.ENV_CONCURRENCY}={raw!r} is not a positive integer")
            concurrency = None
    return {
        "model": os.environ.get(cfg.ENV_PEGASUS_MODEL) or cfg.DEFAULT_PEGASUS_MODEL,
        "model_source": "env" if os.environ.get(cfg.ENV_PEGASUS_MODEL) else "default",
        "index_id": os.environ.get(cfg.ENV_INDEX_ID) or None,
        "max_concurrency": concurrency,
    }


def _calibration(problems: List[str]) -> Dict[str, Any]:
    """The profile ``TWELVELABS_CLASSIFY_CALIBRATION`` names: what it is keyed by (model,
    prompt template version, classes) and what it was fitted on, so a mismatch shows here."""
    raw = os.environ.get(cfg.ENV_CALIBRATION, "").strip()
    if not raw or cfg._is_off(raw):
        return {"enabled": False, "source": "env" if raw else "default"}
    from .._backend import backend_class
    from .._calibration import load_profile
    from .._exceptions import TwelveLabsError

    try:
        profile = load_profile(raw)
    except TwelveLabsError as exc:
        problems.append(str(exc))
        return {"enabled": True, "source": "env", "path": raw, "error": str(exc)}
    saved = profile.saved_thresholds
    return {
        "enabled": True, "source": "env", "path": raw,
        "key": {"model": profile.model, "prompt_template": profile.prompt_template,
                "classes": list(profile.class_names)},
        "current_template": backend_class("pegasus").template_version(
            os.environ.get(cfg.ENV_STRATEGY, "").strip().lower()),
        "samples": profile.samples,
        "saved_thresholds": None if saved is None else {"min_video_score": saved[0], "min_duration_ratio": saved[1]},
        "classes_own_map": sum(1 for c in profile.classes.values() if not c.pooled),
    }


def _reach(host: str, api_key: Optional[str], timeout: float) -> Dict[str, Any]:
    """One GET: the v1.3 index list with the key (which also checks the key), else the host root."""
    import httpx

    url = f"{host}/v1.3/indexes?page_limit=1" if api_key else f"{host}/"
    headers = {"x-api-key": api_key} if api_key else {}
    started = time.monotonic()
    try:
        response = httpx.get(url, headers=headers, timeout=timeout, follow_redirects=False)
    except Exception as exc:
        return {
            "checked": url,
            "reachable": False,
            "status": None,
            "error": f"{type(exc).__name__}: {exc}"[:300],
            "elapsed_ms": round(1000 * (time.monotonic() - started)),
        }
    status = response.status_code
    key: Optional[str] = None
    if api_key:
        key = "accepted" if status < 400 else "rejected" if status in (401, 403) else "unknown"
    return {
        "checked": url,
        "reachable": True,
        "status": status,
        "api_key": key,
        "error": None,
        "elapsed_ms": round(1000 * (time.monotonic() - started)),
    }


def _environment() -> Dict[str, str]:
    out: Dict[str, str] = {}
    for name in sorted(os.environ):
        if name.startswith("TWELVELABS_"):
            out[name] = "<set>" if name == cfg.ENV_API_KEY else os.environ[name]
    return out


def _settings() -> List[Dict[str, Any]]:
    """Every setting a variable can supply (from the one declaration, ``_config.SETTINGS``): the
    value in effect when no argument is passed, and where it comes from."""
    out: List[Dict[str, Any]] = []
    for setting in cfg.SETTINGS:
        if setting.env is None:
            continue
        raw = os.environ.get(setting.env, "").strip()
        shown = "<set>" if raw and setting.env == cfg.ENV_API_KEY else raw
        out.append({
            "name": setting.name, "env": setting.env, "value": shown or setting.env_default_cell.strip("`"),
            "source": "env" if raw else "default", "allowed": list(setting.choices),
        })
    return out


def collect(args: argparse.Namespace) -> Dict[str, Any]:
    problems: List[str] = []
    api_key = (os.environ.get(cfg.ENV_API_KEY) or "").strip() or None
    if api_key is None:
        problems.append(f"no API key: set {cfg.ENV_API_KEY} (or pass api_key=)")
    host = cfg._host_root(args.base_url)
    backend = _backend(args, problems)
    cache = _cache(problems)
    decisions = _decisions(cache) if cache.get("enabled") else []
    cache["decisions"] = decisions
    if backend.get("value") == "auto":
        mine = [d for d in decisions if d["host"] == host and d["api_version"] == cfg.DEFAULT_API_VERSION]
        decision = mine[0]["backend"] if mine else None
        backend["decision"] = decision
        if cfg.is_public_host(host):
            backend["why"] = (
                f"{host} is TwelveLabs' public host, where v1.2 Classify was retired on 2025-02-28: "
                "calls go straight to Pegasus, without probing v1.2"
            )
        elif decision:
            backend["why"] = (
                f"the v1.2 endpoint at {host} answered 'retired' before (remembered in the cache): "
                "calls go straight to Pegasus"
            )
        elif not cache.get("enabled"):
            backend["why"] += " (the cache is off, so each client decides again)"
    report: Dict[str, Any] = {
        "shim": {"version": __version__, "python": platform.python_version()},
        "sdk": sdk_status(),
        "api_key": {"set": api_key is not None, "source": "env" if api_key else None},
        "backend": backend,
        "warnings": _warnings(problems),
        "cache": cache,
        "pegasus": _pegasus(problems),
        "calibration": _calibration(problems),
        "base_url": {
            "host": host,
            "source": "argument"
            if args.base_url
            else "env"
            if os.environ.get(cfg.ENV_BASE_URL)
            else "default",
            "legacy_url": f"{host}/{cfg.DEFAULT_API_VERSION}/",
            "v13_url": f"{host}/v1.3/",
        },
        "settings": _settings(),
        "environment": _environment(),
        "problems": problems,
    }
    # The public API host is contacted only on request: doctor must run quietly offline.
    configured = report["base_url"]["source"] != "default"
    if not args.no_network and (configured or args.network):
        report["base_url"]["reachability"] = _reach(host, api_key, args.timeout)
    elif not args.no_network:
        report["base_url"]["reachability_skipped"] = "default public host; pass --network to check it"
    return report


# --------------------------------------------------------------------------------------------
# Output


def _size(n: Optional[int]) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _print(report: Dict[str, Any], out: TextIO) -> None:
    lines: List[tuple[str, str]] = []
    shim = report["shim"]
    lines.append(("classify-shim", f"{shim['version']} (Python {shim['python']})"))
    sdk = report["sdk"]
    sdk_text = sdk["version"] if sdk["installed"] else "not installed"
    lines.append(("twelvelabs SDK", f"{sdk_text}: {sdk['meaning']}"))
    key = report["api_key"]
    lines.append(("API key", f"set ({cfg.ENV_API_KEY})" if key["set"] else "missing"))
    backend = report["backend"]
    if backend["value"]:
        decision = f"; remembered decision: {backend['decision']}" if backend.get("decision") else ""
        lines.append(
            ("backend", f"{backend['value']} (from {backend['set_by']}): {backend['why']}{decision}")
        )
    else:
        lines.append(("backend", "invalid (see problems)"))
    warn = report["warnings"]
    origin = f"from {cfg.ENV_WARNINGS}" if warn["source"] == "env" else f"{cfg.ENV_WARNINGS} not set"
    lines.append(
        ("warnings", f"{warn['mode']} ({origin}): {warn.get('meaning', '')}" if warn["mode"] else "invalid")
    )
    cache = report["cache"]
    if cache.get("enabled"):
        origin = f"from {cfg.ENV_CACHE}" if cache["source"] == "env" else "default location"
        if cache.get("url"):
            lines.append(("cache", f"{cache['url']} (shared store; {origin})"))
        else:
            state = _size(cache["size_bytes"]) if cache["exists"] else "not created yet"
            lines.append(("cache", f"{cache['path']} ({state}; {origin})"))
        for d in cache.get("decisions") or []:
            ev = d["evidence"]
            said = f"HTTP {ev['status']}" + (f" {ev['code']}" if ev.get("code") else "")
            lines.append((
                "decision",
                f"{d['host']} {d['api_version']} -> {d['backend']} (answered {said} at {_when(ev['at'])}; "
                f"decided {d['decided']}, revalidated after {d['revalidate']}; "
                "forget with `classify-shim cache clear --decisions`)",
            ))
    else:
        origin = f"from {cfg.ENV_CACHE}" if cache["source"] == "env" else "default"
        lines.append(("cache", f"off ({origin})" if cache.get("enabled") is False else "unknown"))
    peg = report["pegasus"]
    conc = peg["max_concurrency"]
    lines.append(
        (
            "pegasus",
            f"model {peg['model']} ({peg['model_source']}), index hint {peg['index_id'] or '-'}, "
            f"concurrency {'adaptive (starts at 4)' if conc == 'adaptive' else conc}",
        )
    )
    cal = report["calibration"]
    if not cal["enabled"]:
        lines.append(("calibration", f"none ({cfg.ENV_CALIBRATION} {'off' if cal['source'] == 'env' else 'not set'})"))
    elif "error" in cal:
        lines.append(("calibration", f"{cal['path']}: unreadable (see problems)"))
    else:
        key = cal["key"]
        names = ", ".join(key["classes"][:8]) + (" ..." if len(key["classes"]) > 8 else "")
        stale = "" if key["prompt_template"] == cal["current_template"] else (
            f" (this version asks with {cal['current_template']}: the profile warns and is applied anyway)")
        saved = cal["saved_thresholds"]
        at = f", saved at {saved['min_video_score']:g} / {saved['min_duration_ratio']:g}" if saved else ""
        lines.append(("calibration", f"{cal['path']}: model {key['model']}, template {key['prompt_template']}{stale}, "
                                     f"{len(key['classes'])} class(es) ({names}), samples={cal['samples']}{at}"))
    base = report["base_url"]
    text = f"{base['host']} ({base['source']}); legacy {base['legacy_url']}, v1.3 {base['v13_url']}"
    reach = base.get("reachability")
    if reach is not None:
        if reach["reachable"]:
            extra = f", API key {reach['api_key']}" if reach.get("api_key") else ""
            text += f"; reachable: HTTP {reach['status']}{extra} ({reach['elapsed_ms']} ms)"
        else:
            text += f"; NOT reachable: {reach['error']}"
    elif base.get("reachability_skipped"):
        text += f"; not contacted ({base['reachability_skipped']})"
    lines.append(("base URL", text))
    for setting in report["settings"]:
        allowed = f"; one of {', '.join(setting['allowed'])}" if setting["allowed"] else ""
        origin = "from the environment" if setting["source"] == "env" else "default"
        lines.append(("setting", f"{setting['name']} = {setting['value']} ({setting['env']}, {origin}{allowed})"))
    env = report["environment"]
    lines.append(
        ("environment", ", ".join(f"{k}={v}" for k, v in env.items()) or "no TWELVELABS_* variables")
    )
    lines.append(("problems", "; ".join(report["problems"]) or "none"))
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        out.write(f"{label.ljust(width)}  {value}\n")


def run(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    try:
        report = collect(args)
    except Exception as exc:
        err.write(f"classify-shim doctor: unexpected error: {type(exc).__name__}: {exc}\n")
        return 3
    if args.json:
        out.write(json.dumps(report, indent=2) + "\n")
    else:
        _print(report, out)
    return EXIT_PROBLEMS if report["problems"] else EXIT_OK
