import numpy as np
import pytest
from analysis_structures import random_packing, rocksalt_gst
from ase.build import bulk

from gst_flows.analysis import (
    SoapSettings,
    crystalline_fraction,
    crystallinity,
    crystallinity_series,
    find_antisites,
    reference_environments,
    rocksalt_reference,
    soap_similarity,
    soap_vectors,
)


def test_ideal_rocksalt_has_kbar_one(gete):
    kbar = crystallinity(gete)
    assert np.allclose(kbar, 1.0, atol=1e-9)
    assert crystalline_fraction(kbar) == 1.0


def test_crystal_is_its_own_reference():
    gst = rocksalt_gst(3, seed=1)
    kbar = crystallinity(gst, reference_environments(gst, groups="unique"))
    assert np.allclose(kbar, 1.0, atol=1e-9)


def test_vacancy_rocksalt_high_random_and_molten_low():
    crystal = rocksalt_gst(3, seed=2)
    crystal.positions += np.random.default_rng(0).normal(0, 0.1, crystal.positions.shape)
    molten = rocksalt_gst(3, seed=3)
    molten.positions += np.random.default_rng(1).normal(0, 0.5, molten.positions.shape)
    packed = random_packing(200, 0.031, 2.6, seed=4)
    k_crystal = crystallinity(crystal)
    k_molten = crystallinity(molten)
    k_random = crystallinity(packed)
    assert k_crystal.mean() > 0.9
    assert crystalline_fraction(k_crystal) > 0.95
    assert k_molten.mean() < k_crystal.mean() - 0.25
    assert k_random.mean() < 0.6
    assert crystalline_fraction(k_random) < 0.05


def test_blocked_descriptors_equal_periodic_dscribe():
    from dscribe.descriptors import SOAP

    atoms = rocksalt_gst(3, seed=5)
    atoms.positions += np.random.default_rng(2).normal(0, 0.3, atoms.positions.shape)
    shear = np.array([[0, 0, 0], [2.0, 0, 0], [1.0, -1.5, 0]])
    atoms.set_cell(np.asarray(atoms.cell) + shear, scale_atoms=False)
    atoms.wrap()
    s = SoapSettings()
    ref = SOAP(species=["H"], r_cut=s.r_cut, n_max=s.n_max, l_max=s.l_max, sigma=s.sigma, periodic=True)
    plain = atoms.copy()
    plain.numbers[:] = 1
    expected = ref.create(plain)
    expected /= np.linalg.norm(expected, axis=1)[:, None]
    assert np.allclose(soap_vectors(atoms, chunk_size=60), expected, atol=1e-10)
    slab = atoms.copy()
    slab.pbc = [True, False, True]
    plain.pbc = slab.pbc
    expected = ref.create(plain)
    expected /= np.linalg.norm(expected, axis=1)[:, None]
    assert np.allclose(soap_vectors(slab, chunk_size=60), expected, atol=1e-10)


def test_small_cells_are_repeated_internally():
    prim = bulk("Ge", "diamond", a=5.658)
    big = prim.repeat(3)
    assert np.allclose(soap_vectors(prim), soap_vectors(big)[:2], atol=1e-12)


def test_species_resolved_mode(gete):
    settings = SoapSettings(species_resolved=True)
    kbar = crystallinity(gete, settings=settings)
    assert np.allclose(kbar, 1.0, atol=1e-9)
    refs = reference_environments(rocksalt_reference(gete), SoapSettings())
    with pytest.raises(ValueError, match="length"):
        soap_similarity(gete, refs, settings=settings)


def test_antisites_flagged(gete):
    atoms = gete.copy()
    ge = np.flatnonzero(atoms.numbers == 32)[0]
    te = np.flatnonzero(atoms.numbers == 52)
    far = te[np.argmax(atoms.get_distances(ge, te, mic=True))]
    atoms.symbols[ge], atoms.symbols[far] = "Te", "Ge"
    kbar = crystallinity(atoms)
    flagged = np.flatnonzero(find_antisites(atoms, kbar))
    assert sorted(flagged.tolist()) == sorted([ge, far])
    # Non-crystalline atoms are never antisites.
    assert not find_antisites(atoms, np.zeros(len(atoms))).any()


def test_reference_needs_anions_and_cations():
    with pytest.raises(ValueError, match="anions"):
        rocksalt_reference(bulk("Ge", "diamond", a=5.658))
    ref = rocksalt_reference(rocksalt_gst(2))
    n_te = int(np.sum(ref.numbers == 52))
    n_cation = len(ref) - n_te
    assert n_cation == 3 * n_te // 4


def test_series_tracks_a_partial_melt():
    crystal = rocksalt_gst(3, seed=6)
    half = crystal.copy()
    upper = half.positions[:, 2] > half.cell[2, 2] / 2
    half.positions[upper] += np.random.default_rng(3).normal(0, 0.6, (upper.sum(), 3))
    half.wrap()
    series = crystallinity_series([crystal, half])
    assert series["crystalline_fraction"][0] > 0.95
    assert 0.3 < series["crystalline_fraction"][1] < 0.75
    assert series["mean_kbar"][1] < series["mean_kbar"][0]
    assert np.allclose(series["density"], series["density"][0])
