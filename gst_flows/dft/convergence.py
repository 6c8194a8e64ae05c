"""Convergence of a labelling protocol: how far labels move when one setting is tightened.

Pure functions on energies (eV), forces (eV/Å) and stresses (GPa): no jobflow, no database.
A ladder varies one setting (k-point spacing, plane-wave cutoff, smearing temperature) with the
rest of the protocol fixed; every label of the ladder is compared with the label at the
ladder's tightest value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_KPOINT_LADDER",
    "TIGHTER",
    "LabelDifference",
    "coarsest_converged",
    "label_difference",
    "order_ladder",
]

#: k-point spacings (Å⁻¹) of the default ladder, coarsest first; it ends below the default
#: protocol's 0.12, so that the default itself is tested.
DEFAULT_KPOINT_LADDER = (0.3, 0.25, 0.2, 0.15, 0.12, 0.1)

#: Direction in which a setting becomes tighter: +1 larger is tighter, -1 smaller is tighter.
TIGHTER: dict[str, int] = {
    "kpoint_spacing": -1,
    "cutoff": +1,
    "rel_cutoff": +1,
    "smearing_temperature": -1,
    "eps_scf": -1,
}


@dataclass(frozen=True)
class LabelDifference:
    """Differences of one label from the reference label of the same structure.

    Attributes
    ----------
    energy
        ``(E - E_ref) / N``, meV/atom (signed).
    force_rms
        Root mean square over the 3N force components of ``F - F_ref``, eV/Å.
    force_max
        Largest component of ``|F - F_ref|``, eV/Å.
    stress_max
        Largest component of ``|σ - σ_ref|``, GPa (None when either label has no stress).
    """

    energy: float
    force_rms: float
    force_max: float
    stress_max: float | None

    def within(self, energy_tolerance: float, force_tolerance: float) -> bool:
        """Whether ``|energy| ≤ energy_tolerance`` (meV/atom) and ``force_rms ≤ force_tolerance`` (eV/Å)."""
        return abs(self.energy) <= energy_tolerance and self.force_rms <= force_tolerance


def label_difference(
    energy: float,
    forces: np.ndarray | Sequence,
    reference_energy: float,
    reference_forces: np.ndarray | Sequence,
    stress: np.ndarray | Sequence | None = None,
    reference_stress: np.ndarray | Sequence | None = None,
) -> LabelDifference:
    """Energy, force and stress differences of a label from a reference label.

    Parameters
    ----------
    energy, reference_energy
        Total energies, eV.
    forces, reference_forces
        Forces, eV/Å, shape (N, 3), the same atoms in the same order.
    stress, reference_stress
        Stress tensors, GPa (3×3), or None.

    Raises
    ------
    ValueError
        When the force arrays differ in shape or are empty.
    """
    forces = np.asarray(forces, dtype=float)
    reference_forces = np.asarray(reference_forces, dtype=float)
    if forces.shape != reference_forces.shape or forces.ndim != 2 or forces.shape[1] != 3:
        raise ValueError(
            f"forces of shape {forces.shape} and {reference_forces.shape} are not of one structure"
        )
    if len(forces) == 0:
        raise ValueError("a label without atoms has no differences")
    delta = forces - reference_forces
    stress_max = None
    if stress is not None and reference_stress is not None:
        stress_max = float(np.abs(np.asarray(stress, float) - np.asarray(reference_stress, float)).max())
    return LabelDifference(
        energy=1000.0 * (energy - reference_energy) / len(forces),
        force_rms=float(np.sqrt(np.mean(delta**2))),
        force_max=float(np.abs(delta).max()),
        stress_max=stress_max,
    )


def order_ladder(parameter: str, values: Sequence[float]) -> list[float]:
    """The distinct ``values`` of ``parameter`` from the coarsest to the tightest.

    Raises
    ------
    ValueError
        For a setting without a known direction, or fewer than two distinct values.
    """
    if parameter not in TIGHTER:
        raise ValueError(f"no convergence ladder for {parameter!r}; known: {sorted(TIGHTER)}")
    distinct = sorted({float(v) for v in values}, key=lambda v: TIGHTER[parameter] * v)
    if len(distinct) < 2:
        raise ValueError(f"a {parameter} ladder needs at least two distinct values, got {list(values)}")
    if any(v <= 0 for v in distinct):
        raise ValueError(f"{parameter} values must be positive, got {list(values)}")
    return distinct


def coarsest_converged(
    values: Sequence[float],
    differences: Sequence[LabelDifference | None],
    energy_tolerance: float,
    force_tolerance: float,
) -> float | None:
    """The coarsest value whose label, and every tighter one's, is within the tolerances.

    Parameters
    ----------
    values
        A ladder ordered from the coarsest to the tightest (as :func:`order_ladder`).
    differences
        The difference of each value's label from the tightest one's (None: no label).
    energy_tolerance
        meV/atom.
    force_tolerance
        eV/Å (force RMS difference).

    Returns
    -------
    float or None
        None when the label next to the tightest is already outside the tolerances, or missing.
        The tightest value is the reference and is never returned: a ladder cannot show that
        its own reference is converged.
    """
    best = None
    for value, diff in zip(reversed(values[:-1]), reversed(differences[:-1]), strict=True):
        if diff is None or not diff.within(energy_tolerance, force_tolerance):
            break
        best = value
    return best
