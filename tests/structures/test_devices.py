import numpy as np
import pytest

from gst_flows.structures import (
    MUSHROOM_FOCAL_RADII,
    StructureError,
    build_cross_point,
    build_crystallisation_cell,
    build_heating_cell,
    build_layered,
    build_mushroom,
    build_seeded,
    density,
    minimum_distance,
    random_packing,
)


def _counts(atoms):
    symbols, counts = np.unique(atoms.get_chemical_symbols(), return_counts=True)
    return dict(zip(symbols.tolist(), counts.tolist(), strict=True))


def test_crystallisation_cell():
    atoms = build_crystallisation_cell()
    assert len(atoms) == 1008
    assert _counts(atoms) == {"Ge": 144, "Sb": 288, "Te": 576}
    lengths = atoms.cell.lengths() / 10
    assert lengths == pytest.approx([2.56, 2.96, 4.18], abs=0.02)
    a = atoms.info["parameters"]["lattice_parameter"]
    # [111] along z: 24 alternating cation / Te planes, a / (2 sqrt 3) apart
    z_planes = np.unique(np.round(atoms.positions[:, 2], 3))
    assert len(z_planes) == 24
    assert np.diff(z_planes) == pytest.approx(a / (2 * np.sqrt(3)), abs=1e-3)
    fixed = atoms.arrays["fixed"]
    region = atoms.arrays["region"]
    assert (region[fixed] == 0).all()
    assert (region[~fixed] == 1).all()
    # the two fixed bilayers: the bottom one and the top one, adjacent through z
    z = atoms.positions[:, 2]
    thickness = a / np.sqrt(3)
    c = atoms.cell[2, 2]
    assert set(np.round(z[fixed] / (thickness / 2)).astype(int)) == {0, 1, 22, 23}
    assert ((z[~fixed] > thickness - 0.01) & (z[~fixed] < c - thickness - 0.01)).all()
    assert (np.array(atoms.get_chemical_symbols())[fixed] == "Te").sum() == 2 * 48
    assert atoms.info["amorphous"] == "placeholder"


def test_crystallisation_cell_with_amorphous_insert(tmp_path):
    box = build_crystallisation_cell(supercell=(3, 2, 2)).cell.lengths()
    am = random_packing(box, {"Ge": 20, "Sb": 40, "Te": 80}, min_distance=2.2, seed=5)
    path = tmp_path / "amorphous.xyz"
    am.write(path)
    atoms = build_crystallisation_cell(supercell=(3, 2, 2), amorphous=path, min_distance=2.2)
    fixed = atoms.arrays["fixed"]
    assert atoms.info["amorphous"] == "inserted"
    symbols = np.array(atoms.get_chemical_symbols())
    assert (symbols[fixed] == "Te").sum() == 2 * (3 * 2 * 2)  # two bilayers of 12 Te sites
    assert (atoms.arrays["region"][~fixed] == 1).all()
    assert minimum_distance(atoms) >= 2.2 - 1e-9
    # the middle four of six bilayers keep roughly the density of the inserted structure
    middle_density = (~fixed).sum() / (atoms.get_volume() * 4 / 6)
    assert middle_density == pytest.approx(len(am) / am.get_volume(), rel=0.15)


def test_crystallisation_cell_errors():
    with pytest.raises(StructureError, match="crystal_bilayers"):
        build_crystallisation_cell(supercell=(2, 2, 1), crystal_bilayers=3)


@pytest.mark.parametrize(("n", "expected"), [(2, 56), (4, 448), (12, 12_096)])
def test_heating_cells(n, expected):
    atoms = build_heating_cell(supercell=n, seed=n)
    assert len(atoms) == expected
    assert atoms.cell.lengths() == pytest.approx([n * 6.04] * 3)


def test_mushroom_cell():
    atoms = build_mushroom()
    assert len(atoms) == 23_100
    lx, _ly, lz = atoms.cell.lengths() / 10
    assert lx == pytest.approx(20, abs=0.3)
    assert lz == pytest.approx(12, abs=0.2)
    assert list(atoms.pbc) == [True, True, True]  # no free surface, no vacuum
    assert list(build_mushroom(supercell=(4, 2, 4), periodic_z=False).pbc) == [True, True, False]
    a = atoms.info["parameters"]["lattice_parameter"]
    pos = atoms.positions
    # top four atomic (001) layers fixed, nothing else
    layer = np.rint(pos[:, 2] / (a / 2)).astype(int)
    fixed = atoms.arrays["fixed"]
    assert set(layer[fixed]) == {36, 37, 38, 39}
    assert (layer[~fixed] < 36).all()
    assert (np.array(atoms.get_chemical_symbols())[fixed] == "Te").sum() == 4 * 33 * 5 * 2
    # focal region: half-cylinder about the y axis through (Lx/2, z = 0)
    r = MUSHROOM_FOCAL_RADII["small"]
    dist = np.hypot(pos[:, 0] - atoms.cell[0, 0] / 2, pos[:, 2])
    region = atoms.arrays["region"] == 1
    assert (dist[region] <= r + 1e-9).all()
    assert (dist[~region] > r).all()
    assert region.sum() > 1000
    assert not (region & fixed).any()
    large = build_mushroom(focal="large")
    assert large.arrays["region"].sum() > 2 * region.sum()
    assert large.info["focal_radius"] == MUSHROOM_FOCAL_RADII["large"]


def test_mushroom_errors():
    with pytest.raises(StructureError, match="focal"):
        build_mushroom(supercell=(4, 2, 4), focal="medium")
    with pytest.raises(StructureError, match="fixed_layers"):
        build_mushroom(supercell=(4, 2, 4), fixed_layers=9)


def test_cross_point_small_dimensions_rule():
    atoms = build_cross_point(size=(2.0, 3.0), n_blocks=3)
    a = 4.27
    n_a, n_b = atoms.info["in_plane"]["n_a"], atoms.info["in_plane"]["n_b"]
    assert n_a == round(20 / a)
    assert n_b == round(30 / (a * np.sqrt(3)))
    assert len(atoms) == n_a * n_b * 2 * 7 * 3
    assert atoms.cell.angles() == pytest.approx([90, 90, 90])


def test_cross_point_full_size():
    atoms = build_cross_point()
    assert len(atoms) == 532_980
    assert atoms.info["in_plane"]["n_a"] == 47
    assert atoms.info["in_plane"]["n_b"] == 27
    lx, ly, lz = atoms.cell.lengths() / 10
    assert lx == pytest.approx(20, abs=0.2)
    assert ly == pytest.approx(20, abs=0.2)
    assert lz == pytest.approx(41.0, abs=0.1)
    assert atoms.arrays["block"].max() == 29
    assert _counts(atoms) == {"Ge": 76_140, "Sb": 152_280, "Te": 304_560}
    small = build_layered("Ge1Sb2Te4", (47, 27, 1), cell="orthogonal", n_blocks=3)
    assert density(atoms) == pytest.approx(density(small))


def test_seeded_polycrystal():
    atoms = build_seeded(seed=3)
    ids = atoms.arrays["seed_id"]
    assert sorted(set(ids.tolist())) == [-1, 0, 1, 2]
    assert all((ids == k).sum() == 100 for k in range(3))
    assert (atoms.arrays["region"][ids >= 0] == 0).all()
    assert (atoms.arrays["region"][ids < 0] == 1).all()
    assert minimum_distance(atoms) >= 2.2 - 1e-9
    # seeds do not overlap: every seed atom is closer to its own centre than to any other
    centres = np.array(atoms.info["seed_centres"])
    box = atoms.cell.lengths()
    for k in range(3):
        d = atoms.positions[ids == k][:, None, :] - centres[None, :, :]
        d -= box * np.rint(d / box)
        assert (np.linalg.norm(d, axis=2).argmin(axis=1) == k).all()
    # seeds are crystalline: rock-salt neighbour distance a / 2
    seed0 = atoms[ids == 0]
    from ase.neighborlist import neighbor_list

    _i, _, d = neighbor_list("ijd", seed0, 3.2)
    assert np.median(d) == pytest.approx(3.02, abs=0.01)
    # different random orientations
    assert atoms.info["seed_centres"] != build_seeded(seed=4).info["seed_centres"]
    again = build_seeded(seed=3)
    assert np.allclose(again.positions, atoms.positions)
    assert 5.5 < density(atoms) < 6.3


def test_seeded_errors():
    with pytest.raises(StructureError, match="cannot place 20 seeds"):
        build_seeded(supercell=(3, 3, 3), n_seeds=20)
    with pytest.raises(StructureError, match="n_seeds"):
        build_seeded(n_seeds=-1)
