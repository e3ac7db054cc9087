"""``python -m classify_shim.sandbox``: run the sandbox server from a shell."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
