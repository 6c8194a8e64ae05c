import numpy as np
import pytest
from ase import Atoms
from ase.io import read, write
from ase.io.lammpsdata import read_lammps_data

from gst_flows.structures import (
    StructureError,
    build_rocksalt,
    read_structures,
    write_extxyz,
    write_lammps_data,
    write_structure,
)


@pytest.fixture
def cell():
    return build_rocksalt("Ge1Sb2Te4", (2, 2, 2), seed=4)


@pytest.mark.parametrize("name", ["cell.extxyz", "cell.cif", "POSCAR"])
def test_read_formats(tmp_path, cell, name):
    path = tmp_path / name
    if name == "cell.extxyz":
        write(path, [cell, cell])
    else:
        write(path, cell, format="vasp" if name == "POSCAR" else None)
    frames = read_structures(path)
    assert len(frames) == (2 if name == "cell.extxyz" else 1)
    got = frames[0]
    assert sorted(got.get_chemical_symbols()) == sorted(cell.get_chemical_symbols())
    assert got.cell.lengths() == pytest.approx(cell.cell.lengths(), abs=1e-4)
    assert got.info["source"] == str(path)


def test_missing_file(tmp_path):
    with pytest.raises(StructureError, match=r"not found: .*nothing\.xyz"):
        read_structures(tmp_path / "nothing.xyz")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.cif"
    path.write_text("  \n")
    with pytest.raises(StructureError, match=r"empty: .*empty\.cif"):
        read_structures(path)


def test_unreadable_file(tmp_path):
    path = tmp_path / "garbage.xyz"
    path.write_text("this is not\na structure file\n")
    with pytest.raises(StructureError, match=r"cannot read structure file .*garbage\.xyz"):
        read_structures(path)


def test_unknown_element_in_file(tmp_path):
    path = tmp_path / "bad.xyz"
    path.write_text("2\n\nGe 0 0 0\nQq 2 0 0\n")
    with pytest.raises(StructureError, match=r"bad\.xyz"):
        read_structures(path)


def test_bad_frame_is_named(tmp_path, cell):
    bad = cell.copy()
    bad.positions[3] = bad.positions[0] + 0.1
    path = tmp_path / "frames.extxyz"
    write(path, [cell, cell, bad])
    with pytest.raises(StructureError, match=r"frames\.extxyz, frame 2: atoms 0 and 3"):
        read_structures(path)


def test_extxyz_writer_round_trip(tmp_path, cell):
    cell.arrays["fixed"][:3] = True
    cell.arrays["region"][5] = 2
    path = write_extxyz(tmp_path / "out.xyz", cell)
    back = read(path)
    assert (back.numbers == cell.numbers).all()
    assert np.allclose(back.positions, cell.positions, atol=1e-7)
    assert np.allclose(back.cell[:], cell.cell[:])
    assert back.arrays["fixed"].tolist() == cell.arrays["fixed"].tolist()
    assert back.arrays["region"].tolist() == cell.arrays["region"].tolist()
    assert back.info["parameters"]["supercell"] == [2, 2, 2]
    assert back.info["composition"] == "Ge1Sb2Te4"
    assert back.pbc.all()


def test_lammps_data_round_trip_triclinic(tmp_path):
    atoms = Atoms(
        "GeSbTe",
        positions=[[0, 0, 0], [1.5, 1.0, 2.0], [3.0, 2.5, 1.0]],
        cell=[[5, 0, 0], [2.5, 4.33, 0], [1, 1, 6]],
        pbc=True,
    )
    atoms.rotate(30, "z", rotate_cell=True)
    path = write_lammps_data(tmp_path / "t.data", atoms)
    back = read_lammps_data(path, atom_style="atomic")
    assert back.cell.cellpar() == pytest.approx(atoms.cell.cellpar(), abs=1e-6)
    assert back.get_all_distances(mic=True) == pytest.approx(atoms.get_all_distances(mic=True), abs=1e-6)
    assert back.get_masses() == pytest.approx(atoms.get_masses(), abs=1e-3)


def test_write_structure_dispatch(tmp_path, cell):
    assert read(
        write_structure(tmp_path / "a.data", cell), format="lammps-data", atom_style="atomic"
    ).get_global_number_of_atoms() == len(cell)
    assert len(read(write_structure(tmp_path / "a.cif", cell))) == len(cell)
    with pytest.raises(StructureError, match="does not exist"):
        write_structure(tmp_path / "no" / "a.xyz", cell)
