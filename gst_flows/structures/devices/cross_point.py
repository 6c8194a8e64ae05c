"""The cross-point device cell: layered trigonal GST cut to a rectangular in-plane size."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ase import Atoms

from gst_flows.structures.errors import StructureError
from gst_flows.structures.layered import build_layered, layered_block
from gst_flows.structures.rocksalt import _check_supercell

__all__ = ["build_cross_point"]


def build_cross_point(
    composition: str | Mapping[str, float] = "Ge1Sb2Te4",
    supercell: Sequence[int] | None = None,
    seed: int | None = 0,
    lattice_parameter: float | None = None,
    *,
    size: Sequence[float] = (20.0, 20.0),
    n_blocks: int = 30,
) -> Atoms:
    """Build the cross-point device cell of layered trigonal GST.

    The in-plane size is the nearest whole number of orthogonal a × √3·a cells to
    ``size``: ``n_a = round(Lx / a)``, ``n_b = round(Ly / (√3 a))``. For
    Ge1Sb2Te4 (a = 4.27 Å) and 20 × 20 nm this gives 47 × 27 cells
    (20.07 × 19.97 nm); with 30 septuple-layer blocks (41.0 nm along z) that is
    47 · 27 · 2 · 7 · 30 = 532,980 atoms.

    Parameters
    ----------
    composition
        Layered composition (see :data:`~gst_flows.structures.LAYERED_BLOCKS`).
    supercell
        Explicit in-plane repeats ``(n_a, n_b, n_periods)`` of the orthogonal
        cell, overriding ``size``; the third entry is ignored (``n_blocks``
        sets the height).
    seed
        Recorded in ``info`` (the ordered crystal needs no randomness).
    lattice_parameter
        In-plane lattice parameter a in Å.
    size
        Target in-plane size (x, y) in nm.
    n_blocks
        Number of blocks stacked along z.

    Returns
    -------
    ase.Atoms
        Orthogonal periodic cell with ``block`` and ``plane`` arrays and role
        arrays; ``info["in_plane"]`` records how the size was chosen.

    Raises
    ------
    StructureError
        For a non-layered composition or a size below one cell.
    """
    block = layered_block(composition)
    a = block.a if lattice_parameter is None else float(lattice_parameter)
    if supercell is None:
        if len(size) != 2 or min(size) <= 0:
            raise StructureError(f"size must be two positive lengths in nm, got {list(size)}")
        n_a = max(1, round(size[0] * 10 / a))
        n_b = max(1, round(size[1] * 10 / (a * math.sqrt(3))))
        how = f"nearest whole orthogonal cells to {size[0]} × {size[1]} nm"
    else:
        n_a, n_b, _ = _check_supercell(supercell)
        how = "explicit supercell"
    atoms = build_layered(
        block.name,
        (n_a, n_b, 1),
        seed,
        lattice_parameter,
        cell="orthogonal",
        n_blocks=n_blocks,
    )
    atoms.info.update(
        {
            "builder": "build_cross_point",
            "in_plane": {
                "n_a": n_a,
                "n_b": n_b,
                "lengths_nm": [float(x) / 10 for x in atoms.cell.lengths()[:2]],
                "rule": how,
            },
        }
    )
    return atoms
