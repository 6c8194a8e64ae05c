"""The least-squares POD solve on ``compute pod/global``'s design matrix."""

from __future__ import annotations

import itertools
import weakref

import ase.io
import numpy as np
import pytest
from ase import Atoms

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


def _count_design_runs(monkeypatch) -> list[int]:
    """The number of frames of each design worker run, from now on."""
    from gst_flows.fit import pod_lstsq

    runs, run = [], pod_lstsq._design_chunk

    def counting(frames_, *args, **kwargs):
        runs.append(len(frames_))
        return run(frames_, *args, **kwargs)

    monkeypatch.setattr(pod_lstsq, "_design_chunk", counting)
    return runs


@needs_lammps
def test_repeated_frames_are_designed_once_and_weighted(frames, tmp_path, monkeypatch):
    calls = _count_design_runs(monkeypatch)
    solver = PodLeastSquares()
    condensed = [a for a in frames if not is_isolated_atom(a)]
    repeated = frames + [a.copy() for a in condensed[:2] for _ in range(3)]  # two frames 4 times
    fit_pod(repeated, tmp_path / "repeated", SMALL, solver=solver)
    assert calls == [len(condensed)]  # each distinct frame once (one chunk: kept for the predictions)
    # fitpod (run for the parameter file) gets its seed: distinct frames, each once
    seed = ase.io.read(tmp_path / "repeated" / "train" / "train.xyz", ":")
    assert len(seed) == len(fitpod_seed(repeated)) == len(fitpod_seed(frames)) <= len(frames)
    result = fit_pod(repeated, tmp_path / "plain", SMALL, solver=solver)
    # the same fit as weighting those two frames by 2 (= 4 copies)
    designs = pod_design(
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


def _random_designs(rng, ncoef, sizes, column_scale=1.0):
    """Random designs of frames of ``sizes`` atoms, column k multiplied by ``column_scale[k]``."""
    designs = []
    for natoms in sizes:
        energy = rng.normal(size=ncoef) * natoms * column_scale
        forces = rng.normal(size=(3 * natoms, ncoef)) * column_scale
        designs.append(
            PodDesign(energy, forces, float(rng.normal()) * natoms, rng.normal(size=3 * natoms), natoms)
        )
    return designs


def _stacked(designs, weights, energy_weight):
    """The weighted rows and targets of ``designs``, stacked at once."""
    pairs = list(zip(weights, designs, strict=True))
    e = energy_weight
    a = np.vstack([w * np.vstack([e * d.energy[None] / d.natoms, d.forces]) for w, d in pairs])
    y = np.concatenate([w * np.r_[e * d.energy_label / d.natoms, d.force_labels] for w, d in pairs])
    return a, y


def _dense_solve(designs, weights, solver):
    """The dense problem: scaled coefficients and the column scales.

    Columns scaled to unit root mean square, ridge rows on the scaled coefficients.
    """
    ncoef = designs[0].energy.size
    a, y = _stacked(designs, weights, solver.energy_weight)
    scale = np.sqrt((a**2).mean(axis=0))
    dense, *_ = np.linalg.lstsq(
        np.vstack([a / scale, np.sqrt(solver.ridge) * np.eye(ncoef)]), np.r_[y, np.zeros(ncoef)], rcond=None
    )
    return dense, scale


def test_blocked_solve_equals_the_dense_ridge_least_squares(monkeypatch):
    from gst_flows.fit import pod_lstsq

    designs = _random_designs(np.random.default_rng(3), 12, (3, 5, 8, 4, 6, 7))
    weights = [1.0, 2.0, 0.5, 1.0, 3.0, 1.0]
    solver = PodLeastSquares(energy_weight=30.0, ridge=1e-2)
    dense, scale = _dense_solve(designs, weights, solver)
    for block in (7, 20, 10_000):  # a fold every frame or two, and everything in one fold
        monkeypatch.setattr(pod_lstsq, "LSTSQ_BLOCK_ROWS", block)
        got = solve_pod_coefficients(designs, solver, weights=weights)
        assert np.allclose(got, dense / scale, rtol=1e-9, atol=1e-12)


def test_column_scales_of_the_factor_are_those_of_the_design(monkeypatch):
    """Columns 1e-6 to 1e6: the ridge still acts on the coefficients of unit-RMS columns."""
    from gst_flows.fit import pod_lstsq

    rng = np.random.default_rng(11)
    ncoef = 15
    column_scale = np.logspace(-6, 6, ncoef)[rng.permutation(ncoef)]
    designs = _random_designs(rng, ncoef, (4, 9, 2, 6, 5, 8, 3, 7), column_scale)
    weights = [1.0, 1.5, 2.0, 0.7, 1.0, 1.0, 3.0, 1.0]
    solver = PodLeastSquares(energy_weight=20.0, ridge=0.5)
    dense, scale = _dense_solve(designs, weights, solver)
    assert scale.max() / scale.min() > 1e11
    monkeypatch.setattr(pod_lstsq, "LSTSQ_BLOCK_ROWS", 16)
    got = solve_pod_coefficients(iter(designs), solver, weights=weights)
    assert np.allclose(got * scale, dense, rtol=1e-8, atol=1e-10 * np.abs(dense).max())
    # the same ridge on the raw coefficients is another solution: the scales matter here
    a, y = _stacked(designs, weights, solver.energy_weight)
    raw, *_ = np.linalg.lstsq(
        np.vstack([a, np.sqrt(solver.ridge) * np.eye(ncoef)]), np.r_[y, np.zeros(ncoef)]
    )
    assert not np.allclose(got * scale, raw * scale, rtol=1e-3, atol=1e-3 * np.abs(dense).max())


def _isolated(symbol, energy):
    atoms = Atoms(symbol, cell=[20.0] * 3, pbc=True)
    atoms.info["REF_energy"] = energy
    atoms.info["config_type"] = "isolated_atom"
    return atoms


def test_a_generator_of_designs_is_solved_as_the_list(monkeypatch):
    from gst_flows.fit import pod_lstsq

    rng = np.random.default_rng(5)
    species = ["Ge", "Sb", "Te"]
    designs = _random_designs(rng, 12, (3, 5, 8, 4, 6, 7, 2, 5), np.logspace(-3, 3, 12))
    isolated = [_isolated("Te", -1.5), _isolated("Ge", -0.8)]
    weights = np.sqrt([1, 2, 1, 4, 1, 1, 3, 1])
    solver = PodLeastSquares(energy_weight=30.0, ridge=1e-4)
    monkeypatch.setattr(pod_lstsq, "LSTSQ_BLOCK_ROWS", 30)
    listed = solve_pod_coefficients(designs, solver, isolated, species, weights)
    handed = []

    def generated():
        for d in designs:
            handed.append(d)
            yield d

    streamed = solve_pod_coefficients(generated(), solver, isolated, species, weights)
    assert handed == designs  # each design once, in order
    assert np.allclose(streamed, listed, rtol=1e-8, atol=0)
    # the isolated atoms pin the one-body terms of their species: the solve sees them
    alone = solve_pod_coefficients(iter(designs), solver, species=species, weights=weights)
    assert not np.allclose(alone, listed, rtol=1e-6)
    for fewer_or_more in (designs[:-1], [*designs, designs[0]]):  # one weight per design
        with pytest.raises(FitInputError, match="8 weights for"):
            solve_pod_coefficients(iter(fewer_or_more), solver, weights=weights)
    with pytest.raises(FitInputError, match="no frames"):
        solve_pod_coefficients(iter([]), solver)


def _frame(natoms, seed):
    atoms = Atoms("Ge" * natoms, positions=2.5 * np.arange(3.0 * natoms).reshape(-1, 3), cell=[30.0] * 3)
    atoms.pbc = True
    atoms.info["REF_energy"] = -float(natoms)
    atoms.info["seed"] = seed
    atoms.arrays["REF_forces"] = np.zeros((natoms, 3))
    return atoms


def test_design_chunks_keep_the_order_under_the_row_limit(monkeypatch):
    from gst_flows.fit import pod_lstsq

    # design rows 1 + 3N: 10, 16, 25, 61 (over the limit), 7, 13, 4, 31
    frames = [_frame(n, k) for k, n in enumerate((3, 5, 8, 20, 2, 4, 1, 10))]
    chunks = pod_lstsq.design_chunks(frames, max_rows=40)
    seeds = [[a.info["seed"] for a in chunk] for chunk in chunks]
    assert seeds == [[0, 1], [2], [3], [4, 5, 6], [7]]
    assert [a for chunk in chunks for a in chunk] == frames  # the same objects, in order
    for chunk, after in itertools.pairwise(chunks):
        rows = sum(1 + 3 * len(a) for a in chunk)
        assert rows <= 40 or len(chunk) == 1
        assert rows + 1 + 3 * len(after[0]) > 40  # a chunk is as full as the limit allows
    monkeypatch.setattr(pod_lstsq, "DESIGN_CHUNK_ROWS", 30)  # the default limit
    assert [len(c) for c in pod_lstsq.design_chunks(frames)] == [2, 1, 1, 3, 1]
    monkeypatch.setattr(pod_lstsq, "DESIGN_CHUNK_ROWS", 1000)
    assert [len(c) for c in pod_lstsq.design_chunks(frames)] == [8]
    assert pod_lstsq.design_chunks([]) == []


def test_the_streamed_fit_holds_one_chunk_and_gives_the_whole_design_fit(monkeypatch, tmp_path):
    """solve_pod_frames on stand-in designs: what a chunk holds, what is computed, the results."""
    from gst_flows.fit import pod_lstsq

    ncoef = 9
    frames = [_frame(n, k) for k, n in enumerate((3, 5, 2, 8, 4, 6, 3, 7, 5, 2, 4))]

    def design_of(atoms):
        rng = np.random.default_rng(atoms.info["seed"])
        return _random_designs(rng, ncoef, [len(atoms)], np.logspace(-2, 2, ncoef))[0]

    made, alive, runs, loads = [], [], [], []

    def stand_in(chunk, param, coefficients, species, keep=None):
        alive.append(sum(ref() is not None for ref in made))
        runs.append([a.info["seed"] for a in chunk])
        designs = [design_of(a) for a in chunk]
        made.extend(weakref.ref(d) for d in designs)
        if keep is not None:
            keep.write_text("kept")  # what the worker left for the second pass
        return designs

    def load(path, chunk):
        assert path.read_text() == "kept"
        loads.append([a.info["seed"] for a in chunk])
        return [design_of(a) for a in chunk]

    monkeypatch.setattr(pod_lstsq, "_design_chunk", stand_in)
    monkeypatch.setattr(pod_lstsq, "_load_designs", load)
    monkeypatch.setattr(pod_lstsq, "LSTSQ_BLOCK_ROWS", 10)
    monkeypatch.setattr(pod_lstsq, "DESIGN_CHUNK_ROWS", 40)
    solver = PodLeastSquares(energy_weight=30.0, ridge=1e-3)
    weights = np.sqrt(np.arange(1.0, len(frames) + 1))
    param = tmp_path / "param"
    got, predicted = pod_lstsq.solve_pod_frames(frames, param, "coefficients", ["Ge"], solver, (), weights)
    chunks = [[a.info["seed"] for a in c] for c in pod_lstsq.design_chunks(frames)]
    assert len(chunks) == 5
    # every chunk computed once for the solve; all but the last one (still held) read again
    # for the predictions from what its run left, removed afterwards
    assert runs == chunks and loads == chunks[:-1]
    assert list(tmp_path.iterdir()) == []
    # while a chunk is computed, no earlier chunk is held (at most the design being folded)
    assert max(alive) <= 1
    designs = [design_of(a) for a in frames]
    expected = solve_pod_coefficients(designs, solver, weights=weights)
    assert np.allclose(got, expected, rtol=1e-12, atol=0)
    want = pod_lstsq.predict_designs(designs, expected)
    assert [p.natoms for p in predicted] == [len(a) for a in frames]
    assert np.allclose([p.energy for p in predicted], [p.energy for p in want], rtol=1e-12)
    for p, q in zip(predicted, want, strict=True):
        assert p.energy_label == q.energy_label and np.array_equal(p.force_labels, q.force_labels)
        assert np.allclose(p.forces, q.forces, rtol=1e-12, atol=1e-12 * np.abs(q.forces).max())
    errors = pod_lstsq.prediction_errors(predicted)
    assert errors == pytest.approx(design_errors(designs, expected), rel=1e-12)


@needs_lammps
def test_a_fit_in_chunks_is_the_fit_in_one_chunk(frames, tmp_path, monkeypatch):
    from gst_flows.fit import pod_lstsq

    solver = PodLeastSquares(energy_weight=10.0, ridge=1e-6)
    condensed = [a for a in frames if not is_isolated_atom(a)]
    # repeated copies of frames of other chunks: predictions in the order of the frames
    repeated = [*frames, condensed[5].copy(), condensed[0].copy(), condensed[5].copy()]
    whole = fit_pod(repeated, tmp_path / "whole", SMALL, solver=solver)
    runs = _count_design_runs(monkeypatch)
    monkeypatch.setattr(pod_lstsq, "DESIGN_CHUNK_ROWS", 50)  # two 7- or 8-atom frames a chunk
    chunked = fit_pod(repeated, tmp_path / "chunked", SMALL, solver=solver)
    n = len(condensed) // 2
    assert runs == [2] * n  # once each: the predictions read what the solve's pass left
    assert not list(chunked.directory.glob("gst-pod-designs-*"))  # and it is gone
    a, b = (read_pod_coefficients(r.coefficient_file) for r in (whole, chunked))
    assert np.allclose(b, a, rtol=1e-10, atol=1e-14 * np.abs(a).max())
    assert chunked.train_errors == pytest.approx(whole.train_errors, rel=1e-9)
    p, q = whole.train_predictions, chunked.train_predictions
    assert len(q.n_atoms) == len(condensed) + 3
    assert (q.config_types, q.n_atoms, q.formulas, q.energy_ref) == (
        p.config_types,
        p.n_atoms,
        p.formulas,
        p.energy_ref,
    )
    assert np.allclose(q.energy_pred, p.energy_pred, rtol=1e-10)
    for fp, fq, rp, rq in zip(p.forces_pred, q.forces_pred, p.forces_ref, q.forces_ref, strict=True):
        assert np.array_equal(rq, rp)
        assert np.allclose(fq, fp, rtol=1e-9, atol=1e-9)
