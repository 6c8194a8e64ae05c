"""Run a :class:`~gst_flows.md.protocol.Protocol` on ``ase.Atoms`` with any ASE calculator.

The integrators are written here (rather than taken from ``ase.md``) so that every action of a
protocol acts inside the step, fixed atoms are simply massless-free (zero acceleration, zero
velocity), the thermostat state is small and explicit, and a checkpoint restores a run
exactly:

- ``nve``: velocity Verlet;
- ``langevin``: BAOAB splitting (Leimkuhler & Matthews), friction 1/``tdamp``;
- ``nose-hoover``: Nosé–Hoover chain of three (Martyna, Tuckerman & Klein), as LAMMPS
  ``fix nvt``;
- ``npt``: isotropic Martyna–Tobias–Klein barostat (Tuckerman et al. 2006 integrator,
  barostat mass ``(N_f + 3) k_B T pdamp²``) under the stage's thermostat (the particles'
  Nosé–Hoover chain or Langevin friction), the barostat kept at the temperature by
  Langevin friction 1/``pdamp`` (a Langevin piston; LAMMPS ``fix npt`` thermostats it with
  a Nosé–Hoover chain instead). Both sample the isothermal–isobaric ensemble, volume
  fluctuations included.

Velocities are kept in Å/fs; energies in eV. Temperatures count 3 degrees of freedom per mobile
atom. Energy injection and removal rescale velocities about the group's centre-of-mass
velocity after each step (LAMMPS ``fix heat``), so the group's momentum is unchanged and the
kinetic energy changes by exactly rate × timestep.

The package is split by concern: :mod:`.stage` (per-stage constants: masses, fixed atoms,
fields, heated groups), :mod:`.dynamics` (integrators and thermostats), :mod:`.checkpoint`
(exact restart), :mod:`.output` (thermo rows, frames, progress) and :mod:`.run` (the step
loop and its safety checks). Progress reports go to the ``gst_flows.md.ase_engine`` logger.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from gst_flows.md.ase_engine.run import _Run
from gst_flows.md.engine import MDEngine, MDProgress, run_engine
from gst_flows.md.protocol import Protocol, ProtocolError, RunSettings
from gst_flows.md.results import MDResult

__all__ = ["AseMDEngine", "MDProgress", "run_protocol"]


class AseMDEngine(MDEngine):
    """Run protocols with an ASE calculator.

    Parameters
    ----------
    calculator
        Any ASE calculator giving energy and forces (and stress for ``npt`` stages and the
        pressure column), e.g. ``quippy.potential.Potential(param_filename="gap.xml")``.
    workdir
        Run directory (created); holds the outputs described in :mod:`gst_flows.md.results`.
    settings
        Output, checkpoint and safety settings.
    seed
        Seed used when the protocol has none.
    progress
        Called with an :class:`MDProgress` every ``settings.progress_interval`` seconds
        (reports also go to the ``gst_flows.md.ase_engine`` logger).
    potential_id
        Identifier of the potential, recorded in the result.

    :meth:`run` continues from ``workdir/checkpoint.npz``, and refuses ``npt`` stages when the
    calculator does not compute stress.

    Examples
    --------
    >>> engine = AseMDEngine(LennardJones(), workdir="run")            # doctest: +SKIP
    >>> result = engine.run(atoms, load_protocol("melt_quench"))       # doctest: +SKIP
    """

    name = "ase"

    def __init__(
        self,
        calculator: Calculator,
        workdir: str | Path = ".",
        *,
        settings: RunSettings | None = None,
        seed: int | None = None,
        progress: Callable[[MDProgress], None] | None = None,
        potential_id: str | None = None,
    ) -> None:
        super().__init__(workdir, settings=settings, seed=seed, progress=progress, potential_id=potential_id)
        self.calculator = calculator

    def _check(self, atoms: Atoms, protocol: Protocol) -> None:
        needs_stress = any(s.ensemble == "npt" for s in protocol.stages)
        implemented = getattr(self.calculator, "implemented_properties", ["energy", "forces"])
        if needs_stress and "stress" not in implemented:
            raise ProtocolError(
                f"npt stages need stress, which {type(self.calculator).__name__} does not compute"
            )
        super()._check(atoms, protocol)

    def _start(self, atoms: Atoms, protocol: Protocol, max_steps: int | None) -> _Run:
        work = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        for name, values in atoms.arrays.items():
            if name not in ("numbers", "positions"):
                work.arrays[name] = np.array(values)
        work.calc = self.calculator
        return _Run(self, work, protocol, max_steps)


def run_protocol(
    atoms: Atoms,
    protocol: Protocol | str | Path,
    calculator: Calculator,
    workdir: str | Path = ".",
    **kwargs: Any,
) -> MDResult:
    """Run a protocol with an ASE calculator (shortcut for :class:`AseMDEngine`).

    Parameters
    ----------
    atoms
        Starting structure.
    protocol
        A protocol, a shipped protocol name or a YAML path.
    calculator
        ASE calculator.
    workdir
        Run directory.
    **kwargs
        ``settings``, ``seed``, ``progress``, ``potential_id`` go to :class:`AseMDEngine`;
        ``restart`` and ``max_steps`` to :meth:`AseMDEngine.run`.
    """
    return run_engine(AseMDEngine, calculator, atoms, protocol, workdir, **kwargs)
