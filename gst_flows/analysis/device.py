"""Observables of the device scenarios.

Disordered base length, profiles along an axis, onset of disorder on heating, and the RDF
of a sub-region.

Pure functions on :class:`ase.Atoms` and numpy arrays, like the rest of
:mod:`gst_flows.analysis`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from gst_flows.analysis.common import axis_index, mean_per_bin
from gst_flows.analysis.crystallinity import DEFAULT_THRESHOLD
from gst_flows.analysis.neighbours import neighbour_pairs, pair_key
from gst_flows.analysis.rdf import rdf_bins

__all__ = [
    "BaseLength",
    "barrier_crossings",
    "binned_mean",
    "central_mask",
    "disordered_base_length",
    "energy_change",
    "mean_shift",
    "onset_temperature",
    "per_atom_virials",
    "region_pressure",
    "region_rdf",
    "species_density_profiles",
]


def _slab_index(atoms: Atoms, axis: str, bin_size: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Slab index of every atom along a lattice direction, the slab edges (Å) and the count."""
    if atoms.cell.rank < 3:
        raise ValueError("profiles bin along the cell: the structure needs a 3D cell")
    if not bin_size > 0:
        raise ValueError("bin_size must be positive (Å)")
    d = axis_index(axis)
    length = float(atoms.cell.lengths()[d])
    n = max(1, round(length / bin_size))
    frac = atoms.cell.scaled_positions(atoms.positions)[:, d]
    frac = frac % 1.0 if atoms.pbc[d] else np.clip(frac, 0.0, 1.0 - 1e-12)
    idx = np.minimum((frac * n).astype(np.int64), n - 1)
    return idx, np.linspace(0.0, length, n + 1), n


def binned_mean(
    atoms: Atoms,
    values: np.ndarray,
    axis: str = "z",
    bin_size: float = 5.0,
    *,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of a per-atom quantity in slabs along a lattice direction (e.g. k̄ by height).

    Parameters
    ----------
    atoms
        Structure with a 3D cell.
    values
        One value per atom.
    axis
        Slab normal, ``"x"``, ``"y"`` or ``"z"`` (lattice vector).
    bin_size
        Target slab thickness, Å (rounded so slabs tile the cell).
    mask
        Atoms to include (default: all).

    Returns
    -------
    centres
        Slab centres, Å.
    mean
        Mean value per slab (NaN in empty slabs).
    """
    values = np.asarray(values, dtype=float)
    if values.shape != (len(atoms),):
        raise ValueError("values must hold one number per atom")
    idx, edges, n = _slab_index(atoms, axis, bin_size)
    keep = np.ones(len(atoms), bool) if mask is None else np.asarray(mask, bool)
    total = np.bincount(idx[keep], weights=values[keep], minlength=n)
    count = np.bincount(idx[keep], minlength=n)
    return 0.5 * (edges[1:] + edges[:-1]), mean_per_bin(total, count)


def species_density_profiles(
    atoms: Atoms, axis: str = "z", bin_size: float = 5.0
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Number density of each species in slabs along a lattice direction.

    Parameters
    ----------
    atoms
        Structure with a 3D cell.
    axis
        Slab normal (lattice vector).
    bin_size
        Target slab thickness, Å.

    Returns
    -------
    centres
        Slab centres, Å.
    densities
        Atoms per Å³ in each slab, keyed by chemical symbol.
    """
    idx, edges, n = _slab_index(atoms, axis, bin_size)
    slab_volume = abs(atoms.cell.volume) / n
    out = {}
    for z in np.unique(atoms.numbers):
        counts = np.bincount(idx[atoms.numbers == z], minlength=n)
        out[chemical_symbols[z]] = counts / slab_volume
    return 0.5 * (edges[1:] + edges[:-1]), out


class BaseLength(NamedTuple):
    """Extent of a disordered area along the bottom of a cell.

    Attributes
    ----------
    length
        Length of the disordered stretch, Å (0 when none).
    centres
        Bin centres along the measured direction, Å.
    disordered_fraction
        Share of non-crystalline atoms in each bin of the bottom layer (NaN when empty).
    start, stop
        Ends of the disordered stretch, Å (NaN when none).
    """

    length: float
    centres: np.ndarray
    disordered_fraction: np.ndarray
    start: float
    stop: float


def disordered_base_length(
    atoms: Atoms,
    kbar: np.ndarray,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    axis: str = "x",
    normal: str = "z",
    depth: float = 6.0,
    bin_size: float = 3.0,
    centre: float | None = None,
    majority: float = 0.5,
    mask: np.ndarray | None = None,
) -> BaseLength:
    """Length of the disordered area where it meets the bottom of the cell (mushroom RESET).

    The atoms within ``depth`` of the lowest atom along ``normal`` form the bottom layer; it
    is cut into bins along ``axis`` and a bin is disordered when more than ``majority`` of
    its atoms have k̄ below ``threshold``. The base length is the contiguous run of
    disordered bins around ``centre`` (periodic along ``axis`` when the cell is), in Å.

    Parameters
    ----------
    atoms
        Frame with a 3D cell.
    kbar
        Crystallinity k̄ per atom.
    threshold
        k̄ below which an atom is disordered (default: the calibrated k̄ threshold).
    axis
        Direction along the base.
    normal
        Direction away from the base (the bottom is its low end).
    depth
        Thickness of the bottom layer, Å.
    bin_size
        Bin width along ``axis``, Å.
    centre
        Position along ``axis`` the disordered stretch must contain, Å (default: the
        middle of the cell, where the focal region of the mushroom cell sits).
    majority
        Share of disordered atoms that makes a bin disordered.
    mask
        Atoms to consider (e.g. leave out fixed atoms).

    Returns
    -------
    BaseLength
        Length (Å), the per-bin disordered share and the ends of the stretch.
    """
    kbar = np.asarray(kbar, dtype=float)
    if kbar.shape != (len(atoms),):
        raise ValueError("kbar must hold one number per atom")
    keep = np.ones(len(atoms), bool) if mask is None else np.asarray(mask, bool).copy()
    height = atoms.positions[:, axis_index(normal)]
    if not keep.any():
        raise ValueError("no atom selected")
    keep &= height <= height[keep].min() + depth
    idx, edges, n = _slab_index(atoms, axis, bin_size)
    total = np.bincount(idx[keep], minlength=n)
    disordered = np.bincount(idx[keep], weights=(kbar[keep] < threshold).astype(float), minlength=n)
    share = mean_per_bin(disordered, total)
    centres = 0.5 * (edges[1:] + edges[:-1])
    width = edges[1] - edges[0]
    length_axis = edges[-1]
    middle = length_axis / 2 if centre is None else float(centre)
    k0 = int(np.clip(np.floor(middle / width), 0, n - 1))
    empty = np.isnan(share)
    flag = np.nan_to_num(share, nan=0.0) > majority
    if empty.all():
        return BaseLength(0.0, centres, share, float("nan"), float("nan"))
    if empty[k0]:  # the nearest bin holding atoms decides
        filled = np.flatnonzero(~empty)
        k0 = int(filled[np.argmin(np.abs(filled - k0))])
    if not flag[k0]:
        return BaseLength(0.0, centres, share, float("nan"), float("nan"))
    periodic = bool(atoms.pbc[axis_index(axis)])
    # empty bins (between atomic planes) neither end nor count as the end of a stretch
    ok = flag | empty
    if ok.all():
        return BaseLength(float(length_axis), centres, share, 0.0, float(length_axis))
    lo = k0
    while (lo - 1 >= 0 or periodic) and ok[(lo - 1) % n] and k0 - lo + 1 < n:
        lo -= 1
    hi = k0
    while (hi + 1 < n or periodic) and ok[(hi + 1) % n] and hi - lo + 1 < n:
        hi += 1
    while empty[lo % n]:
        lo += 1
    while empty[hi % n]:
        hi -= 1
    return BaseLength(
        float((hi - lo + 1) * width), centres, share, float(lo * width), float((hi + 1) * width)
    )


def onset_temperature(
    temperature: Sequence[float],
    order: Sequence[float],
    *,
    level: float = 0.5,
    window: int = 3,
) -> float:
    """Temperature at which an order parameter first drops below a share of its start value.

    The order parameter (crystalline fraction or mean k̄ on heating) is smoothed with a running
    mean over ``window`` points; the onset is where it first falls below
    ``start + level · (end − start)``, with ``start`` and ``end`` its first and last smoothed
    values, interpolated linearly in temperature.

    Parameters
    ----------
    temperature
        Temperatures of the points, K (increasing for a heating run).
    order
        Order parameter at each point.
    level
        Share of the drop, 0–1 (0.5: the midpoint).
    window
        Points of the running mean (1 for none).

    Returns
    -------
    float
        Onset temperature, K; NaN when the order parameter does not drop.
    """
    t = np.asarray(temperature, dtype=float)
    y = np.asarray(order, dtype=float)
    if t.shape != y.shape or t.ndim != 1:
        raise ValueError("temperature and order must be 1D arrays of equal length")
    if len(t) < 2:
        return float("nan")
    window = max(1, min(int(window), len(y)))
    kernel = np.ones(window) / window
    padded = np.pad(y, (window // 2, window - 1 - window // 2), mode="edge")
    smooth = np.convolve(padded, kernel, mode="valid")
    start, end = smooth[0], smooth[-1]
    if not start - end > 1e-9:
        return float("nan")
    target = start + level * (end - start)
    below = np.flatnonzero(smooth < target)
    if below.size == 0:
        return float("nan")
    k = int(below[0])
    if k == 0:
        return float(t[0])
    y0, y1 = smooth[k - 1], smooth[k]
    frac = (y0 - target) / (y0 - y1) if y0 != y1 else 0.0
    return float(t[k - 1] + frac * (t[k] - t[k - 1]))


def mean_shift(frames: Sequence[Atoms], mask: np.ndarray, direction: Sequence[float]) -> np.ndarray:
    """Mean position of a group of atoms along a direction, relative to the first frame.

    Parameters
    ----------
    frames
        Frames with unwrapped positions (as the MD engines save them).
    mask
        Atoms of the group (e.g. one species' mobile atoms).
    direction
        Direction vector (normalised here), e.g. the field direction.

    Returns
    -------
    numpy.ndarray
        Shift of the group's mean position along ``direction`` in each frame, Å.
    """
    unit = np.asarray(direction, dtype=float)
    unit = unit / np.linalg.norm(unit)
    mask = np.asarray(mask, bool)
    if not mask.any():
        raise ValueError("the group holds no atom")
    along = np.array([float(np.mean(f.positions[mask] @ unit)) for f in frames])
    return along - along[0]


def central_mask(atoms: Atoms, axis: str = "z", fraction: float = 0.4) -> np.ndarray:
    """Atoms in the central slab holding ``fraction`` of the cell along ``axis``.

    Parameters
    ----------
    atoms
        Structure with a 3D cell.
    axis
        Slab normal (lattice vector).
    fraction
        Thickness of the slab as a share of the cell length (0–1].

    Returns
    -------
    numpy.ndarray
        Boolean mask.
    """
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    frac = atoms.cell.scaled_positions(atoms.positions)[:, axis_index(axis)] % 1.0
    return np.abs(frac - 0.5) <= fraction / 2


def region_rdf(
    atoms: Atoms,
    centres: np.ndarray,
    r_max: float = 8.0,
    bin_width: float = 0.05,
    *,
    partial: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """RDF seen from the atoms of a region, neighbours taken from the whole structure.

    g(r) = n(r) / (N_c ρ 4π r² dr) with n(r) the pairs (centre in the region, any neighbour)
    in the shell, N_c the number of centres and ρ = N / V; partials use the density of the
    neighbour species. So a region of a homogeneous structure has the bulk g(r), and no
    correction for the region's surface is needed.

    Parameters
    ----------
    atoms
        Periodic structure with a 3D cell.
    centres
        Boolean mask of the region's atoms.
    r_max
        Largest distance, Å.
    bin_width
        Bin width, Å.
    partial
        Also compute g_ab(r) for centre species a and neighbour species b.

    Returns
    -------
    r
        Bin centres, Å.
    total
        g(r) of the region.
    partials
        g_ab(r) keyed by ``"A-B"`` (both orders of a pair averaged by centre count).
    """
    centres = np.asarray(centres, bool)
    if centres.shape != (len(atoms),):
        raise ValueError("centres must be one boolean per atom")
    if atoms.cell.rank < 3:
        raise ValueError("the RDF needs a cell with three lattice vectors")
    nbins, edges, r, shell = rdf_bins(r_max, bin_width)
    n_c = int(centres.sum())
    if n_c == 0:
        raise ValueError("the region holds no atom")
    volume = abs(atoms.cell.volume)
    i, j, d = neighbour_pairs(atoms, float(edges[-1]), "ijd")
    keep = centres[i] & (d < edges[-1])
    i, j, d = i[keep], j[keep], d[keep]
    bins = np.minimum((d / bin_width).astype(np.int64), nbins - 1)
    total = np.bincount(bins, minlength=nbins) / (n_c * len(atoms) / volume * shell)
    partials: dict[str, np.ndarray] = {}
    if partial:
        numbers = atoms.numbers
        for za in np.unique(numbers[centres]):
            n_a = int((centres & (numbers == za)).sum())
            for zb in np.unique(numbers):
                sel = (numbers[i] == za) & (numbers[j] == zb)
                rho_b = (numbers == zb).sum() / volume
                g = np.bincount(bins[sel], minlength=nbins) / (n_a * rho_b * shell)
                key = pair_key(chemical_symbols[za], chemical_symbols[zb])
                if key in partials:
                    partials[key] = 0.5 * (partials[key] + g)
                else:
                    partials[key] = g
    return r, total, partials


def energy_change(steps: np.ndarray, etot: np.ndarray, start_step: int, end_step: int) -> float:
    """Change of the total energy between two steps of a thermodynamic series.

    The energy injected into an NVE stage, measured: the total (kinetic + potential) energy
    at its last step minus that at its first step. Where a step has several rows (the end of
    one stage is the start of the next), the last row counts.

    Parameters
    ----------
    steps
        Step of each row.
    etot
        Total energy of each row, eV.
    start_step, end_step
        The two steps.

    Returns
    -------
    float
        ``etot(end_step) - etot(start_step)``, eV.

    Raises
    ------
    ValueError
        When the series has no row at one of the steps.
    """
    steps = np.asarray(steps)
    etot = np.asarray(etot, dtype=float)
    values = []
    for step in (start_step, end_step):
        rows = np.flatnonzero(steps == step)
        if not rows.size:
            raise ValueError(f"the thermodynamic series has no row at step {step}")
        values.append(float(etot[rows[-1]]))
    return values[1] - values[0]


def per_atom_virials(atoms: Atoms) -> np.ndarray:
    """Per-atom virials of the attached calculator, eV, shape (N, 3, 3).

    ASE calculators disagree on the volume their per-atom ``stresses`` divide by (the
    cell's volume, e.g. ASE's Lennard-Jones, or the mean volume per atom, e.g. quippy); the
    convention is read from the cell's stress, which the virials add up to:
    ``Σ W_i = -σ V``.

    Raises
    ------
    ValueError
        When the per-atom stresses add up to neither convention.
    """
    volume = atoms.get_volume()
    stresses = np.asarray(atoms.get_stresses(), dtype=float)
    if stresses.shape == (len(atoms), 6):
        from ase.stress import voigt_6_to_full_3x3_stress

        stresses = voigt_6_to_full_3x3_stress(stresses)
    total = atoms.get_stress(voigt=False)
    scale = max(float(np.abs(total).max()), 1e-12)
    for divisor in (volume, volume / len(atoms)):
        if np.abs(stresses.sum(axis=0) * divisor / volume - total).max() <= 1e-6 * scale:
            return -stresses * divisor
    raise ValueError("per-atom stresses of the calculator do not add up to its stress")


def region_pressure(atoms: Atoms, mask: np.ndarray, virials: np.ndarray) -> float:
    """Pressure of a group of atoms from their velocities and per-atom virials, GPa.

    ``P = (Σ m v² + Σ tr W_i) / (3 N_g V / N)``: the group's share of the virial pressure,
    with the cell's mean volume per atom ``V / N`` as each atom's volume. Over every atom it
    is the cell's pressure.

    Parameters
    ----------
    atoms
        Frame with velocities.
    mask
        Atoms of the group.
    virials
        Per-atom virials, eV, shape (N, 3, 3) (:func:`per_atom_virials`).

    Returns
    -------
    float
        Pressure of the group, GPa.

    Raises
    ------
    ValueError
        For an empty group or virials of the wrong shape.
    """
    from ase.units import GPa

    mask = np.asarray(mask, bool)
    n = int(mask.sum())
    if n == 0:
        raise ValueError("region_pressure: the group has no atom")
    virials = np.asarray(virials, dtype=float)
    if virials.shape != (len(atoms), 3, 3):
        raise ValueError(f"per-atom virials have shape {virials.shape}, expected ({len(atoms)}, 3, 3)")
    volume = atoms.get_volume() / len(atoms) * n
    v = atoms.get_velocities()[mask]
    twice_kinetic = float(np.einsum("i,ij,ij->", atoms.get_masses()[mask], v, v))
    virial = float(np.trace(virials[mask], axis1=1, axis2=2).sum())
    return (twice_kinetic + virial) / (3.0 * volume) / GPa


def barrier_crossings(frames: Sequence[Atoms], fixed: np.ndarray, axis: str = "z") -> np.ndarray:
    """Mobile atoms that have gone through a block of fixed atoms, per frame.

    In a cell periodic along ``axis`` the fixed block is the only way from one side of the
    mobile part to the other (a heat barrier); in a cell open along ``axis`` the mobile
    part ends at the cell's faces. An atom has left when its unwrapped coordinate passes
    beyond the far side of the block (or the face) it started next to.

    Parameters
    ----------
    frames
        Frames with unwrapped positions (as the MD engines save them), the first one the
        start.
    fixed
        Fixed atoms (the block).
    axis
        Axis across the block.

    Returns
    -------
    numpy.ndarray
        Number of mobile atoms outside the allowed band in each frame.
    """
    fixed = np.asarray(fixed, bool)
    d = axis_index(axis)
    first = frames[0]
    length = float(first.cell.lengths()[d])
    coord = first.positions[:, d]
    if first.pbc[d]:
        if not fixed.any():
            raise ValueError("barrier_crossings: a periodic cell needs fixed atoms as barrier")
        low, high = float(coord[fixed].min()), float(coord[fixed].max())
        if np.all(coord[~fixed] < low):  # block on top: through it upwards, or downwards
            lower, upper = low - length, high  # through the boundary and then the block
        elif np.all(coord[~fixed] > high):  # block at the bottom
            lower, upper = low, high + length
        else:
            raise ValueError(
                "barrier_crossings: the fixed atoms do not form one block at "
                f"the top or the bottom of the cell along {axis}"
            )
    else:
        lower, upper = 0.0, length
    out = []
    for frame in frames:
        z = frame.positions[~fixed, d]
        out.append(int(np.count_nonzero((z < lower) | (z > upper))))
    return np.array(out)
