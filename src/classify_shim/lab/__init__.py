"""The fidelity lab: label-driven worlds, a modelled Pegasus, and the measurements.

It measures the shim's *mapping* (answer -> v1.2 numbers and decisions) under a modelled
Pegasus whose errors are knobs; it does not measure Pegasus itself. Independent of the sandbox's
matcher on purpose: the truth comes from the labels, the answers from the simulator, and only
the transport (scripted answers over HTTP) and the v1.2 emulation (a second reference) come
from the sandbox. ``python bench/fidelity.py`` prints the tables.
"""

from __future__ import annotations

from ._runner import (
    THRESHOLD_SETS,
    ConfigRun,
    Observation,
    metrics,
    passes,
    run_backend,
    run_backend_counted,
    run_config,
)
from ._saved_world import SavedLabWorld, saved_world
from ._simulator import SimConfig, boundary_sigma, simulate_answers
from ._worlds import (
    TOPICS,
    Label,
    LabVideo,
    LabWorld,
    make_world,
    truth_coverage,
    truth_intervals,
    truth_passes,
    truth_score,
)

__all__ = [
    "THRESHOLD_SETS",
    "TOPICS",
    "ConfigRun",
    "LabVideo",
    "LabWorld",
    "Label",
    "Observation",
    "SavedLabWorld",
    "SimConfig",
    "boundary_sigma",
    "make_world",
    "metrics",
    "passes",
    "run_backend",
    "run_backend_counted",
    "run_config",
    "saved_world",
    "simulate_answers",
    "truth_coverage",
    "truth_intervals",
    "truth_passes",
    "truth_score",
]
