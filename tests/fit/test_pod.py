"""POD fits with LAMMPS ``fitpod`` and evaluation with ``pair_style pod``."""

from __future__ import annotations

import numpy as np
import pytest

from gst_flows.fit import FitInputError
from gst_flows.fit.data import is_isolated_atom
from gst_flows.fit.pod import PodBasis, ZblBaseline, fit_pod, write_fitpod_inputs, write_pod_extxyz
from gst_flows.structures import build_rocksalt
from tests.support.lammps import needs_lammps

SMALL = PodBasis(two_body_radial=4, three_body_radial=2, three_body_angular=2, ridge=1e-4)


def test_inputs_name_every_species_and_the_basis(frames, tmp_path):
    species = write_fitpod_inputs(frames, tmp_path, SMALL)
    assert species == ("Ge", "Sb", "Te")  # LAMMPS type order: by atomic number
    param = (tmp_path / "param.pod").read_text()
    assert "species Ge Sb Te" in param
    assert "twobody_number_radial_basis_functions 4" in param
    assert "fitting_regularization_parameter 0.0001" in (tmp_path / "data.pod").read_text()
    text = (tmp_path / "train" / "train.xyz").read_text().splitlines()
    assert text[0] == str(len(frames[0]))
    assert f"energy={frames[0].info['REF_energy']:.10f}" in text[1]
    assert len(text[2].split()) == 7  # species, position, force


def test_unlabelled_or_unknown_species_are_refused(frames, tmp_path):
    bare = frames[0].copy()
    del bare.info["REF_energy"]
    with pytest.raises(FitInputError, match="REF_energy"):
        write_pod_extxyz([bare], tmp_path / "x.xyz")
    with pytest.raises(FitInputError, match="Sb"):
        write_fitpod_inputs(frames, tmp_path, SMALL, species=("Ge", "Te"))


@needs_lammps
def test_fitted_pod_reproduces_training_forces(frames, tmp_path):
    from gst_flows.md.lammps import lammps_single_point

    result = fit_pod(frames, tmp_path / "pod", SMALL)
    assert result.coefficient_file.is_file()
    assert result.train_errors["force_rmse"] > 0
    potential = result.lammps_potential()
    ref, pred, de = [], [], []
    for atoms in frames:
        if is_isolated_atom(atoms):
            continue
        # GeTe frames too: pair_style pod needs all fitted species as types (Sb absent here)
        sp = lammps_single_point(atoms, potential, species=result.species)
        ref.append(atoms.arrays["REF_forces"].reshape(-1))
        pred.append(sp.forces.reshape(-1))
        de.append((sp.energy - atoms.info["REF_energy"]) / len(atoms))
    ref, pred = np.concatenate(ref), np.concatenate(pred)
    rmse = np.sqrt(np.mean((pred - ref) ** 2))
    zero = np.sqrt(np.mean(ref**2))  # the error of predicting no force at all
    assert rmse < 0.5 * zero
    # LAMMPS agrees with fitpod's own training error (same model, same frames)
    assert rmse == pytest.approx(result.train_errors["force_rmse"], rel=0.05)
    # total energies (the one-body term carries the isolated-atom offsets) within 50 meV/atom
    assert np.sqrt(np.mean(np.square(de))) < 0.05


def test_zbl_baseline_pair_coefficients_follow_the_type_order():
    baseline = ZblBaseline(1.5, 2.5)
    assert baseline.pair_style == "zbl 1.5 2.5"
    assert baseline.pair_coeff_lines(("Ge", "Sb", "Te")) == [
        "1 1 zbl 32 32",
        "1 2 zbl 32 51",
        "1 3 zbl 32 52",
        "2 2 zbl 51 51",
        "2 3 zbl 51 52",
        "3 3 zbl 52 52",
    ]
    with pytest.raises(ValueError, match="inner < outer"):
        ZblBaseline(2.0, 1.0)


def _dimer(pair, distance):
    from ase import Atoms

    return Atoms(pair, positions=[[0, 0, 0], [distance, 0, 0]], cell=[15.0] * 3, pbc=True)


@needs_lammps
def test_zbl_baseline_is_subtracted_only_where_it_acts(frames):
    from gst_flows.md.lammps import lammps_single_point

    baseline = ZblBaseline(1.0, 2.0)
    close, far = _dimer(("Ge", "Te"), 1.5), _dimer(("Ge", "Te"), 3.0)
    for atoms in (close, far):
        atoms.info["REF_energy"] = 1.0
        atoms.arrays["REF_forces"] = np.zeros((2, 3))
    species = ("Ge", "Sb", "Te")
    zbl = lammps_single_point(close, baseline.lammps_potential(species), species=species)
    assert zbl.energy > 5.0  # screened nuclear repulsion of Ge-Te at 1.5 Å
    out_close, out_far = baseline.subtract([close, far], species)
    assert out_close.info["REF_energy"] == pytest.approx(1.0 - zbl.energy)
    np.testing.assert_allclose(out_close.arrays["REF_forces"], -zbl.forces)
    assert out_far.info["REF_energy"] == 1.0  # beyond outer: untouched
    assert close.info["REF_energy"] == 1.0  # the input frames are not modified

    # a repeated structure (other labels) is evaluated once and gets the same baseline
    again = close.copy()
    again.info["REF_energy"] = 2.0
    calls = []
    from gst_flows.md.lammps import single_point

    original = single_point.lammps_single_points

    def counting(frames, potential, runner=None, workdir=None, species=None):
        if workdir is None:  # not its own call in a temporary directory
            calls.append(len(frames))
        return original(frames, potential, runner, workdir, species)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(single_point, "lammps_single_points", counting)
        first, second = baseline.subtract([close, again], species)
    assert calls == [1]
    assert second.info["REF_energy"] == pytest.approx(2.0 - zbl.energy)
    np.testing.assert_allclose(second.arrays["REF_forces"], first.arrays["REF_forces"])


@needs_lammps
def test_zbl_baseline_of_many_frames_runs_lammps_once_per_batch(monkeypatch):
    """Frames are evaluated ``ZBL_BATCH`` at a time in one LAMMPS run each, with the same
    baseline (energy, forces, virial) as one single point per frame, sheared cells included."""
    from gst_flows.fit import pod
    from gst_flows.md.lammps import lammps_single_point, single_point

    species = ("Ge", "Sb", "Te")
    baseline = ZblBaseline(1.5, 2.5)
    frames = []
    for k in range(5):
        atoms = build_rocksalt("Ge1Sb2Te4", seed=k)
        atoms.set_cell(
            atoms.cell.array @ np.array([[1, 0.04 * k, 0], [0, 1, 0], [0, 0, 1]]), scale_atoms=True
        )
        atoms.rattle(0.25, seed=k)
        atoms.positions[1] = atoms.positions[0] + [2.0 - 0.1 * k, 0, 0]  # a contact the wall acts on
        atoms.info["REF_energy"] = float(k)
        atoms.info["REF_virial"] = np.zeros(9)
        atoms.arrays["REF_forces"] = np.zeros((len(atoms), 3))
        frames.append(atoms)
    runs = []
    original = single_point.lammps_single_points

    def counting(batch, potential, runner=None, workdir=None, species=None):
        if workdir is None:
            runs.append(len(batch))
        return original(batch, potential, runner, workdir, species)

    monkeypatch.setattr(pod, "ZBL_BATCH", 2)
    monkeypatch.setattr(single_point, "lammps_single_points", counting)
    out = baseline.subtract(frames, species)
    assert runs == [2, 2, 1]
    for k, (atoms, result) in enumerate(zip(frames, out, strict=True)):
        one = lammps_single_point(atoms, baseline.lammps_potential(species), species=species)
        assert one.energy > 0.1
        assert result.info["REF_energy"] == pytest.approx(k - one.energy, abs=1e-9)
        np.testing.assert_allclose(result.arrays["REF_forces"], -one.forces, atol=1e-9)
        s = one.stress
        tensor = np.array([[s[0], s[5], s[4]], [s[5], s[1], s[3]], [s[4], s[3], s[2]]])
        np.testing.assert_allclose(
            result.info["REF_virial"], (tensor * atoms.get_volume()).reshape(9), atol=1e-8
        )


@needs_lammps
def test_pod_with_zbl_baseline_is_repulsive_and_reproduces_the_labels(frames, tmp_path):
    from gst_flows.md.lammps import lammps_single_point

    result = fit_pod(frames, tmp_path / "pod", SMALL, baseline=ZblBaseline(1.5, 2.5))
    combined, pod_only = result.lammps_potential(), result.lammps_potential(with_baseline=False)
    assert combined.pair_style == "hybrid/overlay pod zbl 1.5 2.5"
    species = result.species
    for pair in (("Ge", "Te"), ("Te", "Te")):
        wall = [lammps_single_point(_dimer(pair, r), combined, species=species).energy for r in (1.5, 4.9)]
        bare = [lammps_single_point(_dimer(pair, r), pod_only, species=species).energy for r in (1.5, 4.9)]
        assert wall[0] - wall[1] > 5.0  # strongly repulsive at 1.5 Å
        assert (wall[0] - wall[1]) - (bare[0] - bare[1]) > 5.0  # the wall comes from the baseline
    # the sum (POD + ZBL) reproduces the labels as well as fitpod says the POD part fits the residuals
    ref, pred = [], []
    for atoms in frames:
        if is_isolated_atom(atoms):
            continue
        sp = lammps_single_point(atoms, combined, species=species)
        ref.append(atoms.arrays["REF_forces"].reshape(-1))
        pred.append(sp.forces.reshape(-1))
    rmse = np.sqrt(np.mean((np.concatenate(pred) - np.concatenate(ref)) ** 2))
    assert rmse == pytest.approx(result.train_errors["force_rmse"], rel=0.05)


@needs_lammps
def test_a_pod_blowing_up_in_md_is_stopped_like_a_gap(frames, tmp_path):
    """A POD fitted to 16 small cells with no short-range wall falls apart in hot MD.

    The engine's safety checks (the same ``fix halt`` checks a GAP run gets) stop it with the
    step and stage, before LAMMPS loses atoms or the run reports garbage.
    """
    from gst_flows.md.lammps import LammpsMDEngine
    from gst_flows.md.protocol import Protocol, Stage
    from gst_flows.md.results import MDBlowUpError
    from gst_flows.structures import build_rocksalt

    pod = fit_pod(frames, tmp_path / "pod", SMALL, baseline=None).lammps_potential()
    atoms = build_rocksalt("Ge1Sb2Te4", (2, 2, 2), seed=0)
    hot = Stage(name="hot", ensemble="nvt", temperature=1500, duration=4000, timestep=2.0)
    protocol = Protocol(name="hot", initial_temperature=1500, seed=1, stages=[hot])
    with pytest.raises(MDBlowUpError, match=r"max_force|min_distance") as info:
        LammpsMDEngine(pod, tmp_path / "md").run(atoms, protocol)
    assert info.value.stage == "hot" and 0 < info.value.step < 2000
    assert (tmp_path / "md" / "thermo.csv").is_file()
