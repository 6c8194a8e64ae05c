"""The ASE engine's own thermostats: canonical fluctuations and a closed energy balance.

A thermostat that only gets the mean temperature right (Berendsen-style rescaling) passes
``test_schedules_reach_their_temperatures``; these tests also fail for one:

- the kinetic energy K of a canonical ensemble fluctuates with Var(K) = (N_f/2)(k_B T)²;
  rescaling towards the target suppresses that, a wrong noise term shifts it;
- the energy the thermostat exchanges (the ledger's ``thermostat_ev``) accounts for every
  change of the total energy, so ``conserved_ev`` stays put; for the Nosé–Hoover chain that
  work is the energy stored in the chain's own variables.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from gap_fixture import gst_cell

from gst_flows.md.ase_engine import AseMDEngine
from gst_flows.md.protocol import Protocol, RunSettings, Stage
from gst_flows.md.units import KB


@pytest.fixture
def small_cell():
    """32-atom Ge/Sb/Te cell: fluctuations of K are large relative to its mean."""
    return gst_cell(2, seed=0)


def _run(atoms, calc, workdir, stages, *, start=None, max_steps=None, **settings):
    """Run ``stages`` from velocities at ``start`` K (default: the first target)."""
    start = stages[0].temperature_at_step(0) if start is None else start
    settings = RunSettings(frame_interval=0, checkpoint_interval=0, **settings)
    protocol = Protocol(initial_temperature=start, seed=7, stages=stages)
    return AseMDEngine(calc, workdir=workdir, settings=settings).run(atoms, protocol, max_steps=max_steps)


@pytest.mark.parametrize("thermostat", ["langevin", "nose-hoover"])
def test_thermostat_work_closes_the_energy_balance(small_cell, pair_calc, tmp_path, thermostat):
    stages = [
        Stage(
            name=name,
            ensemble="nvt",
            thermostat=thermostat,
            tdamp=50,
            temperature=temperature,
            duration=duration,
        )
        for name, temperature, duration in (
            ("heat", {"start": 300, "end": 900}, 600),
            ("hold", 900, 200),
        )
    ]
    result = _run(small_cell, pair_calc, tmp_path / thermostat, stages, thermo_interval=5)
    th = result.thermo
    n = len(small_cell)
    # the thermostat did real work: heating 32 atoms by 600 K takes about 5 eV
    rise = th["etot_ev"][-1] - th["etot_ev"][0]
    assert rise > 3.0
    assert result.ledger.thermostat == pytest.approx(rise, rel=0.01)
    # and accounts for all of it, step by step: H minus the thermostat's work is conserved
    # (a few 1e-5 eV/atom here; an unrecorded or mis-scaled exchange moves it by eV)
    assert np.ptp(th["conserved_ev"]) / n < 5e-4
    assert np.allclose(th["conserved_ev"], th["etot_ev"] - th["thermostat_ev"])


def _chain_energy(state: dict, dof: int, temperature: float, tdamp: float) -> float:
    """Σ Q_j v_ξj²/2 + N_f k_B T ξ_1 + k_B T Σ_{j>1} ξ_j, eV (Martyna, Klein & Tuckerman 1992)."""
    kt = KB * temperature
    xi, vxi = np.array(state["xi"]), np.array(state["vxi"])
    q = np.full(len(xi), kt * tdamp**2)
    q[0] *= dof
    return float(0.5 * np.sum(q * vxi**2) + dof * kt * xi[0] + kt * xi[1:].sum())


def test_nose_hoover_chain_holds_the_thermostat_work(small_cell, pair_calc, tmp_path):
    # the extended energy H + chain energy is what a Nosé–Hoover chain conserves: the work
    # the ledger books must be exactly what the chain variables took up, which fails for a
    # wrong chain force, mass or ξ update even when the ledger balances H
    temperature, tdamp = 900.0, 30.0
    stage = Stage(
        name="nh",
        ensemble="nvt",
        thermostat="nose-hoover",
        tdamp=tdamp,
        temperature=temperature,
        duration=800,
    )
    workdir = tmp_path / "nh"
    stored, booked = [], []
    for _ in range(8):  # 50 steps at a time, reading the chain's state from the checkpoint
        # start colder than the target: the chain has to pump energy in
        result = _run(small_cell, pair_calc, workdir, [stage], start=300.0, max_steps=50)
        with np.load(workdir / "checkpoint.npz") as data:
            state = json.loads(str(data["state"]))
        stored.append(_chain_energy(state, 3 * len(small_cell), temperature, tdamp))
        booked.append(state["ledger"]["thermostat"])
    assert result.completed
    stored, booked = np.array(stored), np.array(booked)
    assert booked[0] > 1.0  # the chain pushed in more than 1 eV at first
    assert np.allclose(stored, -np.array(booked), atol=0.01 * np.abs(booked).max())


def _kinetic_energies(atoms, calc, workdir, thermostat, tdamp, temperature, n_steps):
    stages = [
        Stage(
            name=name, ensemble="nvt", thermostat=thermostat, tdamp=tdamp, temperature=temperature, duration=d
        )
        for name, d in (("equilibrate", 400), ("sample", 2 * n_steps))
    ]
    result = _run(atoms, calc, workdir, stages, thermo_interval=2)
    return result.stage_thermo("sample")["ekin_ev"]


@pytest.mark.parametrize(
    ("thermostat", "tdamp", "n_steps"),
    [
        # K decorrelates in ~5 steps here: 3000 steps are ~600 independent samples, a
        # relative error of the variance of ~6 % (Berendsen gives 0.05 of the variance)
        ("langevin", 10.0, 3000),
        # ~7 steps: 6000 steps for ~850 samples
        pytest.param("nose-hoover", 10.0, 6000, marks=pytest.mark.slow),
    ],
)
def test_kinetic_energy_fluctuations_are_canonical(
    small_cell, pair_calc, tmp_path, thermostat, tdamp, n_steps
):
    temperature = 600.0
    ke = _kinetic_energies(small_cell, pair_calc, tmp_path, thermostat, tdamp, temperature, n_steps)
    kt = KB * temperature
    target = 3 * len(small_cell)  # N_f the thermostat drives 2K/k_B T to
    # Langevin kicks every atom: all 3N degrees of freedom are free. Nosé–Hoover keeps the
    # zero total momentum of the start: 3N - 3 move, at T_eff = T·3N/(3N - 3)
    free = target if thermostat == "langevin" else target - 3
    mean = 0.5 * target * kt
    variance = 0.5 * target**2 / free * kt**2
    assert ke.mean() / mean == pytest.approx(1.0, abs=0.03)
    assert ke.var() / variance == pytest.approx(1.0, abs=0.15)
