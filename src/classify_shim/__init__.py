"""twelvelabs-classify-shim: keep ``client.classify`` code from TwelveLabs SDK 0.2-0.3 running.

Change one line — ``from twelvelabs import TwelveLabs`` becomes
``from classify_shim import TwelveLabs`` — and pick a backend with ``classify_backend=`` or
``TWELVELABS_CLASSIFY_BACKEND`` (``legacy``, ``pegasus``, ``auto``, ``shadow``).
"""

from . import models
from ._attach import attach
from ._client import AsyncTwelveLabs, TwelveLabs
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClassifyValidationError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TwelveLabsError,
    UnprocessableEntityError,
)
from ._types import NOT_GIVEN, NotGiven
from ._version import __version__
from ._warnings import (
    BackendSwitchWarning,
    ClassifyDeprecationWarning,
    PartialResultWarning,
    UnsupportedWarning,
    apply_deferred_warnoptions,
)

apply_deferred_warnoptions()

__all__ = [
    "NOT_GIVEN",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncTwelveLabs",
    "AuthenticationError",
    "BackendSwitchWarning",
    "BadRequestError",
    "ClassifyDeprecationWarning",
    "ClassifyValidationError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "NotGiven",
    "PartialResultWarning",
    "PermissionDeniedError",
    "RateLimitError",
    "TwelveLabs",
    "TwelveLabsError",
    "UnprocessableEntityError",
    "UnsupportedWarning",
    "__version__",
    "attach",
    "models",
]
