"""Former home of the LAMMPS engine, now :mod:`gst_flows.md.lammps`; kept for existing imports."""

from gst_flows.md.lammps import (
    LammpsError,
    LammpsMDEngine,
    LammpsPotential,
    LammpsRunner,
    SinglePointResult,
    lammps_single_point,
    run_protocol_lammps,
)

__all__ = [
    "LammpsError",
    "LammpsMDEngine",
    "LammpsPotential",
    "LammpsRunner",
    "SinglePointResult",
    "lammps_single_point",
    "run_protocol_lammps",
]
