import json

import numpy as np
import pytest

from gst_flows.structures import (
    CRYSTALS,
    StructureError,
    build_diamond,
    build_element,
    build_layered,
    crystal_data_dir,
    list_crystals,
    load_crystal,
    minimum_distance,
    write_shipped_crystals,
)


def test_diamond_ge():
    atoms = build_diamond()
    assert len(atoms) == 8
    assert atoms.cell.lengths() == pytest.approx([5.658] * 3)
    assert minimum_distance(atoms) == pytest.approx(5.658 * np.sqrt(3) / 4)
    assert len(build_diamond(supercell=(2, 3, 1))) == 48
    assert "5.658" in atoms.info["source"]
    with pytest.raises(StructureError, match="lattice_parameter"):
        build_diamond("Si")


def test_every_shipped_crystal_has_file_and_source():
    index = list_crystals()
    assert set(index) == set(CRYSTALS)
    for name, record in index.items():
        assert (crystal_data_dir() / record["file"]).is_file(), name
        assert len(record["source"]) > 20, name
        text = (crystal_data_dir() / record["file"]).read_text()
        assert "# source:" in text.splitlines()[1], name
        atoms = load_crystal(name)
        assert len(atoms) == record["atoms"]
        assert atoms.info["source"] == record["source"]
        assert minimum_distance(atoms) > 2.4, name


def test_shipped_files_match_builders(tmp_path):
    # regenerating from the builders reproduces the shipped index
    write_shipped_crystals(tmp_path)
    fresh = json.loads((tmp_path / "index.json").read_text())
    assert fresh == list_crystals()
    shipped = load_crystal("Ge1Sb2Te4-layered")
    built = build_layered("Ge1Sb2Te4")
    assert (shipped.numbers == built.numbers).all()
    assert np.allclose(shipped.positions, built.positions, atol=1e-4)


def test_elemental_references_bond_lengths():
    # nearest-neighbour distances of trigonal Te (2.835 Å) and A7 Sb (2.908 Å)
    assert minimum_distance(build_element("Te")) == pytest.approx(2.835, abs=0.01)
    assert minimum_distance(build_element("Sb")) == pytest.approx(2.908, abs=0.01)


def test_load_by_formula_and_unknown():
    assert load_crystal("Sb2Te3").info["parameters"]["name"] == "Sb2Te3-layered"
    assert len(load_crystal("GeTe-R3m", supercell=(2, 2, 1))) == 24
    with pytest.raises(StructureError, match=r"known: .*Sb2Te3-layered"):
        load_crystal("unobtainium")
