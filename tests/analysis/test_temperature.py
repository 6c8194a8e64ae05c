import numpy as np
import pytest
from analysis_structures import random_gas
from ase.constraints import FixAtoms
from ase.units import kB

from gst_flows.analysis import kinetic_temperature, temperature_map, temperature_profile


def maxwell_boltzmann(atoms, temperature, seed=0):
    rng = np.random.default_rng(seed)
    m = atoms.get_masses()[:, None]
    atoms.set_momenta(rng.normal(0.0, 1.0, (len(atoms), 3)) * np.sqrt(m * kB * temperature))
    return atoms


@pytest.fixture
def hot_box():
    atoms = random_gas(60_000, 0.033, seed=1, cell=np.diag([120.0, 40.0, 380.0]))
    return maxwell_boltzmann(atoms, 600.0)


def test_uniform_maxwell_boltzmann_gives_flat_map(hot_box):
    tmap = temperature_map(hot_box, "xz", bin_size=5.0, sigma=10.0)
    assert tmap.temperature.shape == (24, 76)
    assert np.nanmean(tmap.temperature) == pytest.approx(600.0, rel=0.01)
    assert np.nanstd(tmap.temperature) / 600.0 < 0.03
    assert tmap.counts.sum() == len(hot_box)
    prof = temperature_profile(hot_box, "z", bin_size=5.0)
    assert np.allclose(prof.temperature, 600.0, rtol=0.05)
    assert kinetic_temperature(hot_box) == pytest.approx(600.0, rel=0.01)


def test_bin_momentum_is_removed(hot_box):
    drift = hot_box.copy()
    drift.set_momenta(drift.get_momenta() + drift.get_masses()[:, None] * [0.05, 0.0, 0.0])
    kept = temperature_map(drift, "xz", sigma=10.0)
    raw = temperature_map(drift, "xz", sigma=10.0, remove_bin_momentum=False)
    assert np.nanmean(kept.temperature) == pytest.approx(600.0, rel=0.01)
    assert np.nanmean(raw.temperature) > 700.0


def test_fixed_atoms_are_excluded(hot_box):
    atoms = hot_box.copy()
    bottom = np.flatnonzero(atoms.positions[:, 2] < 20.0)
    atoms.set_momenta(atoms.get_momenta())
    p = atoms.get_momenta()
    p[bottom] *= 10.0
    atoms.set_momenta(p)
    atoms.set_constraint(FixAtoms(indices=bottom))
    prof = temperature_profile(atoms, "z", bin_size=5.0, sigma=0.0)
    assert np.nanmax(prof.temperature) < 700.0
    loud = temperature_profile(atoms, "z", bin_size=5.0, sigma=0.0, exclude=None)
    assert np.nanmax(loud.temperature) > 10_000.0
    assert np.isnan(prof.temperature[:4]).all()


def test_hot_slab_shows_in_profile():
    atoms = random_gas(20_000, 0.033, seed=2, cell=np.diag([40.0, 40.0, 380.0]))
    maxwell_boltzmann(atoms, 300.0)
    hot = (atoms.positions[:, 2] > 170) & (atoms.positions[:, 2] < 210)
    p = atoms.get_momenta()
    p[hot] *= np.sqrt(4.0)
    atoms.set_momenta(p)
    prof = temperature_profile(atoms, "z", bin_size=5.0, sigma=0.0)
    z = prof.centres[0]
    assert np.mean(prof.temperature[(z > 175) & (z < 205)]) == pytest.approx(1200, rel=0.05)
    assert np.mean(prof.temperature[z < 150]) == pytest.approx(300, rel=0.05)


def test_frames_without_velocities_raise():
    atoms = random_gas(100, 0.03)
    with pytest.raises(ValueError, match="no velocities"):
        temperature_map(atoms)
    with pytest.raises(ValueError, match="no velocities"):
        kinetic_temperature(atoms)


def test_bad_axes():
    atoms = maxwell_boltzmann(random_gas(100, 0.03), 300)
    with pytest.raises(ValueError, match="unknown axis"):
        temperature_map(atoms, "xw")
    with pytest.raises(ValueError, match="two axes"):
        temperature_map(atoms, "xyz")
