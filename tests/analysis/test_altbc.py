import numpy as np
import pytest
from ase.spacegroup import crystal

from gst_flows.analysis import altbc


def rhombohedral_gete():
    # R3m GeTe (hexagonal setting): bonds of 2.84 and 3.16 Å.
    return crystal(
        ["Ge", "Te"],
        [(0, 0, 0), (0, 0, 0.475)],
        spacegroup=160,
        cellpar=[4.164, 4.164, 10.69, 90, 90, 120],
    ).repeat((3, 3, 1))


def peak(result):
    i, j = np.unravel_index(np.argmax(result.density), result.density.shape)
    return result.r[i], result.r[j]


def test_rocksalt_single_diagonal_peak(gete):
    result = altbc(gete, bin_width=0.02)
    assert result.n_triples == 3 * len(gete)
    r1, r2 = peak(result)
    assert r1 == pytest.approx(3.0, abs=0.02)
    assert r2 == pytest.approx(3.0, abs=0.02)
    nonzero = np.argwhere(result.density > 0)
    assert len(nonzero) == 1
    total = result.density.sum() * 0.02**2
    assert total == pytest.approx(2 * 3)  # each triple at (r1, r2) and (r2, r1)


def test_peierls_distortion_gives_two_off_diagonal_peaks():
    atoms = rhombohedral_gete()
    result = altbc(atoms, bin_width=0.02)
    assert result.n_triples == 3 * len(atoms)
    hot = np.argwhere(result.density > 0.5 * result.density.max())
    pairs = {(round(result.r[i], 2), round(result.r[j], 2)) for i, j in hot}
    assert len(pairs) == 2
    (a1, b1), (a2, b2) = sorted(pairs)
    assert a1 == pytest.approx(2.84, abs=0.02)
    assert b1 == pytest.approx(3.16, abs=0.02)
    assert (a2, b2) == (b1, a1)
    assert np.trace(result.density) == 0.0


def test_centre_species_and_errors(gete):
    only_ge = altbc(gete, centre_species=["Ge"])
    assert only_ge.n_centres == len(gete) // 2
    assert only_ge.n_triples == 3 * len(gete) // 2
    with pytest.raises(ValueError, match="r_min"):
        altbc(gete, r_min=4.0, r_max=3.0)
    with pytest.raises(ValueError, match="unknown"):
        altbc(gete, centre_species=["Qq"])
