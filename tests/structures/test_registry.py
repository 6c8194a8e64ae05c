import pytest

from gst_flows.structures import BUILDERS, StructureError, build


def test_rocksalt_by_name():
    atoms = build("rocksalt", composition="GeTe", supercell=(2, 1, 1), seed=3)
    assert len(atoms) == 16
    assert atoms.info["kind"] == "rocksalt"
    assert atoms.info["seed"] == 3


def test_unknown_kind_lists_known():
    with pytest.raises(StructureError, match=r"unknown structure kind 'wurtzite'.*rocksalt"):
        build("wurtzite")


def test_unknown_parameter_lists_accepted():
    with pytest.raises(StructureError, match=r"does not take parameter\(s\) colour.*composition"):
        build("rocksalt", colour="red")


def test_all_cli_kinds_registered():
    expected = {
        "rocksalt",
        "layered",
        "diamond",
        "crystallisation-cell",
        "heating-cell",
        "mushroom",
        "cross-point",
        "seeded",
    }
    assert expected <= set(BUILDERS)


SMALL = {
    "rocksalt": {"supercell": (2, 2, 2)},
    "layered": {"supercell": (2, 2, 1)},
    "diamond": {},
    "element": {"composition": "Sb"},
    "crystal": {"composition": "GeTe-R3m"},
    "crystallisation-cell": {"supercell": (3, 2, 2)},
    "heating-cell": {"supercell": 2},
    "mushroom": {"supercell": (6, 2, 4), "focal_radius": 8.0},
    "cross-point": {"size": (2.0, 2.0), "n_blocks": 3},
    "seeded": {"supercell": (5, 5, 5), "n_seeds": 1, "seed_atoms": 30},
}


@pytest.mark.parametrize("kind", sorted(SMALL))
def test_every_kind_has_info_and_roles(kind):
    from gst_flows.structures import minimum_distance

    atoms = build(kind, **SMALL[kind])
    for key in ("composition", "builder", "parameters", "seed", "kind"):
        assert key in atoms.info, key
    assert atoms.arrays["fixed"].dtype == bool
    assert atoms.arrays["region"].dtype.kind == "i"
    assert atoms.arrays["seed_id"].dtype.kind == "i"
    assert minimum_distance(atoms) > 2.0
    assert atoms.get_volume() > 0


def test_add_roles_checks_shapes():
    from ase import Atoms

    from gst_flows.structures import add_roles

    atoms = add_roles(Atoms("Ge2", positions=[[0, 0, 0], [3, 0, 0]]))
    assert atoms.arrays["seed_id"].tolist() == [-1, -1]
    with pytest.raises(ValueError, match="shape"):
        add_roles(atoms, fixed=[True])
