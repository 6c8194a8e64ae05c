"""The observables behind the scenario documents (gst_flows.analysis.device) on known cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from gst_flows.analysis.device import (
    barrier_crossings,
    binned_mean,
    central_mask,
    disordered_base_length,
    energy_change,
    mean_shift,
    onset_temperature,
    per_atom_virials,
    region_pressure,
    region_rdf,
    species_density_profiles,
)
from gst_flows.analysis.rdf import radial_distribution
from gst_flows.structures import build_mushroom, build_rocksalt

SCENARIO_GAP = Path(__file__).parents[1] / "fixtures" / "scenario_gap" / "gap.xml"


def test_disordered_base_length_of_a_known_stretch():
    atoms = build_mushroom(supercell=(10, 2, 3), focal_radius=5.0, fixed_layers=2)
    x, z = atoms.positions[:, 0], atoms.positions[:, 2]
    lx = atoms.cell.lengths()[0]
    kbar = np.ones(len(atoms))
    kbar[(np.abs(x - lx / 2) < 12.0) & (z < 8.0)] = 0.2  # 24 Å wide disordered patch
    base = disordered_base_length(atoms, kbar, 0.75, bin_size=3.0)
    assert base.length == pytest.approx(24.0, abs=3.1)
    assert base.start < lx / 2 < base.stop
    assert disordered_base_length(atoms, np.ones(len(atoms))).length == 0.0
    whole = disordered_base_length(atoms, np.zeros(len(atoms)))
    assert whole.length == pytest.approx(lx)


def test_onset_temperature():
    t = np.linspace(300, 1500, 61)
    order = 1.0 / (1.0 + np.exp((t - 900.0) / 20.0))
    assert onset_temperature(t, order, window=1) == pytest.approx(900.0, abs=5.0)
    assert onset_temperature(t, np.ones_like(t)) != onset_temperature(t, np.ones_like(t))  # NaN
    with pytest.raises(ValueError, match="equal length"):
        onset_temperature(t, order[:-1])


def test_profiles_and_region_rdf():
    atoms = build_rocksalt("Ge1Sb2Te4", (3, 3, 3), seed=1)
    atoms.rattle(0.05, seed=2)
    atoms.wrap()
    z, dens = species_density_profiles(atoms, "z", 3.0)
    total = sum(d.sum() for d in dens.values()) * atoms.cell.volume / len(z)
    assert total == pytest.approx(len(atoms))
    assert set(dens) == {"Ge", "Sb", "Te"}
    centres, mean = binned_mean(atoms, atoms.positions[:, 2], "z", 3.0)
    assert np.all(np.abs(mean - centres) < 3.0)
    mask = central_mask(atoms, "z", 0.4)
    assert 0.3 < mask.mean() < 0.6
    _, g, partial = region_rdf(atoms, np.ones(len(atoms), bool), 6.0, 0.05)
    bulk = radial_distribution(atoms, 6.0, 0.05)
    np.testing.assert_allclose(g, bulk.total, atol=1e-9)
    assert set(partial) == {"Ge-Ge", "Ge-Sb", "Ge-Te", "Sb-Sb", "Sb-Te", "Te-Te"}
    _, g_mid, _ = region_rdf(atoms, mask, 6.0, 0.05)
    assert np.argmax(g_mid) == np.argmax(g)  # same first peak from a slab of the crystal
    with pytest.raises(ValueError, match="no atom"):
        region_rdf(atoms, np.zeros(len(atoms), bool))


def test_non_periodic_profiles_clip():
    atoms = Atoms("Te2", positions=[[0, 0, -0.5], [0, 0, 10.5]], cell=[5, 5, 10], pbc=(True, True, False))
    _, dens = species_density_profiles(atoms, "z", 5.0)
    assert dens["Te"].tolist() == pytest.approx([1 / 125, 1 / 125])


def test_mean_shift_along_a_direction():
    atoms = build_rocksalt("Ge1Sb2Te4", (2, 2, 2), seed=0)
    moved = atoms.copy()
    moved.positions[:, 2] += 1.5
    moved.positions[:, 0] -= 4.0
    te = np.array(atoms.get_chemical_symbols()) == "Te"
    np.testing.assert_allclose(mean_shift([atoms, moved], te, (0, 0, 2)), [0.0, 1.5])
    np.testing.assert_allclose(mean_shift([atoms, moved], te, (1, 0, 0)), [0.0, -4.0])
    with pytest.raises(ValueError, match="no atom"):
        mean_shift([atoms], np.zeros(len(atoms), bool), (0, 0, 1))


def test_energy_change_takes_the_last_row_of_a_step():
    steps = np.array([0, 10, 20, 20, 30])
    etot = np.array([1.0, 1.5, 2.0, 2.25, 3.0])
    assert energy_change(steps, etot, 0, 20) == pytest.approx(1.25)
    assert energy_change(steps, etot, 20, 30) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="no row at step 25"):
        energy_change(steps, etot, 0, 25)


def test_region_pressure_of_every_atom_is_the_cell_pressure():
    from ase.calculators.lj import LennardJones
    from ase.units import GPa

    atoms = build_rocksalt("Ge1Sb2Te4", (2, 2, 2), seed=0)
    atoms.rattle(0.05, seed=1)
    atoms.set_velocities(np.random.default_rng(2).normal(0.0, 0.01, (len(atoms), 3)))
    atoms.calc = LennardJones(sigma=2.7, epsilon=0.05, rc=5.0, smooth=True)
    everything = np.ones(len(atoms), bool)
    virials = per_atom_virials(atoms)
    cell = -np.trace(atoms.get_stress(voigt=False, include_ideal_gas=True)) / 3 / GPa
    assert region_pressure(atoms, everything, virials) == pytest.approx(cell, rel=1e-9)
    # the two halves' pressures average to the whole
    half = np.arange(len(atoms)) < len(atoms) // 2
    mean = (region_pressure(atoms, half, virials) + region_pressure(atoms, ~half, virials)) / 2
    assert mean == pytest.approx(cell, rel=1e-9)
    # quippy divides its per-atom stresses by the volume per atom, not the cell's
    from quippy.potential import Potential

    atoms.calc = Potential(param_filename=str(SCENARIO_GAP))
    cell = -np.trace(atoms.get_stress(voigt=False, include_ideal_gas=True)) / 3 / GPa
    assert region_pressure(atoms, everything, per_atom_virials(atoms)) == pytest.approx(cell, rel=1e-9)
    with pytest.raises(ValueError, match="no atom"):
        region_pressure(atoms, ~everything, virials)


def test_barrier_crossings_counts_atoms_through_the_fixed_block():
    atoms = build_mushroom(supercell=(3, 2, 3), focal_radius=5.0, fixed_layers=2)
    fixed = atoms.arrays["fixed"]
    lz = atoms.cell.lengths()[2]
    low = atoms.positions[fixed, 2].min()
    moved = [atoms.copy() for _ in range(3)]
    top = np.flatnonzero(~fixed)[np.argmax(atoms.positions[~fixed, 2])]
    bottom = np.flatnonzero(~fixed)[np.argmin(atoms.positions[~fixed, 2])]
    moved[1].positions[top, 2] = low + 0.5  # into the barrier, not through it
    moved[1].positions[bottom, 2] = -1.0  # below the bottom, short of the barrier
    moved[2].positions[top, 2] = lz + 0.1  # up through the barrier
    moved[2].positions[bottom, 2] = low - lz - 0.5  # down through the boundary and barrier
    assert barrier_crossings([atoms, *moved], fixed).tolist() == [0, 0, 0, 2]
    slab = build_mushroom(supercell=(3, 2, 3), focal_radius=5.0, fixed_layers=2, periodic_z=False)
    out = slab.copy()
    out.positions[0, 2] = -0.5
    assert barrier_crossings([slab, out], slab.arrays["fixed"]).tolist() == [0, 1]
