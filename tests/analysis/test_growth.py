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


def _growing_spheres(centres, r0, speed, times, n_cells=10):
    """Frames of three crystalline spheres growing at ``speed`` m/s in a rock-salt box."""
    atoms = rocksalt_gete(n_cells)
    centres = np.asarray(centres, dtype=float)
    cell = atoms.cell.diagonal()
    d = atoms.positions[None, :, :] - centres[:, None, :]
    d -= cell * np.round(d / cell)
    r = np.linalg.norm(d, axis=2)  # (seeds, atoms)
    seeds = [np.flatnonzero(row < 3.5) for row in r]
    masks = [(r < r0 + speed / 100.0 * t).any(axis=0) for t in times]
    return atoms, seeds, masks


CENTRES = [(15.0, 15.0, 15.0), (45.0, 15.0, 30.0), (30.0, 45.0, 48.0)]


def test_seeded_fronts_fit_before_contact_recover_the_speed():
    from gst_flows.analysis.growth import fit_before_contact, track_seeds

    speed, r0 = 0.7, 5.0  # m/s (the published speed at 600 K), Å
    times = np.arange(0.0, 2001.0, 100.0)  # ps
    atoms, seeds, masks = _growing_spheres(CENTRES, r0, speed, times)
    tracks = track_seeds([atoms] * len(times), masks, seeds)
    radii = equivalent_radius(tracks.sizes, number_density(atoms))
    # seeds 0 and 1 are 33.5 Å apart: their spheres can bond (3.0 Å nearest neighbours)
    # once 2 r ≥ 33.5 - 3.0, from 1,470 ps (later where no lattice sites line up); seed 2
    # touches seed 1 later
    contact = tracks.contact_frame()
    t_contact = ((33.54 - 3.0) / 2 - r0) / (speed / 100.0)
    assert times[contact[0]] == times[contact[1]]
    assert 0.0 <= times[contact[0]] - t_contact <= 200.0
    assert contact[2] == -1 or contact[2] > contact[0]
    # merged grains count once
    assert tracks.n_grains[0] == 3 and tracks.n_grains[-1] < 3
    assert tracks.n_grains[contact[0]] == 2
    for s in range(3):
        fit, end = fit_before_contact(times, radii[:, s], contact[s])
        assert contact[s] == -1 or end < times[contact[s]]  # only frames before contact
        assert fit.speed == pytest.approx(speed, rel=0.08)
        assert fit.r_squared > 0.99  # the radius is linear over the window
        # stable when the window changes: the first half of it gives the same speed
        half, _ = fit_before_contact(times, radii[:, s], contact[s], window=(0.0, end / 2))
        assert half.speed == pytest.approx(fit.speed, rel=0.1)
    # fitting through the contact (the merged grain counted as each seed's) is wrong
    naive = growth_speed(times, radii[:, 0])
    assert naive.speed > 1.2 * speed


def test_seeded_front_speed_does_not_depend_on_the_seeds():
    from gst_flows.analysis.growth import fit_before_contact, track_seeds

    speed, times = 0.7, np.arange(0.0, 1201.0, 100.0)
    found = []
    for centres in (CENTRES, [(10.0, 30.0, 30.0), (40.0, 10.0, 12.0), (42.0, 44.0, 20.0)]):
        atoms, seeds, masks = _growing_spheres(centres, 6.0, speed, times)
        tracks = track_seeds([atoms] * len(times), masks, seeds)
        radii = equivalent_radius(tracks.sizes, number_density(atoms))
        contact = tracks.contact_frame()
        found += [fit_before_contact(times, radii[:, s], contact[s])[0].speed for s in range(3)]
    assert np.ptp(found) < 0.1 * speed
