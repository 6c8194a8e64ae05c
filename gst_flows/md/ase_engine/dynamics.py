"""Integrators and thermostats of the ASE engine (see :mod:`gst_flows.md.ase_engine`).

Velocity Verlet, BAOAB Langevin, a Nosé–Hoover chain and the isotropic MTK barostat, and the
velocity rescaling of energy injection and removal. A mixin of the engine's run state: it
reads and updates ``atoms``, ``v``, ``f_calc``, ``epot``, ``stress``, ``xi``, ``vxi``,
``veps``, ``rng``, ``masses`` and ``ledger``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from ase.calculators.calculator import all_changes

from gst_flows.md.units import EV_PER_A3_TO_GPA, FS, KB

if TYPE_CHECKING:
    from gst_flows.md.ase_engine.stage import _StageContext

#: Length of the Nosé–Hoover chain.
_CHAIN = 3


class _Dynamics:
    """Forces, integration steps, thermostats and the kinetic observables."""

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
