"""The migration note the ``Link`` header points at, served by the gateway itself."""

from __future__ import annotations

__all__ = ["MIGRATION_NOTE"]

MIGRATION_NOTE = """\
# This endpoint is a compatibility gateway for the retired TwelveLabs Classify API (v1.2)

TwelveLabs switched Classify off on 2025-02-28. This gateway answers the v1.2 endpoints
(`POST /v1.2/classify`, `POST /v1.2/classify/bulk`, `GET /v1.2/classify/{page_token}`, and
the same under `/p/v1.2/`) from twelvelabs-classify-shim, which maps Pegasus answers
(v1.3 `/analyze`) back to v1.2 scores, clips, thresholds and pages.

What to do:

1. Keep running: point your base URL at this gateway (raw HTTP: `API_URL = "http://<gateway>/v1.2"`;
   JavaScript SDK: `new TwelveLabs({ apiKey, baseUrl: "http://<gateway>" })`). Nothing else changes.
2. Plan the move: rewrite classify calls against v1.3 `POST /analyze` with Pegasus and a
   `response_format` JSON schema listing your class names. Python users can run
   `classify-shim scan` to list every call site and `classify-shim docs` for the step-by-step guide.

Responses carry `Deprecation`, `Sunset` and `Link` headers (RFC 9745, RFC 8594) so clients and
proxies can flag the remaining v1.2 traffic.
"""
