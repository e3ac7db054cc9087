"""twelvelabs-classify-shim: keep ``client.classify`` code from TwelveLabs SDK 0.2-0.3 running.

Change one line — ``from twelvelabs import TwelveLabs`` becomes
``from classify_shim import TwelveLabs`` — and pick a backend with ``classify_backend=`` or
``TWELVELABS_CLASSIFY_BACKEND`` (``legacy``, ``pegasus``, ``auto``, ``shadow``).
"""

from . import models
from ._attach import attach
from ._client import AsyncTwelveLabs, TwelveLabs
from ._types import NOT_GIVEN, NotGiven
from ._version import __version__
from ._warnings import (
    ApiVersionWarning,
    BackendSwitchWarning,
    CacheWarning,
    CalibrationWarning,
    ClassifyDeprecationWarning,
    PartialResultWarning,
    UnsupportedWarning,
    apply_deferred_warnoptions,
)
from .exceptions import *  # noqa: F403  (the 0.3.2 exception names, listed once, in exceptions.py)
from .exceptions import __all__ as _exception_names

apply_deferred_warnoptions()

__all__ = [
    *_exception_names,
    "NOT_GIVEN",
    "ApiVersionWarning",
    "AsyncTwelveLabs",
    "BackendSwitchWarning",
    "CacheWarning",
    "CalibrationWarning",
    "ClassifyDeprecationWarning",
    "NotGiven",
    "PartialResultWarning",
    "TwelveLabs",
    "UnsupportedWarning",
    "__version__",
    "attach",
    "models",
]
