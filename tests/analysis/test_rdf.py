import numpy as np
import pytest
from analysis_structures import A_ROCKSALT, random_gas, rocksalt_gete
from ase import Atoms
from scipy.signal import find_peaks

from gst_flows.analysis import radial_distribution


def peak_positions(r, g, height=0.5):
    idx, _ = find_peaks(g, height=height)
    return r[idx]


def test_rocksalt_peaks_at_shell_distances(gete):
    a = A_ROCKSALT
    res = radial_distribution(gete, r_max=7.0, bin_width=0.01)
    expected = [a / 2, a / np.sqrt(2), a * np.sqrt(3) / 2, a, a * np.sqrt(5) / 2]
    found = peak_positions(res.r, res.total)
    assert len(found) == len(expected)
    assert np.allclose(found, expected, atol=0.01)
    # Unlike pairs sit on odd shells, like pairs on even shells.
    assert np.allclose(peak_positions(res.r, res.partial["Ge-Te"]), expected[0::2], atol=0.01)
    assert np.allclose(peak_positions(res.r, res.partial["Ge-Ge"]), expected[1::2], atol=0.01)
    assert np.allclose(res.partial["Ge-Ge"], res.partial["Te-Te"])


def test_first_shell_integrates_to_six(gete):
    res = radial_distribution(gete, r_max=3.6, bin_width=0.01)
    dr = res.r[1] - res.r[0]
    rho_te = 0.5 * len(gete) / gete.cell.volume
    n_te = np.sum(rho_te * res.partial["Ge-Te"] * 4 * np.pi * res.r**2 * dr)
    assert n_te == pytest.approx(6.0, rel=1e-6)


def test_total_is_weighted_sum_of_partials():
    atoms = random_gas(600, 0.03, seed=3)
    res = radial_distribution(atoms, r_max=6.0, bin_width=0.1)
    counts = {s: atoms.get_chemical_symbols().count(s) / len(atoms) for s in ("Ge", "Sb", "Te")}
    total = np.zeros_like(res.total)
    for key, g in res.partial.items():
        a, b = key.split("-")
        total += counts[a] * counts[b] * g * (1 if a == b else 2)
    assert np.allclose(total, res.total)


def test_ideal_gas_tends_to_one_in_a_small_triclinic_cell():
    # r_max larger than half the cell: periodic images must be counted correctly.
    cell = np.array([[10.0, 0, 0], [3.0, 9.0, 0], [1.0, 2.0, 11.0]])
    frames = [random_gas(40, 0.0, seed=s, cell=cell) for s in range(60)]
    res = radial_distribution(frames, r_max=9.0, bin_width=0.25)
    window = (res.r > 2.0) & (res.r < 9.0)
    # N(N - 1) ordered pairs among N uncorrelated atoms: g = (N - 1) / N.
    expected = 39 / 40
    assert np.mean(res.total[window]) == pytest.approx(expected, abs=0.01)
    assert np.abs(res.total[window] - expected).max() < 0.15


def test_rdf_needs_a_cell():
    atoms = Atoms("Ge2", positions=[[0, 0, 0], [0, 0, 2.5]])
    with pytest.raises(ValueError, match="cell"):
        radial_distribution(atoms)


def test_rdf_bad_grid(gete):
    with pytest.raises(ValueError, match="positive"):
        radial_distribution(gete, r_max=-1.0)


def test_rdf_spatial_sort_path_matches_small_path(monkeypatch):
    import gst_flows.analysis.neighbours as nb

    atoms = rocksalt_gete(2)
    atoms.positions += np.random.default_rng(0).normal(0, 0.1, atoms.positions.shape)
    plain = radial_distribution(atoms, r_max=5.0, bin_width=0.05)
    monkeypatch.setattr(nb, "_SORT_THRESHOLD", 0)
    shuffled = atoms[np.random.default_rng(1).permutation(len(atoms))]
    again = radial_distribution(shuffled, r_max=5.0, bin_width=0.05)
    assert np.allclose(plain.total, again.total)
    for key in plain.partial:
        assert np.allclose(plain.partial[key], again.partial[key])


def test_first_peak_is_the_nearest_neighbour_shell(gete):
    from gst_flows.analysis.run import first_peak

    rdf = radial_distribution(gete, 6.0, 0.02)
    assert first_peak(rdf.r, rdf.total) == pytest.approx(3.0, abs=0.02)
    # strongly rattled small cells: noise below the first shell crosses g = 1 but is no peak
    frames = []
    for k in range(3):
        atoms = gete.copy()
        atoms.positions += np.random.default_rng(k).normal(0, 0.05 + 0.3 * k, atoms.positions.shape)
        frames.append(atoms)
    rdf = radial_distribution(frames, 6.0, 0.02)
    assert first_peak(rdf.r, rdf.total) == pytest.approx(3.0, abs=0.1)


@pytest.mark.parametrize("partial", [True, False])
def test_parallel_slabs_count_every_pair_once(partial):
    # a triclinic, elongated random cell: the slabs cut along its longest direction
    rng = np.random.default_rng(3)
    from gst_flows.analysis.rdf import _workers

    cell = np.array([[14.0, 0.0, 0.0], [3.0, 13.0, 0.0], [2.0, 1.5, 60.0]])
    n = 1200
    atoms = Atoms(
        rng.choice(["Ge", "Sb", "Te"], n).tolist(), scaled_positions=rng.random((n, 3)), cell=cell, pbc=True
    )
    assert _workers(3, atoms, 6.0) == 3
    serial = radial_distribution(atoms, 6.0, 0.05, partial=partial, workers=1)
    split = radial_distribution(atoms, 6.0, 0.05, partial=partial, workers=3)
    assert np.array_equal(serial.total, split.total)
    for key in serial.partial:
        assert np.array_equal(serial.partial[key], split.partial[key])
    # slabs must be thicker than their halos: fewer (or one) when the cutoff is long
    assert _workers(3, atoms, 12.0) == 2 and _workers(2, atoms, 25.0) == 1
    with pytest.raises(ValueError, match="workers"):
        radial_distribution(atoms, 6.0, workers=0)
