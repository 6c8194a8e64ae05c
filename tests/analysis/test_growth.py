import numpy as np
import pytest
from analysis_structures import random_gas, rocksalt_gete

from gst_flows.analysis import (
    crystalline_profile,
    crystalline_thickness,
    equivalent_radius,
    grain_labels,
    growth_speed,
    number_density,
    seeded_grain_sizes,
)


def test_planar_front_speed():
    atoms = random_gas(40_000, 0.033, seed=0, cell=np.diag([30.0, 30.0, 600.0]))
    # Evenly spaced heights: the crystalline share then follows the front exactly.
    atoms.positions[:, 2] = (np.arange(len(atoms)) + 0.5) * 600.0 / len(atoms)
    speed = 7.0  # m/s
    times = np.linspace(0.0, 400.0, 9)  # ps
    z0 = 50.0
    thickness = []
    for t in times:
        front = z0 + speed / 100.0 * t  # Å
        thickness.append(crystalline_thickness(atoms, atoms.positions[:, 2] < front, "z"))
    fit = growth_speed(times, np.array(thickness))
    assert fit.speed == pytest.approx(speed, rel=1e-3)
    assert fit.intercept == pytest.approx(z0, rel=1e-3)


def test_two_fronts_halve_the_speed():
    times = np.array([0.0, 100.0, 200.0])
    fit = growth_speed(times, 10.0 + 0.1 * times, n_fronts=2)
    assert fit.speed == pytest.approx(5.0)
    assert fit.slope == pytest.approx(0.05)


def test_spherical_grain_speed():
    atoms = rocksalt_gete(10)
    centre = atoms.cell.diagonal() / 2
    r = np.linalg.norm(atoms.positions - centre, axis=1)
    speed = 1.5  # m/s
    times = np.linspace(0.0, 600.0, 7)
    radii = []
    for t in times:
        crystalline = r < 8.0 + speed / 100.0 * t
        seed_atoms = np.flatnonzero(r < 3.5)
        size = seeded_grain_sizes(atoms, crystalline, [seed_atoms])[0]
        radii.append(equivalent_radius(size, number_density(atoms)))
    fit = growth_speed(times, np.array(radii))
    assert fit.speed == pytest.approx(speed, rel=0.1)


def test_grain_labels_split_separate_grains():
    atoms = rocksalt_gete(8)
    a = np.linalg.norm(atoms.positions - [10, 10, 10], axis=1) < 6
    b = np.linalg.norm(atoms.positions - [34, 34, 34], axis=1) < 8
    labels = grain_labels(atoms, a | b)
    assert set(np.unique(labels)) == {-1, 0, 1}
    assert np.all(labels[b] == 0)  # larger grain first
    assert np.all(labels[a] == 1)
    sizes = seeded_grain_sizes(atoms, a | b, [np.flatnonzero(a)[:3], np.flatnonzero(b)[:3]])
    assert sizes.tolist() == [int(a.sum()), int(b.sum())]


def test_profile_and_errors():
    atoms = rocksalt_gete(4)
    centres, fraction = crystalline_profile(atoms, atoms.positions[:, 2] < 12.0, "z", 3.0)
    assert np.allclose(fraction[centres < 11], 1.0)
    assert np.allclose(fraction[centres > 13], 0.0)
    with pytest.raises(ValueError, match="two distinct times"):
        growth_speed(np.array([1.0]), np.array([2.0]))
    with pytest.raises(ValueError, match="one entry per atom"):
        crystalline_thickness(atoms, np.ones(3, bool))
    with pytest.raises(ValueError, match="unknown axis"):
        crystalline_thickness(atoms, np.ones(len(atoms), bool), "q")
