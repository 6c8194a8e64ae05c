from pathlib import Path

import numpy as np
import pytest
from analysis_structures import random_packing, rocksalt_gst
from ase.build import bulk

from gst_flows.analysis import (
    DEFAULT_THRESHOLD,
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


# --------------------------------------------------------------------------- calibration
# Known phases must separate at the default threshold: crystal (also rattled as at ~600 K,
# also layered) >= 95 % crystalline; random packings and liquid/quenched MD <= 5 %.

GST124 = ("Ge", "Sb", "Sb", "Te", "Te", "Te", "Te")
#: Number densities (Å⁻³) of Ge1Sb2Te4 at 6.0 g/cm³ (amorphous) and of the rock-salt crystal.
AMORPHOUS_DENSITY = 0.0306
CRYSTAL_DENSITY = 7 / 6.0**3
LIQUID_FRAMES = Path(__file__).parents[1] / "fixtures" / "kbar_liquid.extxyz"


def _rattled(atoms, sigma, seed):
    out = atoms.copy()
    out.positions += np.random.default_rng(seed).normal(0.0, sigma, out.positions.shape)
    out.wrap()
    return out


def _known_crystal(kind):
    from gst_flows.structures import build_layered, build_rocksalt

    phase, formula, sigma = kind
    if phase == "rocksalt":
        atoms = build_rocksalt(formula, (3, 3, 3), seed=11)
    else:
        atoms = build_layered(formula, (3, 3, 1))
    return atoms if sigma == 0 else _rattled(atoms, sigma, seed=int(100 * sigma))


@pytest.mark.parametrize(
    "kind",
    [
        ("rocksalt", "Ge1Sb2Te4", 0.0),
        ("rocksalt", "Ge1Sb2Te4", 0.15),
        ("rocksalt", "Ge1Sb2Te4", 0.2),
        ("rocksalt", "GeTe", 0.2),
        ("layered", "Ge1Sb2Te4", 0.0),
        ("layered", "Ge1Sb2Te4", 0.2),
        ("layered", "Sb2Te3", 0.0),
        ("layered", "Sb2Te3", 0.2),
    ],
    ids=lambda k: f"{k[0]}-{k[1]}-{k[2]}A",
)
def test_known_crystals_are_crystalline(kind):
    kbar = crystallinity(_known_crystal(kind))
    assert crystalline_fraction(kbar) >= 0.95
    # With a margin: the 5th percentile stays well clear of the threshold.
    assert np.percentile(kbar, 5) > DEFAULT_THRESHOLD + 0.2


@pytest.mark.parametrize("density", [AMORPHOUS_DENSITY, CRYSTAL_DENSITY], ids=["amorphous", "crystal"])
def test_random_packings_are_not_crystalline(density):
    for seed in (21, 22):
        packed = random_packing(189, density, 2.6, seed=seed, formula=GST124)
        kbar = crystallinity(packed)
        assert crystalline_fraction(kbar) <= 0.05
        assert np.percentile(kbar, 95) < DEFAULT_THRESHOLD - 0.15


def test_liquid_and_quenched_md_frames_are_not_crystalline():
    from ase.io import read

    frames = read(LIQUID_FRAMES, ":")
    stages = {f.info["stage_name"] for f in frames}
    assert stages == {"liquid", "quench"}
    for frame in frames:
        assert crystalline_fraction(crystallinity(frame)) <= 0.05


def test_layered_and_rocksalt_references_both_used():
    from ase import Atoms

    from gst_flows.analysis import layered_reference, prepare_reference
    from gst_flows.structures import build_layered

    layered = build_layered("Ge1Sb2Te4", (3, 3, 1))
    refs, _ = prepare_reference(layered)
    # Two rock-salt sublattices plus the seven planes of the septuple layer.
    assert refs.shape[0] == 2 + 7
    # Only the composition matters.
    assert len(layered_reference(Atoms("Ge4Sb4Te10"))) == 9 * 9  # 3 × 3 cells, 9 planes
    assert layered_reference(Atoms("Ge8Sb2Te11")) is None
    # Without the layered environments the rattled layered crystal scores lower.
    atoms = _rattled(layered, 0.2, seed=5)
    both = crystallinity(atoms)
    rocksalt_only = crystallinity(atoms, rocksalt_reference(atoms))
    assert both.mean() > rocksalt_only.mean()


def test_exclude_l0_drops_the_radial_channel():
    atoms = _rattled(rocksalt_gst(2, seed=3), 0.2, seed=4)
    for resolved in (False, True):
        full = soap_vectors(atoms, SoapSettings(l_max=4, species_resolved=resolved))
        radial = soap_vectors(atoms, SoapSettings(l_max=0, species_resolved=resolved))
        angular_settings = SoapSettings(l_max=4, species_resolved=resolved, exclude_l0=True)
        angular = soap_vectors(atoms, angular_settings)
        assert angular.shape[1] == angular_settings.with_species(atoms).dimension
        assert angular.shape[1] + radial.shape[1] == full.shape[1]
        kept = angular_settings.with_species(atoms).kept_features(
            angular_settings.with_species(atoms).descriptor()
        )
        dropped = np.setdiff1d(np.arange(full.shape[1]), kept)
        # The dropped entries are exactly the l_max = 0 descriptor, the kept ones the rest.
        assert np.allclose(full[:, dropped] / np.linalg.norm(full[:, dropped], axis=1)[:, None], radial)
        assert np.allclose(full[:, kept] / np.linalg.norm(full[:, kept], axis=1)[:, None], angular)


def test_smoothed_vectors():
    from gst_flows.analysis import DEFAULT_SOAP, smoothed_vectors

    atoms = rocksalt_gst(2, seed=8)
    assert np.allclose(smoothed_vectors(atoms, DEFAULT_SOAP, 0.0), soap_vectors(atoms, DEFAULT_SOAP))
    smooth = smoothed_vectors(atoms)
    assert np.allclose(np.linalg.norm(smooth, axis=1), 1.0)
    with pytest.raises(ValueError, match="smoothing_cutoff"):
        smoothed_vectors(atoms, DEFAULT_SOAP, -1.0)
    # A cell smaller than the smoothing radius gives the k̄ of its periodic repeat.
    small = _rattled(rocksalt_gst(1, seed=0), 0.1, seed=2)
    assert np.allclose(crystallinity(small), crystallinity(small.repeat(3))[: len(small)], atol=1e-12)


def test_antisites_in_a_rattled_crystal_and_none_in_disorder():
    from gst_flows.structures import build_rocksalt

    atoms = _rattled(build_rocksalt("Ge1Sb2Te4", (3, 3, 3), seed=4), 0.15, seed=6)
    ge = np.flatnonzero(atoms.numbers == 32)[0]
    te = np.flatnonzero(atoms.numbers == 52)
    far = te[np.argmax(atoms.get_distances(ge, te, mic=True))]
    atoms.symbols[ge], atoms.symbols[far] = "Te", "Ge"
    flagged = np.flatnonzero(find_antisites(atoms, crystallinity(atoms)))
    assert sorted(flagged.tolist()) == sorted([ge, far])
    packed = random_packing(189, AMORPHOUS_DENSITY, 2.6, seed=23, formula=GST124)
    assert not find_antisites(packed, crystallinity(packed)).any()
