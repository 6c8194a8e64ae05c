"""Layered trigonal (stable) Ge–Sb–Te and rhombohedral GeTe.

Each compound is a stack of close-packed atomic planes along c. Planes follow
the cubic close-packed sequence A, B, C, A, ... throughout, including across the
van der Waals gaps between blocks:

- Sb2Te3: quintuple layers Te–Sb–Te–Sb–Te (R-3m, 3 blocks per hexagonal cell);
- Ge1Sb2Te4: septuple layers Te–Sb–Te–Ge–Te–Sb–Te (R-3m, 3 blocks per cell);
- Ge2Sb2Te5: nonuple layers Te–Sb–Te–Ge–Te–Ge–Te–Sb–Te (P-3m1, 1 block per cell);
- GeTe: Ge–Te pairs with alternating short and long bonds (R3m, Peierls
  distorted, 3 pairs per cell).

Cells are hexagonal (a, a, c; 120°) or orthogonal (a × √3·a in-plane), so device
cells can be cut to a rectangular size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from .composition import as_composition, composition_fractions, format_composition
from .errors import StructureError
from .rocksalt import _check_supercell
from .roles import add_roles

__all__ = ["LAYERED_BLOCKS", "LayeredBlock", "build_layered", "layered_block"]


@dataclass(frozen=True)
class LayeredBlock:
    """One building block of a layered compound.

    Attributes
    ----------
    name
        Composition of one block, e.g. ``"Ge1Sb2Te4"``.
    planes
        Element of each atomic plane, bottom to top.
    a
        In-plane hexagonal lattice parameter in Å.
    period
        Height of one block plus its gap in Å (c divided by blocks per cell).
    spacings
        Distances between successive planes inside the block, in Å; the
        remainder of ``period`` is the gap to the next block.
    blocks_per_cell
        Blocks in the conventional hexagonal cell.
    space_group
        Space group of the ordered compound.
    source
        Where the numbers come from.
    """

    name: str
    planes: tuple[str, ...]
    a: float
    period: float
    spacings: tuple[float, ...]
    blocks_per_cell: int
    space_group: str
    source: str

    @property
    def gap(self) -> float:
        """Distance in Å between the last plane of a block and the first of the next."""
        return self.period - sum(self.spacings)

    @property
    def c(self) -> float:
        """Height of the conventional hexagonal cell in Å."""
        return self.period * self.blocks_per_cell


_SB2TE3_C = 30.458
#: Building blocks of the layered compounds, keyed by block composition.
LAYERED_BLOCKS: dict[str, LayeredBlock] = {
    "Sb2Te3": LayeredBlock(
        name="Sb2Te3",
        planes=("Te", "Sb", "Te", "Sb", "Te"),
        a=4.264,
        period=_SB2TE3_C / 3,
        # z(Te2) = 0.7872, z(Sb) = 0.3988 in the hexagonal cell
        spacings=tuple(x * _SB2TE3_C for x in (0.0550, 0.0655, 0.0655, 0.0550)),
        blocks_per_cell=3,
        space_group="R-3m",
        source=(
            "a = 4.264 Å, c = 30.458 Å, z(Sb) = 0.3988, z(Te2) = 0.7872: "
            "T. L. Anderson, H. B. Krause, Acta Cryst. B30, 1307 (1974)"
        ),
    ),
    "Ge1Sb2Te4": LayeredBlock(
        name="Ge1Sb2Te4",
        planes=("Te", "Sb", "Te", "Ge", "Te", "Sb", "Te"),
        a=4.27,
        period=41.0 / 3,
        spacings=(1.70, 1.90, 1.85, 1.85, 1.90, 1.70),
        blocks_per_cell=3,
        space_group="R-3m",
        source=(
            "a = 4.27 Å, c = 41.0 Å (epitaxial films): H. Hardtdegen et al., "
            "J. Alloys Compd. 679, 285 (2016); idealised interplanar spacings "
            "(outer Te–Sb 1.70 Å, Sb–Te 1.90 Å, Te–Ge 1.85 Å), the van der Waals gap "
            "takes the rest of the measured period"
        ),
    ),
    "Ge2Sb2Te5": LayeredBlock(
        name="Ge2Sb2Te5",
        planes=("Te", "Sb", "Te", "Ge", "Te", "Ge", "Te", "Sb", "Te"),
        a=4.2247,
        period=17.2391,
        spacings=(1.70, 1.90, 1.85, 1.85, 1.85, 1.85, 1.90, 1.70),
        blocks_per_cell=1,
        space_group="P-3m1",
        source=(
            "a = 4.2247 Å, c = 17.2391 Å: T. Matsunaga, N. Yamada, Y. Kubota, "
            "Acta Cryst. B60, 685 (2004); Kooi–De Hosson stacking with idealised "
            "interplanar spacings, the van der Waals gap takes the rest of the period"
        ),
    ),
    "GeTe": LayeredBlock(
        name="GeTe",
        planes=("Ge", "Te"),
        a=4.172,
        period=10.710 / 3,
        # Te at z = 2x = 0.474 of c above Ge (x = 0.237; 0.5 would be rock salt)
        spacings=(10.710 * (1 / 6 - 0.026),),
        blocks_per_cell=3,
        space_group="R3m",
        source=(
            "rhombohedral cell a = 5.996 Å, alpha = 88.18°, x = 0.237 (hexagonal setting "
            "a = 4.172 Å, c = 10.710 Å, Te at z = 0.474 relative to Ge; 2.84 Å / 3.17 Å "
            "short/long Ge–Te bonds): J. Goldak, C. S. Barrett, D. Innes, W. Youdelis, "
            "J. Chem. Phys. 44, 3323 (1966)"
        ),
    ),
}


def layered_block(composition: str | Mapping[str, float]) -> LayeredBlock:
    """Find the layered block matching a composition.

    Parameters
    ----------
    composition
        Formula or amounts with the atomic fractions of one of
        :data:`LAYERED_BLOCKS` (``"GeSb2Te4"``, ``"GST124"`` and ``"Ge1Sb2Te4"``
        are the same).

    Returns
    -------
    LayeredBlock
        The block description.

    Raises
    ------
    StructureError
        If no layered block has that composition.
    """
    frac = composition_fractions(as_composition(composition))
    for block in LAYERED_BLOCKS.values():
        ref = composition_fractions(block.name)
        if set(ref) == set(frac) and all(abs(ref[k] - frac[k]) < 1e-9 for k in ref):
            return block
    raise StructureError(
        f"no layered structure for {format_composition(as_composition(composition))}; "
        f"known: {', '.join(LAYERED_BLOCKS)}"
    )


def _valid_block_counts(block: LayeredBlock, near: int) -> list[int]:
    """Block counts near ``near`` whose plane count closes the ABC stacking."""
    step = 3 // math.gcd(3, len(block.planes))
    lower = max(step, (near // step) * step)
    return sorted({lower, lower + step})


def build_layered(
    composition: str | Mapping[str, float] = "Ge1Sb2Te4",
    supercell: Sequence[int] = (1, 1, 1),
    seed: int | None = 0,
    lattice_parameter: float | None = None,
    *,
    cell: str = "hexagonal",
    n_blocks: int | None = None,
    period: float | None = None,
    cation_disorder: float = 0.0,
) -> Atoms:
    """Build a layered trigonal GST (or rhombohedral GeTe) crystal.

    Parameters
    ----------
    composition
        One of :data:`LAYERED_BLOCKS`: ``"Sb2Te3"``, ``"Ge1Sb2Te4"``,
        ``"Ge2Sb2Te5"`` or ``"GeTe"``.
    supercell
        Repeats ``(n_a, n_b, n_c)``: in-plane repeats of the hexagonal cell
        (``cell="hexagonal"``) or of the orthogonal a × √3·a cell
        (``cell="orthogonal"``, two sites per plane), and the number of
        conventional hexagonal periods along c.
    seed
        Seed of the random generator used by ``cation_disorder``.
    lattice_parameter
        In-plane lattice parameter a in Å (default from the block table); the
        stacking heights are kept.
    cell
        ``"hexagonal"`` or ``"orthogonal"``.
    n_blocks
        Number of blocks along c, overriding ``supercell[2]``. The total number
        of planes must be a multiple of 3 so the stacking is periodic.
    period
        Height of one block including its gap in Å; default from the table.
    cation_disorder
        Fraction of the cations (Ge and Sb) whose species are shuffled among
        themselves (0: ordered planes; 1: fully intermixed cation planes).

    Returns
    -------
    ase.Atoms
        Periodic structure with planes ordered along z, the first plane at half
        a gap above z = 0. ``info`` holds ``composition``, ``builder``,
        ``parameters``, ``seed``, ``source``; arrays ``block`` (block index) and
        ``plane`` (plane index inside the block) plus the role arrays.

    Raises
    ------
    StructureError
        For an unknown composition, a non-positive supercell or block count, a
        block count that breaks the periodic stacking, or a disorder fraction
        outside [0, 1].
    """
    block = layered_block(composition)
    supercell = _check_supercell(supercell)
    if cell not in ("hexagonal", "orthogonal"):
        raise StructureError(f"cell must be 'hexagonal' or 'orthogonal', got {cell!r}")
    if n_blocks is None:
        n_blocks = supercell[2] * block.blocks_per_cell
    if isinstance(n_blocks, bool) or int(n_blocks) != n_blocks or n_blocks < 1:
        raise StructureError(f"n_blocks must be a positive integer, got {n_blocks!r}")
    n_blocks = int(n_blocks)
    n_per_block = len(block.planes)
    if (n_blocks * n_per_block) % 3:
        raise StructureError(
            f"{n_blocks} blocks of {block.name} give {n_blocks * n_per_block} planes, which "
            "does not close the periodic A-B-C stacking; use a multiple of 3 blocks, e.g. "
            f"{' or '.join(map(str, _valid_block_counts(block, n_blocks)))}"
        )
    if not 0.0 <= cation_disorder <= 1.0:
        raise StructureError(f"cation_disorder must lie in [0, 1], got {cation_disorder}")
    a = block.a if lattice_parameter is None else float(lattice_parameter)
    h = block.period if period is None else float(period)
    if not (math.isfinite(a) and a > 0 and math.isfinite(h) and h > sum(block.spacings)):
        raise StructureError(
            f"lattice parameter must be positive and period larger than the block height "
            f"{sum(block.spacings):.3f} Å"
        )
    n_a, n_b, _ = supercell

    offsets = np.concatenate([[0.0], np.cumsum(block.spacings)])
    gap = h - offsets[-1]
    z = (np.arange(n_blocks)[:, None] * h + offsets[None, :] + gap / 2).reshape(-1)
    n_planes = len(z)
    plane_species = np.tile([atomic_numbers[s] for s in block.planes], n_blocks)
    stack = np.arange(n_planes) % 3
    shifts = np.array([[0.0, 0.0], [a / 2, a / (2 * math.sqrt(3))], [0.0, a / math.sqrt(3)]])

    if cell == "hexagonal":
        a1 = np.array([a, 0.0])
        a2 = np.array([-a / 2, a * math.sqrt(3) / 2])
        ij = np.indices((n_a, n_b)).reshape(2, -1).T.astype(float)
        grid = ij[:, :1] * a1 + ij[:, 1:] * a2
        lattice = np.array([[n_a * a, 0, 0], [-n_b * a / 2, n_b * a * math.sqrt(3) / 2, 0], [0, 0, 0]])
    else:
        b = a * math.sqrt(3)
        ij = np.indices((n_a, n_b)).reshape(2, -1).T.astype(float)
        corners = ij * np.array([a, b])
        grid = (corners[:, None, :] + np.array([[0.0, 0.0], [a / 2, b / 2]])[None]).reshape(-1, 2)
        lattice = np.diag([n_a * a, n_b * b, 0.0])
    lattice[2, 2] = n_blocks * h
    per_plane = len(grid)

    xy = grid[None, :, :] + shifts[stack][:, None, :]
    positions = np.empty((n_planes, per_plane, 3))
    positions[:, :, :2] = xy
    positions[:, :, 2] = z[:, None]
    positions = positions.reshape(-1, 3)
    numbers = np.repeat(plane_species, per_plane)
    block_index = np.repeat(np.arange(n_planes) // n_per_block, per_plane).astype(np.int32)
    plane_index = np.repeat(np.arange(n_planes) % n_per_block, per_plane).astype(np.int32)

    rng = np.random.default_rng(seed)
    if cation_disorder > 0:
        cations = np.flatnonzero(numbers != atomic_numbers["Te"])
        chosen = rng.choice(cations, size=round(cation_disorder * len(cations)), replace=False)
        numbers[chosen] = rng.permutation(numbers[chosen])

    atoms = Atoms(numbers=numbers, positions=positions, cell=lattice, pbc=True)
    if cell == "hexagonal":
        atoms.wrap()
    atoms.new_array("block", block_index)
    atoms.new_array("plane", plane_index)
    add_roles(atoms)
    atoms.info.update(
        {
            "composition": block.name,
            "builder": "build_layered",
            "phase": "layered" if block.name != "GeTe" else "rhombohedral",
            "parameters": {
                "supercell": [n_a, n_b, supercell[2]],
                "n_blocks": n_blocks,
                "cell": cell,
                "lattice_parameter": a,
                "period": h,
                "gap": gap,
                "cation_disorder": cation_disorder,
                "space_group": block.space_group,
            },
            "seed": seed,
            "source": block.source,
        }
    )
    return atoms
