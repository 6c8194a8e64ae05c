"""Simulation cells of the device scenarios.

Every builder returns ``ase.Atoms`` with the role arrays ``fixed``, ``region``
and ``seed_id`` set, so MD protocols can act on atoms without recomputing
geometry:

- :func:`build_crystallisation_cell`: rock-salt Ge1Sb2Te4 with [111] along z,
  an amorphous middle (``region`` 1) between crystal template bilayers
  (``fixed``, ``region`` 0).
- :func:`build_heating_cell`: rock-salt n × n × n cells of the heating series.
- :func:`build_mushroom`: rock-salt slab with a half-cylinder focal region at
  the bottom of the xz plane (``region`` 1) and the top atomic layers ``fixed``.
- :func:`build_cross_point`: layered trigonal Ge1Sb2Te4 cut to a rectangular
  in-plane size, with a given number of septuple-layer blocks.
- :func:`build_seeded`: crystalline rock-salt seeds (``seed_id`` 0, 1, ...) in an
  amorphous matrix (``region`` 1).

Modules: :mod:`~gst_flows.structures.devices.crystallisation` (crystallisation, heating and
seeded cells), :mod:`~gst_flows.structures.devices.mushroom`,
:mod:`~gst_flows.structures.devices.cross_point` and
:mod:`~gst_flows.structures.devices.common` (densities, random packings, filling a region).
Import from this package.
"""

from gst_flows.structures.devices.common import (
    AMORPHOUS_DENSITY_RATIO,
    density,
    random_packing,
)
from gst_flows.structures.devices.cross_point import build_cross_point
from gst_flows.structures.devices.crystallisation import (
    build_crystallisation_cell,
    build_heating_cell,
    build_seeded,
)
from gst_flows.structures.devices.mushroom import MUSHROOM_FOCAL_RADII, build_mushroom

__all__ = [
    "AMORPHOUS_DENSITY_RATIO",
    "MUSHROOM_FOCAL_RADII",
    "build_cross_point",
    "build_crystallisation_cell",
    "build_heating_cell",
    "build_mushroom",
    "build_seeded",
    "density",
    "random_packing",
]
