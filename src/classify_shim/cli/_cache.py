"""``classify-shim cache stats|prune|clear``: look at and bound what the store keeps.

Works on the store a client would use (``--cache``, else ``TWELVELABS_CLASSIFY_CACHE``, else the
default file). It never creates a cache: with nothing there yet, it says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from .. import _config as cfg
from .._store import KINDS, Store, open_existing

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "cache",
        help="show, prune or clear the answer cache (SQLite file or Redis)",
        description=(
            "Inspect and bound the store: stats (entries, expired entries and bytes per kind), prune "
            "(delete expired entries; Redis expires keys itself), clear (everything, some kinds, or only "
            "the remembered auto decisions). Kinds: " + ", ".join(KINDS) + "."
        ),
        epilog="Exit codes: 0 ok, 1 no cache there yet (nothing to do), 2 usage error.",
    )
    parser.add_argument("action", choices=("stats", "prune", "clear"))
    parser.add_argument(
        "--cache", metavar="PATH_OR_URL",
        help=f"the store to use: a file path or redis://host:port/db (default: {cfg.ENV_CACHE}, then the default file)",
    )
    parser.add_argument("--kind", action="append", choices=KINDS, help="clear: only this kind (repeatable)")
    parser.add_argument("--decisions", action="store_true", help="clear: only the remembered auto decisions")
    parser.add_argument("--host", help="with --decisions: only this API host (e.g. https://api.example.com)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def _open(arg: Optional[str]) -> tuple[Optional[Store], str]:
    cache: Any = arg if arg is not None else None
    config = cfg.ClientConfig(
        api_key="cli", cache_path=cfg._resolve_cache(cache), cache_url=cfg._resolve_cache_url(cache)
    )
    where = cfg.redact_url(config.cache_url) if config.cache_url else str(config.cache_path or "off")
    return open_existing(config), where


def run(args: argparse.Namespace) -> int:
    out = sys.stdout
    if args.action != "clear" and (args.kind or args.decisions or args.host):
        out.write("classify-shim cache: --kind, --decisions and --host go with `clear`\n")
        return 2
    if args.host and not args.decisions:
        out.write("classify-shim cache: --host goes with --decisions\n")
        return 2
    store, where = _open(args.cache)
    if store is None:
        report: Dict[str, Any] = {"cache": where, "exists": False}
        out.write(json.dumps(report) + "\n" if args.json else f"no cache at {where} (nothing to {args.action})\n")
        return 1
    try:
        if args.action == "stats":
            stats = store.stats()
            report = {"cache": where, "kind": store.kind, "exists": True, "kinds": {
                k: {"entries": s.entries, "expired": s.expired, "bytes": s.bytes} for k, s in stats.items()
            }}
            if store.kind == "sqlite":
                path = Path(where)
                report["file_bytes"] = sum(
                    p.stat().st_size for p in path.parent.glob(path.name + "*") if ".damaged-" not in p.name
                ) if path.exists() else 0
            report["decisions"] = [d.to_json() for d in store.list_decisions()]
        elif args.action == "prune":
            report = {"cache": where, "removed": store.prune()}
        elif args.decisions:
            report = {"cache": where, "removed": {"decisions": store.clear_decisions(args.host)}}
        else:
            report = {"cache": where, "removed": store.clear(args.kind)}
    finally:
        store.close()
    if args.json:
        out.write(json.dumps(report, indent=2) + "\n")
    else:
        _print(args.action, report, out)
    return 0


def _print(action: str, report: Dict[str, Any], out: Any) -> None:
    out.write(f"cache {report['cache']}\n")
    if action == "stats":
        rows: List[str] = [f"  {'kind':<11} {'entries':>8} {'expired':>8} {'bytes':>12}"]
        for kind, s in report["kinds"].items():
            size = "-" if s["bytes"] is None else str(s["bytes"])
            rows.append(f"  {kind:<11} {s['entries']:>8} {s['expired']:>8} {size:>12}")
        out.write("\n".join(rows) + "\n")
        if "file_bytes" in report:
            out.write(f"  file size (with WAL): {report['file_bytes']} bytes\n")
        for d in report["decisions"]:
            ev = d["evidence"]
            out.write(
                f"  decision: {d['host']} {d['api_version']} -> {d['backend']} "
                f"(HTTP {ev['status']} {ev.get('code') or ''}; clear with `classify-shim cache clear --decisions`)\n"
            )
    else:
        removed = ", ".join(f"{k} {v}" for k, v in report["removed"].items())
        out.write(f"  removed: {removed or 'nothing'}\n")
