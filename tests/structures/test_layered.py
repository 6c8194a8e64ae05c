import numpy as np
import pytest

from gst_flows.structures import (
    LAYERED_BLOCKS,
    StructureError,
    build_layered,
    minimum_distance,
)

EXPECTED_BLOCKS = {
    "Sb2Te3": ["Te", "Sb", "Te", "Sb", "Te"],
    "Ge1Sb2Te4": ["Te", "Sb", "Te", "Ge", "Te", "Sb", "Te"],
    "Ge2Sb2Te5": ["Te", "Sb", "Te", "Ge", "Te", "Ge", "Te", "Sb", "Te"],
}


def _planes(atoms, tol=0.05):
    """Group atoms into planes by z; return (z of each plane, list of species sets)."""
    order = np.argsort(atoms.positions[:, 2], kind="stable")
    z = atoms.positions[order, 2]
    breaks = np.flatnonzero(np.diff(z) > tol) + 1
    groups = np.split(order, breaks)
    symbols = np.array(atoms.get_chemical_symbols())
    return np.array([atoms.positions[g, 2].mean() for g in groups]), [set(symbols[g]) for g in groups]


def _blocks_from_z(atoms, gap_threshold=2.3):
    """Split the plane sequence at van der Waals gaps (interplanar distance > threshold)."""
    z, species = _planes(atoms)
    assert all(len(s) == 1 for s in species), "every plane holds one element"
    names = [next(iter(s)) for s in species]
    cuts = np.flatnonzero(np.diff(z) > gap_threshold) + 1
    return [names[a:b] for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(names)], strict=True)], z


@pytest.mark.parametrize("name", list(EXPECTED_BLOCKS))
@pytest.mark.parametrize("cell", ["hexagonal", "orthogonal"])
def test_stacking_order_read_back_from_z(name, cell):
    atoms = build_layered(name, (2, 2, 1), cell=cell)
    blocks, z = _blocks_from_z(atoms)
    n_blocks = atoms.info["parameters"]["n_blocks"]
    assert len(blocks) == n_blocks
    for block in blocks:
        assert block == EXPECTED_BLOCKS[name]
    # spacings including the one across the periodic boundary: n_blocks van der Waals gaps,
    # all wider than every spacing inside a block
    dz = np.sort(np.r_[np.diff(z), z[0] + atoms.cell[2, 2] - z[-1]])
    assert dz[-n_blocks:].min() > 2.5
    assert dz[:-n_blocks].max() < 2.1


def test_gete_r3m_peierls_distortion():
    atoms = build_layered("GeTe", (3, 3, 1))
    _z, species = _planes(atoms)
    names = [next(iter(s)) for s in species]
    assert names == ["Ge", "Te"] * 3
    from ase.neighborlist import neighbor_list

    i, _, d = neighbor_list("ijd", atoms, 3.4)
    ge = atoms.numbers[i] == 32
    short, long_ = np.sort(np.unique(np.round(d[ge], 2)))
    assert short == pytest.approx(2.84, abs=0.03)
    assert long_ == pytest.approx(3.16, abs=0.03)
    assert (np.round(d[ge], 2) == short).sum() == (np.round(d[ge], 2) == long_).sum()


@pytest.mark.parametrize("name", list(LAYERED_BLOCKS))
def test_hexagonal_and_orthogonal_same_crystal(name):
    hexa = build_layered(name, (2, 2, 1))
    ortho = build_layered(name, (1, 1, 1), cell="orthogonal")
    assert len(hexa) == 2 * len(ortho)
    a = LAYERED_BLOCKS[name].a
    assert hexa.cell.cellpar()[:3] == pytest.approx([2 * a, 2 * a, LAYERED_BLOCKS[name].c])
    assert hexa.cell.cellpar()[5] == pytest.approx(120)
    assert ortho.cell.lengths() == pytest.approx([a, a * np.sqrt(3), LAYERED_BLOCKS[name].c])
    assert ortho.cell.angles() == pytest.approx([90, 90, 90])
    assert hexa.get_volume() / len(hexa) == pytest.approx(ortho.get_volume() / len(ortho))
    assert minimum_distance(hexa) == pytest.approx(minimum_distance(ortho))
    assert minimum_distance(ortho) > 2.8


def test_conventional_cell_counts():
    assert len(build_layered("Sb2Te3")) == 15
    assert len(build_layered("Ge1Sb2Te4")) == 21
    assert len(build_layered("Ge2Sb2Te5")) == 9
    assert len(build_layered("GeTe")) == 6
    assert build_layered("GST124").get_chemical_formula() == "Ge3Sb6Te12"


def test_octahedral_neighbours_inside_blocks():
    from ase.neighborlist import neighbor_list

    atoms = build_layered("Ge1Sb2Te4", (3, 3, 1))
    i, _, _ = neighbor_list("ijd", atoms, 3.3)
    coordination = np.bincount(i, minlength=len(atoms))
    cations = atoms.numbers != 52
    assert (coordination[cations] == 6).all()
    outer_te = (atoms.arrays["plane"] == 0) | (atoms.arrays["plane"] == 6)
    assert (coordination[outer_te] == 3).all()  # the vdW gap side has no bonds


def test_block_count_must_close_stacking():
    with pytest.raises(StructureError, match=r"multiple of 3 blocks, e\.g\. 3 or 6"):
        build_layered("Ge1Sb2Te4", n_blocks=4)
    assert len(build_layered("Ge2Sb2Te5", n_blocks=4)) == 36


def test_cation_disorder_keeps_composition_and_is_seeded():
    ordered = build_layered("Ge1Sb2Te4", (3, 3, 1))
    mixed = build_layered("Ge1Sb2Te4", (3, 3, 1), cation_disorder=1.0, seed=2)
    again = build_layered("Ge1Sb2Te4", (3, 3, 1), cation_disorder=1.0, seed=2)
    assert mixed.get_chemical_formula() == ordered.get_chemical_formula()
    assert (mixed.numbers == again.numbers).all()
    assert (mixed.numbers != ordered.numbers).any()
    te = ordered.numbers == 52
    assert (mixed.numbers[te] == 52).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"composition": "Ge3Sb2Te6"}, "no layered structure"),
        ({"supercell": (0, 1, 1)}, "supercell"),
        ({"cell": "cubic"}, "cell must be"),
        ({"cation_disorder": 2.0}, "cation_disorder"),
        ({"n_blocks": 0}, "n_blocks"),
    ],
)
def test_layered_errors(kwargs, match):
    with pytest.raises(StructureError, match=match):
        build_layered(**kwargs)
