"""LAMMPS single points agree with quippy (GAP) and with ASE (stand-in pair style)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.lj import LennardJones

from gst_flows.md.lammps import (
    LammpsError,
    LammpsPotential,
    LammpsRunner,
    lammps_single_point,
)
from tests.support.lammps import needs_lammps_plugin
from tests.support.lammps_gap import fit_test_gap, rocksalt_test_cell

pytestmark = needs_lammps_plugin


@pytest.fixture(scope="module")
def test_gap(tmp_path_factory):
    """The tiny LJ-labelled stand-in GAP (not a GST model), fitted once per module."""
    return fit_test_gap(tmp_path_factory.mktemp("test_gap"))


def _skewed_cell():
    atoms = rocksalt_test_cell(repeat=2, seed=3)
    atoms.rattle(0.08, seed=4)
    # shear and rotate: LAMMPS sees a rotated, tilted box
    cell = atoms.cell[:].copy()
    cell[1, 0] += 0.9
    cell[2, 1] -= 0.6
    atoms.set_cell(cell, scale_atoms=True)
    atoms.rotate(25, "x", rotate_cell=True)
    return atoms


def _quippy_reference(atoms, xml):
    from quippy.potential import Potential

    ref = atoms.copy()
    ref.calc = Potential(param_filename=str(xml))
    return ref.get_potential_energy(), ref.get_forces(), ref.get_stress()


@pytest.mark.parametrize("nprocs", [1, 2])
def test_gap_single_point_matches_quippy(test_gap, nprocs):
    atoms = _skewed_cell()
    energy, forces, stress = _quippy_reference(atoms, test_gap)
    result = lammps_single_point(atoms, LammpsPotential.gap(test_gap), LammpsRunner(nprocs=nprocs))
    n = len(atoms)
    assert abs(result.energy - energy) / n < 1e-6
    assert np.abs(result.forces - forces).max() < 1e-6
    assert np.abs(result.stress - stress).max() < 1e-6
    assert result.energies.shape == (n,)
    assert abs(result.energies.sum() - energy) / n < 1e-6


def test_gap_cross_check_is_tight(test_gap):
    """Far below the 1e-6 target: the same QUIP code evaluates both."""
    atoms = rocksalt_test_cell(repeat=2, seed=9)
    atoms.rattle(0.1, seed=9)
    energy, forces, _ = _quippy_reference(atoms, test_gap)
    result = lammps_single_point(atoms, LammpsPotential.gap(test_gap))
    assert abs(result.energy - energy) / len(atoms) < 1e-9
    assert np.abs(result.forces - forces).max() < 1e-8


def test_standin_pair_style_matches_ase_lennard_jones():
    atoms = bulk("GeTe", "rocksalt", a=6.0, cubic=True).repeat(3)
    atoms.rattle(0.05, seed=2)
    ref = atoms.copy()
    ref.calc = LennardJones(epsilon=0.05, sigma=2.7, rc=5.0)
    result = lammps_single_point(atoms, LammpsPotential.lennard_jones(0.05, 2.7, 5.0))
    np.testing.assert_allclose(result.forces, ref.get_forces(), atol=1e-10)
    assert result.energy == pytest.approx(ref.get_potential_energy(), abs=1e-9)


def test_gap_with_a_type_for_an_absent_species(test_gap):
    """Atom types may name species the structure lacks (pair_style pod needs that)."""
    atoms = bulk("GeTe", "rocksalt", a=6.0, cubic=True).repeat(2)
    atoms.rattle(0.1, seed=4)
    energy, forces, _ = _quippy_reference(atoms, test_gap)
    result = lammps_single_point(atoms, LammpsPotential.gap(test_gap), species=("Ge", "Sb", "Te"))
    assert abs(result.energy - energy) / len(atoms) < 1e-9
    assert np.abs(result.forces - forces).max() < 1e-8


def test_bad_potential_file_reports_quip_error(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<not_a_potential/>")
    atoms = rocksalt_test_cell(repeat=1)
    with pytest.raises(LammpsError, match="exited with code"):
        lammps_single_point(atoms, LammpsPotential.gap(bad), workdir=tmp_path / "run")
