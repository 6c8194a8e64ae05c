"""Scenario cells as recipes, and the geometry of their periodic z boundary.

:class:`CellSpec` names a builder of :data:`~gst_flows.structures.BUILDERS` and its
parameters, so a device cell travels between jobs as a few numbers and is built where it is
used. :func:`boundary_planes` picks the atomic planes next to the periodic z boundary (the
blocking electrode of the electromigration cell); :func:`boundary_gap_shift` and
:func:`open_along_z` cut a layered cell open in the gap that straddles that boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms
from monty.json import MSONable

from .registry import build

__all__ = ["SEED_ARRAY", "CellSpec", "boundary_gap_shift", "boundary_planes", "open_along_z"]

#: Per-atom array marking the atoms of crystalline seeds (see :attr:`CellSpec.mark_seeds`).
SEED_ARRAY = "seed_atom"


@dataclass
class CellSpec(MSONable):
    """How to build a scenario cell: a builder of :mod:`gst_flows.structures` and its arguments.

    Parameters
    ----------
    kind
        Builder name in :data:`gst_flows.structures.BUILDERS` (``mushroom``,
        ``cross-point``, ``crystallisation-cell``, ``heating-cell``, ``seeded``, ...).
    params
        Keyword parameters of the builder (``composition``, ``supercell``, ``seed``, ...).
    fixed_boundary_planes
        Atomic planes normal to z held fixed at the periodic z boundary (the lower half at the
        bottom, the rest at the top; they meet through the boundary): a blocking electrode
        for the electromigration cell. 0 leaves the builder's ``fixed`` array alone.
    mark_seeds
        Add a boolean per-atom array :data:`SEED_ARRAY` marking the atoms of crystalline
        seeds (``seed_id`` ≥ 0), so a protocol can hold them fixed.
    """

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    fixed_boundary_planes: int = 0
    mark_seeds: bool = False

    def build(self) -> Atoms:
        """Build the cell (role arrays ``fixed``, ``region``, ``seed_id`` set)."""
        atoms = build(self.kind, **self.params)
        if self.fixed_boundary_planes:
            atoms.arrays["fixed"] = boundary_planes(atoms, self.fixed_boundary_planes)
        if self.mark_seeds:
            atoms.arrays[SEED_ARRAY] = np.asarray(atoms.arrays["seed_id"]) >= 0
        return atoms


def boundary_planes(atoms: Atoms, n_planes: int, tolerance: float = 0.3) -> np.ndarray:
    """Atoms of the ``n_planes`` atomic planes (normal to z) next to the periodic z boundary.

    Parameters
    ----------
    atoms
        Layered structure (planes normal to z).
    n_planes
        Planes to select: ``ceil(n/2)`` at the bottom and ``floor(n/2)`` at the top.
    tolerance
        Atoms within this height, Å, belong to one plane.

    Returns
    -------
    numpy.ndarray
        Boolean mask.
    """
    z = atoms.positions[:, 2]
    order = np.sort(z)
    starts = np.r_[order[0], order[1:][np.diff(order) > tolerance]]
    if n_planes >= len(starts):
        raise ValueError(f"{n_planes} boundary planes asked for, the cell has {len(starts)}")
    bottom = (n_planes + 1) // 2
    top = n_planes - bottom
    low = starts[bottom] - tolerance / 2
    high = starts[len(starts) - top] - tolerance / 2 if top else np.inf
    return (z < low) | (z >= high)


def boundary_gap_shift(atoms: Atoms) -> float:
    """Shift along z that puts the periodic boundary mid-way between the top and bottom atoms, Å.

    0 for a cell open along z.
    """
    if not atoms.pbc[2]:
        return 0.0
    z = atoms.positions[:, 2]
    return float(atoms.cell.lengths()[2] - z.max() + z.min()) / 2 - float(z.min())


def open_along_z(frame: Atoms, shift: float) -> Atoms:
    """A copy of ``frame`` moved by ``shift`` Å along z (velocities kept), open along z.

    Positions are wrapped into the cell along z first, so the cut falls at the cell's face.
    A frame already open along z with no shift is returned as it is.
    """
    if shift == 0.0 and not frame.pbc[2]:
        return frame
    out = frame.copy()
    length = float(out.cell.lengths()[2])
    out.positions[:, 2] = (out.positions[:, 2] + shift) % length
    out.pbc = (frame.pbc[0], frame.pbc[1], False)
    return out
