from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from gst_flows.fit import (
    FitInputError,
    kfold_by_structure,
    make_labelled_frame,
    read_labelled_frames,
    resolve_e0,
    split_by_structure,
    structure_hash,
    summarise_frames,
    validate_frames,
    write_gap_fit_extxyz,
)
from gst_flows.fit.data import group_label


def test_stress_becomes_virial():
    atoms = Atoms("GeTe", positions=[[0, 0, 0], [3, 0, 0]], cell=[6, 6, 6], pbc=True)
    stress = np.array([0.01, 0.02, 0.03, 0.001, 0.002, 0.003])  # eV/Å³, Voigt
    frame = make_labelled_frame(atoms, -5.0, forces=np.zeros((2, 3)), stress=stress)
    virial = frame.info["REF_virial"].reshape(3, 3)
    assert virial[0, 0] == pytest.approx(-0.01 * 216)
    assert virial[0, 1] == pytest.approx(-0.003 * 216)
    assert virial[1, 2] == virial[2, 1] == pytest.approx(-0.001 * 216)


def test_extxyz_round_trip_keeps_labels_and_flat_virial(tmp_path, standin_frames):
    path = write_gap_fit_extxyz(standin_frames, tmp_path / "train.xyz")
    text = path.read_text()
    header = text.splitlines()[1]
    # QUIP reads the virial only as 9 plain numbers.
    virial = header.split('REF_virial="')[1].split('"')[0].split()
    assert len(virial) == 9
    again = read_labelled_frames(path)
    assert len(again) == len(standin_frames)
    for a, b in zip(again, standin_frames, strict=True):
        assert a.info["REF_energy"] == pytest.approx(b.info["REF_energy"])
        assert a.info["config_type"] == b.info["config_type"]
        if "REF_forces" in b.arrays:
            np.testing.assert_allclose(a.arrays["REF_forces"], b.arrays["REF_forces"], atol=1e-7)
            np.testing.assert_allclose(a.info["REF_virial"], b.info["REF_virial"], atol=1e-7)


def test_cp2k_fixture_is_well_formed(cp2k_frames):
    e0 = validate_frames(cp2k_frames)
    assert sorted(e0) == ["Ge", "Sb", "Te"]
    summary = summarise_frames(cp2k_frames)
    assert summary["per_config_type"]["isolated_atom"]["n_structures"] == 3
    assert {"GeTe", "GeSb2Te4"} <= set(summary["per_composition"])
    for frame in cp2k_frames:
        if frame.info["config_type"] != "isolated_atom":
            assert frame.arrays["REF_forces"].shape == (len(frame), 3)
            assert frame.info["REF_virial"].shape == (9,)


def test_frames_without_forces_are_refused(standin_frames):
    del standin_frames[2].arrays["REF_forces"]
    with pytest.raises(FitInputError, match=r"frame 2 .* has no REF_forces"):
        validate_frames(standin_frames)


def test_frames_without_energy_are_refused(standin_frames):
    del standin_frames[0].info["REF_energy"]
    with pytest.raises(FitInputError, match=r"frame 0 .* has no REF_energy"):
        validate_frames(standin_frames)


def test_missing_e0_names_the_species(standin_frames):
    frames = [f for f in standin_frames if f.get_chemical_symbols() != ["Sb"]]
    with pytest.raises(FitInputError, match=r"no e0 .* species Sb.*e0\.Sb"):
        validate_frames(frames)
    # An explicit value fills the gap and wins over isolated-atom frames.
    e0 = validate_frames(frames, {"Sb": -2.5, "Ge": -9.0})
    assert e0 == {"Ge": -9.0, "Sb": -2.5, "Te": -3.0}


def test_species_without_configurations_is_refused(standin_frames):
    standin_frames.append(
        make_labelled_frame(Atoms("Si", cell=[12] * 3, pbc=True), -4.0, config_type="isolated_atom")
    )
    with pytest.raises(FitInputError, match="species Si only occur in isolated-atom frames"):
        validate_frames(standin_frames)


def test_conflicting_isolated_atoms_are_refused(standin_frames):
    standin_frames.append(
        make_labelled_frame(Atoms("Ge", cell=[12] * 3, pbc=True), -1.5, config_type="isolated_atom")
    )
    with pytest.raises(FitInputError, match="disagree"):
        resolve_e0(standin_frames)


def _with_duplicates(frames):
    """Append relabelled copies of three structures: same structure, different frame."""
    out = list(frames)
    for i in (0, 4, 7):
        copy = frames[i].copy()
        copy.info["REF_energy"] = frames[i].info["REF_energy"] + 0.01
        out.append(copy)
    return out


def test_split_never_puts_a_structure_on_both_sides(standin_frames):
    frames = _with_duplicates(standin_frames)
    for seed in range(20):
        train, test = split_by_structure(frames, test_fraction=0.3, seed=seed)
        assert len(train) + len(test) == len(frames)
        train_hashes = {group_label(f) for f in train if f.info["config_type"] != "isolated_atom"}
        test_hashes = {group_label(f) for f in test}
        assert not train_hashes & test_hashes
        assert test
        assert all(f.info["config_type"] != "isolated_atom" for f in test)
        assert sum(f.info["config_type"] == "isolated_atom" for f in train) == 3
        # Every config_type is represented in the test set.
        assert {f.info["config_type"] for f in test} == {"crystal", "liquid", "amorphous"}


def test_split_is_reproducible_and_seed_dependent(standin_frames):
    a = split_by_structure(standin_frames, 0.3, seed=1)[1]
    b = split_by_structure(standin_frames, 0.3, seed=1)[1]
    assert [structure_hash(f) for f in a] == [structure_hash(f) for f in b]
    others = {
        tuple(sorted(structure_hash(f) for f in split_by_structure(standin_frames, 0.3, seed=s)[1]))
        for s in range(10)
    }
    assert len(others) > 1


def test_split_by_explicit_group_key(standin_frames):
    for i, frame in enumerate(standin_frames):
        frame.info["trajectory"] = i % 4
    train, test = split_by_structure(standin_frames, 0.5, seed=0, group_key="trajectory")
    train_groups = {f.info["trajectory"] for f in train if f.info["config_type"] != "isolated_atom"}
    assert not train_groups & {f.info["trajectory"] for f in test}


def test_split_rejects_bad_fraction(standin_frames):
    with pytest.raises(FitInputError, match="test_fraction"):
        split_by_structure(standin_frames, 1.0)


def test_kfold_folds_are_disjoint_and_cover_everything(standin_frames):
    frames = _with_duplicates(standin_frames)
    folds = kfold_by_structure(frames, n_folds=4, seed=2)
    assert len(folds) == 4
    n_condensed = sum(f.info["config_type"] != "isolated_atom" for f in frames)
    seen: set[str] = set()
    total = 0
    for train, test in folds:
        hashes = {group_label(f) for f in test}
        assert not hashes & seen
        assert not hashes & {group_label(f) for f in train if f.info["config_type"] != "isolated_atom"}
        seen |= hashes
        total += len(test)
        assert sum(f.info["config_type"] == "isolated_atom" for f in train) == 3
    assert total == n_condensed


def test_kfold_needs_enough_structures(standin_frames):
    with pytest.raises(FitInputError, match="cannot fill 50 folds"):
        kfold_by_structure(standin_frames, n_folds=50)


def test_hash_carried_from_the_database_is_used(standin_frames):
    frame = standin_frames[0]
    assert group_label(frame) == structure_hash(frame)
    frame.info["structure_hash"] = "abc"
    assert group_label(frame) == "abc"
