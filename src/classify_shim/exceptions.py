"""The exception classes under the module path ``twelvelabs.exceptions`` had in 0.3.2."""

from ._exceptions import *  # noqa: F403
from ._exceptions import __all__ as __all__
