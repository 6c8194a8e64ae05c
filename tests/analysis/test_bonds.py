import numpy as np
import pytest
from analysis_structures import A_DIAMOND, rocksalt_gete
from ase import Atoms

from gst_flows.analysis import (
    bond_angle_distribution,
    bond_counts,
    coordination_numbers,
    homopolar_bond_fraction,
    mass_density,
    neighbour_pairs,
    partial_coordination,
)


def test_coordination_rocksalt_and_diamond(gete, diamond):
    assert np.all(coordination_numbers(gete) == 6)
    assert np.all(coordination_numbers(diamond, 3.0) == 4)
    assert np.all(coordination_numbers(diamond) == 4)  # Ge–Ge default 3.2 Å


def test_partial_coordination(gete):
    pc = partial_coordination(gete)
    assert pc["Ge-Te"] == pytest.approx(6.0)
    assert pc["Te-Ge"] == pytest.approx(6.0)
    assert pc["Ge-Ge"] == 0.0
    assert pc["Ge"] == pytest.approx(6.0)


def test_per_pair_cutoffs_select_pairs(gete):
    # Only like pairs within 4.3 Å: the 12 second neighbours.
    cn = coordination_numbers(gete, {"Ge-Ge": 4.3, "Te-Te": 4.3, "Ge-Te": 0.5})
    assert np.all(cn == 12)


def test_homopolar_fraction_counts_antisite_bonds():
    atoms = rocksalt_gete(3)
    ge = np.flatnonzero(atoms.numbers == 32)
    te = np.flatnonzero(atoms.numbers == 52)
    # Swap a Ge and a Te that are not neighbours.
    d = atoms.get_distances(ge[0], te, mic=True)
    far = te[np.argmax(d)]
    symbols = atoms.get_chemical_symbols()
    symbols[ge[0]], symbols[far] = "Te", "Ge"
    atoms.set_chemical_symbols(symbols)
    frac = homopolar_bond_fraction(atoms)
    n_bonds = 3 * len(atoms)
    assert frac["n_bonds"] == n_bonds
    assert frac["Ge-Ge"] == pytest.approx(6 / n_bonds)
    assert frac["Te-Te"] == pytest.approx(6 / n_bonds)
    assert frac["homopolar"] == pytest.approx(12 / n_bonds)
    assert bond_counts(atoms)["Ge-Te"] == n_bonds - 12


def test_wrong_bonds_include_ge_sb():
    atoms = rocksalt_gete(2)
    # Turn one Te into Sb: its 6 Ge neighbours now form Ge–Sb wrong bonds.
    te = np.flatnonzero(atoms.numbers == 52)[0]
    atoms.symbols[te] = "Sb"
    frac = homopolar_bond_fraction(atoms)
    n_bonds = 3 * len(atoms)
    assert frac["Ge-Sb"] == pytest.approx(6 / n_bonds)
    assert frac["homopolar"] == 0.0
    assert frac["wrong"] == pytest.approx(6 / n_bonds)


def test_unknown_species_in_cutoff_table():
    atoms = rocksalt_gete(1)
    atoms.symbols[0] = "Si"
    with pytest.raises(ValueError, match="no bond cutoff for species pair Si-"):
        coordination_numbers(atoms)
    with pytest.raises(ValueError, match="unknown element"):
        coordination_numbers(rocksalt_gete(1), {"Ge-Xx": 3.0})
    with pytest.raises(ValueError, match="positive"):
        coordination_numbers(rocksalt_gete(1), 0.0)


def test_mass_density_diamond_ge(diamond):
    from ase.data import atomic_masses, atomic_numbers
    from ase.units import _amu

    expected = 8 * atomic_masses[atomic_numbers["Ge"]] * _amu * 1e3 / (A_DIAMOND**3 * 1e-24)
    assert mass_density(diamond) == pytest.approx(expected)
    assert mass_density(diamond) == pytest.approx(5.32, abs=0.02)


def test_angle_distribution_rocksalt(gete):
    adf = bond_angle_distribution(gete, bin_width=1.0)
    assert adf.total.sum() * 1.0 == pytest.approx(1.0)
    p90 = adf.total[(adf.theta > 85) & (adf.theta < 95)].sum()
    p180 = adf.total[adf.theta > 175].sum()
    # 6 neighbours: 12 right angles and 3 straight angles per atom.
    assert p90 == pytest.approx(12 / 15)
    assert p180 == pytest.approx(3 / 15)
    assert set(adf.by_centre) == {"Ge", "Te"}


def test_angle_distribution_diamond(diamond):
    adf = bond_angle_distribution([diamond, diamond], 3.0, bin_width=0.5)
    assert adf.theta[np.argmax(adf.total)] == pytest.approx(109.47, abs=0.5)
    assert adf.total[np.abs(adf.theta - 109.47) > 1].sum() == 0.0


def test_neighbour_pairs_isolated_cluster():
    atoms = Atoms("Ge3", positions=[[0, 0, 0], [2.5, 0, 0], [9, 0, 0]])
    i, j = neighbour_pairs(atoms, 3.0)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (1, 0)]
