"""Backends behind the classify resource, each importable as ``classify_shim.adapters.<name>``.

``legacy`` speaks the retired v1.2 endpoints; ``pegasus`` serves the same results from v1.3
``/analyze``; ``auto`` and ``shadow`` compose the two. Each module can be deleted on its own.
"""
