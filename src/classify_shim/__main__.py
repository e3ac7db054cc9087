"""``python -m classify_shim``: the ``classify-shim`` command line."""

import sys

from .cli import main

sys.exit(main())
