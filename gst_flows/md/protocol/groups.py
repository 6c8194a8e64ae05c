"""Atom groups of a stage on a structure: selections by per-atom arrays, fixed atoms, heated slabs.

Both engines (ASE, LAMMPS) and :meth:`~gst_flows.md.protocol.Protocol.validate_for` use these,
so they select the same atoms and give them the same powers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gst_flows.md.protocol.actions import FixAtoms, GradedInjection, InjectEnergy, RemoveHeat
from gst_flows.md.protocol.quantities import AXES, ProtocolError

if TYPE_CHECKING:
    from ase import Atoms

    from gst_flows.md.protocol.stages import Stage

__all__ = ["fixed_mask", "graded_groups", "heat_groups", "select_atoms"]


def select_atoms(atoms: Atoms, array: str | None, value: int | None = None) -> np.ndarray:
    """Boolean mask of the atoms selected by a per-atom array.

    Parameters
    ----------
    atoms
        Structure carrying the array.
    array
        Array name; None selects every atom.
    value
        Select atoms whose value equals this; None selects non-zero (True) values.

    Raises
    ------
    ProtocolError
        When the array is missing or has the wrong length.
    """
    n = len(atoms)
    if array is None:
        return np.ones(n, dtype=bool)
    if array not in atoms.arrays:
        have = sorted(k for k in atoms.arrays if k not in ("numbers", "positions", "momenta"))
        raise ProtocolError(
            f"the structure has no per-atom array '{array}' (it has: {', '.join(have) or 'none'})"
        )
    data = np.asarray(atoms.arrays[array])
    if data.shape[:1] != (n,) or data.ndim != 1:
        raise ProtocolError(f"per-atom array '{array}' has shape {data.shape}, expected ({n},)")
    return data == value if value is not None else data.astype(bool)


def fixed_mask(atoms: Atoms, stage: Stage) -> np.ndarray:
    """Atoms held fixed during ``stage`` (union of its :class:`FixAtoms` arrays)."""
    mask = np.zeros(len(atoms), dtype=bool)
    for action in stage.actions_of(FixAtoms):
        mask |= select_atoms(atoms, action.array)
    return mask


def graded_groups(
    atoms: Atoms, action: GradedInjection, duration: float, mobile: np.ndarray | None = None
) -> list[tuple[np.ndarray, float]]:
    """Slabs of a graded injection and the power each receives.

    Parameters
    ----------
    atoms
        Structure at the start of the stage.
    action
        The graded injection.
    duration
        Length of the stage, fs (converts a total energy into a rate).
    mobile
        Mask of mobile atoms (default: all).

    Returns
    -------
    list of (numpy.ndarray, float)
        For each non-empty slab from the low to the high end: its boolean atom mask and its
        injection rate in eV/fs. Rates add up to the action's total rate.
    """
    selected = select_atoms(atoms, action.region, action.region_value)
    if mobile is not None:
        selected &= mobile
    if not selected.any():
        raise ProtocolError(f"graded_injection: no mobile atom in '{action.region}'")
    coord = atoms.positions[:, AXES[action.axis]]
    lo, hi = coord[selected].min(), coord[selected].max()
    width = (hi - lo) / action.n_slabs or 1.0
    index = np.clip(((coord - lo) / width).astype(int), 0, action.n_slabs - 1)
    masks, weights = [], []
    for k in range(action.n_slabs):
        mask = selected & (index == k)
        count = int(mask.sum())
        if count:
            frac = (k + 0.5) / action.n_slabs
            masks.append(mask)
            weights.append(count * (action.ratio + (1.0 - action.ratio) * frac))
    rate = action.total_energy(duration) / duration
    total = sum(weights)
    return [(mask, rate * w / total) for mask, w in zip(masks, weights, strict=True)]


def heat_groups(
    atoms: Atoms, stage: Stage, mobile: np.ndarray, removal_rate: float
) -> list[tuple[np.ndarray, float]]:
    """Atoms whose kinetic energy a stage changes at a constant rate, and the rates.

    Parameters
    ----------
    atoms
        The structure when the stage starts, with the role arrays that select regions.
    stage
        The stage; its :class:`InjectEnergy`, :class:`GradedInjection` and
        :class:`RemoveHeat` actions make the groups, in order.
    mobile
        Atoms that may move (no group holds a fixed atom).
    removal_rate
        Power a :class:`RemoveHeat` action takes out, eV/fs (the stage's
        :attr:`StageEnergy.removal_rate`).

    Returns
    -------
    list of (numpy.ndarray, float)
        Boolean atom mask and rate in eV/fs of each group (negative: heat removed).
    """
    groups: list[tuple[np.ndarray, float]] = []
    for action in stage.actions:
        if isinstance(action, InjectEnergy):
            mask = select_atoms(atoms, action.region, action.region_value) & mobile
            groups.append((mask, action.total_energy(stage.duration) / stage.duration))
        elif isinstance(action, GradedInjection):
            groups += graded_groups(atoms, action, stage.duration, mobile)
        elif isinstance(action, RemoveHeat):
            mask = select_atoms(atoms, action.region, action.region_value) & mobile
            groups.append((mask, -removal_rate))
    return groups
