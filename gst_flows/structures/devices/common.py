"""What the device cells share: densities, random packings, filling a region from a template.

Helpers of :mod:`gst_flows.structures.devices`: a random packing stands in for a melt where no
amorphous structure is given; an amorphous structure is tiled over a region and thinned so no
two atoms come closer than a minimum distance.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers
from scipy.spatial import cKDTree

from gst_flows.structures.errors import StructureError

__all__ = ["AMORPHOUS_DENSITY_RATIO", "density", "random_packing"]

#: Number density of the amorphous phase relative to the rock-salt crystal. GST
#: shrinks by about 6.5 % in volume on crystallisation (W. K. Njoroge, H.-W.
#: Wöltgens, M. Wuttig, J. Vac. Sci. Technol. A 20, 230 (2002)).
AMORPHOUS_DENSITY_RATIO = 1 / 1.065


def density(atoms: Atoms) -> float:
    """Mass density of a periodic structure.

    Parameters
    ----------
    atoms
        Structure with a non-zero cell volume.

    Returns
    -------
    float
        Density in g/cm³.
    """
    volume = abs(atoms.cell.volume)
    if volume == 0:
        return float("nan")
    # 1 Da/Å^3 = 1.66053906660 g/cm^3
    return float(atomic_masses[atoms.numbers].sum() / volume * 1.66053906660)


def _as_atoms(structure: Atoms | str | os.PathLike) -> Atoms:
    """Structure from an Atoms object or a file (first frame)."""
    if isinstance(structure, Atoms):
        return structure
    from gst_flows.structures.io import read_structures

    return read_structures(structure)[0]


def _fill_region(
    template: Atoms,
    box: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Tile a periodic template over an orthogonal box and keep atoms in [lower, upper)."""
    cell = np.asarray(template.cell[:], dtype=float)
    if not template.pbc.all() or abs(np.linalg.det(cell)) < 1e-9:
        raise StructureError("the amorphous structure must be periodic with a non-zero volume")
    inv = np.linalg.inv(cell)
    corners = np.array(
        [[x, y, z] for x in (lower[0], upper[0]) for y in (lower[1], upper[1]) for z in (0, 1)]
    )
    corners[:, 2] = np.where(corners[:, 2] == 0, lower[2], upper[2])
    frac = corners @ inv
    lo = np.floor(frac.min(axis=0)).astype(int) - 1
    hi = np.ceil(frac.max(axis=0)).astype(int) + 1
    shifts = np.indices(hi - lo).reshape(3, -1).T + lo
    positions = (template.get_scaled_positions(wrap=True)[None, :, :] + shifts[:, None, :]).reshape(
        -1, 3
    ) @ cell
    numbers = np.tile(template.numbers, len(shifts))
    inside = np.all((positions >= lower) & (positions < upper), axis=1)
    del box
    return positions[inside], numbers[inside]


def _remove_close(
    positions: np.ndarray,
    fixed_positions: np.ndarray,
    box: np.ndarray,
    min_distance: float,
) -> np.ndarray:
    """Mask of atoms to keep: none closer than ``min_distance`` to fixed atoms or each other."""
    keep = np.ones(len(positions), dtype=bool)
    wrapped = np.mod(positions, box)
    if len(fixed_positions):
        tree = cKDTree(np.mod(fixed_positions, box), boxsize=box)
        d, _ = tree.query(wrapped, k=1, distance_upper_bound=min_distance)
        keep &= ~np.isfinite(d)
    pairs = cKDTree(wrapped, boxsize=box).query_pairs(min_distance, output_type="ndarray")
    if len(pairs):
        pairs = pairs[keep[pairs[:, 0]] & keep[pairs[:, 1]]]
        # greedy: drop the later atom of every close pair
        drop = np.unique(pairs.max(axis=1))
        keep[drop] = False
    return keep


def _species_counts(composition: Mapping[str, float], n_atoms: int) -> dict[str, int]:
    """Whole-number counts closest to a composition (largest remainder)."""
    total = sum(composition.values())
    raw = {el: n_atoms * x / total for el, x in composition.items()}
    counts = {el: math.floor(v) for el, v in raw.items()}
    short = n_atoms - sum(counts.values())
    for el in sorted(raw, key=lambda e: raw[e] - counts[e], reverse=True)[:short]:
        counts[el] += 1
    return counts


def random_packing(
    box: Sequence[float],
    counts: Mapping[str, int],
    min_distance: float = 2.2,
    seed: int | None = 0,
    *,
    avoid: np.ndarray | None = None,
    exclusion_centres: np.ndarray | None = None,
    exclusion_radius: float = 0.0,
    max_rounds: int = 200,
) -> Atoms:
    """Random periodic packing at a given density (a placeholder for a melt).

    Positions are drawn uniformly in batches; a candidate is accepted if it is
    at least ``min_distance`` from every accepted atom and from ``avoid``, and
    outside the exclusion spheres.

    Parameters
    ----------
    box
        Orthogonal box lengths in Å.
    counts
        Atoms per element.
    min_distance
        Smallest allowed distance in Å.
    seed
        Random seed.
    avoid
        Positions (Å) of atoms already present (e.g. crystal seeds).
    exclusion_centres
        Centres (Å) of spheres kept free of packed atoms.
    exclusion_radius
        Radius of those spheres in Å.
    max_rounds
        Batches to try before giving up.

    Returns
    -------
    ase.Atoms
        The packed atoms, species in random order.

    Raises
    ------
    StructureError
        If the density is too high to place every atom.
    """
    rng = np.random.default_rng(seed)
    box = np.asarray(box, dtype=float)
    n_target = int(sum(counts.values()))
    fixed = np.zeros((0, 3)) if avoid is None else np.mod(np.asarray(avoid, dtype=float), box)
    centres = None if exclusion_centres is None else np.mod(exclusion_centres, box)
    accepted = np.zeros((0, 3))
    for _ in range(max_rounds):
        need = n_target - len(accepted)
        if need <= 0:
            break
        candidates = rng.random((max(2 * need, 64), 3)) * box
        keep = np.ones(len(candidates), dtype=bool)
        if centres is not None and len(centres):
            d, _ = cKDTree(centres, boxsize=box).query(candidates, k=1, distance_upper_bound=exclusion_radius)
            keep &= ~np.isfinite(d)
        candidates = candidates[keep]
        occupied = np.concatenate([fixed, accepted])
        keep = _remove_close(candidates, occupied, box, min_distance)
        accepted = np.concatenate([accepted, candidates[keep][:need]])
    if len(accepted) < n_target:
        raise StructureError(
            f"could not pack {n_target} atoms in a {box.round(2).tolist()} Å box with a "
            f"minimum distance of {min_distance} Å; lower the density or the distance"
        )
    numbers = np.repeat([atomic_numbers[el] for el in counts], list(counts.values()))
    return Atoms(numbers=rng.permutation(numbers), positions=accepted, cell=box, pbc=True)
