"""Reliability suites: faults (``-m faults``), bad input (``-m badinput``), security (``-m security``)."""
