"""Radial distribution functions, total and partial."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from gst_flows.analysis.neighbours import _search, pair_key, spatial_order


class RDF(NamedTuple):
    """Radial distribution functions on a common grid.

    Attributes
    ----------
    r
        Bin centres in Å.
    total
        Total g(r), dimensionless (tends to 1 at large r).
    partial
        Partial g_ab(r) keyed by ``"A-B"`` (Faber–Ziman normalisation, so that
        ``total == sum_ab c_a c_b g_ab`` over ordered pairs).
    """

    r: np.ndarray
    total: np.ndarray
    partial: dict[str, np.ndarray]


def _as_frames(atoms: Atoms | Sequence[Atoms]) -> list[Atoms]:
    frames = [atoms] if isinstance(atoms, Atoms) else list(atoms)
    if not frames:
        raise ValueError("no frames given")
    return frames


def radial_distribution(
    atoms: Atoms | Sequence[Atoms],
    r_max: float = 8.0,
    bin_width: float = 0.02,
    *,
    partial: bool = True,
) -> RDF:
    """Total and partial radial distribution functions of periodic structures.

    g_ab(r) = V n_ab(r) / (N_a N_b 4π r² dr), with n_ab the number of ordered
    pairs (i of species a, j of species b, i ≠ j) in the shell; all periodic
    images within ``r_max`` count, so ``r_max`` may exceed half the cell.

    Parameters
    ----------
    atoms
        One structure or a sequence of frames (the result is the frame average).
        Each needs a cell with three lattice vectors, whose volume normalises g.
    r_max
        Largest distance in Å.
    bin_width
        Histogram bin width in Å.
    partial
        Also compute the partial g_ab(r) for every pair of species present.

    Returns
    -------
    RDF
        Bin centres (Å), total g(r), and partials keyed by ``"A-B"``.

    Raises
    ------
    ValueError
        If a frame has no 3D cell or ``r_max``/``bin_width`` are not positive.
    """
    if not (r_max > 0 and bin_width > 0):
        raise ValueError("r_max and bin_width must be positive (Å)")
    frames = _as_frames(atoms)
    nbins = int(np.ceil(r_max / bin_width - 1e-9))
    edges = np.arange(nbins + 1) * bin_width
    r = 0.5 * (edges[1:] + edges[:-1])
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    total = np.zeros(nbins)
    partials: dict[str, np.ndarray] = {}
    for frame in frames:
        if frame.cell.rank < 3:
            raise ValueError("the RDF needs a cell with three lattice vectors (its volume)")
        volume = frame.cell.volume
        n = len(frame)
        order = spatial_order(frame, r_max)
        sorted_frame = frame[order]
        numbers = sorted_frame.numbers
        zs, types = np.unique(numbers, return_inverse=True)
        ns = len(zs)
        cutoff = float(edges[-1])
        split = partial and ns > 1
        if split:
            i, j, d = _search("ijd", sorted_frame, cutoff)
            small = types.astype(np.int32)
            code = small[i]
            del i
            code *= ns
            code += small[j]
            del j
            # int32 throughout: these arrays hold tens of millions of pairs.
            bins = np.multiply(d, 1.0 / bin_width).astype(np.int32)
            del d
            np.minimum(bins, nbins - 1, out=bins)
            code *= nbins
            code += bins
            del bins
            pair_counts = np.bincount(code, minlength=ns * ns * nbins).reshape(ns, ns, nbins)
            del code
            counts = pair_counts.sum(axis=(0, 1)).astype(float)
        else:
            (d,) = _search("d", sorted_frame, cutoff)
            counts = np.histogram(d, bins=nbins, range=(0.0, cutoff))[0].astype(float)
            del d
        total += counts * volume / (n * n * shell)
        if not partial:
            continue
        if not split:
            key = pair_key(chemical_symbols[zs[0]], chemical_symbols[zs[0]])
            partials[key] = partials.get(key, 0.0) + counts * volume / (n * n * shell)
            continue
        n_species = np.bincount(types, minlength=ns).astype(float)
        for a in range(ns):
            for b in range(a, ns):
                key = pair_key(chemical_symbols[zs[a]], chemical_symbols[zs[b]])
                g = pair_counts[a, b] * volume / (n_species[a] * n_species[b] * shell)
                partials[key] = partials.get(key, 0.0) + g
    scale = 1.0 / len(frames)
    return RDF(r, total * scale, {k: v * scale for k, v in partials.items()})
