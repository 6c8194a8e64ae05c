"""The run loop of the ASE engine: set-up, the step loop, safety checks and the result."""

from __future__ import annotations

import csv
import logging
import time
from typing import IO, TYPE_CHECKING

import numpy as np
from ase import Atoms

from gst_flows.md.ase_engine.checkpoint import _Checkpoint
from gst_flows.md.ase_engine.dynamics import _CHAIN, _Dynamics
from gst_flows.md.ase_engine.output import _Output
from gst_flows.md.ase_engine.stage import _Group, _StageContext
from gst_flows.md.engine import CHECKPOINT, OUTPUTS, EngineRun, too_close
from gst_flows.md.protocol import Protocol, fixed_mask
from gst_flows.md.results import THERMO_COLUMNS, EnergyLedger, MDBlowUpError, MDResult, write_frame
from gst_flows.md.units import FS, KB

if TYPE_CHECKING:
    from gst_flows.md.ase_engine import AseMDEngine

log = logging.getLogger(__package__)


class _StopRunError(Exception):
    """Internal: stop at a checkpoint (walltime or step budget reached)."""


class _Run(_Dynamics, _Checkpoint, _Output, EngineRun):
    """State of one invocation of the engine on one run directory."""

    engine: AseMDEngine
    logger = log
    outputs = (*OUTPUTS, "blowup.extxyz")

    def __init__(self, engine: AseMDEngine, atoms: Atoms, protocol: Protocol, max_steps: int | None) -> None:
        super().__init__(engine, atoms, protocol, max_steps)
        self.atoms = atoms
        self.total_mass = float(self.masses.sum())
        self.ledger = EnergyLedger()
        self.step = 0
        self.stage_index = 0
        self.stage_step = 0
        self.v = np.zeros((self.n_atoms, 3))
        self.f_calc = np.zeros((self.n_atoms, 3))
        self.epot = 0.0
        self.stress: np.ndarray | None = None
        self.xi = np.zeros(_CHAIN)
        self.vxi = np.zeros(_CHAIN)
        self.veps = 0.0  # barostat: rate of change of ln(V)/3, 1/fs
        self.t_ref = 0.0
        self.n_frames = 0
        self.wall_before = 0.0
        self.seed: int | None = None
        self.rng: np.random.Generator | None = None
        self.ctx: _StageContext | None = None
        self.thermo_fh: IO[str] | None = None
        self.frames_fh: IO[str] | None = None
        self.last_report = self.t0
        self.checkpoint_written = False

    # ------------------------------------------------------------------ setup

    def load(self) -> bool:
        path = self.workdir / CHECKPOINT
        if not path.exists():
            return False
        self.resume(path)
        return True

    def start_fresh(self) -> None:
        self.remove_outputs()
        self.seed = self.draw_seed()
        self.rng = np.random.default_rng(self.seed)
        fixed = fixed_mask(self.atoms, self.protocol.stages[0])
        self.v = self.start_velocities(self.atoms.get_velocities(), fixed, self.rng)
        self.atoms.arrays.pop("momenta", None)  # velocities live in self.v
        self.thermo_fh = open(self.workdir / "thermo.csv", "w", newline="")  # noqa: SIM115
        csv.writer(self.thermo_fh).writerow(THERMO_COLUMNS)
        self.frames_fh = open(self.workdir / "frames.extxyz", "w")  # noqa: SIM115

    def _context(self, index: int, groups: list[_Group] | None = None) -> _StageContext:
        return _StageContext(self, index, self.protocol.stages[index], groups)

    # ------------------------------------------------------------------ safety

    def check(self, ctx: _StageContext, temperature: float, distances: bool) -> None:
        limits = self.settings.safety
        if distances:  # first: a close pair also explains a huge force
            self.check_distances(ctx)
        norms = np.einsum("ij,ij->i", self.f_calc, self.f_calc)
        worst = int(np.argmax(norms))
        if not np.isfinite(norms[worst]) or not np.isfinite(self.epot):
            self._blowup(ctx, "non-finite energy or forces")
        if norms[worst] > limits.max_force**2:
            symbol = self.atoms.get_chemical_symbols()[worst]
            self._blowup(
                ctx,
                f"force of {np.sqrt(norms[worst]):.1f} eV/Å on atom {worst} "
                f"({symbol}) exceeds max_force {limits.max_force:g} eV/Å",
            )
        expected = self.expected_temperature(ctx)
        limit = limits.temperature_factor * max(expected, 300.0)
        if not np.isfinite(temperature) or temperature > limit:
            self._blowup(
                ctx,
                f"temperature {temperature:.0f} K is above {limit:.0f} K "
                f"({limits.temperature_factor:g} × the expected {expected:.0f} K)",
            )

    def check_distances(self, ctx: _StageContext) -> None:
        cutoff = self.settings.safety.min_distance
        if cutoff <= 0:
            return
        if not np.all(np.isfinite(self.atoms.positions)):
            self._blowup(ctx, "non-finite positions")
        reason = too_close(self.atoms, cutoff)
        if reason is not None:
            self._blowup(ctx, reason)

    def expected_temperature(self, ctx: _StageContext) -> float:
        target = ctx.stage.temperature_at_step(self.stage_step)
        if ctx.thermostat is not None and target is not None:
            return max(target, self.t_ref)  # a thermostat cools a hot start gradually
        plan = self.plan[ctx.index]
        done = self.stage_step / ctx.n_steps
        added = plan.injected * done
        return self.t_ref + 2.0 * added / (3.0 * KB * max(ctx.n_mobile, 1))

    def _blowup(self, ctx: _StageContext, reason: str) -> None:
        self._flush()
        with open(self.workdir / "blowup.extxyz", "w") as handle:
            write_frame(handle, self.atoms, self.v, {"step": self.step}, self.roles)
        raise MDBlowUpError(self.step, ctx.stage.name, reason, self._checkpoint_path())

    # ------------------------------------------------------------------ loop

    def run(self) -> bool:
        completed = False
        try:
            completed = self._steps()
        except _StopRunError:
            self.checkpoint()
            log.info("stopped at step %d of %d (checkpoint written)", self.step, self.protocol.n_steps)
        finally:
            self.close()
        if completed and self.ctx is not None:
            self.progress(self.ctx, self.temperature(self.ctx, self.kinetic_energy()), force=True)
        return completed

    def _steps(self) -> bool:
        """Step to the end (True); raise :class:`_StopRunError` to stop at a checkpoint."""
        settings = self.settings
        stages = self.protocol.stages
        first = True
        while self.stage_index < len(stages):
            if self.ctx is None or self.ctx.index != self.stage_index:
                self.ctx = self._context(self.stage_index)
                self.xi[:], self.vxi[:] = 0.0, 0.0
                self.veps = 0.0
                self.t_ref = self.temperature(self.ctx, self.kinetic_energy())
            ctx = self.ctx
            self.v[ctx.fixed] = 0.0
            if first:
                self.evaluate(need_stress=True)
                ke = self.kinetic_energy()
                temperature = self.temperature(ctx, ke)
                self.check(ctx, temperature, distances=True)
                if self.step == 0 and self.stage_step == 0:
                    self.thermo_row(ctx, ke, temperature)
                    self.frame(ctx, temperature, stage_end=False)
                first = False
            while self.stage_step < ctx.n_steps:
                if self.max_steps is not None and self.steps_this_call >= self.max_steps:
                    raise _StopRunError
                last = self.stage_step + 1 == ctx.n_steps
                next_step = self.step + 1
                thermo_due = last or next_step % settings.thermo_interval == 0
                target = ctx.stage.temperature_at_step(self.stage_step + 1)
                self.integrate(ctx, target, need_stress=thermo_due or ctx.npt)
                if ctx.groups:
                    self.apply_groups(ctx)
                self.step, self.stage_step = next_step, self.stage_step + 1
                self.steps_this_call += 1
                ke = self.kinetic_energy()
                temperature = self.temperature(ctx, ke)
                self.check(ctx, temperature, distances=self.step % settings.safety.check_interval == 0)
                if thermo_due:
                    self.thermo_row(ctx, ke, temperature)
                if last or (settings.frame_interval and self.step % settings.frame_interval == 0):
                    self.frame(ctx, temperature, stage_end=last)
                if last:
                    self.stage_index += 1
                    self.stage_step = 0
                    if self.stage_index < len(stages):
                        self.ctx = None
                if last or (settings.checkpoint_interval and self.step % settings.checkpoint_interval == 0):
                    if self.step % settings.safety.check_interval != 0:
                        self.check_distances(ctx)
                    self.checkpoint()
                self.progress(ctx, temperature)
                if (
                    settings.walltime is not None
                    and self.stage_index < len(stages)
                    and time.perf_counter() - self.t0 > settings.walltime
                ):
                    raise _StopRunError
                if last:
                    break
        return True

    def result(self, completed: bool) -> MDResult:
        final = self.atoms.copy()
        final.calc = None
        final.set_velocities(self.v / FS)
        engine = self.engine
        return self.write_result(
            final_atoms=final,
            thermo=self.read_thermo(),
            ledger=self.ledger,
            n_steps=self.step,
            completed=completed,
            n_frames=self.n_frames,
            seed=self.seed,
            wall_time=self.wall_before + time.perf_counter() - self.t0,
            potential=engine.potential_id,
            metadata={
                "calculator": type(engine.calculator).__name__,
                "settings": self.settings.model_dump(mode="json"),
            },
        )
