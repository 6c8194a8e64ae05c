"""POD fits with LAMMPS ``fitpod`` and evaluation with ``pair_style pod``."""

from __future__ import annotations

import numpy as np
import pytest

from gst_flows.fit import FitInputError
from gst_flows.fit.data import is_isolated_atom
from gst_flows.fit.pod import PodBasis, fit_pod, write_fitpod_inputs, write_pod_extxyz
from gst_flows.md.lammps import plugin as lammps_plugin


def _missing() -> str | None:
    try:
        lammps_plugin.find_lammps()
    except lammps_plugin.LammpsNotFoundError as exc:
        return str(exc)
    return None


needs_lammps = pytest.mark.skipif(_missing() is not None, reason=f"{_missing()}")

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
