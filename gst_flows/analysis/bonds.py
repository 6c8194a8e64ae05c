"""Bond-network analyses: coordination numbers, homopolar bonds, bond angles, mass density."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from ase.units import _amu

from gst_flows.analysis.common import as_frames
from gst_flows.analysis.neighbours import CutoffSpec, neighbour_pairs, pair_key, species_pairs

#: Pairs counted as "wrong" (cation–cation) bonds besides homopolar ones in GST.
GST_WRONG_PAIRS: tuple[str, ...] = ("Ge-Sb",)


def _species_bond_matrix(atoms: Atoms, cutoffs: CutoffSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Species present, species index of every atom, and bond ends per ordered species pair.

    Returns the sorted atomic numbers ``zs``, the index into ``zs`` of every
    atom, and ``counts[a, b]``: bonds from an atom of species a to one of b
    (each bond appears in both orders).
    """
    i, j = neighbour_pairs(atoms, cutoffs, "ij")
    zs, types = np.unique(atoms.numbers, return_inverse=True)
    ns = len(zs)
    counts = np.bincount(types[i] * ns + types[j], minlength=ns * ns).reshape(ns, ns)
    return zs, types, counts


def _cell_volume(atoms: Atoms) -> float:
    if atoms.cell.rank < 3:
        raise ValueError("the density needs a cell with three lattice vectors")
    return atoms.cell.volume


def coordination_numbers(atoms: Atoms, cutoffs: CutoffSpec = None) -> np.ndarray:
    """Number of bonded neighbours of every atom.

    Parameters
    ----------
    atoms
        Structure.
    cutoffs
        Bond cutoffs in Å: one radius, a table keyed by ``"A-B"``, or ``None``
        for :data:`~gst_flows.analysis.neighbours.GST_BOND_CUTOFFS`.

    Returns
    -------
    numpy.ndarray
        Integer array of shape ``(len(atoms),)``.

    Raises
    ------
    ValueError
        If a species pair in ``atoms`` is missing from the cutoff table.
    """
    (i,) = neighbour_pairs(atoms, cutoffs, "i")
    return np.bincount(i, minlength=len(atoms))


def partial_coordination(atoms: Atoms, cutoffs: CutoffSpec = None) -> dict[str, float]:
    """Mean number of neighbours of species B around an atom of species A.

    Parameters
    ----------
    atoms
        Structure.
    cutoffs
        Bond cutoffs in Å (see :func:`coordination_numbers`).

    Returns
    -------
    dict
        ``{"A-B": n}`` for every ordered pair of species present: the key
        ``"Ge-Te"`` is the mean number of Te neighbours of a Ge atom, ``"Te-Ge"``
        the mean number of Ge neighbours of a Te atom. ``"A"`` alone is the
        mean total coordination of species A.
    """
    zs, types, counts = _species_bond_matrix(atoms, cutoffs)
    ns = len(zs)
    n_species = np.bincount(types, minlength=ns)
    out: dict[str, float] = {}
    for a in range(ns):
        sa = chemical_symbols[zs[a]]
        out[sa] = float(counts[a].sum() / n_species[a])
        for b in range(ns):
            out[f"{sa}-{chemical_symbols[zs[b]]}"] = float(counts[a, b] / n_species[a])
    return out


def bond_counts(atoms: Atoms, cutoffs: CutoffSpec = None) -> dict[str, int]:
    """Number of bonds per unordered species pair.

    Parameters
    ----------
    atoms
        Structure.
    cutoffs
        Bond cutoffs in Å (see :func:`coordination_numbers`).

    Returns
    -------
    dict
        ``{"A-B": count}`` over every pair of species present (zero counts
        included); each bond is counted once.
    """
    zs, _, ordered = _species_bond_matrix(atoms, cutoffs)
    out: dict[str, int] = {}
    for a, b, key in species_pairs(zs):
        # Each bond appears twice in the full list (i→j and j→i).
        n = ordered[a, b] + ordered[b, a] if a != b else ordered[a, a]
        out[key] = int(n // 2)
    return out


def homopolar_bond_fraction(
    atoms: Atoms,
    cutoffs: CutoffSpec = None,
    wrong_pairs: Sequence[str] = GST_WRONG_PAIRS,
) -> dict[str, float]:
    """Fractions of homopolar and "wrong" bonds among all bonds.

    Parameters
    ----------
    atoms
        Structure.
    cutoffs
        Bond cutoffs in Å (see :func:`coordination_numbers`).
    wrong_pairs
        Heteropolar pairs that also count as wrong bonds (``"Ge-Sb"`` in GST,
        where every good bond joins a cation to Te).

    Returns
    -------
    dict
        ``"A-A"`` for each species present and each entry of ``wrong_pairs``:
        that pair's bonds divided by all bonds; ``"homopolar"``: all A–A bonds;
        ``"wrong"``: homopolar plus ``wrong_pairs``; ``"n_bonds"``: the number
        of bonds. Fractions are 0 when there are no bonds.
    """
    counts = bond_counts(atoms, cutoffs)
    n_bonds = sum(counts.values())
    norm = 1.0 / n_bonds if n_bonds else 0.0
    out: dict[str, float] = {}
    homopolar = 0
    for key, n in counts.items():
        a, b = key.split("-")
        if a == b:
            out[key] = n * norm
            homopolar += n
    wrong = homopolar
    for pair in wrong_pairs:
        a, b = pair.split("-")
        key = pair_key(a, b)
        n = counts.get(key, 0)
        out[key] = n * norm
        wrong += n
    out["homopolar"] = homopolar * norm
    out["wrong"] = wrong * norm
    out["n_bonds"] = float(n_bonds)
    return out


class AngleDistribution(NamedTuple):
    """Bond-angle distribution.

    Attributes
    ----------
    theta
        Bin centres in degrees.
    total
        Probability density over all bond angles (1/degree, integrates to 1).
    by_centre
        Probability density of the angles centred on each species, keyed by symbol.
    """

    theta: np.ndarray
    total: np.ndarray
    by_centre: dict[str, np.ndarray]


def bond_triplets(
    atoms: Atoms, cutoffs: CutoffSpec = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All bond pairs sharing a central atom, each unordered pair once.

    Parameters
    ----------
    atoms
        Structure.
    cutoffs
        Bond cutoffs in Å (see :func:`coordination_numbers`).

    Returns
    -------
    centre, j, k
        Indices of the central atom and of its two neighbours.
    r_ij, r_ik
        Bond vectors from the centre to each neighbour in Å, shape ``(n, 3)``.
    """
    from matscipy.neighbours import first_neighbours, triplet_list

    i, j, vectors = neighbour_pairs(atoms, cutoffs, "ijD")
    first = first_neighbours(len(atoms), i)
    ij_t, ik_t = triplet_list(first)[:2]
    keep = ij_t < ik_t
    ij_t, ik_t = ij_t[keep], ik_t[keep]
    return i[ij_t], j[ij_t], j[ik_t], vectors[ij_t], vectors[ik_t]


def bond_angles(atoms: Atoms, cutoffs: CutoffSpec = None) -> tuple[np.ndarray, np.ndarray]:
    """Every bond angle j–i–k in degrees with its central atom.

    Parameters
    ----------
    atoms
        Structure.
    cutoffs
        Bond cutoffs in Å (see :func:`coordination_numbers`).

    Returns
    -------
    angles
        Angles in degrees, each unordered neighbour pair once.
    centre
        Index of the central atom of each angle.
    """
    centre, _, _, a, b = bond_triplets(atoms, cutoffs)
    cos = np.einsum("ij,ij->i", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))), centre


def bond_angle_distribution(
    atoms: Atoms | Sequence[Atoms],
    cutoffs: CutoffSpec = None,
    bin_width: float = 1.0,
) -> AngleDistribution:
    """Bond-angle distribution, total and per central species.

    Parameters
    ----------
    atoms
        One structure or a sequence of frames (angles of all frames pooled).
    cutoffs
        Bond cutoffs in Å (see :func:`coordination_numbers`).
    bin_width
        Histogram bin width in degrees.

    Returns
    -------
    AngleDistribution
        Bin centres (degrees) and normalised densities (1/degree).
    """
    if not 0 < bin_width <= 180:
        raise ValueError("bin_width must be in (0, 180] degrees")
    nbins = int(np.ceil(180.0 / bin_width - 1e-9))
    edges = np.linspace(0.0, nbins * bin_width, nbins + 1)
    total = np.zeros(nbins)
    per: dict[str, np.ndarray] = {}
    for frame in as_frames(atoms):
        angles, centre = bond_angles(frame, cutoffs)
        total += np.histogram(angles, edges)[0]
        numbers = frame.numbers[centre]
        for z in np.unique(frame.numbers):
            key = chemical_symbols[z]
            per[key] = per.get(key, 0.0) + np.histogram(angles[numbers == z], edges)[0]

    def density(h: np.ndarray) -> np.ndarray:
        s = h.sum()
        return h / (s * bin_width) if s else np.zeros(nbins)

    theta = 0.5 * (edges[1:] + edges[:-1])
    return AngleDistribution(theta, density(total), {k: density(v) for k, v in per.items()})


def number_density(atoms: Atoms) -> float:
    """Number of atoms per Å³ of cell volume."""
    return len(atoms) / _cell_volume(atoms)


def mass_density(atoms: Atoms) -> float:
    """Mass density in g/cm³ from the atomic masses and the cell volume.

    Parameters
    ----------
    atoms
        Structure with a 3D cell.

    Returns
    -------
    float
        Density in g/cm³.
    """
    volume = _cell_volume(atoms)
    grams = atoms.get_masses().sum() * _amu * 1e3
    return float(grams / (volume * 1e-24))
