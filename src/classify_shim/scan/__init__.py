"""Static finder for legacy Classify usage (the engine behind ``classify-shim scan``).

Layout: ``_walk`` picks the files, ``_facts`` indexes each module, ``_analysis`` runs the taint
fixpoint over SDK calls, ``_http`` finds raw HTTP calls to the v1.2 endpoints, ``_report`` holds
what is reported.

Reads Python source with :mod:`ast` only: user code is never imported or executed, so the
scanner is safe to point at any tree (and at code that would fail to import).

Heuristics, chosen to keep false positives rare (documented in MIGRATION.md, step 3):

* **Calls** — ``<anything>.classify.videos(...)`` / ``.by_page_token(...)`` whatever the client
  expression is (``client``, ``self.tl``, ``get_client()``); ``.classify.index(...)`` only when the
  call looks like the legacy one (three or more arguments, a legacy keyword or a ``**`` splat),
  because ``index`` is also the name of ``list.index``. A stored resource (``clf = client.classify``)
  or bound method (``run = client.classify.videos``) is followed through assignments.
* **Results** — a value is *result-derived* if it comes from a classify call, from ``next()`` or a
  ``for`` loop over such a value, from an attribute / item / method call on one, from ``sorted``,
  ``max`` & co. over one, from a parameter that received one (followed across every scanned file by
  function name), from a function whose every definition returns one, or from a parameter annotated
  with a ``Classify*`` model. Only reads of ``score``, ``duration_ratio``, ``detailed_scores``,
  ``clips``, ``next_page_token`` and ``prev_page_token`` on result-derived values are reported.
* **Iteration** — ``next()``, ``anext()``, ``iter()``, ``list()``, ``tuple()``, ``for`` and
  comprehensions over a page result (not over ``result.data``, which is a plain list).
* **Imports** — imports naming classify models (``ClassifyClassParams``, ``twelvelabs.models.classify``)
  are always reported; a plain ``import twelvelabs`` / ``from twelvelabs import TwelveLabs`` only in a
  file that also has legacy usage (the 1.x SDK is imported the same way, and must not fail CI once
  the migration is done), unless ``all_imports`` is set. Imports of ``classify_shim`` are always
  reported: removing them is the last step of the migration.
* **Class definitions** — per-class ``options`` / ``conversation_option`` keys in dict literals that
  also have ``name`` and ``prompts``, in files that import the SDK or the shim or call classify.

* **Raw HTTP** — ``requests`` / ``httpx`` / ``urllib`` / ``aiohttp`` calls whose URL (followed through
  constants, ``+``, f-strings and ``urljoin``) ends in ``/classify``, ``/classify/bulk`` or
  ``/classify/{token}`` on TwelveLabs' API; they move by pointing their base URL at
  ``classify-shim gateway`` (rules in ``_http``).

A ``# classify-shim: ignore`` comment (or ``# classify-shim: ignore[kind,...]``) on a line silences it.
"""

from __future__ import annotations

from typing import Iterable, List, Sequence, Tuple

from ._analysis import scan_sources
from ._report import KINDS, Finding, ScanError, ScanReport, write_text
from ._walk import iter_python_files, read_sources

__all__ = [
    "KINDS",
    "Finding",
    "ScanError",
    "ScanReport",
    "iter_python_files",
    "scan_paths",
    "scan_sources",
    "write_text",
]


def scan_paths(
    paths: Iterable[str], *, exclude: Sequence[str] = (), all_imports: bool = False
) -> Tuple[ScanReport, List[str]]:
    """Scans files and directories; returns the report and the paths that do not exist."""
    files, missing = iter_python_files(paths, exclude)
    sources, unreadable = read_sources(files)
    report = scan_sources(list(sources), all_imports=all_imports)
    report.errors = [ScanError(path, error) for path, error in unreadable] + report.errors
    order = {path: i for i, path in enumerate(files)}
    report.errors.sort(key=lambda e: order.get(e.file, len(order)))
    return report, missing
