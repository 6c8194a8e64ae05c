"""Protocols on the LAMMPS engine: stages, actions, ledger, checkpoints, safety, cross-check."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from gst_flows.md.lammps import LammpsMDEngine, LammpsPotential, LammpsRunner, write_lammps_inputs
from gst_flows.md.lammps import plugin as lammps_plugin
from gst_flows.md.protocol import Protocol, ProtocolError, RunSettings
from gst_flows.md.results import THERMO_COLUMNS, MDBlowUpError, MDResult, read_frames
from gst_flows.md.units import EV_PER_A3_TO_GPA, KB
from tests.support.lammps import needs_lammps_plugin

pytestmark = needs_lammps_plugin

LJ = LammpsPotential.lennard_jones(epsilon=0.05, sigma=2.7, cutoff=5.0)
FAST = RunSettings(thermo_interval=10, frame_interval=50, checkpoint_interval=100)


def _cell(repeat: int = 3) -> bulk:
    """Rock-salt GeTe-like cell with Sb on a few cation sites (216 atoms for repeat 3)."""
    atoms = bulk("GeTe", "rocksalt", a=6.0, cubic=True).repeat(repeat)
    symbols = np.array(atoms.get_chemical_symbols())
    symbols[np.flatnonzero(symbols == "Ge")[::3]] = "Sb"
    atoms.set_chemical_symbols(symbols.tolist())
    z = atoms.positions[:, 2]
    atoms.arrays["fixed"] = z > z.max() - 1.0  # top layer
    atoms.arrays["region"] = (z < 4.0).astype(int)  # bottom layers
    return atoms


def _protocol(stages, **kwargs) -> Protocol:
    return Protocol.from_dict({"name": "test", "seed": 7, "stages": stages, **kwargs})


def test_short_protocol_writes_the_shared_run_directory(tmp_path):
    atoms = _cell()
    protocol = _protocol(
        [
            {
                "name": "ramp",
                "ensemble": "nvt",
                "temperature": {"start": 300, "end": 400},
                "duration": "0.2 ps",
            },
            {
                "name": "steps",
                "ensemble": "nvt",
                "thermostat": "nose-hoover",
                "temperature": [400, 350],
                "duration": "0.2 ps",
            },
            {"name": "free", "ensemble": "nve", "duration": "0.2 ps"},
        ],
        initial_temperature=300,
    )
    reports = []
    engine = LammpsMDEngine(LJ, tmp_path, settings=FAST, progress=reports.append)
    result = engine.run(atoms, protocol)
    assert [r.step for r in reports] == [100, 200, 300]
    assert result.completed
    assert result.engine == "lammps"
    assert result.n_steps == protocol.n_steps == 300
    for name in ("thermo.csv", "frames.extxyz", "final.extxyz", "result.json", "checkpoint.npz"):
        assert (tmp_path / name).is_file(), name
    assert tuple(result.thermo) == THERMO_COLUMNS
    steps = result.thermo["step"]
    np.testing.assert_array_equal(steps, np.arange(0, 301, 10))
    np.testing.assert_array_equal(result.thermo["stage"], np.repeat([0, 1, 2], [11, 10, 10]))
    np.testing.assert_allclose(result.thermo["time_fs"], 2.0 * steps)
    assert np.isnan(result.thermo["target_temperature_k"][-1])
    assert result.thermo["target_temperature_k"][10] == pytest.approx(400)
    frames = read_frames(tmp_path / "frames.extxyz")
    assert [f.info["step"] for f in frames] == [0, 50, 100, 150, 200, 250, 300]
    assert [bool(f.info["stage_end"]) for f in frames] == [False, False, True, False, True, False, True]
    assert frames[-1].get_velocities().shape == (len(atoms), 3)
    assert "fixed" not in frames[0].arrays or frames[0].arrays["fixed"].any()
    again = MDResult.from_directory(tmp_path)
    assert again.n_steps == 300
    assert [s.name for s in again.stages] == ["ramp", "steps", "free"]
    # thermostat work closes the energy balance: the conserved energy stays put
    conserved = result.thermo["conserved_ev"]
    assert np.ptp(conserved) / len(atoms) < 2e-4
    assert result.metadata["energy_injection"].startswith("fix heat")


def test_schedule_reaches_its_temperature(tmp_path):
    atoms = _cell()
    protocol = _protocol(
        [{"name": "heat", "ensemble": "nvt", "temperature": 600, "tdamp": 20, "duration": "1 ps"}],
        initial_temperature=100,
    )
    result = LammpsMDEngine(LJ, tmp_path, settings=FAST).run(atoms, protocol)
    temps = result.thermo["temperature_k"]
    assert temps[0] == pytest.approx(100, rel=1e-3)
    assert np.mean(temps[-20:]) == pytest.approx(600, rel=0.1)


def test_fixed_atoms_do_not_move(tmp_path):
    atoms = _cell()
    protocol = _protocol(
        [
            {
                "name": "nvt",
                "ensemble": "nvt",
                "temperature": 500,
                "duration": "0.2 ps",
                "actions": [{"kind": "fix_atoms"}],
            },
            {"name": "nve", "ensemble": "nve", "duration": "0.2 ps", "actions": [{"kind": "fix_atoms"}]},
        ],
        initial_temperature=500,
    )
    result = LammpsMDEngine(LJ, tmp_path, settings=FAST).run(atoms, protocol)
    fixed = atoms.arrays["fixed"]
    assert 0 < fixed.sum() < len(atoms)
    # frame 0 is the input written back; the later ones are states LAMMPS reached
    frames = read_frames(tmp_path / "frames.extxyz")[1:]
    assert [f.info["step"] for f in frames] == [50, 100, 150, 200]
    for frame in frames:
        np.testing.assert_array_equal(frame.positions[fixed], atoms.positions[fixed])
        assert not frame.get_velocities()[fixed].any()
        assert np.abs(frame.positions[~fixed] - atoms.positions[~fixed]).max() > 0.05
        assert (np.linalg.norm(frame.get_velocities()[~fixed], axis=1) > 0).all()
    # the temperature counts mobile atoms only
    final = frames[-1]
    v = final.get_velocities()[~fixed]
    m = final.get_masses()[~fixed]
    t_mobile = (m[:, None] * v**2).sum() / (3 * (~fixed).sum() * KB)
    assert final.info["temperature_k"] == pytest.approx(t_mobile, rel=1e-6)
    assert result.thermo["temperature_k"][-1] == pytest.approx(t_mobile, rel=1e-3)


def test_energy_injection_and_removal_ledger(tmp_path):
    atoms = _cell()
    rate = 10.0  # eV/ps into ~50 atoms for 0.4 ps: about +300 K in the region, then shared
    protocol = _protocol(
        [
            {
                "name": "pulse",
                "ensemble": "nve",
                "duration": "0.4 ps",
                "actions": [
                    {"kind": "fix_atoms"},
                    {"kind": "inject_energy", "region": "region", "rate": rate},
                ],
            },
            {
                "name": "quench",
                "ensemble": "nve",
                "duration": "0.4 ps",
                "actions": [{"kind": "fix_atoms"}, {"kind": "remove_heat"}],
            },
        ],
        initial_temperature=300,
    )
    result = LammpsMDEngine(LJ, tmp_path, settings=FAST).run(atoms, protocol)
    th = result.thermo
    injected = rate * 0.4
    assert result.ledger.injected == pytest.approx(injected)
    assert result.ledger.removed == pytest.approx(injected)
    pulse = result.stage_result("pulse")
    rise = pulse.final_etot - th["etot_ev"][0]
    assert rise == pytest.approx(injected, rel=0.01)
    quench = result.stage_result("quench")
    assert quench.final_etot == pytest.approx(th["etot_ev"][0], abs=0.01 * injected)
    assert np.ptp(th["conserved_ev"]) < 0.01 * injected
    assert pulse.nve_drift is not None
    assert abs(pulse.nve_drift) < 1e-3


def test_graded_injection_heats_the_bottom_more(tmp_path):
    atoms = _cell(4)  # 512 atoms
    protocol = _protocol(
        [
            {
                "name": "pulse",
                "ensemble": "nve",
                "duration": "0.2 ps",
                "actions": [
                    {"kind": "graded_injection", "axis": "z", "energy": 8.0, "ratio": 4.0, "n_slabs": 4}
                ],
            }
        ],
        initial_temperature=50,
    )
    result = LammpsMDEngine(LJ, tmp_path, settings=FAST).run(atoms, protocol)
    assert result.ledger.injected == pytest.approx(8.0)
    rise = result.stage_result("pulse").final_etot - result.thermo["etot_ev"][0]
    assert rise == pytest.approx(8.0, rel=0.01)
    final = read_frames(tmp_path / "frames.extxyz", -1)[0]
    z = atoms.positions[:, 2]
    ke = 0.5 * final.get_masses() * (final.get_velocities() ** 2).sum(axis=1)
    bottom, top = z < np.quantile(z, 0.25), z >= np.quantile(z, 0.75)
    assert ke[bottom].mean() > 1.5 * ke[top].mean()
    # each slab keeps its momentum, so the whole cell does (no fixed atoms here)
    first = read_frames(tmp_path / "frames.extxyz", 0)[0]
    p0 = (first.get_masses()[:, None] * first.get_velocities()).sum(axis=0)
    p1 = (final.get_masses()[:, None] * final.get_velocities()).sum(axis=0)
    np.testing.assert_allclose(p1, p0, atol=1e-6 * len(atoms))


def test_field_moves_cations_and_anions_apart(tmp_path):
    atoms = _cell()
    protocol = _protocol(
        [
            {
                "name": "field",
                "ensemble": "nvt",
                "temperature": 300,
                "duration": "0.4 ps",
                "actions": [
                    {
                        "kind": "electric_field",
                        "strength": 0.3,
                        "direction": "z",
                        "charges": {"Ge": 1.0, "Sb": 1.0, "Te": -1.0},
                    }
                ],
            }
        ],
        initial_temperature=300,
    )
    result = LammpsMDEngine(LJ, tmp_path, settings=FAST).run(atoms, protocol)
    final = read_frames(tmp_path / "frames.extxyz", -1)[0]
    symbols = np.array(atoms.get_chemical_symbols())
    dz = final.positions[:, 2] - atoms.positions[:, 2]
    assert dz[symbols != "Te"].mean() > 0.02
    assert dz[symbols == "Te"].mean() < -0.02
    assert result.ledger.field_work > 0


def test_stop_and_continue_finishes_with_the_same_steps(tmp_path):
    atoms = _cell()
    protocol = _protocol(
        [
            {"name": "a", "ensemble": "nvt", "temperature": 300, "duration": "0.3 ps"},
            {"name": "b", "ensemble": "nve", "duration": "0.3 ps"},
        ],
        initial_temperature=300,
    )
    engine = LammpsMDEngine(LJ, tmp_path, settings=FAST)
    first = engine.run(atoms, protocol, max_steps=200)
    assert not first.completed
    assert first.n_steps == 200
    second = engine.run(atoms, protocol)
    assert second.completed
    assert second.n_steps == 300
    np.testing.assert_array_equal(second.thermo["step"], np.arange(0, 301, 10))
    frames = read_frames(tmp_path / "frames.extxyz")
    assert [f.info["step"] for f in frames] == [0, 50, 100, 150, 200, 250, 300]
    assert second.n_frames == 7


@pytest.mark.slow
def test_walltime_stops_cleanly_and_the_next_call_finishes(tmp_path):
    atoms = bulk("GeTe", "rocksalt", a=6.0, cubic=True).repeat((8, 8, 4))  # 2,048 atoms
    protocol = _protocol([{"name": "long", "ensemble": "nve", "duration": "6 ps"}], initial_temperature=300)
    settings = RunSettings(thermo_interval=10, frame_interval=1000, checkpoint_interval=500, walltime=1.5)
    first = LammpsMDEngine(LJ, tmp_path, settings=settings).run(atoms, protocol)
    assert not first.completed
    assert 0 < first.n_steps < 3000
    rest = RunSettings(thermo_interval=10, frame_interval=1000, checkpoint_interval=500)
    second = LammpsMDEngine(LJ, tmp_path, settings=rest).run(atoms, protocol)
    assert second.completed
    assert second.n_steps == 3000
    steps = second.thermo["step"]
    assert steps[-1] == 3000
    assert np.all(np.diff(steps) > 0)
    assert set(range(0, 3001, 10)) <= set(steps.tolist())


_KILL_SCRIPT = textwrap.dedent(
    """
    import os, re, sys
    from ase.build import bulk
    from gst_flows.md.lammps import LammpsMDEngine, LammpsPotential, LammpsRunner
    from gst_flows.md.protocol import Protocol, RunSettings

    KILL_AT = int(sys.argv[2]) if len(sys.argv) > 2 else None

    class KillingRunner(LammpsRunner):
        # The first LAMMPS run of stage b stops after step KILL_AT, where LAMMPS itself
        # SIGKILLs its process group (this driver included): a crash at a known step.
        def run(self, input_name, workdir, log_name="log.lammps"):
            path = os.path.join(workdir, input_name)
            if KILL_AT and os.path.basename(workdir) == "stage-001" and input_name == "in.0.lammps":
                script = open(path).read()
                kill = f"shell kill -s KILL -- -{os.getpgid(0)}"
                script = re.sub(r"^run \\d+ ", f"run {KILL_AT} ", script, count=1, flags=re.M)
                script = re.sub(r"^(run .*)$", rf"\\1\\n{kill}", script, count=1, flags=re.M)
                open(path, "w").write(script)
            return super().run(input_name, workdir, log_name)

    atoms = bulk("GeTe", "rocksalt", a=6.0, cubic=True).repeat(8)
    protocol = Protocol.from_dict({"name": "kill", "seed": 1, "initial_temperature": 300,
        "stages": [{"name": "a", "ensemble": "nvt", "temperature": 300, "duration": "0.4 ps"},
                   {"name": "b", "ensemble": "nve", "duration": "3 ps"}]})
    settings = RunSettings(thermo_interval=10, frame_interval=500, checkpoint_interval=100)
    engine = LammpsMDEngine(
        LammpsPotential.lennard_jones(), sys.argv[1], settings=settings, runner=KillingRunner()
    )
    result = engine.run(atoms, protocol)
    print("completed", result.completed, result.n_steps)
    """
)


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(_KILL_SCRIPT)
    workdir = tmp_path / "run"
    # killed (SIGKILL, LAMMPS and its driver) right after step 950 of stage b (200 to 1700):
    # checkpoints every 100 steps, the last at 900
    killed = subprocess.run(
        [sys.executable, str(script), str(workdir), "950"],
        start_new_session=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    stage = workdir / "lammps" / "stage-001"
    assert not (stage / "final.restart").exists()
    done = subprocess.run(
        [sys.executable, str(script), str(workdir)], capture_output=True, text=True, check=True
    )
    assert "completed True 1700" in done.stdout
    result = MDResult.from_directory(workdir)
    np.testing.assert_array_equal(result.thermo["step"], np.arange(0, 1701, 10))
    inputs = sorted(stage.glob("in.*.lammps"))
    assert len(inputs) == 2
    assert re.search(r"^read_restart ckpt\.[ab]$", inputs[1].read_text(), flags=re.M)
    # the second part started from the last checkpoint, step 900
    state = json.loads((workdir / "lammps" / "state.json").read_text())
    assert [a["start"] for a in state["stages"][1]["attempts"]] == [200, 900]
    conserved = result.stage_thermo("b")["conserved_ev"]
    assert np.ptp(conserved) / len(result.final_atoms) < 1e-4


def test_too_close_atoms_are_refused_before_any_step(tmp_path):
    atoms = _cell()
    atoms.positions[0] = atoms.positions[1] + [0.6, 0.0, 0.0]
    protocol = _protocol(
        [{"name": "hot", "ensemble": "nvt", "temperature": 300, "duration": "0.2 ps"}],
        initial_temperature=300,
    )
    with pytest.raises(MDBlowUpError, match="closer than min_distance") as info:
        LammpsMDEngine(LJ, tmp_path, settings=FAST).run(atoms, protocol)
    assert info.value.step == 0


def test_distance_limit_is_checked_within_ten_steps(tmp_path):
    atoms = _cell()
    protocol = _protocol(
        [{"name": "hot", "ensemble": "nvt", "temperature": 900, "duration": "0.2 ps"}],
        initial_temperature=900,
    )
    # nearest neighbours start 3.0 A apart; thermal motion soon brings a pair below 2.9 A
    settings = RunSettings(thermo_interval=10, checkpoint_interval=20, safety={"min_distance": 2.9})
    with pytest.raises(MDBlowUpError, match="closer than min_distance") as info:
        LammpsMDEngine(LJ, tmp_path, settings=settings).run(atoms, protocol)
    assert info.value.step == 10
    assert info.value.stage == "hot"
    assert (tmp_path / "thermo.csv").is_file()


def test_frames_saved_before_a_blowup_are_kept(tmp_path):
    """The frames a stopped stage dumped lead into the failure: they stay in frames.extxyz."""
    atoms = _cell()
    protocol = _protocol(
        [{"name": "hot", "ensemble": "nvt", "temperature": 900, "duration": "0.2 ps"}],
        initial_temperature=900,
    )
    settings = RunSettings(
        thermo_interval=2, frame_interval=2, checkpoint_interval=20, safety={"min_distance": 2.9}
    )
    with pytest.raises(MDBlowUpError, match="closer than min_distance") as info:
        LammpsMDEngine(LJ, tmp_path, settings=settings).run(atoms, protocol)
    frames = read_frames(tmp_path / "frames.extxyz")
    steps = [f.info["step"] for f in frames]
    # the start, then a frame every 2 steps before the check stopped the run (step 10)
    assert steps[0] == 0 and steps[1:] == list(range(2, info.value.step, 2))
    assert np.all(np.diff([f.info["step"] for f in frames]) > 0)


def test_force_limit_stops_the_run_at_once(tmp_path):
    atoms = _cell()
    atoms.positions[0] = atoms.positions[1] + [1.6, 0.0, 0.0]
    protocol = _protocol([{"name": "nve", "ensemble": "nve", "duration": "0.1 ps"}], initial_temperature=300)
    settings = RunSettings(safety={"max_force": 5.0, "min_distance": 0.5})
    with pytest.raises(MDBlowUpError, match="max_force") as info:
        LammpsMDEngine(LJ, tmp_path, settings=settings).run(atoms, protocol)
    assert info.value.step == 1


def test_npt_runs_on_an_orthogonal_cell_and_is_refused_on_a_skewed_one(tmp_path):
    atoms = _cell()
    protocol = _protocol(
        [
            {
                "name": "npt",
                "ensemble": "npt",
                "temperature": 300,
                "pressure": 1.0,
                "pdamp": 100,
                "duration": "0.4 ps",
            }
        ],
        initial_temperature=300,
    )
    result = LammpsMDEngine(LJ, tmp_path / "ortho", settings=FAST).run(atoms, protocol)
    volume = result.thermo["volume_a3"]
    assert volume[-1] != pytest.approx(volume[0], rel=1e-6)
    skewed = bulk("Ge", "fcc", a=6.0).repeat(4)
    with pytest.raises(ProtocolError, match="orthogonal"):
        LammpsMDEngine(LJ, tmp_path / "skew", settings=FAST).run(skewed, protocol)


@pytest.mark.slow
@pytest.mark.parametrize("thermostat", ["langevin", "nose-hoover"])
def test_npt_volume_fluctuations_follow_the_compressibility(tmp_path, thermostat):
    # isothermal-isobaric (fix npt, or fix nph + fix langevin): <dV²> = k_B T V κ_T with κ_T
    # from the mean volumes at ±0.05 GPa; the Berendsen barostat gave 0.43 of it here
    atoms = bulk("GeTe", "rocksalt", a=6.0, cubic=True).repeat(3)
    settings = RunSettings(thermo_interval=5, frame_interval=0, checkpoint_interval=0)
    volumes = {}
    for pressure in (-0.05, 0.0, 0.05):
        protocol = Protocol(
            initial_temperature=300,
            seed=4,
            stages=[
                {
                    "name": name,
                    "ensemble": "npt",
                    "temperature": 300,
                    "pressure": pressure,
                    "pdamp": 200,
                    "thermostat": thermostat,
                    "duration": duration,
                }
                for name, duration in (("eq", 2000), ("run", 100_000))
            ],
        )
        result = LammpsMDEngine(LJ, tmp_path / f"p{pressure}", settings=settings).run(atoms, protocol)
        script = (tmp_path / f"p{pressure}" / "lammps" / "stage-001" / "in.0.lammps").read_text()
        assert "berendsen" not in script
        run = result.stage_thermo("run")
        assert run["pressure_gpa"].mean() == pytest.approx(pressure, abs=0.005)
        volumes[pressure] = run["volume_a3"]
    v0 = volumes[0.0].mean()
    kappa = -(volumes[0.05].mean() - volumes[-0.05].mean()) / 0.1 / v0 * EV_PER_A3_TO_GPA
    assert volumes[0.0].var() / (KB * 300.0 * v0 * kappa) == pytest.approx(1.0, abs=0.4)


def test_stand_in_runs_in_a_skewed_cell_on_two_ranks(tmp_path):
    atoms = bulk("GeTe", "rocksalt", a=6.0).repeat((6, 6, 6))  # primitive, triclinic box
    protocol = _protocol(
        [{"name": "nvt", "ensemble": "nvt", "temperature": 300, "duration": "0.1 ps"}],
        initial_temperature=300,
    )
    one = LammpsMDEngine(LJ, tmp_path / "one", settings=FAST).run(atoms, protocol)
    two = LammpsMDEngine(LJ, tmp_path / "two", settings=FAST, runner=LammpsRunner(nprocs=2)).run(
        atoms, protocol
    )
    assert two.completed
    assert two.thermo["epot_ev"][0] == pytest.approx(one.thermo["epot_ev"][0], abs=1e-9)
    np.testing.assert_allclose(two.final_atoms.cell[:], atoms.cell[:], atol=1e-9)


def test_dry_run_writes_exactly_the_inputs_a_run_gives_lammps(tmp_path):
    atoms = _cell()
    atoms.set_velocities(np.full((len(atoms), 3), 0.01))  # replaced: the protocol sets a temperature
    protocol = _protocol(
        [
            {
                "name": "pulse",
                "ensemble": "nve",
                "duration": "0.1 ps",
                "actions": [
                    {"kind": "fix_atoms"},
                    {"kind": "inject_energy", "region": "region", "rate": 5.0},
                ],
            },
            {
                "name": "ramp",
                "ensemble": "nvt",
                "temperature": {"start": 400, "end": 300},
                "duration": "0.1 ps",
                "actions": [
                    {"kind": "fix_atoms"},
                    {
                        "kind": "electric_field",
                        "strength": 0.1,
                        "direction": "z",
                        "charges": {"Ge": 1, "Sb": 1, "Te": -1},
                    },
                ],
            },
            {
                "name": "hold",
                "ensemble": "nvt",
                "thermostat": "nose-hoover",
                "temperature": 300,
                "duration": "0.1 ps",
            },
        ],
        initial_temperature=350,
    )
    # the protocol's seed (7) wins over the engine's, in a run as in a dry run
    dry = write_lammps_inputs(atoms, protocol, LJ, tmp_path / "dry", settings=FAST, seed=3)
    run = LammpsMDEngine(LJ, tmp_path / "run", settings=FAST, seed=3).run(atoms, protocol)
    assert run.completed and run.seed == 7
    lmp = tmp_path / "run" / "lammps"
    assert dry.data_file.read_bytes() == (lmp / "structure.data").read_bytes()
    assert [p.relative_to(dry.directory).as_posix() for p in dry.scripts] == [
        f"stage-00{k}/in.lammps" for k in range(3)
    ]
    for k, script in enumerate(dry.scripts):
        ran = lmp / f"stage-00{k}"
        assert script.read_bytes() == (ran / "in.0.lammps").read_bytes()
        atomfiles = sorted(p.name for p in script.parent.glob("*.atomfile"))
        assert atomfiles == sorted(p.name for p in ran.glob("*.atomfile"))
        for name in atomfiles:
            assert (script.parent / name).read_bytes() == (ran / name).read_bytes()
    assert "langevin 400 300" in dry.scripts[1].read_text()
    # the driver runs the stages in order as the engine does, to the same end state
    env = {**lammps_plugin.lammps_env(), "LAMMPS": str(lammps_plugin.find_lammps().lmp)}
    subprocess.run(["sh", str(dry.driver)], env=env, check=True, capture_output=True)
    assert (dry.directory / "stage-002" / "end.dump").read_bytes() == (
        lmp / "stage-002" / "end.dump"
    ).read_bytes()


# --------------------------------------------------------------------------- GAP


@pytest.fixture(scope="module")
def test_gap(tmp_path_factory):
    """The tiny LJ-labelled stand-in GAP (not a GST model), fitted once per module."""
    from tests.support.lammps_gap import fit_test_gap

    return fit_test_gap(tmp_path_factory.mktemp("test_gap"))


@pytest.mark.slow
def test_gap_nve_trajectory_matches_the_ase_engine(test_gap, tmp_path):
    from quippy.potential import Potential

    from gst_flows.md.ase_engine import AseMDEngine
    from tests.support.lammps_gap import rocksalt_test_cell

    atoms = rocksalt_test_cell(2, seed=1)
    atoms.rattle(0.02, seed=2)
    protocol = _protocol(
        [{"name": "nve", "ensemble": "nve", "duration": "30 fs", "timestep": 1.0}],
        initial_temperature=300,
    )
    settings = RunSettings(thermo_interval=10, frame_interval=30)
    lmp = LammpsMDEngine(test_gap, tmp_path / "lammps", settings=settings, runner=LammpsRunner(nprocs=2)).run(
        atoms, protocol
    )
    ase = AseMDEngine(Potential(param_filename=str(test_gap)), tmp_path / "ase", settings=settings).run(
        atoms, protocol
    )
    n = len(atoms)
    np.testing.assert_array_equal(lmp.thermo["step"], ase.thermo["step"])
    # same start (same seed), same potential: energies per atom agree far below 1e-6 eV
    assert np.abs(lmp.thermo["epot_ev"] - ase.thermo["epot_ev"]).max() / n < 1e-6
    assert np.abs(lmp.thermo["etot_ev"] - ase.thermo["etot_ev"]).max() / n < 1e-6
    assert np.abs(lmp.final_atoms.positions - ase.final_atoms.positions).max() < 1e-6
    drift_l, drift_a = lmp.stages[0].nve_drift, ase.stages[0].nve_drift
    assert abs(drift_l - drift_a) < 1e-5


@pytest.mark.slow
def test_gap_protocol_with_fixed_atoms_and_injection(test_gap, tmp_path):
    from tests.support.lammps_gap import rocksalt_test_cell

    atoms = rocksalt_test_cell(2, seed=4)
    z = atoms.positions[:, 2]
    atoms.arrays["fixed"] = z > z.max() - 1.0
    atoms.arrays["region"] = (z < 2.0).astype(int)
    protocol = _protocol(
        [
            {
                "name": "nvt",
                "ensemble": "nvt",
                "temperature": 300,
                "duration": "20 fs",
                "actions": [{"kind": "fix_atoms"}],
            },
            {
                "name": "pulse",
                "ensemble": "nve",
                "duration": "20 fs",
                "actions": [
                    {"kind": "fix_atoms"},
                    {"kind": "inject_energy", "region": "region", "rate": 20.0},
                ],
            },
        ],
        initial_temperature=300,
    )
    settings = RunSettings(thermo_interval=5, frame_interval=10, checkpoint_interval=10)
    result = LammpsMDEngine(test_gap, tmp_path, settings=settings).run(atoms, protocol)
    assert result.completed
    assert result.potential.startswith("quip:")
    fixed = atoms.arrays["fixed"]
    assert 0 < fixed.sum() < len(atoms)
    # every state LAMMPS reached (not frame 0, the input written back): fixed atoms exactly
    # where they started and at rest, the others moved
    frames = read_frames(tmp_path / "frames.extxyz")[1:]
    assert [f.info["step"] for f in frames] == [10, 20]
    for frame in [*frames, result.final_atoms]:
        np.testing.assert_array_equal(frame.positions[fixed], atoms.positions[fixed])
        assert not frame.get_velocities()[fixed].any()
        assert np.abs(frame.positions[~fixed] - atoms.positions[~fixed]).max() > 1e-3
    pulse = result.stage_result("pulse")
    assert pulse.injected == pytest.approx(0.4)
    start = result.thermo["etot_ev"][result.thermo["step"] == 10][0]
    assert pulse.final_etot - start == pytest.approx(0.4, rel=0.02)


def test_runner_uses_a_user_command(tmp_path):
    runner = LammpsRunner(nprocs=4, command="srun -n 4 lmp_mpi")
    argv = runner.argv("in.lammps")
    assert argv[:3] == ["srun", "-n", "4"]
    assert argv[3] == "lmp_mpi"
    assert argv[4:8] == ["-in", "in.lammps", "-log", "log.lammps"]
    gap = Path(tmp_path / "gap.xml")
    gap.write_text("<GAP_params/>")
    cmds = LammpsPotential.gap(gap, "IP GAP label=x", load_plugin=False).commands(["Ge", "Te"])
    assert cmds[0] == "pair_style quip"
    assert cmds[1].endswith('"IP GAP label=x" 32 52')


def test_slab_open_along_z_runs_with_fixed_walls(tmp_path):
    atoms = _cell()
    atoms.pbc = (True, True, False)
    atoms.center(vacuum=6.0, axis=2)
    protocol = _protocol(
        [{"name": "nve", "ensemble": "nve", "duration": "0.1 ps", "actions": [{"kind": "fix_atoms"}]}],
        initial_temperature=600,
    )
    result = LammpsMDEngine(LJ, tmp_path, settings=FAST).run(atoms, protocol)
    assert result.completed
    script = next((tmp_path / "lammps" / "stage-000").glob("in.*.lammps")).read_text()
    assert "boundary p p f" in script
    z = result.final_atoms.positions[:, 2]
    assert z.min() > 0.0 and z.max() < atoms.cell[2, 2]
    assert not result.final_atoms.pbc[2]
    # the free bottom surface moved, so the walls really held a moving slab
    assert np.abs(result.final_atoms.positions - atoms.positions).max() > 0.01


def test_slab_with_atoms_on_a_wall_is_refused_before_running(tmp_path):
    atoms = _cell()
    atoms.pbc = (True, True, False)  # atoms at z = 0: LAMMPS would lose them at once
    protocol = _protocol([{"name": "nve", "ensemble": "nve", "duration": "0.1 ps"}], initial_temperature=300)
    with pytest.raises(ProtocolError, match=r"open along z.*at least 2 Å inside"):
        LammpsMDEngine(LJ, tmp_path, settings=FAST).run(atoms, protocol)
    assert not (tmp_path / "lammps").exists()
    npt = _protocol(
        [{"name": "npt", "ensemble": "npt", "temperature": 300, "duration": "0.1 ps"}],
        initial_temperature=300,
    )
    atoms.center(vacuum=6.0, axis=2)
    with pytest.raises(ProtocolError, match="npt stages need a cell periodic"):
        LammpsMDEngine(LJ, tmp_path, settings=FAST).run(atoms, npt)


def test_a_fast_quench_is_judged_against_its_start_temperature(tmp_path):
    """A thermostat cools a hot start gradually: a 40 fs quench from 3,000 K is no blow-up.

    The schedule reaches 300 K long before a 100 fs thermostat can; the temperature check
    compares against the larger of the schedule and the stage's start temperature, as the
    ASE engine does (against the bare schedule the run stopped at about 900 K).
    """
    atoms = _cell(2)
    protocol = _protocol(
        [
            {"name": "hot", "ensemble": "nvt", "temperature": 3000, "tdamp": 100, "duration": "0.1 ps"},
            {
                "name": "quench",
                "ensemble": "nvt",
                "temperature": {"start": 3000, "end": 300},
                "tdamp": 100,
                "duration": "40 fs",
            },
            {"name": "hold", "ensemble": "nvt", "temperature": 300, "tdamp": 100, "duration": "40 fs"},
        ],
        initial_temperature=3000,
    )
    result = LammpsMDEngine(LJ, tmp_path, settings=FAST).run(atoms, protocol)
    assert result.completed
    quench = result.thermo["temperature_k"][result.thermo["stage"] == 1]
    assert quench.max() > 3 * 300  # above three times the schedule's end: the old check stopped here


def test_a_resumed_stage_keeps_its_own_start_temperature(tmp_path):
    """The temperature check of a stage resumed part-way uses the stage's start temperature.

    The quench is stopped part-way, when the atoms have cooled; the resumed script must
    compare against the temperature LAMMPS reported at the start of the stage, not the cooler
    one at the resume point.
    """
    atoms = _cell(2)
    protocol = _protocol(
        [
            {"name": "hot", "ensemble": "nvt", "temperature": 3000, "tdamp": 20, "duration": "0.1 ps"},
            {"name": "quench", "ensemble": "nvt", "temperature": 300, "tdamp": 20, "duration": "0.2 ps"},
        ],
        initial_temperature=3000,
    )
    engine = LammpsMDEngine(LJ, tmp_path, settings=FAST)
    first = engine.run(atoms, protocol, max_steps=protocol.stage_start_steps()[1] + 60)
    assert not first.completed
    second = engine.run(atoms, protocol)
    assert second.completed
    thermo = second.thermo
    start = protocol.stage_start_steps()[1]
    t_start = thermo["temperature_k"][thermo["step"] == start][0]
    t_resume = thermo["temperature_k"][thermo["step"] == first.n_steps][0]
    assert t_resume < 0.7 * t_start  # the quench has cooled the atoms by the resume point
    resumed = sorted((tmp_path / "lammps" / "stage-001").glob("log.*.lammps"))[-1]
    assert resumed.name != "log.0.lammps"
    # the log echoes each command as LAMMPS ran it, with $() already evaluated
    found = re.findall(r"^variable gst_tstart equal (\S+)$", resumed.read_text(), flags=re.M)
    assert found
    assert float(found[-1]) == pytest.approx(t_start, rel=1e-5)  # LAMMPS and ASE units differ at 1e-6
