"""What every MD engine does around its integration: set-up, restarts, progress and results.

The ASE and LAMMPS engines differ in how they advance the atoms, not in how a run is framed:

- :meth:`MDEngine.run` checks the protocol against the structure, creates the run directory,
  then either continues from a checkpoint of the same protocol and atoms or starts afresh
  (earlier outputs removed, seed drawn, starting velocities set);
- :class:`EngineRun` is one such call on one run directory: it reports :class:`MDProgress`
  (to the engine module's logger and the user's callback) and writes the
  :class:`~gst_flows.md.results.MDResult` of the run directory described in
  :mod:`gst_flows.md.results`.

Velocities are in Å/fs, energies in eV, temperatures count 3 degrees of freedom per mobile
atom.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms

from gst_flows.md.protocol import Protocol, ProtocolError, RunSettings, load_protocol
from gst_flows.md.results import EnergyLedger, MDResult, read_thermo, stage_results
from gst_flows.md.units import FS, KB

__all__ = [
    "CHECKPOINT",
    "OUTPUTS",
    "ROLE_SKIP",
    "EngineRun",
    "MDEngine",
    "MDProgress",
    "maxwell_boltzmann",
    "mobile_temperature",
    "run_engine",
    "too_close",
]

log = logging.getLogger(__name__)

#: Checkpoint file of a run directory.
CHECKPOINT = "checkpoint.npz"
#: Outputs a fresh start removes from the run directory.
OUTPUTS = ("thermo.csv", "frames.extxyz", "final.extxyz", "result.json", CHECKPOINT)
#: Per-atom arrays that are not roles (``fixed``, ``region``, ...) carried into frames.
ROLE_SKIP = (
    "numbers",
    "positions",
    "momenta",
    "velocities",
    "masses",
    "initial_magmoms",
    "initial_charges",
    "tags",
)


@dataclass(frozen=True)
class MDProgress:
    """A progress report.

    Attributes
    ----------
    step, n_steps
        Steps done and total.
    stage
        Current stage name.
    temperature
        Current temperature of the mobile atoms, K.
    elapsed
        Wall-clock seconds in this invocation.
    steps_per_second
        Speed in this invocation.
    eta
        Estimated seconds to the end.
    """

    step: int
    n_steps: int
    stage: str
    temperature: float
    elapsed: float
    steps_per_second: float
    eta: float

    def __str__(self) -> str:
        pct = 100.0 * self.step / max(self.n_steps, 1)
        return (
            f"step {self.step}/{self.n_steps} ({pct:.1f}%) stage {self.stage} "
            f"T={self.temperature:.0f} K, {self.steps_per_second:.2f} steps/s, "
            f"ETA {self.eta / 60:.1f} min"
        )


def maxwell_boltzmann(
    rng: np.random.Generator, masses: np.ndarray, temperature: float, mobile: np.ndarray
) -> np.ndarray:
    """Velocities (Å/fs) at exactly ``temperature`` for the mobile atoms, zero momentum.

    Parameters
    ----------
    rng
        Random generator (both engines draw the same numbers for the same seed).
    masses
        Atomic masses, amu, shape (N,).
    temperature
        Target temperature, K.
    mobile
        Mask of the atoms that move; the others get zero velocity.

    Returns
    -------
    numpy.ndarray
        Velocities, shape (N, 3).
    """
    n = len(masses)
    sigma = np.sqrt(KB * temperature / masses)[:, None] * FS
    v = rng.standard_normal((n, 3)) * sigma
    v[~mobile] = 0.0
    m = masses[mobile, None]
    v[mobile] -= (m * v[mobile]).sum(axis=0) / m.sum()
    ke = 0.5 * np.sum(m * v[mobile] ** 2) / FS**2
    target = 1.5 * mobile.sum() * KB * temperature
    if ke > 0:
        v *= np.sqrt(target / ke)
    return v


def mobile_temperature(masses: np.ndarray, v_fs: np.ndarray, mobile: np.ndarray) -> float:
    """Temperature of the mobile atoms (3 degrees of freedom each), K.

    Parameters
    ----------
    masses
        Atomic masses, amu, shape (N,).
    v_fs
        Velocities, Å/fs, shape (N, 3).
    mobile
        Mask of the atoms counted.
    """
    n = int(mobile.sum())
    if n == 0:
        return 0.0
    ke = 0.5 * float(np.einsum("i,ij,ij->", masses[mobile], v_fs[mobile], v_fs[mobile])) / FS**2
    return 2.0 * ke / (3.0 * n * KB)


def too_close(atoms: Atoms, cutoff: float) -> str | None:
    """Describe the closest pair of atoms when it is closer than ``cutoff``.

    Parameters
    ----------
    atoms
        Structure.
    cutoff
        ``min_distance`` of the safety limits, Å (0 or less: no check).

    Returns
    -------
    str or None
        The reason for a blow-up, or None when no pair is that close.
    """
    if cutoff <= 0:
        return None
    from matscipy.neighbours import neighbour_list

    i, j, d = neighbour_list("ijd", atoms, cutoff)
    if len(d) == 0:
        return None
    k = int(np.argmin(d))
    first, second, distance = int(i[k]), int(j[k]), float(d[k])
    s = atoms.get_chemical_symbols()
    return (
        f"atoms {first} ({s[first]}) and {second} ({s[second]}) are {distance:.2f} Å apart, "
        f"closer than min_distance {cutoff:g} Å"
    )


class EngineRun:
    """One call of :meth:`MDEngine.run` on one run directory.

    An engine subclasses it with :meth:`load`, :meth:`start_fresh`, :meth:`run` and
    :meth:`result`.

    Parameters
    ----------
    engine
        The engine (settings, seed, progress callback, run directory).
    atoms
        The structure the run starts from (masses and role arrays are taken from it).
    protocol
        The validated protocol.
    max_steps
        Steps this call may run before it stops at a checkpoint; None for no limit.
    """

    #: Logger of the engine's module (progress reports go there).
    logger: ClassVar[logging.Logger] = log
    #: Outputs removed by a fresh start.
    outputs: ClassVar[tuple[str, ...]] = OUTPUTS

    def __init__(self, engine: MDEngine, atoms: Atoms, protocol: Protocol, max_steps: int | None) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.protocol = protocol
        self.plan = protocol.energy_plan()
        self.workdir = engine.workdir
        self.max_steps = max_steps
        self.masses = atoms.get_masses()
        self.n_atoms = len(atoms)
        self.roles = {k: np.array(v) for k, v in atoms.arrays.items() if k not in ROLE_SKIP}
        self.steps_this_call = 0
        self.t0 = time.perf_counter()

    # ------------------------------------------------------------------ to override

    def load(self) -> bool:
        """Continue an earlier run of the same protocol and atoms; False if there is none."""
        raise NotImplementedError

    def start_fresh(self) -> None:
        """Start from the structure (earlier outputs removed)."""
        raise NotImplementedError

    def run(self) -> bool:
        """Run to the end (True) or to a stop at a checkpoint (False)."""
        raise NotImplementedError

    def result(self, completed: bool) -> MDResult:
        """Write and return the result of the run directory."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared steps

    def remove_outputs(self) -> None:
        """Delete the outputs of an earlier run from the run directory."""
        for name in self.outputs:
            with contextlib.suppress(FileNotFoundError):
                (self.workdir / name).unlink()

    def draw_seed(self) -> int:
        """The protocol's seed, else the engine's, else a fresh random one."""
        seed = self.protocol.seed if self.protocol.seed is not None else self.engine.seed
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        return int(seed)

    def start_velocities(
        self, velocities: np.ndarray, fixed: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Velocities (Å/fs) of the first step.

        The structure's own ``velocities`` (ASE units) are kept when they are not all zero and
        the protocol sets no ``initial_temperature``; otherwise velocities are drawn at the
        protocol's start temperature (atoms at rest without one). Fixed atoms get zero
        velocity.
        """
        temperature = self.protocol.start_temperature()
        v = np.zeros((self.n_atoms, 3))
        if self.protocol.initial_temperature is None and velocities.any():
            v = velocities * FS
        elif temperature:
            v = maxwell_boltzmann(rng, self.masses, temperature, ~fixed)
        v[fixed] = 0.0
        return v

    def report(self, step: int, stage: str, temperature: float, now: float | None = None) -> None:
        """Log an :class:`MDProgress` and pass it to the engine's callback."""
        elapsed = (time.perf_counter() if now is None else now) - self.t0
        speed = self.steps_this_call / elapsed if elapsed > 0 else 0.0
        remaining = self.protocol.n_steps - step
        progress = MDProgress(
            step,
            self.protocol.n_steps,
            stage,
            temperature,
            elapsed,
            speed,
            remaining / speed if speed > 0 else float("inf"),
        )
        self.logger.info("%s", progress)
        if self.engine.progress is not None:
            self.engine.progress(progress)

    def write_result(
        self,
        *,
        final_atoms: Atoms,
        thermo: dict[str, np.ndarray],
        ledger: EnergyLedger,
        n_steps: int,
        completed: bool,
        n_frames: int,
        seed: int | None,
        wall_time: float,
        potential: str | None,
        metadata: dict[str, Any],
    ) -> MDResult:
        """Build the result from ``thermo.csv`` and the engine's state; write ``result.json``."""
        result = MDResult(
            engine=self.engine.name,
            protocol=self.protocol,
            final_atoms=final_atoms,
            thermo=thermo,
            stages=stage_results(thermo, self.protocol, self.n_atoms),
            ledger=ledger,
            n_steps=n_steps,
            completed=completed,
            workdir=self.workdir,
            n_frames=n_frames,
            seed=seed,
            wall_time=wall_time,
            potential=potential,
            metadata=metadata,
        )
        result.write()
        return result

    def read_thermo(self) -> dict[str, np.ndarray]:
        """The run directory's ``thermo.csv``."""
        return read_thermo(self.workdir / "thermo.csv")


class MDEngine:
    """Base of the MD engines: runs protocols into a run directory.

    Parameters
    ----------
    workdir
        Run directory, created by :meth:`run`.
    settings
        :class:`~gst_flows.md.protocol.RunSettings`; the defaults when None.
    seed
        Seed of runs whose protocol has none; a fresh random seed when None too.
    progress
        Callback that receives every :class:`MDProgress` report.
    potential_id
        Recorded as ``potential`` in the result.
    """

    #: Engine name recorded in results.
    name: ClassVar[str] = ""

    def __init__(
        self,
        workdir: str | Path = ".",
        *,
        settings: RunSettings | None = None,
        seed: int | None = None,
        progress: Callable[[MDProgress], None] | None = None,
        potential_id: str | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.settings = settings or RunSettings()
        self.seed = seed
        self.progress = progress
        self.potential_id = potential_id

    def run(
        self,
        atoms: Atoms,
        protocol: Protocol,
        *,
        restart: bool = True,
        max_steps: int | None = None,
    ) -> MDResult:
        """Run ``protocol`` from ``atoms`` (not modified), or continue it from a checkpoint.

        Parameters
        ----------
        atoms
            Starting structure with its role arrays; velocities it carries are used unless the
            protocol sets an ``initial_temperature``.
        protocol
            The protocol; validated against ``atoms`` before any compute.
        restart
            Continue from the checkpoint in ``workdir`` when it belongs to the same protocol
            and atoms; False starts afresh, deleting earlier outputs in ``workdir``.
        max_steps
            Stop at a checkpoint after this many steps in this call (the result then has
            ``completed=False``; call again to continue).

        Returns
        -------
        MDResult
            Series, frames, ledger and final state.

        Raises
        ------
        ProtocolError
            When the protocol cannot run on ``atoms`` with this engine.
        MDBlowUpError
            When a safety limit is crossed; the last good checkpoint is kept.
        """
        protocol.validate_for(atoms)
        self._check(atoms, protocol)
        self.workdir.mkdir(parents=True, exist_ok=True)
        state = self._start(atoms, protocol, max_steps)
        if not (restart and state.load()):
            state.start_fresh()
        return state.result(state.run())

    def _check(self, atoms: Atoms, protocol: Protocol) -> None:
        """Refuse what this engine cannot run (raise :class:`ProtocolError`)."""
        if atoms.constraints:
            raise ProtocolError(
                "the structure carries ASE constraints: mark atoms in a per-atom array and use a "
                "fix_atoms action instead"
            )

    def _start(self, atoms: Atoms, protocol: Protocol, max_steps: int | None) -> EngineRun:
        """The state of one call of :meth:`run`."""
        raise NotImplementedError


def run_engine(
    engine_class: type[MDEngine],
    interaction: Any,
    atoms: Atoms,
    protocol: Protocol | str | Path,
    workdir: str | Path = ".",
    **kwargs: Any,
) -> MDResult:
    """Run ``protocol`` on ``atoms`` with ``engine_class(interaction, workdir=workdir, ...)``.

    ``protocol`` may also be a shipped protocol name or a YAML path. ``restart`` and
    ``max_steps`` among ``kwargs`` go to :meth:`MDEngine.run`, the others to the engine.
    """
    run_kwargs = {k: kwargs.pop(k) for k in ("restart", "max_steps") if k in kwargs}
    engine = engine_class(interaction, workdir=workdir, **kwargs)
    return engine.run(atoms, load_protocol(protocol), **run_kwargs)
