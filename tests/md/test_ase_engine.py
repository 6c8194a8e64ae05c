"""ASE engine: each action on a small cell with a cheap pair potential."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.lj import LennardJones

from gst_flows.md.ase_engine import AseMDEngine, run_protocol
from gst_flows.md.protocol import (
    ElectricField,
    FixAtoms,
    GradedInjection,
    InjectEnergy,
    Protocol,
    ProtocolError,
    RemoveHeat,
    RunSettings,
    Stage,
)
from gst_flows.md.results import MDBlowUpError, MDResult, read_frames
from gst_flows.md.units import FS, KB


def _run(atoms, protocol, calc, tmp_path, name="run", **settings):
    settings.setdefault("frame_interval", 50)
    settings.setdefault("thermo_interval", 10)
    engine = AseMDEngine(calc, workdir=tmp_path / name, settings=RunSettings(**settings), seed=3)
    return engine.run(atoms, protocol)


def _total_momentum(atoms):
    return atoms.get_momenta().sum(axis=0)


def test_fixed_atoms_do_not_move(slab_cell, pair_calc, tmp_path):
    protocol = Protocol(
        initial_temperature=600,
        stages=[
            Stage(name="hot", ensemble="nvt", temperature=600, duration=200, actions=[FixAtoms()]),
            Stage(
                name="nh",
                ensemble="nvt",
                thermostat="nose-hoover",
                temperature=600,
                duration=100,
                actions=[FixAtoms()],
            ),
        ],
    )
    result = _run(slab_cell, protocol, pair_calc, tmp_path)
    fixed = slab_cell.arrays["fixed"]
    assert fixed.sum() > 0
    final = result.final_atoms
    assert np.array_equal(final.positions[fixed], slab_cell.positions[fixed])
    assert not np.allclose(final.positions[~fixed], slab_cell.positions[~fixed])
    assert np.all(final.get_velocities()[fixed] == 0)
    # the temperature counts the mobile atoms only
    v = final.get_velocities()[~fixed] * FS
    ke = 0.5 * np.sum(final.get_masses()[~fixed, None] * v**2) / FS**2
    assert result.thermo["temperature_k"][-1] == pytest.approx(2 * ke / (3 * (~fixed).sum() * KB))
    frames = result.read_frames()
    assert all(np.allclose(f.positions[fixed], slab_cell.positions[fixed], atol=1e-6) for f in frames)
    assert frames[-1].info["stage_end"] and "fixed" in frames[-1].arrays


def test_nve_injection_rate_times_duration(slab_cell, pair_calc, tmp_path):
    rate, duration = 20.0, 600.0  # eV/ps, fs: 12 eV into the region (~100 K per atom there)
    protocol = Protocol(
        initial_temperature=300,
        stages=[
            Stage(
                name="pulse",
                ensemble="nve",
                duration=duration,
                actions=[InjectEnergy(region="region", region_value=1, rate=rate)],
            ),
            Stage(name="after", ensemble="nve", duration=200),
        ],
    )
    result = _run(slab_cell, protocol, pair_calc, tmp_path, thermo_interval=5)
    th = result.stage_thermo("pulse")
    expected = rate * duration / 1000
    rise = th["etot_ev"][-1] - result.thermo["etot_ev"][0]
    assert rise == pytest.approx(expected, rel=0.01)
    assert result.ledger.injected == pytest.approx(expected, rel=1e-12)
    pulse = result.stage_result("pulse")
    assert pulse.injected == pytest.approx(expected)
    assert abs(pulse.nve_drift) < 1e-3 and abs(result.stage_result("after").nve_drift) < 1e-3
    # injection keeps the momentum (forces are internal, so the total stays zero)
    assert np.allclose(_total_momentum(result.final_atoms), 0, atol=1e-8)
    # the region is hotter than the rest at the end of the pulse
    frame = [f for f in result.read_frames() if f.info["stage_name"] == "pulse"][-1]
    v2 = np.sum(frame.get_velocities() ** 2 * frame.get_masses()[:, None], axis=1)
    region = slab_cell.arrays["region"] == 1
    assert v2[region].mean() > 1.3 * v2[~region].mean()


def test_heat_removal_returns_injected_energy(cell, pair_calc, tmp_path):
    protocol = Protocol(
        initial_temperature=300,
        stages=[
            Stage(
                name="pulse",
                ensemble="nve",
                duration=300,
                actions=[GradedInjection(axis="z", energy=8.0, ratio=4.0, n_slabs=4)],
            ),
            Stage(name="quench", ensemble="nve", duration=400, actions=[RemoveHeat()]),
        ],
    )
    result = _run(cell, protocol, pair_calc, tmp_path, thermo_interval=5)
    assert result.ledger.injected == pytest.approx(8.0)
    assert result.ledger.removed == pytest.approx(8.0)
    etot = result.thermo["etot_ev"]
    peak = result.stage_thermo("pulse")["etot_ev"][-1]
    assert peak - etot[0] == pytest.approx(8.0, rel=0.01)
    assert etot[-1] - etot[0] == pytest.approx(0.0, abs=0.08)
    assert result.stage_result("quench").removed == pytest.approx(8.0)
    assert np.allclose(_total_momentum(result.final_atoms), 0, atol=1e-8)


def test_graded_injection_heats_the_bottom(cell, pair_calc, tmp_path):
    protocol = Protocol(
        initial_temperature=100,
        stages=[
            Stage(
                name="pulse",
                ensemble="nve",
                duration=100,
                actions=[GradedInjection(axis="z", energy=10.0, ratio=9.0, n_slabs=3)],
            ),
        ],
    )
    result = _run(cell, protocol, pair_calc, tmp_path)
    final = result.final_atoms
    z = cell.positions[:, 2]
    ke = 0.5 * np.sum(final.get_masses()[:, None] * final.get_velocities() ** 2, axis=1)
    bottom, top = z < z.min() + 3.5, z > z.max() - 3.5
    assert ke[bottom].mean() > 1.5 * ke[top].mean()


def test_field_moves_cations_and_anions_oppositely(cell, pair_calc, tmp_path):
    charges = {"Ge": 1.0, "Sb": 1.0, "Te": -1.0}
    protocol = Protocol(
        initial_temperature=1200,
        stages=[
            Stage(
                name="field",
                ensemble="nvt",
                temperature=1200,
                duration=600,
                actions=[ElectricField(strength=0.3, direction="z", charges=charges)],
            ),
        ],
    )
    symbols = np.array(cell.get_chemical_symbols())
    cation = np.isin(symbols, ["Ge", "Sb"])

    def separation(result):
        dz = result.final_atoms.positions[:, 2] - cell.positions[:, 2]
        return dz[cation].mean() - dz[~cation].mean()

    up = _run(cell, protocol, pair_calc, tmp_path)
    assert separation(up) > 0.1
    assert up.ledger.field_work > 0
    protocol.stages[0].actions[0].direction = "-z"
    down = _run(cell, protocol, pair_calc, tmp_path, name="down")
    assert separation(down) < -0.1
    protocol.stages[0].actions[0].direction = "x"
    side = _run(cell, protocol, pair_calc, tmp_path, name="side")
    assert abs(separation(side)) < 0.05


@pytest.mark.parametrize("thermostat", ["langevin", "nose-hoover"])
def test_schedules_reach_their_temperatures(cell, pair_calc, tmp_path, thermostat):
    protocol = Protocol(
        initial_temperature=200,
        stages=[
            Stage(
                name="ramp",
                ensemble="nvt",
                thermostat=thermostat,
                tdamp=40,
                temperature={"start": 200, "end": 700},
                duration=600,
            ),
            Stage(
                name="steps",
                ensemble="nvt",
                thermostat=thermostat,
                tdamp=40,
                temperature=[400, 250],
                duration=1200,
            ),
        ],
    )
    result = _run(cell, protocol, pair_calc, tmp_path)
    th = result.thermo
    t, temp = th["step"], th["temperature_k"]
    assert np.all(np.isfinite(th["target_temperature_k"][1:]))
    end_ramp = (t > 250) & (t <= 300)
    assert temp[end_ramp].mean() == pytest.approx(650, rel=0.15)
    first_step = (t > 450) & (t <= 600)
    assert temp[first_step].mean() == pytest.approx(400, rel=0.12)
    second_step = (t > 750) & (t <= 900)
    assert temp[second_step].mean() == pytest.approx(250, rel=0.12)
    assert result.stage_result("steps").thermostat < 0  # cooling takes energy out


def test_npt_relaxes_pressure(cell, pair_calc, tmp_path):
    squeezed = cell.copy()
    squeezed.set_cell(cell.cell * 0.97, scale_atoms=True)
    protocol = Protocol(
        initial_temperature=300,
        stages=[
            Stage(name="npt", ensemble="npt", temperature=300, pressure=0.0, pdamp=200, duration=600),
        ],
    )
    result = _run(squeezed, protocol, pair_calc, tmp_path)
    th = result.thermo
    assert th["volume_a3"][-1] > th["volume_a3"][0] * 1.03
    assert abs(th["pressure_gpa"][-5:].mean()) < abs(th["pressure_gpa"][0]) / 3
    assert th["density_g_cm3"][-1] < th["density_g_cm3"][0]


def _npt_volumes(atoms, calc, workdir, pressure: float, thermostat: str) -> np.ndarray:
    """Volumes (Å³) of a 10 ps NPT run at 300 K after 1 ps of equilibration."""
    protocol = Protocol(
        initial_temperature=300,
        seed=4,
        stages=[
            Stage(
                name=name,
                ensemble="npt",
                temperature=300,
                pressure=pressure,
                pdamp=200,
                thermostat=thermostat,
                duration=duration,
            )
            for name, duration in (("eq", 1000), ("run", 10_000))
        ],
    )
    settings = RunSettings(thermo_interval=5, frame_interval=0, checkpoint_interval=0)
    result = AseMDEngine(calc, workdir=workdir, settings=settings).run(atoms, protocol)
    run = result.stage_thermo("run")
    assert run["pressure_gpa"].mean() == pytest.approx(pressure, abs=0.02)
    assert run["temperature_k"].mean() == pytest.approx(300.0, rel=0.05)
    return run["volume_a3"]


@pytest.mark.slow
@pytest.mark.parametrize("thermostat", ["langevin", "nose-hoover"])
def test_npt_volume_fluctuations_follow_the_compressibility(cell, pair_calc, tmp_path, thermostat):
    # isothermal-isobaric: <dV²> = k_B T V κ_T, with κ_T measured from the mean volumes at
    # ±0.1 GPa; a Berendsen barostat damps the fluctuations far below that
    from gst_flows.md.units import EV_PER_A3_TO_GPA, KB

    volumes = {p: _npt_volumes(cell, pair_calc, tmp_path / f"p{p}", p, thermostat) for p in (-0.1, 0.0, 0.1)}
    v0 = volumes[0.0].mean()
    kappa = -(volumes[0.1].mean() - volumes[-0.1].mean()) / 0.2 / v0 * EV_PER_A3_TO_GPA
    expected = KB * 300.0 * v0 * kappa
    assert volumes[0.0].var() / expected == pytest.approx(1.0, abs=0.4)


def _mixed_protocol():
    return Protocol(
        initial_temperature=300,
        seed=11,
        stages=[
            Stage(name="nvt", ensemble="nvt", temperature=300, duration=100),
            Stage(name="nh", ensemble="nvt", thermostat="nose-hoover", temperature=400, duration=60),
            Stage(
                name="pulse",
                ensemble="nve",
                duration=60,
                actions=[GradedInjection(axis="z", energy=2.0, n_slabs=3)],
            ),
            Stage(name="quench", ensemble="nve", duration=40, actions=[RemoveHeat()]),
        ],
    )


def test_checkpoint_restart_same_trajectory(cell, pair_calc, tmp_path):
    protocol = _mixed_protocol()
    settings = RunSettings(checkpoint_interval=7, frame_interval=10, thermo_interval=4)
    whole = AseMDEngine(pair_calc, workdir=tmp_path / "whole", settings=settings).run(cell, protocol)
    assert whole.completed and whole.n_steps == protocol.n_steps == 130
    engine = AseMDEngine(pair_calc, workdir=tmp_path / "parts", settings=settings)
    done = 0
    for budget in (23, 40, 1, 29, 1000):  # stops mid-stage and right at stage ends
        part = engine.run(cell, protocol, max_steps=budget)
        assert part.n_steps == min(done + budget, 130)
        done = part.n_steps
        if part.completed:
            break
    assert part.completed and part.n_steps == 130
    assert np.allclose(part.final_atoms.positions, whole.final_atoms.positions, atol=1e-10)
    assert np.allclose(part.final_atoms.get_velocities(), whole.final_atoms.get_velocities(), atol=1e-10)
    for key in ("step", "temperature_k", "etot_ev", "injected_ev", "thermostat_ev"):
        assert np.allclose(part.thermo[key], whole.thermo[key]), key
    assert part.n_frames == whole.n_frames == len(read_frames(part.frames_file))
    assert part.ledger.removed == pytest.approx(whole.ledger.removed)
    again = MDResult.from_directory(tmp_path / "parts")
    assert again.completed and again.n_steps == 130 and again.stages[2].name == "pulse"
    # a completed run restarts as a no-op
    assert engine.run(cell, protocol).n_steps == 130


def test_restart_refuses_another_protocol(cell, pair_calc, tmp_path):
    engine = AseMDEngine(pair_calc, workdir=tmp_path / "r", settings=RunSettings())
    engine.run(cell, _mixed_protocol(), max_steps=5)
    other = _mixed_protocol()
    other.stages[0].duration = 200
    with pytest.raises(ValueError, match="different protocol"):
        engine.run(cell, other)
    assert engine.run(cell, other, restart=False).completed


def test_walltime_stop(cell, pair_calc, tmp_path):
    settings = RunSettings(walltime=1e-9)
    engine = AseMDEngine(pair_calc, workdir=tmp_path / "w", settings=settings)
    first = engine.run(cell, _mixed_protocol())
    assert not first.completed and first.n_steps == 1
    assert (tmp_path / "w" / "checkpoint.npz").exists()


def test_hot_start_is_not_a_blowup(cell, pair_calc, tmp_path):
    protocol = Protocol(
        initial_temperature=1500,
        stages=[Stage(name="cool", ensemble="nvt", temperature=300, tdamp=20, duration=40)],
    )
    result = _run(cell, protocol, pair_calc, tmp_path)
    assert result.completed and result.thermo["temperature_k"][0] == pytest.approx(1500)


def test_blowup_atoms_too_close(cell, pair_calc, tmp_path):
    bad = cell.copy()
    bad.positions[1] = bad.positions[0] + [0.4, 0.0, 0.0]
    protocol = Protocol(stages=[Stage(name="a", ensemble="nve", duration=20)])
    with pytest.raises(MDBlowUpError, match=r"0\.40 Å apart"):
        _run(bad, protocol, pair_calc, tmp_path)


def test_blowup_runaway_temperature_keeps_checkpoint(cell, pair_calc, tmp_path):
    protocol = Protocol(
        initial_temperature=300,
        temperature_ceiling=1e6,
        stages=[
            Stage(name="calm", ensemble="nvt", temperature=300, duration=40),
            Stage(
                name="bang",
                ensemble="nvt",
                temperature=300,
                duration=200,
                actions=[InjectEnergy(region=None, rate=20_000.0)],
            ),
        ],
    )
    with pytest.raises(MDBlowUpError) as info:
        _run(cell, protocol, pair_calc, tmp_path, checkpoint_interval=10)
    err = info.value
    assert err.stage == "bang" and "temperature" in err.reason
    # 20 eV per step into 108 atoms: a 1,000 K limit is crossed on the first steps
    assert 20 < err.step <= 20 + 10
    assert err.checkpoint is not None and err.checkpoint.endswith("checkpoint.npz")
    assert (tmp_path / "run" / "blowup.extxyz").exists()


class _Spike(Calculator):
    """Pair forces, with a huge force on atom 0 after a number of calls."""

    implemented_properties = ("energy", "forces", "stress")

    def __init__(self, base, after):
        super().__init__()
        self.base, self.after, self.calls = base, after, 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.base.reset()
        self.base.calculate(self.atoms, list(properties), all_changes)
        self.results = {k: np.array(v, copy=True) for k, v in self.base.results.items()}
        self.calls += 1
        if self.calls > self.after:
            self.results["forces"][0] = [500.0, 0.0, 0.0]


def test_blowup_max_force(cell, pair_calc, tmp_path):
    protocol = Protocol(
        initial_temperature=300, stages=[Stage(name="a", ensemble="nvt", temperature=300, duration=100)]
    )
    with pytest.raises(MDBlowUpError, match=r"force of 500\.0 eV/Å on atom 0") as info:
        _run(cell, protocol, _Spike(pair_calc, after=15), tmp_path)
    assert info.value.step == 15


def test_any_ase_calculator_and_progress(cell, tmp_path):
    reports = []
    calc = LennardJones(sigma=2.67, epsilon=0.1, rc=5.0, smooth=True)
    protocol = Protocol(
        initial_temperature=300, stages=[Stage(name="a", ensemble="nvt", temperature=300, duration=20)]
    )
    result = run_protocol(
        cell[:32],
        protocol,
        calc,
        workdir=tmp_path / "lj",
        settings=RunSettings(progress_interval=1e-6),
        progress=reports.append,
    )
    assert result.completed and result.metadata["calculator"] == "LennardJones"
    assert reports and reports[-1].step == 10 and "step 10/10" in str(reports[-1])


def test_errors_before_compute(cell, pair_calc, tmp_path):
    class NoStress(Calculator):
        implemented_properties = ("energy", "forces")

    npt = Protocol(stages=[Stage(name="a", ensemble="npt", temperature=300, duration=10)])
    with pytest.raises(ProtocolError, match="stress"):
        _run(cell, npt, NoStress(), tmp_path)
    field = Protocol(
        stages=[
            Stage(
                name="a",
                ensemble="nvt",
                temperature=300,
                duration=10,
                actions=[ElectricField(strength=0.03, charges={"Ge": 1, "Sb": 1})],
            )
        ]
    )
    with pytest.raises(ProtocolError, match="no charge for Te"):
        _run(cell, field, pair_calc, tmp_path)
    assert not (tmp_path / "run").exists()


_KILLED_RUN = """
import os, signal, sys
sys.path.insert(0, {testdir!r})
from gap_fixture import gst_cell, pair_calculator
from gst_flows.md.ase_engine import AseMDEngine
from gst_flows.md.protocol import Protocol, RunSettings

class Killer(type(pair_calculator())):
    calls = 0
    def calculate(self, *args, **kwargs):
        Killer.calls += 1
        if Killer.calls > {kill_after}:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().calculate(*args, **kwargs)

calc = pair_calculator()
calc.__class__ = Killer
protocol = Protocol.from_yaml({protocol!r})
settings = RunSettings(checkpoint_interval=7, frame_interval=10, thermo_interval=4)
AseMDEngine(calc, workdir={workdir!r}, settings=settings).run(gst_cell(3, seed=0), protocol)
"""


def test_killed_process_resumes_from_checkpoint(cell, pair_calc, tmp_path):
    protocol = _mixed_protocol()
    workdir = tmp_path / "killed"
    script = _KILLED_RUN.format(
        testdir=str(Path(__file__).parent), kill_after=75, protocol=protocol.to_yaml(), workdir=str(workdir)
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == -9, proc.stderr
    settings = RunSettings(checkpoint_interval=7, frame_interval=10, thermo_interval=4)
    resumed = AseMDEngine(pair_calc, workdir=workdir, settings=settings).run(cell, protocol)
    whole = AseMDEngine(pair_calc, workdir=tmp_path / "whole", settings=settings).run(cell, protocol)
    assert resumed.completed and resumed.n_steps == whole.n_steps == 130
    assert np.allclose(resumed.final_atoms.positions, whole.final_atoms.positions, atol=1e-10)
    assert np.array_equal(resumed.thermo["step"], whole.thermo["step"])
    assert resumed.n_frames == whole.n_frames == len(resumed.read_frames())


def test_npt_checkpoint_restart_same_trajectory(cell, pair_calc, tmp_path):
    # the barostat's state (cell and its rate of change) survives a stop mid-stage
    protocol = Protocol(
        initial_temperature=300,
        seed=3,
        stages=[
            Stage(name="lang", ensemble="npt", temperature=300, pressure=0.5, pdamp=100, duration=80),
            Stage(
                name="nh",
                ensemble="npt",
                thermostat="nose-hoover",
                temperature=300,
                pressure=0.5,
                pdamp=100,
                duration=60,
            ),
        ],
    )
    settings = RunSettings(checkpoint_interval=5, frame_interval=10, thermo_interval=5)
    whole = AseMDEngine(pair_calc, workdir=tmp_path / "whole", settings=settings).run(cell, protocol)
    engine = AseMDEngine(pair_calc, workdir=tmp_path / "parts", settings=settings)
    for budget in (17, 21, 1000):
        part = engine.run(cell, protocol, max_steps=budget)
    assert part.completed and part.n_steps == whole.n_steps == 70
    assert np.allclose(part.final_atoms.cell, whole.final_atoms.cell, atol=1e-10)
    assert np.allclose(part.final_atoms.positions, whole.final_atoms.positions, atol=1e-10)
    assert np.allclose(part.thermo["volume_a3"], whole.thermo["volume_a3"])
    assert np.ptp(whole.thermo["volume_a3"]) > 1.0  # the cell did move
