"""Angular-limited three-body correlation (ALTBC) for the Peierls distortion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from ase import Atoms

from gst_flows.analysis.bonds import bond_triplets
from gst_flows.analysis.neighbours import species_mask

#: Default minimum bond angle (degrees) of a near-linear triple.
DEFAULT_MIN_ANGLE = 155.0


class ALTBC(NamedTuple):
    """ALTBC histogram.

    Attributes
    ----------
    r
        Bin centres in Å (the same grid on both axes).
    density
        Near-linear triples per central atom per Å², symmetric ``(n, n)``
        array indexed by the two bond lengths; each triple is counted at
        (r₁, r₂) and at (r₂, r₁), so the array integrates to twice the triples
        per central atom.
    n_triples
        Number of near-linear triples counted (each unordered triple once).
    n_centres
        Number of central atoms considered.
    """

    r: np.ndarray
    density: np.ndarray
    n_triples: int
    n_centres: int


def altbc(
    atoms: Atoms | Sequence[Atoms],
    r_min: float = 2.4,
    r_max: float = 4.0,
    bin_width: float = 0.02,
    min_angle: float = DEFAULT_MIN_ANGLE,
    *,
    centre_species: Sequence[str] | None = None,
) -> ALTBC:
    """Angular-limited three-body correlation.

    Histogram of the two bond lengths (r₁, r₂) of every triple j–i–k whose
    angle exceeds ``min_angle``; in an undistorted octahedral crystal it peaks
    on the diagonal r₁ = r₂, a Peierls distortion (short and long bonds
    opposite each other) splits it into two off-diagonal peaks.

    Parameters
    ----------
    atoms
        One structure or a sequence of frames (pooled).
    r_min, r_max
        Bond-length range of the histogram in Å; ``r_max`` is also the
        neighbour cutoff.
    bin_width
        Bin width in Å.
    min_angle
        Smallest angle j–i–k in degrees for a near-linear triple.
    centre_species
        Only count triples centred on these species (default: all atoms).

    Returns
    -------
    ALTBC
        Symmetric histogram normalised per central atom and per Å².
    """
    if not 0 < r_min < r_max:
        raise ValueError("need 0 < r_min < r_max (Å)")
    if not 0 <= min_angle <= 180:
        raise ValueError("min_angle must lie in [0, 180] degrees")
    frames = [atoms] if isinstance(atoms, Atoms) else list(atoms)
    nbins = int(np.ceil((r_max - r_min) / bin_width - 1e-9))
    edges = r_min + np.arange(nbins + 1) * bin_width
    hist = np.zeros((nbins, nbins))
    n_triples = 0
    n_centres = 0
    cos_max = np.cos(np.radians(min_angle))
    for frame in frames:
        if centre_species is None:
            allowed = np.ones(len(frame), dtype=bool)
        else:
            allowed = species_mask(frame.numbers, centre_species, "centre")
        n_centres += int(allowed.sum())
        centre, _, _, a, b = bond_triplets(frame, float(edges[-1]))
        da = np.linalg.norm(a, axis=1)
        db = np.linalg.norm(b, axis=1)
        cos = np.einsum("ij,ij->i", a, b) / (da * db)
        keep = (cos <= cos_max) & allowed[centre]
        da, db = da[keep], db[keep]
        n_triples += int(keep.sum())
        h, _, _ = np.histogram2d(da, db, bins=(edges, edges))
        hist += h + h.T
    density = hist / (max(n_centres, 1) * bin_width**2)
    return ALTBC(0.5 * (edges[1:] + edges[:-1]), density, n_triples, n_centres)
