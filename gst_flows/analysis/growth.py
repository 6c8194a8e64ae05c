"""Crystal growth: crystalline layers and grains, and their growth speed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from ase import Atoms
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gst_flows.analysis.common import axis_index, mean_per_bin, plane_spacings
from gst_flows.analysis.neighbours import CutoffSpec, neighbour_pairs

#: 1 Å/ps in m/s.
ANGSTROM_PER_PS = 100.0


def _mask(atoms: Atoms, crystalline: np.ndarray) -> np.ndarray:
    crystalline = np.asarray(crystalline)
    if crystalline.shape != (len(atoms),):
        raise ValueError("crystalline must hold one entry per atom")
    return crystalline.astype(bool)


def crystalline_thickness(atoms: Atoms, crystalline: np.ndarray, axis: str = "z") -> float:
    """Thickness in Å of a planar crystalline layer with the same share of atoms.

    For growth perpendicular to ``axis`` (the crystallisation cell, growing
    along [111] = z) this is the crystalline share of atoms times the cell
    height along ``axis``: it moves by twice the front speed when the crystal
    grows from both faces of a template.

    Parameters
    ----------
    atoms
        Frame.
    crystalline
        Boolean mask of crystalline atoms (e.g. ``kbar > threshold``).
    axis
        Growth direction ``"x"``, ``"y"`` or ``"z"`` (lattice vector).

    Returns
    -------
    float
        Thickness in Å.
    """
    mask = _mask(atoms, crystalline)
    if atoms.cell.rank < 3:
        raise ValueError("the crystalline thickness needs a 3D cell")
    height = plane_spacings(atoms.cell)[axis_index(axis)]
    return float(height * mask.mean()) if len(atoms) else 0.0


def crystalline_profile(
    atoms: Atoms, crystalline: np.ndarray, axis: str = "z", bin_size: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Crystalline share of atoms in slabs along ``axis``.

    Parameters
    ----------
    atoms
        Frame with a 3D cell.
    crystalline
        Boolean mask of crystalline atoms.
    axis
        Slab normal (lattice vector ``"x"``, ``"y"`` or ``"z"``).
    bin_size
        Slab thickness in Å.

    Returns
    -------
    centres
        Slab centres in Å along the lattice vector.
    fraction
        Crystalline fraction of each slab (NaN in empty slabs).
    """
    mask = _mask(atoms, crystalline)
    d = axis_index(axis)
    length = atoms.cell.lengths()[d]
    n = max(1, round(length / bin_size))
    frac = atoms.cell.scaled_positions(atoms.positions)[:, d] % 1.0
    idx = np.minimum((frac * n).astype(int), n - 1)
    total = np.bincount(idx, minlength=n)
    cryst = np.bincount(idx, weights=mask.astype(float), minlength=n)
    centres = (np.arange(n) + 0.5) * length / n
    return centres, mean_per_bin(cryst, total)


def grain_labels(
    atoms: Atoms,
    crystalline: np.ndarray,
    cutoffs: CutoffSpec = None,
    min_size: int = 1,
) -> np.ndarray:
    """Label grains: connected clusters of bonded crystalline atoms.

    Parameters
    ----------
    atoms
        Frame.
    crystalline
        Boolean mask of crystalline atoms.
    cutoffs
        Bond cutoffs in Å (default: the GST table, 3.2 Å).
    min_size
        Clusters with fewer atoms are not grains.

    Returns
    -------
    numpy.ndarray
        Grain index (0, 1, ... by decreasing size) per atom, -1 outside grains.
    """
    mask = _mask(atoms, crystalline)
    n = len(atoms)
    labels = np.full(n, -1, dtype=int)
    if not mask.any():
        return labels
    i, j = neighbour_pairs(atoms, cutoffs, "ij")
    both = mask[i] & mask[j]
    graph = coo_matrix((np.ones(both.sum()), (i[both], j[both])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    comp = np.where(mask, comp, -1)
    ids, sizes = np.unique(comp[mask], return_counts=True)
    big = sizes >= min_size
    ranked = ids[big][np.argsort(-sizes[big], kind="stable")]
    lookup = {c: g for g, c in enumerate(ranked)}
    labels[mask] = [lookup.get(c, -1) for c in comp[mask]]
    return labels


def seeded_grain_sizes(
    atoms: Atoms,
    crystalline: np.ndarray,
    seeds: Sequence[Sequence[int]],
    cutoffs: CutoffSpec = None,
) -> np.ndarray:
    """Number of atoms in the grain that grew from each seed.

    A seed's grain is the union of the crystalline clusters holding any of its
    seed atoms; grains that have merged report the same (merged) size.

    Parameters
    ----------
    atoms
        Frame.
    crystalline
        Boolean mask of crystalline atoms.
    seeds
        Atom indices of each seed (for example from a ``seed_id`` array).
    cutoffs
        Bond cutoffs in Å.

    Returns
    -------
    numpy.ndarray
        Atom count per seed (0 if the seed is no longer crystalline).
    """
    labels = grain_labels(atoms, crystalline, cutoffs)
    sizes = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(0, int)
    out = np.zeros(len(seeds), dtype=int)
    for s, members in enumerate(seeds):
        grains = np.unique(labels[np.asarray(members, dtype=int)])
        grains = grains[grains >= 0]
        out[s] = int(sizes[grains].sum()) if len(grains) else 0
    return out


def equivalent_radius(n_atoms: np.ndarray | float, number_density: float) -> np.ndarray:
    """Radius in Å of a sphere holding ``n_atoms`` at ``number_density`` (Å⁻³)."""
    return np.cbrt(3.0 * np.asarray(n_atoms, dtype=float) / (4.0 * np.pi * number_density))


class GrowthFit(NamedTuple):
    """Linear fit of a growing length against time.

    Attributes
    ----------
    speed
        Growth speed in m/s.
    slope
        Slope in Å/ps.
    intercept
        Length at t = 0 in Å.
    stderr
        Standard error of the speed in m/s (NaN with fewer than three points).
    r_squared
        Coefficient of determination of the linear fit (1: the length is linear in time;
        NaN with fewer than three points).
    """

    speed: float
    slope: float
    intercept: float
    stderr: float
    r_squared: float = float("nan")


def growth_speed(
    times: np.ndarray,
    lengths: np.ndarray,
    *,
    n_fronts: int = 1,
    window: tuple[float, float] | None = None,
) -> GrowthFit:
    """Growth speed from a front position, layer thickness or grain radius over time.

    Parameters
    ----------
    times
        Times in ps.
    lengths
        Front position, crystalline thickness or equivalent radius in Å.
    n_fronts
        Number of fronts that the length sums (2 for a layer growing from both
        faces of a template); the speed is per front.
    window
        Fit only times within ``(start, end)`` ps.

    Returns
    -------
    GrowthFit
        Speed in m/s with slope (Å/ps), intercept (Å) and the speed's error.

    Raises
    ------
    ValueError
        With fewer than two usable points or mismatched arrays.
    """
    t = np.asarray(times, dtype=float)
    y = np.asarray(lengths, dtype=float)
    if t.shape != y.shape or t.ndim != 1:
        raise ValueError("times and lengths must be 1D arrays of equal length")
    keep = np.isfinite(t) & np.isfinite(y)
    if window is not None:
        keep &= (t >= window[0]) & (t <= window[1])
    t, y = t[keep], y[keep]
    if len(t) < 2 or np.ptp(t) == 0:
        raise ValueError("a growth speed needs at least two distinct times")
    if n_fronts < 1:
        raise ValueError("n_fronts must be at least 1")
    design = np.vstack([t, np.ones_like(t)]).T
    (slope, intercept), *_ = np.linalg.lstsq(design, y, rcond=None)
    r_squared = float("nan")
    if len(t) > 2:
        residual = y - (slope * t + intercept)
        var = residual @ residual / (len(t) - 2) / np.sum((t - t.mean()) ** 2)
        stderr = float(np.sqrt(var)) * ANGSTROM_PER_PS / n_fronts
        spread = float(np.sum((y - y.mean()) ** 2))
        r_squared = 1.0 - float(residual @ residual) / spread if spread > 0 else float("nan")
    else:
        stderr = float("nan")
    slope = float(slope) / n_fronts
    return GrowthFit(slope * ANGSTROM_PER_PS, slope, float(intercept), stderr, r_squared)


class SeedTracks(NamedTuple):
    """The grain of each seed over a run.

    Attributes
    ----------
    sizes
        Atoms of each seed's grain, shape (frames, seeds); grains that merged report the
        merged size.
    contact
        Whether each seed's grain holds atoms of another seed (it has touched another grain),
        shape (frames, seeds).
    n_grains
        Distinct seeded grains per frame: merged grains counted once.
    """

    sizes: np.ndarray
    contact: np.ndarray
    n_grains: np.ndarray

    def contact_frame(self) -> np.ndarray:
        """First frame at which each seed's grain touches another (-1: never)."""
        first = np.argmax(self.contact, axis=0)
        return np.where(self.contact.any(axis=0), first, -1)


def track_seeds(
    frames: Sequence[Atoms],
    crystalline: Sequence[np.ndarray],
    seeds: Sequence[Sequence[int]],
    cutoffs: CutoffSpec = None,
) -> SeedTracks:
    """Follow the grain grown from each seed, and when grains touch.

    A seed's grain is the union of the crystalline clusters (bonded crystalline atoms,
    :func:`grain_labels`) holding any of its atoms; two grains touch when one cluster holds
    atoms of two seeds.

    Parameters
    ----------
    frames
        Frames of the run.
    crystalline
        Boolean mask of crystalline atoms per frame.
    seeds
        Atom indices of each seed.
    cutoffs
        Bond cutoffs in Å.

    Returns
    -------
    SeedTracks
        Sizes, contacts and grain counts.
    """
    n_seeds = len(seeds)
    sizes = np.zeros((len(frames), n_seeds), dtype=int)
    contact = np.zeros((len(frames), n_seeds), dtype=bool)
    n_grains = np.zeros(len(frames), dtype=int)
    members = [np.asarray(m, dtype=int) for m in seeds]
    for f, (atoms, mask) in enumerate(zip(frames, crystalline, strict=True)):
        labels = grain_labels(atoms, mask, cutoffs)
        counts = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(0, int)
        held = [set(np.unique(labels[m]).tolist()) - {-1} for m in members]
        for s in range(n_seeds):
            sizes[f, s] = int(counts[sorted(held[s])].sum()) if held[s] else 0
            contact[f, s] = any(held[s] & held[o] for o in range(n_seeds) if o != s)
        n_grains[f] = len(set().union(*held)) if held else 0
    return SeedTracks(sizes, contact, n_grains)


def fit_before_contact(
    times: np.ndarray,
    radii: np.ndarray,
    contact_frame: int,
    *,
    min_points: int = 3,
    window: tuple[float, float] | None = None,
) -> tuple[GrowthFit | None, float]:
    """Growth speed of one grain's equivalent radius, fitted only before it touches another.

    Parameters
    ----------
    times
        Frame times, ps.
    radii
        The grain's equivalent-sphere radius per frame, Å.
    contact_frame
        First frame at which the grain touches another (-1: never).
    min_points
        Fewest frames to fit.
    window
        Also restrict the fit to these times, ps.

    Returns
    -------
    tuple
        The fit (None with fewer than ``min_points`` frames before contact) and the end of
        the fitted window, ps.
    """
    times = np.asarray(times, dtype=float)
    radii = np.asarray(radii, dtype=float)
    end = len(times) if contact_frame < 0 else int(contact_frame)
    keep = np.zeros(len(times), dtype=bool)
    keep[:end] = True
    if window is not None:
        keep &= (times >= window[0]) & (times <= window[1])
    if keep.sum() < max(min_points, 2) or np.ptp(times[keep]) == 0:
        return None, float(times[keep].max()) if keep.any() else float("nan")
    return growth_speed(times[keep], radii[keep]), float(times[keep].max())
