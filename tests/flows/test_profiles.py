"""The loop profiles' starting structures."""

import numpy as np
import pytest
from ase.geometry import get_distances

from gst_flows.flows.profiles import active_learning_setup, disordered_copies
from gst_flows.structures import build_rocksalt
from gst_flows.structures.devices import AMORPHOUS_DENSITY_RATIO


@pytest.mark.parametrize(("composition", "multiple", "natoms"), [("GeTe", 8, 16), ("Ge1Sb2Te4", 2, 14)])
def test_disordered_copies_are_packings_at_amorphous_density(composition, multiple, natoms):
    crystal = build_rocksalt(composition, supercell=(2, 2, 2), seed=0)
    packings = disordered_copies(composition, multiple, 2, seed=7)
    assert len(packings) == 2
    first, second = packings
    assert len(first) == natoms
    assert sorted(first.get_chemical_symbols()) == sorted(second.get_chemical_symbols())
    rho = len(crystal) / crystal.get_volume() * AMORPHOUS_DENSITY_RATIO
    for packing in packings:
        assert len(packing) / packing.get_volume() == pytest.approx(rho, rel=0.02)
        _, d = get_distances(packing.positions, cell=packing.cell, pbc=True)
        assert d[np.triu_indices(len(packing), 1)].min() >= 2.6 - 1e-9
        assert packing.info["config_type"] == "liquid"
    # two copies, two different packings; the same seed, the same packing
    assert not np.allclose(first.positions, second.positions)
    assert np.allclose(disordered_copies(composition, multiple, 1, seed=7)[0].positions, first.positions)


def test_small_profile_trains_and_tests_on_disorder():
    setup = active_learning_setup("small", "t")
    kinds = [a.info["config_type"] for a in setup.initial]
    assert kinds.count("liquid") == 12 and kinds.count("crystal") == 9
    assert "liquid" in {a.info["config_type"] for a in setup.held_out}
    assert setup.initial_summary() == "9 crystal, 12 liquid cells"
    # no training packing is a held-out or exploration packing
    train = {a.get_positions().round(6).tobytes() for a in setup.initial}
    assert not train & {a.get_positions().round(6).tobytes() for a in [*setup.held_out, *setup.explore]}


@pytest.mark.parametrize("profile", ["small", "full"])
def test_profiles_train_and_test_on_every_element_crystal(profile):
    """Formation energies (and the liquid's chemical order) need each element's own crystal."""
    setup = active_learning_setup(profile, "t")
    for cells in (setup.initial, setup.held_out):
        pure = [a for a in cells if len(a) > 1 and len(set(a.get_chemical_symbols())) == 1]
        assert {a.get_chemical_symbols()[0] for a in pure} == {"Ge", "Sb", "Te"}
        assert {a.info["config_type"] for a in pure} == {"crystal"}
