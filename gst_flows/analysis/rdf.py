"""Radial distribution functions, total and partial."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from gst_flows.analysis.common import as_frames, plane_spacings
from gst_flows.analysis.neighbours import _search, pair_key, spatial_order, species_pairs


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


def rdf_bins(r_max: float, bin_width: float) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Distance bins of g(r) from 0 to at least ``r_max``.

    Parameters
    ----------
    r_max
        Largest distance in Å (rounded up to whole bins).
    bin_width
        Bin width in Å.

    Returns
    -------
    nbins
        Number of bins.
    edges, centres
        Bin edges and centres in Å.
    shell
        Volume of each spherical shell in Å³.
    """
    nbins = int(np.ceil(r_max / bin_width - 1e-9))
    edges = np.arange(nbins + 1) * bin_width
    centres = 0.5 * (edges[1:] + edges[:-1])
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    return nbins, edges, centres, shell


def radial_distribution(
    atoms: Atoms | Sequence[Atoms],
    r_max: float = 8.0,
    bin_width: float = 0.02,
    *,
    partial: bool = True,
    workers: int | None = None,
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
    workers
        Processes sharing the pair search: the cell is cut into slabs along its longest
        direction, each searched with a halo of ``r_max`` (same counts as one search). None
        uses two on cells of more than 100,000 atoms (when the machine has two cores), else
        one. Cells at most ``4 r_max`` thick along that direction are not split, and slabs
        are at least ``2 r_max`` thick.

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
    frames = as_frames(atoms)
    nbins, edges, r, shell = rdf_bins(r_max, bin_width)
    total = np.zeros(nbins)
    partials: dict[str, np.ndarray] = {}
    cutoff = float(edges[-1])
    for frame in frames:
        if frame.cell.rank < 3:
            raise ValueError("the RDF needs a cell with three lattice vectors (its volume)")
        volume = frame.cell.volume
        n = len(frame)
        order = spatial_order(frame, r_max)
        sorted_frame = frame[order]
        zs, types = np.unique(sorted_frame.numbers, return_inverse=True)
        ns = len(zs)
        split = partial and ns > 1
        pair_counts = _pair_counts(
            sorted_frame,
            types.astype(np.int32),
            ns if split else 1,
            cutoff,
            bin_width,
            nbins,
            _workers(workers, sorted_frame, cutoff),
        )
        counts = pair_counts.sum(axis=(0, 1)).astype(float)
        total += counts * volume / (n * n * shell)
        if not partial:
            continue
        if not split:
            key = pair_key(chemical_symbols[zs[0]], chemical_symbols[zs[0]])
            partials[key] = partials.get(key, 0.0) + counts * volume / (n * n * shell)
            continue
        n_species = np.bincount(types, minlength=ns).astype(float)
        for a, b, key in species_pairs(zs):
            g = pair_counts[a, b] * volume / (n_species[a] * n_species[b] * shell)
            partials[key] = partials.get(key, 0.0) + g
    scale = 1.0 / len(frames)
    return RDF(r, total * scale, {k: v * scale for k, v in partials.items()})


#: Cells with more atoms than this share the RDF pair search between processes by default.
PARALLEL_ATOMS = 100_000


def _workers(requested: int | None, atoms: Atoms, cutoff: float) -> int:
    if requested is not None:
        if requested < 1:
            raise ValueError(f"workers must be at least 1, got {requested}")
        wanted = requested
    else:
        wanted = min(2, os.cpu_count() or 1) if len(atoms) > PARALLEL_ATOMS else 1
    if wanted == 1:
        return 1
    spacing = plane_spacings(atoms.cell).max()
    # No atom may be in both halos of a slab (slab + 2 halos < cell), and a slab should be at
    # least as thick as its two halos, or the halos cost more than the split saves.
    if spacing <= 4 * cutoff:
        return 1
    return max(1, min(wanted, int(spacing // (2 * cutoff))))


def _histogram(
    atoms: Atoms,
    types: np.ndarray,
    ns: int,
    cutoff: float,
    bin_width: float,
    nbins: int,
    n_core: int | None = None,
) -> np.ndarray:
    """Pair counts (species a, species b, bin) of the first ``n_core`` atoms (all if None)."""
    quantities = ("ijd" if ns > 1 else "id") if n_core is not None else ("ijd" if ns > 1 else "d")
    found = dict(zip(quantities, _search(quantities, atoms, cutoff), strict=True))
    d = found.pop("d")
    if n_core is not None:
        # matscipy returns pairs sorted by i: the core atoms' pairs come first
        cut = int(np.searchsorted(found["i"], n_core))
        d = d[:cut]
        found = {k: v[:cut] for k, v in found.items()}
    # int32 throughout: these arrays hold tens of millions of pairs.
    bins = np.multiply(d, 1.0 / bin_width).astype(np.int32)
    del d
    np.minimum(bins, nbins - 1, out=bins)
    if ns == 1:
        return np.bincount(bins, minlength=nbins).reshape(1, 1, nbins)
    code = types[found.pop("i")]
    code *= ns
    code += types[found.pop("j")]
    code *= nbins
    code += bins
    del bins
    return np.bincount(code, minlength=ns * ns * nbins).reshape(ns, ns, nbins)


def _pair_counts(
    atoms: Atoms, types: np.ndarray, ns: int, cutoff: float, bin_width: float, nbins: int, workers: int
) -> np.ndarray:
    """Ordered pair counts per (species, species, bin), split over ``workers`` processes."""
    if ns == 1:
        types = np.zeros(len(atoms), dtype=np.int32)
    if workers == 1:
        return _histogram(atoms, types, ns, cutoff, bin_width, nbins)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    tasks = _slabs(atoms, types, cutoff, workers)
    with ProcessPoolExecutor(len(tasks), mp_context=mp.get_context("fork")) as pool:
        parts = pool.map(_slab_histogram, [(*t, ns, cutoff, bin_width, nbins) for t in tasks])
        return sum(parts)


def _slabs(atoms: Atoms, types: np.ndarray, cutoff: float, n: int) -> list[tuple]:
    """Cut a periodic cell into ``n`` slabs, each with a halo of ``cutoff`` on both sides.

    Along the cut direction the slab is open (not periodic): the halo holds the images that
    periodicity would have supplied, so each core atom sees every neighbour within ``cutoff``.
    """
    cell = np.asarray(atoms.cell)
    spacings = plane_spacings(cell)
    axis = int(np.argmax(spacings))
    halo = cutoff / spacings[axis]
    frac = atoms.cell.scaled_positions(atoms.positions) % 1.0
    s = frac[:, axis]
    tasks = []
    for k in range(n):
        lo, hi = k / n, (k + 1) / n
        core = (s >= lo) & (s < hi)
        below = ~core & ((lo - s) % 1.0 <= halo)
        above = ~core & ((s - hi) % 1.0 < halo)
        # core atoms first, so their pairs lead matscipy's list (sorted by i)
        pick = np.concatenate([np.flatnonzero(core), np.flatnonzero(below | above)])
        t = s[pick].copy()
        t[below[pick]] = lo - (lo - s[pick][below[pick]]) % 1.0
        t[above[pick]] = hi + (s[pick][above[pick]] - hi) % 1.0
        f = frac[pick].copy()
        f[:, axis] = t - (lo - halo)
        slab_cell = cell.copy()
        slab_cell[axis] *= (hi - lo) + 2 * halo
        f[:, axis] /= (hi - lo) + 2 * halo
        positions = f @ slab_cell
        pbc = np.ones(3, dtype=bool)
        pbc[axis] = False
        tasks.append((atoms.numbers[pick], positions, slab_cell, pbc, types[pick], int(core.sum())))
    return tasks


def _slab_histogram(task: tuple) -> np.ndarray:
    numbers, positions, cell, pbc, types, n_core, ns, cutoff, bin_width, nbins = task
    slab = Atoms(numbers=numbers, positions=positions, cell=cell, pbc=pbc)
    return _histogram(slab, types, ns, cutoff, bin_width, nbins, n_core)
