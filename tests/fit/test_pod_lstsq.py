"""The least-squares POD solve on ``compute pod/global``'s design matrix."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest

from gst_flows.fit import FitInputError
from gst_flows.fit.data import is_isolated_atom
from gst_flows.fit.pod import PodBasis, ZblBaseline, fit_pod, fitpod_seed
from gst_flows.fit.pod_lstsq import (
    PodDesign,
    PodLeastSquares,
    design_errors,
    pod_design,
    read_pod_coefficients,
    solve_pod_coefficients,
)
from tests.support.lammps import needs_lammps

SMALL = PodBasis(two_body_radial=4, three_body_radial=2, three_body_angular=2, ridge=1e-4)


def _skewed(atoms, seed):
    """A rattled copy in a sheared cell (LAMMPS rotates it: the design must rotate the labels)."""
    atoms = atoms.copy()
    cell = atoms.cell.array.copy()
    cell[1] += 0.15 * cell[0]
    cell[2] += 0.1 * cell[0] - 0.08 * cell[1]
    atoms.set_cell(cell, scale_atoms=True)
    atoms.rattle(0.05, seed=seed)
    return atoms


def _labelled_by(potential, species, frames):
    """Copies of ``frames`` labelled by a LAMMPS potential (energy, forces)."""
    from gst_flows.md.lammps import lammps_single_point

    out = []
    for atoms in frames:
        sp = lammps_single_point(atoms, potential, species=species)
        atoms = atoms.copy()
        atoms.info["REF_energy"] = sp.energy
        atoms.arrays["REF_forces"] = sp.forces
        out.append(atoms)
    return out


@pytest.fixture(scope="module")
def fitted(cp2k_frames, tmp_path_factory):
    """A POD fitted by fitpod, and rattled, sheared cells labelled by it."""
    result = fit_pod(cp2k_frames, tmp_path_factory.mktemp("pod") / "fitpod", SMALL)
    cells = [_skewed(a, k) for k, a in enumerate(cp2k_frames) if not is_isolated_atom(a)]
    return result, _labelled_by(result.lammps_potential(), result.species, cells)


@needs_lammps
def test_design_matrix_reproduces_pair_style_pod(fitted):
    result, labelled = fitted
    designs = pod_design(labelled, result.param_file, result.coefficient_file, result.species)
    errors = design_errors(designs, read_pod_coefficients(result.coefficient_file))
    scale = np.sqrt(np.mean(np.concatenate([a.arrays["REF_forces"].ravel() for a in labelled]) ** 2))
    assert scale > 0.1  # the rattled cells carry real forces
    # rows in LAMMPS order and frame, labels rotated into it (measured: 1e-15 eV/Å, 3e-14 eV/atom)
    assert errors["force_rmse"] < 1e-6 * scale
    assert errors["energy_rmse"] < 1e-7  # eV/atom


@needs_lammps
def test_least_squares_recovers_a_known_pod(fitted, tmp_path):
    """Labels made by a POD are fitted back exactly, energies and forces, as LAMMPS runs it."""
    from gst_flows.fit import error_table, predict
    from gst_flows.md.lammps import LammpsCalculator

    result, labelled = fitted
    solver = PodLeastSquares(energy_weight=10.0, ridge=1e-12)
    refit = fit_pod(labelled, tmp_path / "lstsq", SMALL, species=result.species, solver=solver)
    assert (refit.directory / "pod_coefficients_fitpod.pod").is_file()
    assert refit.train_errors["force_rmse"] < 1e-5 and refit.train_errors["energy_rmse"] < 1e-6
    table = error_table(predict(labelled, LammpsCalculator(refit.lammps_potential())))["all"]
    assert table.force_rmse < 1e-5 and table.energy_rmse < 1e-6


@needs_lammps
def test_least_squares_fit_with_a_baseline_runs_as_its_errors_say(frames, tmp_path):
    from gst_flows.fit import error_table, predict
    from gst_flows.md.lammps import LammpsCalculator

    baseline, solver = ZblBaseline(1.5, 2.5), PodLeastSquares()
    result = fit_pod(frames, tmp_path / "pod", SMALL, baseline=baseline, solver=solver)
    table = error_table(predict(frames, LammpsCalculator(result.lammps_potential())))["all"]
    assert table.force_rmse == pytest.approx(result.train_errors["force_rmse"], rel=1e-6)
    assert table.energy_rmse == pytest.approx(result.train_errors["energy_rmse"], rel=1e-6)
    # the training predictions from the design rows give LAMMPS's table, config_type by
    # config_type (the PodFitMaker's training errors without evaluate_train)
    lammps = error_table(predict(frames, LammpsCalculator(result.lammps_potential())))
    design = error_table(result.train_predictions)
    assert set(design) == set(lammps) and len(design) > 2
    for ct, row in lammps.items():
        assert (design[ct].n_structures, design[ct].n_atoms) == (row.n_structures, row.n_atoms)
        assert design[ct].energy_rmse == pytest.approx(row.energy_rmse, rel=1e-6, abs=1e-9)
        assert design[ct].force_rmse == pytest.approx(row.force_rmse, rel=1e-6)
        assert design[ct].virial_rmse is None
    forces = [a.arrays["REF_forces"].ravel() for a in frames if not is_isolated_atom(a)]
    zero = np.sqrt(np.mean(np.concatenate(forces) ** 2))
    assert table.force_rmse < 0.5 * zero


@needs_lammps
def test_a_weight_counts_as_repeated_frames(fitted):
    result, labelled = fitted
    designs = pod_design(labelled, result.param_file, result.coefficient_file, result.species)
    for d in designs:  # perturbed labels: no exact solution, so the weights matter
        d.force_labels = d.force_labels + 0.3 * np.sin(np.arange(d.force_labels.size))
    solver = PodLeastSquares(ridge=1e-8)
    weighted = solve_pod_coefficients(designs, solver, weights=[2.0] + [1.0] * (len(designs) - 1))
    repeated = solve_pod_coefficients([designs[0]] * 4 + designs[1:], solver)
    plain = solve_pod_coefficients(designs, solver)
    e_w, e_r, e_p = (design_errors(designs[:1], c)["force_rmse"] for c in (weighted, repeated, plain))
    assert e_w == pytest.approx(e_r, rel=1e-4) and e_w < e_p
    with pytest.raises(FitInputError, match="2 weights for"):
        solve_pod_coefficients(designs, solver, weights=[1.0, 1.0])


@needs_lammps
def test_repeated_frames_are_designed_once_and_weighted(frames, tmp_path, monkeypatch):
    from gst_flows.fit import pod_lstsq

    calls = []
    design = pod_lstsq.pod_design

    def counting(frames_, *args):
        calls.append(len(frames_))
        return design(frames_, *args)

    monkeypatch.setattr(pod_lstsq, "pod_design", counting)
    solver = PodLeastSquares()
    condensed = [a for a in frames if not is_isolated_atom(a)]
    repeated = frames + [a.copy() for a in condensed[:2] for _ in range(3)]  # two frames 4 times
    fit_pod(repeated, tmp_path / "repeated", SMALL, solver=solver)
    assert calls == [len(condensed)]  # each distinct frame once
    # fitpod (run for the parameter file) gets its seed: distinct frames, each once
    seed = ase.io.read(tmp_path / "repeated" / "train" / "train.xyz", ":")
    assert len(seed) == len(fitpod_seed(repeated)) == len(fitpod_seed(frames)) <= len(frames)
    result = fit_pod(repeated, tmp_path / "plain", SMALL, solver=solver)
    # the same fit as weighting those two frames by 2 (= 4 copies)
    designs = design(
        condensed, result.param_file, result.directory / "pod_coefficients_fitpod.pod", result.species
    )
    isolated = [a for a in frames if is_isolated_atom(a)]
    weights = [2.0, 2.0] + [1.0] * (len(condensed) - 2)
    expected = solve_pod_coefficients(designs, solver, isolated, result.species, weights)
    assert np.allclose(read_pod_coefficients(result.coefficient_file), expected, rtol=1e-6, atol=1e-9)


@needs_lammps
def test_fitpod_runs_on_a_seed_and_the_solve_does_not_depend_on_it(frames, tmp_path, monkeypatch):
    """fitpod only provides the parameter file: a seed covering the species gives the same fit."""
    from gst_flows.fit import pod

    solver = PodLeastSquares(energy_weight=10.0, ridge=1e-6)
    monkeypatch.setattr(pod, "FITPOD_SEED_FRAMES", 0)  # only the frames bringing a new species
    seeded = fit_pod(frames, tmp_path / "seeded", SMALL, solver=solver)
    seed = ase.io.read(seeded.directory / "train" / "train.xyz", ":")
    condensed = [a for a in frames if not is_isolated_atom(a)]
    assert len(seed) < len(frames)
    assert {s for a in seed for s in a.get_chemical_symbols()} == {
        s for a in condensed for s in a.get_chemical_symbols()
    }
    monkeypatch.setattr(pod, "FITPOD_SEED_FRAMES", 10_000)  # every distinct frame, as before
    full = fit_pod(frames, tmp_path / "full", SMALL, solver=solver)
    assert len(ase.io.read(full.directory / "train" / "train.xyz", ":")) == len(frames)
    a, b = (read_pod_coefficients(r.coefficient_file) for r in (seeded, full))
    assert np.allclose(a, b, rtol=1e-8, atol=1e-10)
    assert seeded.train_errors["force_rmse"] == pytest.approx(full.train_errors["force_rmse"], rel=1e-8)


def test_frames_without_forces_are_refused_before_fitpod(frames, tmp_path):
    bare = [a.copy() for a in frames]
    del next(a for a in bare if not is_isolated_atom(a)).arrays["REF_forces"]
    with pytest.raises(FitInputError, match="REF_forces"):
        fit_pod(bare, tmp_path / "bare", SMALL, solver=PodLeastSquares())
    assert not (tmp_path / "bare").exists()


def test_solver_input_is_checked():
    with pytest.raises(ValueError, match=">= 0"):
        PodLeastSquares(energy_weight=-1.0)
    with pytest.raises(FitInputError, match="no frames"):
        solve_pod_coefficients([], PodLeastSquares())


def test_blocked_solve_equals_the_dense_ridge_least_squares(monkeypatch):
    from gst_flows.fit import pod_lstsq

    rng = np.random.default_rng(3)
    ncoef = 12
    designs = []
    for natoms in (3, 5, 8, 4, 6, 7):
        energy = rng.normal(size=ncoef) * natoms
        forces = rng.normal(size=(3 * natoms, ncoef))
        designs.append(
            PodDesign(energy, forces, float(rng.normal()) * natoms, rng.normal(size=3 * natoms), natoms)
        )
    weights = [1.0, 2.0, 0.5, 1.0, 3.0, 1.0]
    solver = PodLeastSquares(energy_weight=30.0, ridge=1e-2)
    # the dense problem, stacked at once: scaled columns, ridge rows on the scaled coefficients
    e = solver.energy_weight
    a = np.vstack(
        [
            w * np.vstack([e * d.energy[None] / d.natoms, d.forces])
            for w, d in zip(weights, designs, strict=True)
        ]
    )
    y = np.concatenate(
        [
            w * np.r_[e * d.energy_label / d.natoms, d.force_labels]
            for w, d in zip(weights, designs, strict=True)
        ]
    )
    scale = np.sqrt((a**2).mean(axis=0))
    dense, *_ = np.linalg.lstsq(
        np.vstack([a / scale, np.sqrt(solver.ridge) * np.eye(ncoef)]), np.r_[y, np.zeros(ncoef)], rcond=None
    )
    for block in (7, 20, 10_000):  # a fold every frame or two, and everything in one fold
        monkeypatch.setattr(pod_lstsq, "LSTSQ_BLOCK_ROWS", block)
        got = solve_pod_coefficients(designs, solver, weights=weights)
        assert np.allclose(got, dense / scale, rtol=1e-9, atol=1e-12)
