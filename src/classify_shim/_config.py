"""Client configuration: explicit arguments win over environment variables, which win over defaults.

Every knob lives here once, with its env var; ``docs/configuration.md`` documents this module.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import httpx

from ._calibration import CalibrationProfile, load_profile
from ._events import MismatchCallback, ProgressCallback
from ._exceptions import TwelveLabsError
from ._http import DEFAULT_PACING, Pacing
from ._saved import SavedResults, SavedResultsError, load_saved
from ._types import BACKEND_NAMES, NOT_GIVEN, NotGiven, Secret

__all__ = [
    "ADAPTIVE_SAMPLES",
    "BACKEND_CHOICES",
    "CLASSIFY_API_VERSION",
    "DEFAULT_ADAPTIVE_MOST",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_PEGASUS_MODEL",
    "DEFAULT_STRATEGY",
    "DEFAULT_TIMEOUT",
    "MAX_SAMPLES",
    "PUBLIC_API_HOSTS",
    "SETTINGS",
    "SETTINGS_BY_NAME",
    "STRATEGY_CHOICES",
    "WARNING_MODES",
    "ClientConfig",
    "Setting",
    "api_version_number",
    "classify_version",
    "is_public_host",
    "lacks_classify",
    "resolve_backend",
    "resolve_samples",
    "resolve_strategy",
    "resolve_warning_mode",
    "samples_value",
]

DEFAULT_BASE_URL = "https://api.twelvelabs.io"
DEFAULT_API_VERSION = "v1.2"
CLASSIFY_API_VERSION = "v1.2"
"""The last API version with Classify: v1.3 never had it, so a client built for "v1.3" (or an
attached 0.4.x / 1.x SDK client, whose base URL ends in /v1.3) sends classify here."""
PUBLIC_API_HOSTS = frozenset({"api.twelvelabs.io"})
"""TwelveLabs' own API host. Its v1.2 Classify sunset (2025-02-28) has passed, so ``auto`` serves
Pegasus there without probing v1.2 (one rule, no wasted request per process); only custom base
URLs (private deployments, proxies, the sandbox) are probed."""
# 0.3.2's defaults: ten minutes overall, five seconds to connect.
DEFAULT_TIMEOUT = httpx.Timeout(timeout=600.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2
DEFAULT_PEGASUS_MODEL = "auto"
"""Pegasus 1.5 by asset id when the video has one, 1.2 by ``video_id`` only when it has none."""
STRATEGY_CHOICES = ("sync", "segments", "batch", "auto")
DEFAULT_STRATEGY = "auto"
DEFAULT_BACKEND = "auto"
DEFAULT_PAGE_TTL_S = 300.0
BACKEND_CHOICES = BACKEND_NAMES
WARNING_MODES = ("default", "off", "error")

ENV_API_KEY = "TWELVELABS_API_KEY"
ENV_BASE_URL = "TWELVELABS_BASE_URL"
ENV_BACKEND = "TWELVELABS_CLASSIFY_BACKEND"
ENV_WARNINGS = "TWELVELABS_CLASSIFY_WARNINGS"
ENV_PEGASUS_MODEL = "TWELVELABS_PEGASUS_MODEL"
ENV_INDEX_ID = "TWELVELABS_CLASSIFY_INDEX_ID"
ENV_CACHE = "TWELVELABS_CLASSIFY_CACHE"  # "off", a file path, or redis://host:port/db
CACHE_URL_SCHEMES = ("redis://", "rediss://", "unix://")
ENV_CONCURRENCY = "TWELVELABS_CLASSIFY_CONCURRENCY"
ENV_STRATEGY = "TWELVELABS_CLASSIFY_STRATEGY"
ENV_SAMPLES = "TWELVELABS_CLASSIFY_SAMPLES"
MAX_SAMPLES = 9
"""Most answers ``samples=k`` votes over (each one is a paid model call per video)."""
ADAPTIVE_SAMPLES = "auto"
DEFAULT_ADAPTIVE_MOST = 5
"""``samples="auto"`` is ``"auto:5"``: one answer, up to five for a video whose decision is close."""
ENV_CALIBRATION = "TWELVELABS_CLASSIFY_CALIBRATION"  # a profile file from classify-shim calibrate, or "off"

_VERSION_SUFFIX = re.compile(r"/v\d+(\.\d+)?/?$")
_API_VERSION = re.compile(r"/?v?(\d+(?:\.\d+)*)/?", re.IGNORECASE)
FIRST_VERSION_WITHOUT_CLASSIFY = (1, 3)
"""v1.3 never had Classify; neither does any later version."""


@dataclass(frozen=True)
class Setting:
    """One setting, declared once: constructor keyword, environment variable, type, default,
    allowed values and a doc line. ``SETTINGS`` drives the constructors' keywords (a test checks
    their signatures), ``ClientConfig.build``'s defaults, ``classify-shim doctor``'s settings
    section and the tables in docs/configuration.md (a test parses them against this)."""

    name: str
    argument: Optional[str]  # keyword of TwelveLabs / AsyncTwelveLabs / ClientConfig.build; None: env only
    env: Optional[str]
    type: str
    default: Any  # what applies when neither the argument nor the variable is given
    doc: str
    choices: Tuple[str, ...] = ()
    shown_default: Optional[str] = None  # the docs' "default" cell when the default is not a literal
    env_default: Optional[str] = None  # the docs' environment table "default" cell (None: the bare value)

    @property
    def argument_default(self) -> Any:
        """The keyword's default in the constructors: None ("not given") when a variable can
        supply the value, else the default itself."""
        return None if self.env is not None else self.default

    @property
    def default_cell(self) -> str:
        """How docs/configuration.md shows the default."""
        if self.shown_default is not None:
            return self.shown_default
        text = json.dumps(self.default) if isinstance(self.default, str) else repr(self.default)
        return f"`{text}`"

    @property
    def env_default_cell(self) -> str:
        if self.env_default is not None:
            return self.env_default
        return f"`{self.default}`"


SETTINGS: Tuple[Setting, ...] = (
    Setting("api_key", "api_key", ENV_API_KEY, "str", None, "your API key, sent as x-api-key",
            shown_default="— (required)", env_default="—"),
    Setting("version", "version", None, "str", DEFAULT_API_VERSION, "API version of the legacy endpoints"),
    Setting("classify_backend", "classify_backend", ENV_BACKEND, "str", DEFAULT_BACKEND, "who serves client.classify",
            BACKEND_CHOICES),
    Setting("base_url", "base_url", ENV_BASE_URL, "str", DEFAULT_BASE_URL, "the API host (0.3.2 semantics)",
            shown_default=f"`{DEFAULT_BASE_URL}`"),
    Setting("timeout", "timeout", None, "float | httpx.Timeout | None", NOT_GIVEN, "HTTP timeout",
            shown_default="600 s overall, 5 s to connect (0.3.2's)"),
    Setting("max_retries", "max_retries", None, "int", DEFAULT_MAX_RETRIES, "retries of one HTTP request"),
    Setting("http_client", "http_client", None, "httpx.Client | httpx.AsyncClient", None, "your own HTTP client",
            shown_default="a client per backend"),
    Setting("pegasus_model", "pegasus_model", ENV_PEGASUS_MODEL, "str", DEFAULT_PEGASUS_MODEL, "model_name sent to v1.3"),
    Setting("strategy", "strategy", ENV_STRATEGY, "str", DEFAULT_STRATEGY, "how the Pegasus backend asks the model",
            STRATEGY_CHOICES),
    Setting("samples", "samples", ENV_SAMPLES, "int | str", 1,
            f"answers per video the Pegasus backend votes over (1-{MAX_SAMPLES}; k x the model calls), "
            f'or "auto" / "auto:K": one answer, up to K ({DEFAULT_ADAPTIVE_MOST}) where a decision is close'),
    Setting("index_id", "index_id", ENV_INDEX_ID, "str", None, "the index to look videos up in first",
            env_default="unset"),
    Setting("cache", "cache", ENV_CACHE, "bool | str | Path", None, "the store: off, a SQLite file or redis://",
            shown_default="on, at `<user cache dir>/twelvelabs-classify-shim/cache.sqlite3`",
            env_default="the user cache dir"),
    Setting("max_concurrency", "max_concurrency", ENV_CONCURRENCY, "int", None, "/analyze calls in flight",
            shown_default="adaptive: starts at 4, up to 32", env_default="adaptive"),
    Setting("page_ttl_s", "page_ttl_s", None, "float", DEFAULT_PAGE_TTL_S, "lifetime of Pegasus page tokens"),
    Setting("on_progress", "on_progress", None, "callable", None, "called after each video of a Pegasus run"),
    Setting("shadow_sample_rate", "shadow_sample_rate", None, "float", 1.0, "share of calls shadow compares"),
    Setting("on_mismatch", "on_mismatch", None, "callable", None, "called for each pair shadow finds apart"),
    Setting("calibration", "calibration", ENV_CALIBRATION, "str | Path | CalibrationProfile | bool", None,
            "a calibration profile for Pegasus scores", env_default="unset"),
    Setting("shadow_legacy_results", "shadow_legacy_results", None, "str | Path | list", None,
            "saved v1.2 results as shadow's legacy side"),
    Setting("warnings", None, ENV_WARNINGS, "str", "default", "deprecation warnings: shown, off or raised",
            WARNING_MODES),
)
"""Every setting of the shim, in the order of the constructors' keywords."""
SETTINGS_BY_NAME: Dict[str, Setting] = {s.name: s for s in SETTINGS}


def resolve_backend(argument: Optional[str]) -> tuple[str, str]:
    """Returns ``(backend, source)``; source is ``argument``, ``env`` or ``default``."""
    if argument is not None:
        value, source = argument, "argument"
    elif os.environ.get(ENV_BACKEND):
        value, source = os.environ[ENV_BACKEND], "env"
    else:
        return DEFAULT_BACKEND, "default"
    if not isinstance(value, str):
        raise TwelveLabsError(
            f"classify_backend must be one of {', '.join(BACKEND_CHOICES)}, got {type(value).__name__} {value!r}"
        )
    normalised = value.strip().lower()
    if normalised not in BACKEND_CHOICES:
        where = "classify_backend" if source == "argument" else ENV_BACKEND
        raise TwelveLabsError(
            f"{where}={value!r} is not a classify backend; allowed values are {', '.join(BACKEND_CHOICES)}"
        )
    return normalised, source


def resolve_strategy(argument: Optional[str]) -> str:
    """How the Pegasus backend asks the model: ``sync`` (one ``/analyze`` per video), ``segments``
    (``/analyze/tasks`` with time-based metadata), ``batch`` (``/analyze/batches``) or ``auto``."""
    if argument is not None:
        value, where = argument, "strategy"
    elif os.environ.get(ENV_STRATEGY, "").strip():
        value, where = os.environ[ENV_STRATEGY], ENV_STRATEGY
    else:
        return DEFAULT_STRATEGY
    if not isinstance(value, str) or value.strip().lower() not in STRATEGY_CHOICES:
        raise TwelveLabsError(
            f"{where}={value!r} is not a classify strategy; allowed values are {', '.join(STRATEGY_CHOICES)}"
        )
    return value.strip().lower()


def resolve_samples(argument: Union[int, str, None]) -> Tuple[int, bool]:
    """``(most, adaptive)``: how many answers per video the Pegasus backend asks for and votes
    over (default ``(1, False)``). ``k`` (1-9) asks k answers of every video; ``"auto"`` /
    ``"auto:K"`` (K 2-9, "auto" is K = 5) asks one, and more, up to K, only for a video where
    some class's decision is close to its thresholds (docs/scoring.md, Samples)."""
    if argument is not None:
        value: object = argument
        where = "samples"
    elif os.environ.get(ENV_SAMPLES, "").strip():
        value, where = os.environ[ENV_SAMPLES].strip(), ENV_SAMPLES
    else:
        return 1, False
    expected = (f'a whole number from 1 to {MAX_SAMPLES}, "{ADAPTIVE_SAMPLES}" or '
                f'"{ADAPTIVE_SAMPLES}:K" with K from 2 to {MAX_SAMPLES}')
    if isinstance(value, str):
        text = value.strip().lower()
        if text == ADAPTIVE_SAMPLES:
            return DEFAULT_ADAPTIVE_MOST, True
        head, colon, tail = text.partition(":")
        if colon and head.strip() == ADAPTIVE_SAMPLES and tail.strip().isdigit() \
                and 2 <= int(tail) <= MAX_SAMPLES:
            return int(tail), True
        if not colon and text.isdigit() and where == ENV_SAMPLES:
            value = int(text)
        else:
            raise TwelveLabsError(f"{where} must be {expected}, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SAMPLES:
        raise TwelveLabsError(f"{where} must be {expected}, got {value!r}")
    return value, False


def samples_value(most: int, adaptive: bool) -> Union[int, str]:
    """The setting as users write it: ``3``, ``"auto:5"`` (what a calibration profile records)."""
    return f"{ADAPTIVE_SAMPLES}:{most}" if adaptive else most


def resolve_warning_mode() -> str:
    """Read at every emit, so tests and long-running apps can flip it without a new client."""
    value = os.environ.get(ENV_WARNINGS, "default").strip().lower() or "default"
    if value not in WARNING_MODES:
        raise TwelveLabsError(
            f"{ENV_WARNINGS}={value!r} is not a warning mode; allowed values are {', '.join(WARNING_MODES)}"
        )
    return value


def is_public_host(host: str) -> bool:
    """True for TwelveLabs' public API host (any scheme or port), see :data:`PUBLIC_API_HOSTS`."""
    try:
        name = httpx.URL(host).host
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    return name.lower().rstrip(".") in PUBLIC_API_HOSTS


def api_version_number(version: str) -> Optional[Tuple[int, ...]]:
    """The one reading of an API version: ``"v1.3"``, ``"1.3"``, ``"/v1.3/"`` -> ``(1, 3)``,
    ``"v1.3.1"`` -> ``(1, 3, 1)``; None for anything else (``"latest"``, ``"v1.3rc1"``, "")."""
    match = _API_VERSION.fullmatch(version.strip()) if isinstance(version, str) else None
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def lacks_classify(version: str) -> bool:
    """True for v1.3 and later (no Classify endpoint); False up to v1.2 and for an unreadable version."""
    number = api_version_number(version)
    return number is not None and number >= FIRST_VERSION_WITHOUT_CLASSIFY


def classify_version(version: str) -> str:
    """The API version classify calls use: ``version`` itself up to v1.2; v1.2 for any later one."""
    return CLASSIFY_API_VERSION if lacks_classify(version) else version


def _host_root(base_url: Optional[str]) -> str:
    """0.3.2 semantics: the env var / argument replaces the host part, then ``/{version}/``."""
    if base_url is None:
        base_url = os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
    root = base_url.strip().rstrip("/")
    return _VERSION_SUFFIX.sub("", root)


def default_cache_path() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("twelvelabs-classify-shim", appauthor=False)) / "cache.sqlite3"


@dataclass
class ClientConfig:
    """Everything a backend needs to know, resolved once per client."""

    api_key: str
    version: str = DEFAULT_API_VERSION
    host: str = DEFAULT_BASE_URL
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    max_retries: int = DEFAULT_MAX_RETRIES
    http_client: Optional[httpx.Client] = None
    async_http_client: Optional[httpx.AsyncClient] = None
    backend: str = DEFAULT_BACKEND
    backend_source: str = "default"
    # Pegasus adapter
    pegasus_model: str = DEFAULT_PEGASUS_MODEL
    strategy: str = DEFAULT_STRATEGY
    samples: int = 1
    """The most answers per question (``samples=k``: every video; adaptive: the undecided ones)."""
    adaptive_samples: bool = False
    """``samples="auto[:K]"``: one answer first, more only where a decision is close."""
    temperature: float = 0.0
    index_id: Optional[str] = None
    cache_path: Optional[Path] = None  # the SQLite file; None with cache_url also None = cache off
    cache_url: Optional[str] = None  # a shared store (redis://host:port/db?prefix=...)
    max_concurrency: Optional[int] = None
    page_ttl_s: float = DEFAULT_PAGE_TTL_S
    on_progress: Optional[ProgressCallback] = None
    calibration: Optional[CalibrationProfile] = None  # applied to Pegasus scores, ratios, thresholds
    # shadow mode
    shadow_sample_rate: float = 1.0
    on_mismatch: Optional[MismatchCallback] = None
    shadow_legacy_results: Optional[SavedResults] = None  # saved v1.2 results instead of a live legacy side
    requested_version: Optional[str] = None  # "v1.3" when it was asked for and classify uses v1.2
    # Waits between tries (not a setting: tests and tools give a client shorter ones, see Pacing).
    pacing: Pacing = DEFAULT_PACING
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def samples_setting(self) -> Union[int, str]:
        """``samples`` as users write it (``1``, ``3``, ``"auto:5"``)."""
        return samples_value(self.samples, self.adaptive_samples)

    @property
    def legacy_base_url(self) -> str:
        return f"{self.host}/{self.version}/"

    @property
    def v13_base_url(self) -> str:
        return f"{self.host}/v1.3/"

    def __repr__(self) -> str:  # never print the key
        return (
            f"ClientConfig(version={self.version!r}, host={self.host!r}, backend={self.backend!r}, "
            f"backend_source={self.backend_source!r}, pegasus_model={self.pegasus_model!r}, "
            f"strategy={self.strategy!r}, samples={self.samples_setting}, "
            f"cache_path={str(self.cache_path) if self.cache_path else None!r}, "
            f"cache_url={redact_url(self.cache_url) if self.cache_url else None!r})"
        )

    @classmethod
    def build(
        cls,
        api_key: Optional[str],
        version: str,
        *,
        classify_backend: Optional[str],
        base_url: Optional[str],
        timeout: Union[float, httpx.Timeout, NotGiven, None],
        max_retries: int,
        http_client: Optional[httpx.Client] = None,
        async_http_client: Optional[httpx.AsyncClient] = None,
        pegasus_model: Optional[str] = None,
        strategy: Optional[str] = None,
        samples: Union[int, str, None] = None,
        index_id: Optional[str] = None,
        cache: Union[bool, str, Path, None] = None,
        max_concurrency: Optional[int] = None,
        page_ttl_s: float = DEFAULT_PAGE_TTL_S,
        on_progress: Optional[ProgressCallback] = None,
        shadow_sample_rate: float = 1.0,
        on_mismatch: Optional[MismatchCallback] = None,
        calibration: Union[bool, str, Path, CalibrationProfile, None] = None,
        shadow_legacy_results: Union[str, Path, Sequence[Union[str, Path]], None] = None,
    ) -> ClientConfig:
        if api_key is not None and not isinstance(api_key, str):
            raise TwelveLabsError(f"api_key must be a string, got {type(api_key).__name__}")
        # A missing or malformed key is reported at the first call (``_request.check_api_key``),
        # as 0.3.2 did: modules that build their client at import time keep importing.
        key = Secret((api_key or os.environ.get(ENV_API_KEY) or "").strip())
        api_key = key  # the plain value must not stay a local of this frame
        if not isinstance(version, str) or not re.fullmatch(r"v\d+(\.\d+)?", version):
            raise TwelveLabsError(f"version={version!r} is not an API version such as 'v1.2'")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise TwelveLabsError(f"max_retries must be a non-negative integer, got {max_retries!r}")
        if (
            isinstance(shadow_sample_rate, bool)
            or not isinstance(shadow_sample_rate, (int, float))
            or not 0.0 <= shadow_sample_rate <= 1.0
        ):
            raise TwelveLabsError(f"shadow_sample_rate must be from 0 to 1, got {shadow_sample_rate!r}")
        if base_url is not None and (
            not isinstance(base_url, str) or not re.match(r"^https?://[^/\s]+", base_url.strip())
        ):
            raise TwelveLabsError(f"base_url must be an http:// or https:// URL, got {base_url!r}")
        if cache is not None and not isinstance(cache, (bool, str, Path)):
            raise TwelveLabsError(f"cache must be True, False, a file path or None, got {type(cache).__name__}")
        if http_client is not None and not isinstance(http_client, httpx.Client):
            raise TwelveLabsError(f"http_client must be an httpx.Client, got {type(http_client).__name__}")
        if async_http_client is not None and not isinstance(async_http_client, httpx.AsyncClient):
            raise TwelveLabsError(f"http_client must be an httpx.AsyncClient, got {type(async_http_client).__name__}")
        if not isinstance(timeout, (NotGiven, httpx.Timeout)) and timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf
        ):
            raise TwelveLabsError(f"timeout must be a positive number of seconds, an httpx.Timeout or None, got {timeout!r}")
        if isinstance(page_ttl_s, bool) or not isinstance(page_ttl_s, (int, float)) or page_ttl_s < 0:
            raise TwelveLabsError(f"page_ttl_s must be a non-negative number of seconds, got {page_ttl_s!r}")
        backend, source = resolve_backend(classify_backend)
        if isinstance(timeout, NotGiven):
            resolved_timeout = DEFAULT_TIMEOUT
        elif isinstance(timeout, httpx.Timeout):
            resolved_timeout = timeout
        else:
            resolved_timeout = httpx.Timeout(timeout)
        concurrency = max_concurrency
        if concurrency is not None and (isinstance(concurrency, bool) or not isinstance(concurrency, int)):
            raise TwelveLabsError(f"max_concurrency must be an integer of at least 1, got {concurrency!r}")
        if concurrency is None and os.environ.get(ENV_CONCURRENCY):
            raw = os.environ[ENV_CONCURRENCY].strip()
            if not raw.isdigit():
                raise TwelveLabsError(f"{ENV_CONCURRENCY}={raw!r} is not a whole number of concurrent calls")
            concurrency = int(raw)
        if concurrency is not None and concurrency < 1:
            raise TwelveLabsError(f"max_concurrency must be at least 1, got {concurrency!r}")
        for hook_name, hook in (("on_progress", on_progress), ("on_mismatch", on_mismatch)):
            if hook is not None and not callable(hook):
                raise TwelveLabsError(f"{hook_name} must be callable, got {type(hook).__name__}")
        for text_name, text in (("pegasus_model", pegasus_model), ("index_id", index_id)):
            if text is not None and (not isinstance(text, str) or not text.strip()):
                raise TwelveLabsError(f"{text_name} must be a non-empty string, got {text!r}")
        used_version = classify_version(version)
        most, adaptive = resolve_samples(samples)
        return cls(
            api_key=key,
            version=used_version,
            requested_version=version if used_version != version else None,
            host=_host_root(base_url),
            timeout=resolved_timeout,
            max_retries=max_retries,
            http_client=http_client,
            async_http_client=async_http_client,
            backend=backend,
            backend_source=source,
            pegasus_model=(pegasus_model or os.environ.get(ENV_PEGASUS_MODEL) or DEFAULT_PEGASUS_MODEL).strip(),
            strategy=resolve_strategy(strategy),
            samples=most,
            adaptive_samples=adaptive,
            index_id=index_id or os.environ.get(ENV_INDEX_ID) or None,
            cache_path=_resolve_cache(cache),
            cache_url=_resolve_cache_url(cache),
            max_concurrency=concurrency,
            page_ttl_s=page_ttl_s,
            on_progress=on_progress,
            shadow_sample_rate=shadow_sample_rate,
            on_mismatch=on_mismatch,
            calibration=_resolve_calibration(calibration),
            shadow_legacy_results=_resolve_saved(shadow_legacy_results),
        )


def is_cache_url(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(CACHE_URL_SCHEMES)


def redact_url(url: str) -> str:
    """The URL without its password (for messages, ``repr`` and ``doctor``)."""
    return re.sub(r"^([a-z]+://[^:/@]*):[^@/]*@", r"\1:***@", url.strip())


def _resolve_cache_url(cache: Union[bool, str, Path, None]) -> Optional[str]:
    """The shared store's URL when ``cache`` (or, when not given, the env var) is one."""
    if is_cache_url(cache):
        return str(cache).strip()
    env = os.environ.get(ENV_CACHE)
    if cache is None and env and is_cache_url(env):
        return env.strip()
    return None


def _is_off(value: object) -> bool:
    """``"off"`` (and its spellings) means no cache, as an argument exactly as in the env var."""
    return isinstance(value, str) and value.strip().lower() in ("off", "0", "false", "no", "none")


def _resolve_cache(cache: Union[bool, str, Path, None]) -> Optional[Path]:
    """``cache=False`` turns it off; a path picks the file; None defers to env, then the default.
    A ``redis://`` URL is not a file: None here, and :func:`_resolve_cache_url` returns it."""
    if cache is False or is_cache_url(cache) or _is_off(cache):
        return None
    if cache is None and is_cache_url(os.environ.get(ENV_CACHE)):
        return None
    if isinstance(cache, (str, Path)):
        return Path(cache).expanduser()
    env = os.environ.get(ENV_CACHE)
    if cache is None and env:
        if _is_off(env):
            return None
        return Path(env).expanduser()
    return default_cache_path()




def _resolve_calibration(value: Union[bool, str, Path, CalibrationProfile, None]) -> Optional[CalibrationProfile]:
    """A profile path (argument, else the env var) is read now, so a bad file fails the client's
    construction, not its first call; ``False`` / ``"off"`` (either place) means none."""
    if isinstance(value, CalibrationProfile):
        return value
    if value is True or (value is not None and not isinstance(value, (bool, str, Path))):
        raise TwelveLabsError(f"calibration must be a profile file path, False or None, got {value!r}")
    if value is None:
        value = os.environ.get(ENV_CALIBRATION, "").strip() or None
    if value is None or value is False or _is_off(value):
        return None
    return load_profile(value)


def _resolve_saved(value: Union[str, Path, Sequence[Union[str, Path]], None]) -> Optional[SavedResults]:
    """Saved v1.2 results for shadow mode's legacy side: files or directories, read now."""
    if value is None:
        return None
    paths = [value] if isinstance(value, (str, Path)) else list(value)
    if not paths or not all(isinstance(p, (str, Path)) for p in paths):
        raise TwelveLabsError("shadow_legacy_results must be a file path or a list of paths")
    try:
        return load_saved(paths)
    except SavedResultsError as exc:
        raise TwelveLabsError(f"shadow_legacy_results: {exc}") from None
