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
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from gst_flows.md.engine import (
    CHECKPOINT,
    OUTPUTS,
    EngineRun,
    MDEngine,
    MDProgress,
    run_engine,
    too_close,
)
from gst_flows.md.protocol import (
    ElectricField,
    Protocol,
    ProtocolError,
    RunSettings,
    Stage,
    fixed_mask,
    heat_groups,
)
from gst_flows.md.results import (
    THERMO_COLUMNS,
    EnergyLedger,
    MDBlowUpError,
    MDResult,
    write_frame,
)
from gst_flows.md.units import AMU_PER_A3_TO_G_PER_CM3, EV_PER_A3_TO_GPA, FS, KB

__all__ = ["AseMDEngine", "MDProgress", "run_protocol"]

log = logging.getLogger(__name__)

_VERSION = 1
_CHAIN = 3


class _StopRunError(Exception):
    """Internal: stop at a checkpoint (walltime or step budget reached)."""


@dataclass
class _Group:
    index: np.ndarray  # atom indices
    rate: float  # eV/fs, positive: inject, negative: remove


class _StageContext:
    """Everything a stage needs per step, computed once at its start (or restored)."""

    def __init__(self, engine: _Run, index: int, stage: Stage, groups: list[_Group] | None) -> None:
        atoms = engine.atoms
        self.index, self.stage = index, stage
        self.dt = stage.timestep
        self.n_steps = stage.n_steps
        self.fixed = fixed_mask(atoms, stage)
        self.mobile = ~self.fixed
        self.n_mobile = int(self.mobile.sum())
        self.dof = 3 * self.n_mobile
        masses = engine.masses
        self.acc = np.where(self.mobile, FS**2 / masses, 0.0)[:, None]
        self.sigma = np.where(self.mobile, np.sqrt(KB / masses) * FS, 0.0)[:, None]
        self.field = self._field_forces(atoms, stage)
        self.plan = engine.plan[index]
        self.groups = groups if groups is not None else self._groups(atoms, stage)
        self.npt = stage.ensemble == "npt"
        self.thermostat = None if stage.ensemble == "nve" else stage.thermostat

    def _field_forces(self, atoms: Atoms, stage: Stage) -> np.ndarray | None:
        fields = stage.actions_of(ElectricField)
        if not fields:
            return None
        symbols = atoms.get_chemical_symbols()
        forces = np.zeros((len(atoms), 3))
        for action in fields:
            charges = np.array([action.charges.get(s, 0.0) for s in symbols])
            forces += charges[:, None] * action.field_vector()[None, :]
        forces[self.fixed] = 0.0
        return forces

    def _groups(self, atoms: Atoms, stage: Stage) -> list[_Group]:
        return [
            _Group(np.flatnonzero(mask), rate)
            for mask, rate in heat_groups(atoms, stage, self.mobile, self.plan.removal_rate)
        ]


class _Run(EngineRun):
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

    def resume(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            state = json.loads(str(data["state"]))
            if state.get("version") != _VERSION:
                raise ValueError(f"{path}: checkpoint version {state.get('version')} unsupported")
            if state["protocol_hash"] != self.protocol.hash():
                raise ValueError(
                    f"{path} belongs to a different protocol: use a fresh directory or restart=False"
                )
            if not np.array_equal(data["numbers"], self.atoms.numbers):
                raise ValueError(f"{path} belongs to a different structure (atoms differ)")
            self.atoms.set_cell(data["cell"], scale_atoms=False)
            self.atoms.positions[:] = data["positions"]
            self.v = np.array(data["velocities"])
            group_index = [np.array(data[f"group_{i}"]) for i in range(state["n_groups"])]
        self.step, self.stage_index = state["step"], state["stage_index"]
        self.stage_step = state["stage_step"]
        self.ledger = EnergyLedger.from_dict(state["ledger"])
        self.xi, self.vxi = np.array(state["xi"]), np.array(state["vxi"])
        self.veps = float(state.get("veps", 0.0))
        self.t_ref, self.n_frames = state["t_ref"], state["n_frames"]
        self.wall_before, self.seed = state["wall_time"], state["seed"]
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state["rng"]
        for name, offset in (
            ("thermo.csv", state["thermo_offset"]),
            ("frames.extxyz", state["frames_offset"]),
        ):
            with open(self.workdir / name, "r+b") as handle:
                handle.truncate(offset)
        self.thermo_fh = open(self.workdir / "thermo.csv", "a", newline="")  # noqa: SIM115
        self.frames_fh = open(self.workdir / "frames.extxyz", "a")  # noqa: SIM115
        self.atoms.arrays.pop("momenta", None)
        if self.stage_index < len(self.protocol.stages) and self.stage_step > 0:
            # groups (graded slabs) were fixed at the stage start: restore them
            groups = [_Group(idx, rate) for idx, rate in zip(group_index, state["group_rates"], strict=True)]
            self.ctx = self._context(self.stage_index, groups)
        self.checkpoint_written = True
        log.info("resumed %s at step %d of %d", self.workdir, self.step, self.protocol.n_steps)

    def _context(self, index: int, groups: list[_Group] | None = None) -> _StageContext:
        return _StageContext(self, index, self.protocol.stages[index], groups)

    # ------------------------------------------------------------------ physics

    def evaluate(self, need_stress: bool, changes: list[str] | None = None) -> None:
        """Evaluate forces, energy (and stress) at the current positions.

        ``changes`` names what moved since the last call (positions, cell); None means the
        calculator may hold results of anything, so everything is recomputed.
        """
        calc = self.atoms.calc
        props = ["energy", "forces", "stress"] if need_stress else ["energy", "forces"]
        calc.reset()
        calc.calculate(self.atoms, props, all_changes if changes is None else changes)
        results = calc.results
        self.f_calc = np.asarray(results["forces"])
        self.epot = float(results.get("energy", results.get("free_energy", np.nan)))
        self.stress = np.asarray(results["stress"]) if "stress" in results else None

    def kinetic_energy(self) -> float:
        return 0.5 * float(np.einsum("i,ij,ij->", self.masses, self.v, self.v)) / FS**2

    def _kick(self, ctx: _StageContext, h: float) -> None:
        forces = self.f_calc if ctx.field is None else self.f_calc + ctx.field
        self.v += h * ctx.acc * forces

    def _drift(self, ctx: _StageContext, h: float) -> None:
        self.atoms.positions += h * self.v
        if ctx.field is not None:
            self.ledger.field_work += h * float(np.einsum("ij,ij->", ctx.field, self.v))

    def _langevin_o(self, ctx: _StageContext, temperature: float) -> None:
        c1 = np.exp(-ctx.dt / ctx.stage.tdamp)
        c2 = np.sqrt(1.0 - c1 * c1) * np.sqrt(max(temperature, 0.0))
        before = self.kinetic_energy()
        noise = self.rng.standard_normal((self.n_atoms, 3))
        self.v *= c1
        self.v += c2 * ctx.sigma * noise
        self.ledger.thermostat += self.kinetic_energy() - before

    def _chain_half(self, ctx: _StageContext, temperature: float) -> None:
        kt = KB * max(temperature, 1e-6)
        tau2 = ctx.stage.tdamp**2
        q = np.full(_CHAIN, kt * tau2)
        q[0] = ctx.dof * kt * tau2
        xi, vxi, dt = self.xi, self.vxi, ctx.dt
        dt2, dt4, dt8 = dt / 2, dt / 4, dt / 8
        ke = self.kinetic_energy()

        def force(j: int, ke2: float) -> float:
            if j == 0:
                return (ke2 - ctx.dof * kt) / q[0]
            return (q[j - 1] * vxi[j - 1] ** 2 - kt) / q[j]

        last = _CHAIN - 1
        vxi[last] += force(last, 2 * ke) * dt4
        for j in range(last - 1, -1, -1):
            vxi[j] *= np.exp(-vxi[j + 1] * dt8)
            vxi[j] += force(j, 2 * ke) * dt4
            vxi[j] *= np.exp(-vxi[j + 1] * dt8)
        scale = np.exp(-vxi[0] * dt2)
        self.v *= scale
        self.ledger.thermostat += ke * (scale * scale - 1.0)
        ke *= scale * scale
        xi += vxi * dt2
        for j in range(last):
            vxi[j] *= np.exp(-vxi[j + 1] * dt8)
            vxi[j] += force(j, 2 * ke) * dt4
            vxi[j] *= np.exp(-vxi[j + 1] * dt8)
        vxi[last] += force(last, 2 * ke) * dt4

    def integrate(self, ctx: _StageContext, target: float | None, need_stress: bool) -> None:
        """Advance one timestep."""
        if ctx.npt:
            self._integrate_npt(ctx, target)
            return
        dt = ctx.dt
        if ctx.thermostat == "nose-hoover":
            self._chain_half(ctx, target)
        self._kick(ctx, 0.5 * dt)
        if ctx.thermostat == "langevin":
            self._drift(ctx, 0.5 * dt)
            self._langevin_o(ctx, target)
            self._drift(ctx, 0.5 * dt)
        else:
            self._drift(ctx, dt)
        self.evaluate(need_stress, ["positions"])
        self._kick(ctx, 0.5 * dt)
        if ctx.thermostat == "nose-hoover":
            self._chain_half(ctx, target)

    # -- isothermal–isobaric (MTK)

    def _barostat_mass(self, ctx: _StageContext, temperature: float) -> float:
        """Barostat mass W = (N_f + 3) k_B T τ_p², eV fs²."""
        return (ctx.dof + 3) * KB * max(temperature, 1.0) * ctx.stage.pdamp**2

    def _barostat_force(self, ctx: _StageContext) -> float:
        """G_ε = (1 + 3/N_f) 2K + 3V (P_virial - P_ext), eV."""
        from ase.stress import voigt_6_to_full_3x3_stress

        stress = np.asarray(self.stress)
        if stress.shape != (3, 3):
            stress = voigt_6_to_full_3x3_stress(stress)
        volume = self.atoms.get_volume()
        virial = -float(np.trace(stress)) * volume
        external = 3.0 * volume * ctx.stage.pressure / EV_PER_A3_TO_GPA
        return (1.0 + 3.0 / ctx.dof) * 2.0 * self.kinetic_energy() + virial - external

    def _integrate_npt(self, ctx: _StageContext, target: float) -> None:
        """One isotropic MTK step (Tuckerman et al., J. Phys. A 39, 5629 (2006))."""
        dt = ctx.dt
        mass = self._barostat_mass(ctx, target)
        alpha = 1.0 + 3.0 / ctx.dof
        if ctx.thermostat == "nose-hoover":
            self._chain_half(ctx, target)
        self.veps += 0.5 * dt * self._barostat_force(ctx) / mass
        self.v *= np.exp(-0.5 * dt * alpha * self.veps)
        self._kick(ctx, 0.5 * dt)
        x = 0.5 * dt * self.veps
        sinhc = 1.0 + x * x / 6.0 + x**4 / 120.0
        grow = np.exp(dt * self.veps)
        positions = self.atoms.positions * grow + self.v * dt * np.exp(x) * sinhc
        self.atoms.set_cell(self.atoms.cell * grow, scale_atoms=False)
        self.atoms.positions = positions
        self.evaluate(True, ["positions", "cell"])
        self._kick(ctx, 0.5 * dt)
        self.v *= np.exp(-0.5 * dt * alpha * self.veps)
        self.veps += 0.5 * dt * self._barostat_force(ctx) / mass
        if ctx.thermostat == "nose-hoover":
            self._chain_half(ctx, target)
        else:
            self._langevin_o(ctx, target)
        # the barostat itself is a Langevin piston (friction 1/pdamp): it samples its
        # Boltzmann distribution instead of oscillating undamped
        c1 = np.exp(-dt / ctx.stage.pdamp)
        noise = float(self.rng.standard_normal())
        self.veps = c1 * self.veps + np.sqrt((1.0 - c1 * c1) * KB * target / mass) * noise

    def apply_groups(self, ctx: _StageContext) -> None:
        for group in ctx.groups:
            delta = group.rate * ctx.dt
            self._rescale(group.index, delta, ctx)
            if delta > 0:
                self.ledger.injected += delta
            else:
                self.ledger.removed -= delta

    def _rescale(self, index: np.ndarray, delta: float, ctx: _StageContext) -> None:
        m = self.masses[index, None]
        v = self.v[index]
        vcm = (m * v).sum(axis=0) / m.sum()
        rel = v - vcm
        ke_rel = 0.5 * float(np.sum(m * rel * rel)) / FS**2
        if ke_rel <= 1e-12:
            if delta < 0:
                self._blowup(ctx, "no kinetic energy left to remove")
            # a group at rest: start from random directions with zero group momentum
            rel = self.rng.standard_normal(v.shape) * np.sqrt(1.0 / m)
            rel -= (m * rel).sum(axis=0) / m.sum()
            ke_rel_new = 0.5 * float(np.sum(m * rel * rel)) / FS**2
            self.v[index] = vcm + rel * np.sqrt(delta / ke_rel_new)
            return
        lam2 = 1.0 + delta / ke_rel
        if lam2 <= 0:
            self._blowup(
                ctx,
                f"heat removal asks for {-delta:.4g} eV in one step but only "
                f"{ke_rel:.4g} eV of kinetic energy is left in the group: "
                "lengthen the removal stage",
            )
        self.v[index] = vcm + np.sqrt(lam2) * rel

    def temperature(self, ctx: _StageContext, ke: float) -> float:
        return 2.0 * ke / (ctx.dof * KB) if ctx.dof else 0.0

    def pressure(self) -> float:
        volume = self.atoms.get_volume()
        kinetic = 2.0 * self.kinetic_energy() / (3.0 * volume)
        if self.stress is None:
            return float("nan")
        return float((kinetic - self.stress[:3].sum() / 3.0) * EV_PER_A3_TO_GPA)

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

    def _checkpoint_path(self) -> str | None:
        path = self.workdir / CHECKPOINT
        return str(path) if path.exists() else None

    # ------------------------------------------------------------------ output

    def thermo_row(self, ctx: _StageContext, ke: float, temperature: float) -> None:
        volume = self.atoms.get_volume()
        etot = self.epot + ke
        led = self.ledger
        conserved = etot - led.injected + led.removed - led.field_work - led.thermostat
        target = ctx.stage.temperature_at_step(self.stage_step)
        row = (
            self.step,
            self.time(),
            ctx.index,
            temperature,
            target if target is not None else float("nan"),
            self.epot,
            ke,
            etot,
            self.pressure(),
            volume,
            self.total_mass / volume * AMU_PER_A3_TO_G_PER_CM3,
            led.injected,
            led.removed,
            led.field_work,
            led.thermostat,
            conserved,
        )
        self.thermo_fh.write(",".join(str(x) if isinstance(x, int) else f"{x:.12g}" for x in row) + "\n")

    def frame(self, ctx: _StageContext, temperature: float, stage_end: bool) -> None:
        info = {
            "step": self.step,
            "time_fs": self.time(),
            "stage": ctx.index,
            "stage_name": ctx.stage.name,
            "temperature_k": float(temperature),
            "stage_end": bool(stage_end),
        }
        write_frame(self.frames_fh, self.atoms, self.v, info, self.roles)
        self.n_frames += 1

    def time(self) -> float:
        """Return the simulated time, fs."""
        stages = self.protocol.stages
        before = sum(s.duration for s in stages[: self.stage_index])
        if self.stage_index >= len(stages):
            return float(before)
        return float(before + self.stage_step * stages[self.stage_index].timestep)

    def _flush(self) -> None:
        for handle in (self.thermo_fh, self.frames_fh):
            if handle is not None:
                handle.flush()

    def checkpoint(self) -> None:
        """Write the checkpoint atomically (only after the safety checks of this step)."""
        self._flush()
        ctx = self.ctx
        groups = ctx.groups if ctx is not None else []
        state = {
            "version": _VERSION,
            "protocol_hash": self.protocol.hash(),
            "step": self.step,
            "stage_index": self.stage_index,
            "stage_step": self.stage_step,
            "ledger": self.ledger.to_dict(),
            "xi": self.xi.tolist(),
            "vxi": self.vxi.tolist(),
            "veps": self.veps,
            "t_ref": self.t_ref,
            "n_frames": self.n_frames,
            "wall_time": self.wall_before + time.perf_counter() - self.t0,
            "seed": self.seed,
            "rng": self.rng.bit_generator.state,
            "thermo_offset": self.thermo_fh.tell(),
            "frames_offset": self.frames_fh.tell(),
            "n_groups": len(groups),
            "group_rates": [g.rate for g in groups],
        }
        arrays = {f"group_{i}": g.index for i, g in enumerate(groups)}
        tmp = self.workdir / f".{CHECKPOINT}.tmp.npz"
        np.savez(
            tmp,
            positions=self.atoms.positions,
            velocities=self.v,
            cell=np.array(self.atoms.cell),
            numbers=self.atoms.numbers,
            state=np.array(json.dumps(state)),
            **arrays,
        )
        os.replace(tmp, self.workdir / CHECKPOINT)
        self.checkpoint_written = True

    def progress(self, ctx: _StageContext, temperature: float, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.last_report < self.settings.progress_interval:
            return
        self.last_report = now
        self.report(self.step, ctx.stage.name, temperature, now)

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

    def close(self) -> None:
        for handle in (self.thermo_fh, self.frames_fh):
            if handle is not None:
                handle.close()

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
