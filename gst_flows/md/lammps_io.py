"""Former home of the LAMMPS file helpers, now :mod:`gst_flows.md.lammps.data`; kept for existing imports."""

from gst_flows.md.lammps.data import *  # noqa: F403
from gst_flows.md.lammps.data import __all__  # noqa: F401
