import numpy as np
import pytest
from ase import Atoms

from gst_flows.structures import (
    StructureError,
    build_rocksalt,
    closest_pair,
    minimum_distance,
    validate_structure,
)


def test_good_structure_passes():
    atoms = build_rocksalt("Ge1Sb2Te4", (2, 2, 2))
    assert validate_structure(atoms) is atoms
    validate_structure(atoms, allowed_elements={"Ge", "Sb", "Te"})


def test_empty():
    with pytest.raises(StructureError, match="empty"):
        validate_structure(Atoms())


def test_not_an_element():
    atoms = Atoms("X2", positions=[[0, 0, 0], [2, 0, 0]])
    with pytest.raises(StructureError, match="not a chemical element"):
        validate_structure(atoms)


def test_allowed_elements():
    atoms = Atoms("GeSbO", positions=[[0, 0, 0], [3, 0, 0], [0, 3, 0]])
    with pytest.raises(StructureError, match=r"O not allowed.*atom 2"):
        validate_structure(atoms, allowed_elements={"Ge", "Sb", "Te"})
    with pytest.raises(StructureError, match="unknown"):
        validate_structure(atoms, allowed_elements={"Ge", "Sb", "Xy"})


def test_close_pair_named_with_distance():
    atoms = build_rocksalt("GeTe", (2, 2, 2))
    atoms.positions[5] = atoms.positions[11] + [0.2, 0.1, 0.0]
    with pytest.raises(StructureError, match=r"atoms 5 and 11 are 0\.224 Å apart"):
        validate_structure(atoms, min_distance=0.5)
    assert closest_pair(atoms, 0.5)[:2] == (5, 11)


def test_close_pair_across_periodic_boundary():
    atoms = Atoms("Ge2", positions=[[0.1, 5, 5], [9.8, 5, 5]], cell=[10, 10, 10], pbc=True)
    with pytest.raises(StructureError, match=r"atoms 0 and 1 are 0\.300 Å apart"):
        validate_structure(atoms)
    atoms.pbc = False
    validate_structure(atoms)


def test_cell_smaller_than_min_distance():
    atoms = Atoms("Ge", positions=[[0, 0, 0]], cell=[0.3, 5, 5], pbc=True)
    with pytest.raises(StructureError, match="own periodic image"):
        validate_structure(atoms)


def test_non_finite():
    atoms = Atoms("Ge2", positions=[[0, 0, 0], [np.nan, 0, 0]])
    with pytest.raises(StructureError, match="atom 1 has a non-finite position"):
        validate_structure(atoms)


def test_zero_volume_periodic_cell():
    atoms = Atoms("Ge2", positions=[[0, 0, 0], [2, 0, 0]], cell=[5, 5, 0], pbc=True)
    with pytest.raises(StructureError, match="zero volume"):
        validate_structure(atoms)
    flat = Atoms("Ge2", positions=[[0, 0, 0], [2, 0, 0]], cell=[[5, 0, 0], [10, 0, 0], [0, 0, 5]], pbc=True)
    with pytest.raises(StructureError, match="zero volume"):
        validate_structure(flat)


def test_slab_with_open_direction_is_fine():
    atoms = Atoms("Ge2", positions=[[0, 0, 0], [2.5, 0, 0]], cell=[5, 5, 0], pbc=[True, True, False])
    validate_structure(atoms)
    assert minimum_distance(atoms) == pytest.approx(2.5)


def test_min_distance_of_rocksalt():
    atoms = build_rocksalt("GeTe", (3, 3, 3), lattice_parameter=6.0)
    assert minimum_distance(atoms) == pytest.approx(3.0)
