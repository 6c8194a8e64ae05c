"""Cells of the crystallisation scenarios: template growth, heating series, seeded growth.

- :func:`build_crystallisation_cell`: rock-salt Ge1Sb2Te4 with [111] along z, an amorphous
  middle (``region`` 1) between crystal template bilayers (``fixed``, ``region`` 0).
- :func:`build_heating_cell`: rock-salt n × n × n cells of the heating series.
- :func:`build_seeded`: crystalline rock-salt seeds (``seed_id`` 0, 1, ...) in an amorphous
  matrix (``region`` 1).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from gst_flows.structures.composition import as_composition, format_composition
from gst_flows.structures.devices.common import (
    AMORPHOUS_DENSITY_RATIO,
    _as_atoms,
    _fill_region,
    _remove_close,
    _species_counts,
    random_packing,
)
from gst_flows.structures.errors import StructureError
from gst_flows.structures.rocksalt import _check_supercell, build_rocksalt, default_lattice_parameter
from gst_flows.structures.roles import add_roles

__all__ = ["build_crystallisation_cell", "build_heating_cell", "build_seeded"]


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
