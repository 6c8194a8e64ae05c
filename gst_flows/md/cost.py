"""What an MD plan will cost: the potential's force cost per atom-step, measured, times the plan.

An MD step costs one force evaluation plus integration; the engines' own work is a few hundredths
of a percent of a GAP's forces (``benchmarks/bench_md_ase.py``), so the cost of a plan is its
atom-steps times the measured cost of one atom's forces. Core-hours assume perfect parallel
scaling (the LAMMPS + QUIP plugin reached 92-98 % of the machine's own two-core ceiling,
``benchmarks/bench_md_lammps.py``), so they are a lower bound for many-node runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ase import Atoms

__all__ = ["ForceCost", "measure_force_cost", "plan_core_hours"]


@dataclass(frozen=True)
class ForceCost:
    """Measured force cost of a potential.

    Parameters
    ----------
    seconds_per_atom_step
        Wall time of one force evaluation per atom, s, on one core.
    n_atoms
        Atoms of the cell it was measured on.
    evaluations
        Timed force evaluations (after one untimed warm-up).
    """

    seconds_per_atom_step: float
    n_atoms: int
    evaluations: int


def measure_force_cost(calculator: Any, atoms: Atoms, evaluations: int = 2) -> ForceCost:
    """Time ``evaluations`` force calls of ``calculator`` on ``atoms`` (one warm-up call first).

    Each call moves the atoms by a few thousandths of an Å so that no calculator can return a
    cached result.

    Raises
    ------
    ValueError
        An empty cell or fewer than one evaluation.
    """
    if len(atoms) == 0:
        raise ValueError("cannot measure a force cost on an empty cell")
    if evaluations < 1:
        raise ValueError(f"evaluations must be >= 1, got {evaluations}")
    probe = atoms.copy()
    probe.calc = calculator
    probe.get_forces()  # warm-up: descriptor set-up, neighbour lists, lazy loading
    start = time.perf_counter()
    for k in range(evaluations):
        probe.positions[0, 0] += 0.001 * (1 if k % 2 else -1)
        probe.get_forces()
    elapsed = time.perf_counter() - start
    return ForceCost(elapsed / (evaluations * len(probe)), len(probe), evaluations)


def plan_core_hours(atom_steps: float, cost: ForceCost) -> float:
    """Core-hours of ``atom_steps`` at the measured cost (perfect parallel scaling)."""
    return atom_steps * cost.seconds_per_atom_step / 3600.0
