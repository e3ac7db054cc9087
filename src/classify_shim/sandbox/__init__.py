"""Offline HTTP emulator of the TwelveLabs v1.2 Classify and v1.3 analyze/indexes APIs.

Stands apart from the rest of ``classify_shim`` on purpose: it emulates the
server, so sharing code with the client would make tests tautological.

    from classify_shim.sandbox import Sandbox
    with Sandbox() as sb:
        ...  # point a client at sb.base_url
"""

from __future__ import annotations

from ._server import Sandbox
from ._world import WorldError, default_world, load_world, synthetic_world, world_schema

__all__ = ["Sandbox", "WorldError", "default_world", "load_world", "synthetic_world", "world_schema"]
