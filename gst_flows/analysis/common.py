"""Small pieces shared by the analyses: lattice directions, frame lists and progress bars."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

import numpy as np
from ase import Atoms

T = TypeVar("T")

_AXES = {"x": 0, "y": 1, "z": 2}


def axis_index(axis: str) -> int:
    """Index (0, 1, 2) of the lattice direction named ``"x"``, ``"y"`` or ``"z"``.

    Raises
    ------
    ValueError
        If ``axis`` is not one of the three names.
    """
    try:
        return _AXES[axis]
    except KeyError:
        raise ValueError(f"unknown axis {axis!r}: use 'x', 'y' or 'z'") from None


def plane_spacings(cell: np.ndarray) -> np.ndarray:
    """Distance in Å between opposite faces of a 3D cell, one per lattice vector.

    Parameters
    ----------
    cell
        Lattice vectors as rows, shape ``(3, 3)``.

    Returns
    -------
    numpy.ndarray
        Cell height along each lattice vector: the volume over the area of the
        face spanned by the other two vectors.
    """
    cell = np.asarray(cell)
    return abs(np.linalg.det(cell)) / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)


def mean_per_bin(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``sums / counts`` bin by bin, NaN in bins with a count of zero."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def as_frames(atoms: Atoms | Sequence[Atoms]) -> list[Atoms]:
    """List of frames from one structure or a sequence of them.

    Raises
    ------
    ValueError
        If the sequence is empty.
    """
    frames = [atoms] if isinstance(atoms, Atoms) else list(atoms)
    if not frames:
        raise ValueError("no frames given")
    return frames


def progress_bar(
    items: Iterable[T], show: bool, desc: str, unit: str, total: int | None = None
) -> Iterable[T]:
    """Wrap ``items`` in a tqdm progress bar if ``show``, else return them unchanged.

    Parameters
    ----------
    items
        What is iterated over.
    show
        Whether to show the bar.
    desc, unit
        Label of the bar and name of one item.
    total
        Number of items, for iterators without a length.

    Returns
    -------
    Iterable
        ``items`` or the bar that yields them.
    """
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, total=total, desc=desc, unit=unit)
