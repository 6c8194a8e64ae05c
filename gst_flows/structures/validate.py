"""Sanity checks for structures read from files or built in memory."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from scipy.spatial import cKDTree

from .errors import StructureError

__all__ = ["closest_pair", "minimum_distance", "validate_structure"]


def _neighbour_pairs(atoms: Atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs closer than ``cutoff`` (Å), periodic images included, as (i, j, d)."""
    positions = atoms.get_positions()
    pbc = np.asarray(atoms.pbc, dtype=bool)
    cell = np.asarray(atoms.cell[:], dtype=float)
    if not pbc.any():
        tree = cKDTree(positions)
        pairs = tree.query_pairs(cutoff, output_type="ndarray")
        if len(pairs) == 0:
            empty = np.zeros(0, dtype=int)
            return empty, empty, np.zeros(0)
        d = np.linalg.norm(positions[pairs[:, 0]] - positions[pairs[:, 1]], axis=1)
        return pairs[:, 0], pairs[:, 1], d
    from matscipy.neighbours import neighbour_list

    work = atoms
    if abs(np.linalg.det(cell)) < 1e-12:
        # Non-periodic directions may carry a zero cell vector: give them one that
        # is orthogonal to the periodic ones and longer than the structure.
        extent = float(np.ptp(positions, axis=0).max()) + 2 * cutoff + 1.0
        periodic = cell[pbc]
        basis = np.linalg.svd(periodic)[2] if len(periodic) else np.eye(3)
        complement = basis[len(periodic) :]
        new_cell = cell.copy()
        for k, axis in enumerate(np.flatnonzero(~pbc)):
            new_cell[axis] = complement[k] * extent
        work = Atoms(numbers=atoms.numbers, positions=positions, cell=new_cell, pbc=pbc)
    i, j, d = neighbour_list("ijd", work, cutoff)
    return i, j, d


def closest_pair(atoms: Atoms, cutoff: float) -> tuple[int, int, float] | None:
    """Closest pair of atoms within ``cutoff``.

    Parameters
    ----------
    atoms
        Structure; periodic images count.
    cutoff
        Search radius in Å.

    Returns
    -------
    tuple[int, int, float] or None
        Indices ``i <= j`` and their distance in Å (``i == j`` means an atom and
        its own periodic image), or None if no pair is closer than ``cutoff``.
    """
    if len(atoms) == 0:
        return None
    i, j, d = _neighbour_pairs(atoms, cutoff)
    if len(d) == 0:
        return None
    k = int(np.argmin(d))
    a, b = sorted((int(i[k]), int(j[k])))
    return a, b, float(d[k])


def minimum_distance(atoms: Atoms, cutoff: float = 6.0) -> float:
    """Smallest interatomic distance, periodic images included.

    Parameters
    ----------
    atoms
        Structure.
    cutoff
        Search radius in Å; ``inf`` is returned if no pair is closer.

    Returns
    -------
    float
        Smallest distance in Å.
    """
    pair = closest_pair(atoms, cutoff)
    return float("inf") if pair is None else pair[2]


def validate_structure(
    atoms: Atoms,
    min_distance: float = 0.5,
    allowed_elements: Iterable[str] | None = None,
) -> Atoms:
    """Check that a structure is physically usable.

    Parameters
    ----------
    atoms
        Structure to check.
    min_distance
        Smallest acceptable interatomic distance in Å, periodic images included.
        Zero or negative disables the check.
    allowed_elements
        If given, every element of the structure must be in this set.

    Returns
    -------
    ase.Atoms
        The same object, so the call can be chained.

    Raises
    ------
    StructureError
        With a one-line message for: an empty structure, an atomic number that is
        not a chemical element, an element outside ``allowed_elements``,
        non-finite positions or cell, a periodic cell of zero volume, or two atoms
        closer than ``min_distance``.
    """
    if not isinstance(atoms, Atoms):
        raise StructureError(f"expected an ase.Atoms object, got {type(atoms).__name__}")
    if len(atoms) == 0:
        raise StructureError("empty structure: no atoms")
    numbers = atoms.numbers
    bad = np.flatnonzero((numbers < 1) | (numbers >= len(chemical_symbols)))
    if len(bad):
        k = int(bad[0])
        raise StructureError(f"atom {k} has atomic number {int(numbers[k])}, which is not a chemical element")
    if allowed_elements is not None:
        allowed = set(allowed_elements)
        unknown = [s for s in allowed if s not in chemical_symbols[1:]]
        if unknown:
            raise StructureError(f"allowed elements include unknown symbols: {unknown}")
        present = {chemical_symbols[z] for z in np.unique(numbers)}
        extra = sorted(present - allowed)
        if extra:
            k = int(np.flatnonzero(np.isin(numbers, [chemical_symbols.index(s) for s in extra]))[0])
            raise StructureError(
                f"element(s) {', '.join(extra)} not allowed (allowed: "
                f"{', '.join(sorted(allowed))}); first at atom {k}"
            )
    positions = atoms.get_positions()
    finite = np.isfinite(positions).all(axis=1)
    if not finite.all():
        k = int(np.flatnonzero(~finite)[0])
        raise StructureError(f"atom {k} has a non-finite position {positions[k].tolist()}")
    cell = np.asarray(atoms.cell[:], dtype=float)
    if not np.isfinite(cell).all():
        raise StructureError("cell has non-finite entries")
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if pbc.any():
        periodic = cell[pbc]
        lengths = np.linalg.norm(periodic, axis=1)
        rank = np.linalg.matrix_rank(periodic, tol=1e-6 * max(1.0, float(lengths.max())))
        if rank < len(periodic):
            raise StructureError(
                "periodic cell has zero volume (cell vectors along periodic directions "
                f"{np.flatnonzero(pbc).tolist()} are zero or linearly dependent)"
            )
    if min_distance > 0:
        pair = closest_pair(atoms, min_distance)
        if pair is not None:
            i, j, d = pair
            if i == j:
                raise StructureError(
                    f"atom {i} is {d:.3f} Å from its own periodic image "
                    f"(minimum {min_distance} Å): cell too small"
                )
            raise StructureError(f"atoms {i} and {j} are {d:.3f} Å apart (minimum {min_distance} Å)")
    return atoms
