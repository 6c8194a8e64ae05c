"""Simulation cells of the device scenarios.

Every builder returns ``ase.Atoms`` with the role arrays ``fixed``, ``region``
and ``seed_id`` set, so MD protocols can act on atoms without recomputing
geometry:

- :func:`build_crystallisation_cell`: rock-salt Ge1Sb2Te4 with [111] along z,
  an amorphous middle (``region`` 1) between crystal template bilayers
  (``fixed``, ``region`` 0).
- :func:`build_heating_cell`: rock-salt n × n × n cells of the heating series.
- :func:`build_mushroom`: rock-salt slab with a half-cylinder focal region at
  the bottom of the xz plane (``region`` 1) and the top atomic layers ``fixed``.
- :func:`build_cross_point`: layered trigonal Ge1Sb2Te4 cut to a rectangular
  in-plane size, with a given number of septuple-layer blocks.
- :func:`build_seeded`: crystalline rock-salt seeds (``seed_id`` 0, 1, ...) in an
  amorphous matrix (``region`` 1).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers, chemical_symbols
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from .composition import as_composition, format_composition
from .errors import StructureError
from .layered import build_layered, layered_block
from .rocksalt import _check_supercell, build_rocksalt, default_lattice_parameter
from .roles import add_roles

__all__ = [
    "AMORPHOUS_DENSITY_RATIO",
    "MUSHROOM_FOCAL_RADII",
    "build_cross_point",
    "build_crystallisation_cell",
    "build_heating_cell",
    "build_mushroom",
    "build_seeded",
    "density",
    "random_packing",
]

#: Number density of the amorphous phase relative to the rock-salt crystal. GST
#: shrinks by about 6.5 % in volume on crystallisation (W. K. Njoroge, H.-W.
#: Wöltgens, M. Wuttig, J. Vac. Sci. Technol. A 20, 230 (2002)).
AMORPHOUS_DENSITY_RATIO = 1 / 1.065

#: Radii (Å) of the half-cylinder focal region of the mushroom cell for the
#: 1,650 eV ("small") and 3,900 eV ("large") pulses. Chosen so both pulses put
#: about the same energy per focal atom: the radius ratio is √(3900/1650).
MUSHROOM_FOCAL_RADII: dict[str, float] = {
    "small": 35.0,
    "large": round(35.0 * math.sqrt(3900 / 1650), 1),
}


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
    from .io import read_structures

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


def build_crystallisation_cell(
    composition: str | Mapping[str, float] = "Ge1Sb2Te4",
    supercell: Sequence[int] = (6, 4, 4),
    seed: int | None = 0,
    lattice_parameter: float | None = None,
    *,
    crystal_bilayers: int = 2,
    amorphous: Atoms | str | os.PathLike | None = None,
    min_distance: float = 2.2,
) -> Atoms:
    """Build the crystallisation (SET) cell: amorphous middle, crystal template.

    Rock-salt-like GST with [111] along z. The ``crystal_bilayers`` Te–cation
    (111) bilayers at the periodic z boundary (half at the bottom, half at the
    top, adjacent through the boundary) form the crystalline template and are
    marked ``fixed``; the rest is the amorphous region (``region`` 1) from which
    the crystal grows along [111].

    Parameters
    ----------
    composition
        Rock-salt composition.
    supercell
        Repeats of the [111]-oriented orthogonal cell (a/√2 × a·√(3/2) × a·√3,
        6 Te sites each, 3 bilayers along z). The default (6, 4, 4) gives 1,008
        atoms for Ge1Sb2Te4 in 2.56 × 2.96 × 4.18 nm.
    seed
        Random seed for the cation sublattice (and the packing of no amorphous
        structure is given).
    lattice_parameter
        Cubic lattice parameter in Å (default from the rock-salt table).
    crystal_bilayers
        Number of fixed crystalline bilayers at the boundary (at least 1).
    amorphous
        Amorphous structure (``Atoms`` or a file) to fill the middle: it is tiled
        over the cell, cut to the middle slab and thinned so no atom is closer
        than ``min_distance``. Without it the middle keeps the crystal sites as a
        melt placeholder: an MD melt of ``region`` 1 (with ``fixed`` atoms held)
        turns it amorphous.
    min_distance
        Smallest distance in Å kept when inserting an amorphous structure.

    Returns
    -------
    ase.Atoms
        Cell with ``fixed`` (template bilayers), ``region`` (0 crystal,
        1 amorphous), ``bilayer`` index along z, and ``info["amorphous"]``
        (``"placeholder"`` or ``"inserted"``).

    Raises
    ------
    StructureError
        For an impossible composition or supercell, or too few or too many
        crystal bilayers.
    """
    supercell = _check_supercell(supercell)
    n_bilayers = 3 * supercell[2]
    if not 1 <= crystal_bilayers < n_bilayers:
        raise StructureError(
            f"crystal_bilayers must be between 1 and {n_bilayers - 1}, got {crystal_bilayers}"
        )
    crystal = build_rocksalt(composition, supercell, seed, lattice_parameter, orientation="111")
    a = crystal.info["parameters"]["lattice_parameter"]
    thickness = a / math.sqrt(3)
    # planes sit at j * thickness / 2; bilayer k holds cation plane 2k and anion plane 2k + 1
    bilayer = np.floor(crystal.positions[:, 2] / thickness + 1e-6).astype(np.int32) % n_bilayers
    n_bottom = (crystal_bilayers + 1) // 2
    n_top = crystal_bilayers - n_bottom
    template = (bilayer < n_bottom) | (bilayer >= n_bilayers - n_top)
    box = crystal.cell.lengths()
    info = dict(crystal.info)
    if amorphous is None:
        atoms = crystal
        mode = "placeholder"
    else:
        source = _as_atoms(amorphous)
        z_lo = n_bottom * thickness - thickness / 4
        z_hi = (n_bilayers - n_top) * thickness - thickness / 4
        lower = np.array([0.0, 0.0, z_lo])
        upper = np.array([box[0], box[1], z_hi])
        positions, numbers = _fill_region(source, box, lower, upper)
        keep = _remove_close(positions, crystal.positions[template], box, min_distance)
        atoms = Atoms(
            numbers=np.concatenate([crystal.numbers[template], numbers[keep]]),
            positions=np.concatenate([crystal.positions[template], positions[keep]]),
            cell=crystal.cell,
            pbc=True,
        )
        bilayer = np.concatenate(
            [
                bilayer[template],
                (np.floor(positions[keep, 2] / thickness).astype(np.int32) % n_bilayers),
            ]
        )
        template = np.concatenate([np.ones(template.sum(), bool), np.zeros(keep.sum(), bool)])
        mode = "inserted"
        info["composition"] = format_composition(
            {
                chemical_symbols[z]: int(c)
                for z, c in zip(*np.unique(atoms.numbers, return_counts=True), strict=True)
            }
        )
    region = np.where(template, 0, 1).astype(np.int32)
    if "bilayer" in atoms.arrays:
        del atoms.arrays["bilayer"]
    atoms.new_array("bilayer", bilayer.astype(np.int32))
    for key in ("fixed", "region", "seed_id", "sublattice"):
        atoms.arrays.pop(key, None)
    add_roles(atoms, fixed=template, region=region)
    info.update(
        {
            "builder": "build_crystallisation_cell",
            "phase": "crystal-amorphous",
            "amorphous": mode,
            "growth_direction": "[111] along z",
        }
    )
    info["parameters"] = dict(info["parameters"], crystal_bilayers=crystal_bilayers)
    if mode == "inserted":
        info.pop("counts", None)
        info.pop("vacancies", None)
    atoms.info = info
    return atoms


def build_heating_cell(
    composition: str | Mapping[str, float] = "Ge1Sb2Te4",
    supercell: Sequence[int] | int = (12, 12, 12),
    seed: int | None = 0,
    lattice_parameter: float | None = None,
) -> Atoms:
    """Build a rock-salt cell of the heating series (n × n × n conventional cells).

    Parameters
    ----------
    composition
        Rock-salt composition.
    supercell
        Repeats, or one integer n for n × n × n; 12 gives 12,096 atoms for
        Ge1Sb2Te4.
    seed
        Random seed; independent runs use different seeds.
    lattice_parameter
        Cubic lattice parameter in Å.

    Returns
    -------
    ase.Atoms
        The rock-salt cell (see :func:`build_rocksalt`).
    """
    if isinstance(supercell, int | np.integer):
        supercell = (int(supercell),) * 3
    atoms = build_rocksalt(composition, supercell, seed, lattice_parameter)
    atoms.info["builder"] = "build_heating_cell"
    return atoms


def build_mushroom(
    composition: str | Mapping[str, float] = "Ge1Sb2Te4",
    supercell: Sequence[int] = (33, 5, 20),
    seed: int | None = 0,
    lattice_parameter: float | None = None,
    *,
    focal: str = "small",
    focal_radius: float | None = None,
    fixed_layers: int = 4,
    periodic_z: bool = True,
) -> Atoms:
    """Build the mushroom cell for iterative RESET simulations.

    Rock-salt GST (cubic axes along x, y, z), periodic in all three directions:
    no free surface, no vacuum. The focal region, where kinetic energy is
    injected, is a half-cylinder with its axis along y through the middle of the
    bottom face (x = Lx/2, z = 0): atoms with ``(x - Lx/2)² + z² ≤ r²`` are
    ``region`` 1. The top ``fixed_layers`` atomic (001) planes are ``fixed``:
    through the periodic z boundary they sit right above the focal region and
    are the heat barrier between it and the top of the cell (a device's thermal
    barrier), so no heat reaches the focal region from above.

    Parameters
    ----------
    composition
        Rock-salt composition.
    supercell
        Repeats of the cubic cell; (33, 5, 20) gives 23,100 Ge1Sb2Te4 atoms,
        about 20 × 12 nm in xz.
    seed
        Random seed for the cation sublattice.
    lattice_parameter
        Cubic lattice parameter in Å.
    focal
        ``"small"`` (1,650 eV pulse) or ``"large"`` (3,900 eV pulse), see
        :data:`MUSHROOM_FOCAL_RADII`.
    focal_radius
        Radius in Å, overriding ``focal``.
    fixed_layers
        Number of atomic planes at the top held fixed.
    periodic_z
        Periodic along z (the published cell); False gives a slab open along z
        (x and y periodic) with two free surfaces.

    Returns
    -------
    ase.Atoms
        Cell with ``region`` (1 in the focal half-cylinder), ``fixed`` (top
        layers), and ``info["focal_radius"]``, ``info["focal_axis"]``.

    Raises
    ------
    StructureError
        For an unknown focal size, a non-positive radius, or more fixed layers
        than the slab has.
    """
    supercell = _check_supercell(supercell)
    if focal_radius is None:
        if focal not in MUSHROOM_FOCAL_RADII:
            raise StructureError(f"focal must be one of {', '.join(MUSHROOM_FOCAL_RADII)}, got {focal!r}")
        focal_radius = MUSHROOM_FOCAL_RADII[focal]
    radius = float(focal_radius)
    if not math.isfinite(radius) or radius <= 0:
        raise StructureError(f"focal_radius must be positive, got {focal_radius!r}")
    n_layers = 2 * supercell[2]
    if not 0 <= fixed_layers <= n_layers:
        raise StructureError(f"fixed_layers must be between 0 and {n_layers}, got {fixed_layers}")
    atoms = build_rocksalt(composition, supercell, seed, lattice_parameter)
    a = atoms.info["parameters"]["lattice_parameter"]
    lx = atoms.cell[0, 0]
    pos = atoms.positions
    layer = np.rint(pos[:, 2] / (a / 2)).astype(np.int64)
    fixed = layer >= n_layers - fixed_layers
    centre_x = lx / 2
    region = ((pos[:, 0] - centre_x) ** 2 + pos[:, 2] ** 2 <= radius**2).astype(np.int32)
    add_roles(atoms, fixed=fixed, region=region)
    atoms.pbc = (True, True, bool(periodic_z))
    atoms.info.update(
        {
            "builder": "build_mushroom",
            "focal_radius": radius,
            "focal_axis": [float(centre_x), 0.0, 0.0],
            "focal_axis_direction": "y",
        }
    )
    atoms.info["parameters"] = dict(
        atoms.info["parameters"],
        focal=focal if focal_radius is None or focal in MUSHROOM_FOCAL_RADII else None,
        focal_radius=radius,
        fixed_layers=fixed_layers,
        periodic_z=periodic_z,
    )
    return atoms


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


def _seed_cluster(
    composition: Mapping[str, float],
    n_atoms: int,
    a: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a randomly oriented, sphere-like rock-salt cluster of exactly ``n_atoms`` atoms."""
    rho = 4.0 / a**3  # lowest density of a rock-salt cell with a full anion sublattice
    radius = (3 * n_atoms / (4 * math.pi * rho)) ** (1 / 3)
    n = math.ceil((2 * radius + 2 * a) / a)
    block = build_rocksalt(composition, (n, n, n), int(rng.integers(2**31)), a, exact=False)
    centre = block.cell.lengths() / 2 + (rng.random(3) - 0.5) * a / 2
    rel = block.positions - centre
    order = np.argsort(np.einsum("ij,ij->i", rel, rel), kind="stable")[:n_atoms]
    rotation = Rotation.random(random_state=rng).as_matrix()
    return rel[order] @ rotation.T, block.numbers[order]


def build_seeded(
    composition: str | Mapping[str, float] = "Ge1Sb2Te4",
    supercell: Sequence[int] = (7, 7, 7),
    seed: int | None = 0,
    lattice_parameter: float | None = None,
    *,
    n_seeds: int = 3,
    seed_atoms: int = 100,
    amorphous: Atoms | str | os.PathLike | None = None,
    matrix_density: float | None = None,
    min_distance: float = 2.2,
) -> Atoms:
    """Build crystalline seeds embedded in an amorphous matrix (polycrystalline growth).

    Each seed is a sphere-like cluster of exactly ``seed_atoms`` atoms cut from
    rock-salt GST with a random orientation; seeds do not overlap (periodic
    images included) and keep at least 3 Å of matrix between them.

    Parameters
    ----------
    composition
        Composition of seeds and matrix.
    supercell
        Box size in cubic rock-salt cells (a × n per side); (7, 7, 7) is about
        4.2 nm and 2,300 atoms for Ge1Sb2Te4.
    seed
        Random seed (orientations, positions, matrix packing).
    lattice_parameter
        Cubic lattice parameter in Å.
    n_seeds
        Number of crystalline seeds (0 gives a bare matrix).
    seed_atoms
        Atoms per seed.
    amorphous
        Amorphous structure (``Atoms`` or a file) tiled over the box as the
        matrix; otherwise a random packing placeholder at ``matrix_density``.
    matrix_density
        Matrix number density in atoms/Å³; default the rock-salt density times
        :data:`AMORPHOUS_DENSITY_RATIO`.
    min_distance
        Smallest distance in Å between matrix atoms and any other atom.

    Returns
    -------
    ase.Atoms
        Periodic cell; ``seed_id`` is the seed index (-1 in the matrix),
        ``region`` 0 for seeds and 1 for the matrix; ``info["seed_centres"]`` in Å.

    Raises
    ------
    StructureError
        If the seeds do not fit in the box, or the matrix cannot be packed.
    """
    comp = as_composition(composition)
    supercell = _check_supercell(supercell)
    if isinstance(n_seeds, bool) or int(n_seeds) != n_seeds or n_seeds < 0:
        raise StructureError(f"n_seeds must be a non-negative integer, got {n_seeds!r}")
    if isinstance(seed_atoms, bool) or int(seed_atoms) != seed_atoms or seed_atoms < 1:
        raise StructureError(f"seed_atoms must be a positive integer, got {seed_atoms!r}")
    a = default_lattice_parameter(comp) if lattice_parameter is None else float(lattice_parameter)
    box = np.array(supercell, dtype=float) * a
    rng = np.random.default_rng(seed)

    clusters = [_seed_cluster(comp, int(seed_atoms), a, rng) for _ in range(int(n_seeds))]
    radius = max((float(np.linalg.norm(p, axis=1).max()) for p, _ in clusters), default=0.0)
    separation = 2 * radius + 3.0
    centres: list[np.ndarray] = []
    for _ in range(10_000):
        if len(centres) == n_seeds:
            break
        trial = rng.random(3) * box
        if centres:
            delta = np.asarray(centres) - trial
            delta -= box * np.rint(delta / box)
            if np.linalg.norm(delta, axis=1).min() < separation:
                continue
        centres.append(trial)
    if len(centres) < n_seeds:
        raise StructureError(
            f"cannot place {n_seeds} seeds of radius {radius:.1f} Å without overlap in a "
            f"{box.round(1).tolist()} Å box; use a larger supercell or fewer seeds"
        )
    if n_seeds:
        seed_pos = np.mod(np.concatenate([p + c for (p, _), c in zip(clusters, centres, strict=True)]), box)
        seed_num = np.concatenate([z for _, z in clusters])
        seed_ids = np.repeat(np.arange(n_seeds, dtype=np.int32), [len(z) for _, z in clusters])
    else:
        seed_pos, seed_num, seed_ids = np.zeros((0, 3)), np.zeros(0, int), np.zeros(0, np.int32)
    exclusion = radius + min_distance / 2

    if amorphous is None:
        rho_c = len(build_rocksalt(comp, (1, 1, 1), 0, a, exact=False)) / a**3
        rho = rho_c * AMORPHOUS_DENSITY_RATIO if matrix_density is None else float(matrix_density)
        free_volume = box.prod() - n_seeds * 4 / 3 * math.pi * radius**3
        n_matrix = max(0, round(rho * free_volume))
        matrix = random_packing(
            box,
            _species_counts(comp, n_matrix),
            min_distance,
            int(rng.integers(2**31)),
            avoid=seed_pos,
            exclusion_centres=np.asarray(centres) if n_seeds else None,
            exclusion_radius=exclusion,
        )
        m_pos, m_num = matrix.positions, matrix.numbers
        mode = "placeholder"
    else:
        source = _as_atoms(amorphous)
        m_pos, m_num = _fill_region(source, box, np.zeros(3), box)
        keep = _remove_close(m_pos, seed_pos, box, min_distance)
        if n_seeds:
            d, _ = cKDTree(np.asarray(centres), boxsize=box).query(
                np.mod(m_pos, box), k=1, distance_upper_bound=exclusion
            )
            keep &= ~np.isfinite(d)
        m_pos, m_num = m_pos[keep], m_num[keep]
        mode = "inserted"

    atoms = Atoms(
        numbers=np.concatenate([seed_num, m_num]),
        positions=np.concatenate([seed_pos, m_pos]),
        cell=box,
        pbc=True,
    )
    atoms.wrap()
    n_seed_atoms = len(seed_num)
    add_roles(
        atoms,
        region=np.r_[np.zeros(n_seed_atoms, np.int32), np.ones(len(m_num), np.int32)],
        seed_id=np.r_[seed_ids, np.full(len(m_num), -1, np.int32)],
    )
    atoms.info.update(
        {
            "composition": format_composition(comp),
            "builder": "build_seeded",
            "phase": "seeded-amorphous",
            "parameters": {
                "supercell": list(supercell),
                "lattice_parameter": a,
                "n_seeds": int(n_seeds),
                "seed_atoms": int(seed_atoms),
                "matrix_density": None if amorphous is not None else rho,
                "min_distance": min_distance,
            },
            "seed": seed,
            "amorphous": mode,
            "seed_centres": [c.round(4).tolist() for c in centres],
            "seed_radius": radius,
        }
    )
    return atoms
