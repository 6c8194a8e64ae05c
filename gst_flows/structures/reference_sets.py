"""Structures of the quasi-binary reference test set (never trained on).

The set spans the GeTe–Sb2Te3 line in both crystal families and diamond Ge:

- rock-salt GeTe, Ge2Sb2Te5, Ge1Sb2Te4 and Sb2Te3 (cation vacancies on the cation sublattice;
  the two compositions whose cubic cell cannot hold exact counts are built as stacks of
  primitive rock-salt cells, 9 and 5 atoms);
- trigonal GeTe (R3m), Ge2Sb2Te5, Ge1Sb2Te4 and Sb2Te3 (hexagonal cells, 6-21 atoms);
- diamond Ge;

each rattled and strained as a crystal near room temperature. Liquid frames (GeTe and
Ge2Sb2Te5 near 1,000 K) come from ab initio MD and are added by
``benchmarks/build_reference_set.py``, which labels everything with the default CP2K protocol.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk, make_supercell

from gst_flows.structures.crystals import build_diamond
from gst_flows.structures.layered import build_layered
from gst_flows.structures.perturb import perturbed_copies
from gst_flows.structures.rocksalt import build_rocksalt, default_lattice_parameter

__all__ = ["REFERENCE_SEED", "primitive_cell", "primitive_rocksalt_stack", "reference_crystals"]

#: Seed of the reference set's perturbations (no training set uses it).
REFERENCE_SEED = 9100

#: Cation counts of one [111]-stacked cell of ``n`` primitive rock-salt cells.
_STACKS = {"Ge2Sb2Te5": (5, {"Ge": 2, "Sb": 2}, 5), "Sb2Te3": (3, {"Sb": 2}, 3)}


def primitive_rocksalt_stack(composition: str, seed: int = REFERENCE_SEED) -> Atoms:
    """Rock-salt cell of ``n`` primitive cells along one fcc vector, vacancies on cation sites.

    Only for the compositions in ``_STACKS`` (Ge2Sb2Te5: 5 cells, 9 atoms; Sb2Te3: 3 cells,
    5 atoms), whose cubic cells cannot hold exact counts below 36 and 20 atoms.
    """
    n_cells, cations, n_te = _STACKS[composition]
    a = default_lattice_parameter(composition)
    prim = bulk("NaTe", "rocksalt", a=a)  # Na marks the cation site
    cell = make_supercell(prim, np.diag([1, 1, n_cells]))
    rng = np.random.default_rng(seed)
    cation_sites = [i for i, s in enumerate(cell.get_chemical_symbols()) if s == "Na"]
    species = [el for el, count in cations.items() for _ in range(count)]
    species += ["X"] * (len(cation_sites) - len(species))
    rng.shuffle(species)
    symbols = cell.get_chemical_symbols()
    for site, element in zip(cation_sites, species, strict=True):
        symbols[site] = element
    keep = [i for i, s in enumerate(symbols) if s != "X"]
    atoms = Atoms([symbols[i] for i in keep], cell.positions[keep], cell=cell.cell, pbc=True)
    if atoms.get_chemical_symbols().count("Te") != n_te:
        raise AssertionError(f"{composition}: wrong anion count")
    atoms.info.update({"composition": composition, "builder": "primitive_rocksalt_stack"})
    return atoms


def primitive_cell(atoms: Atoms) -> Atoms:
    """The primitive cell of a crystal (spglib, 1e-3 Å); ``atoms`` itself if it is primitive."""
    import spglib

    lattice, scaled, numbers = spglib.standardize_cell(
        (atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers), to_primitive=True, symprec=1e-3
    )
    if len(numbers) >= len(atoms):
        return atoms
    prim = Atoms(numbers=numbers, scaled_positions=scaled, cell=lattice, pbc=True)
    prim.info.update(atoms.info)
    return prim


def reference_crystals(seed: int = REFERENCE_SEED, rattle: float = 0.1, strain: float = 0.02) -> list[Atoms]:
    """The nine crystal frames of the reference set, with ``config_type`` and ``name`` in info.

    ``config_type`` is ``rocksalt``, ``trigonal`` or ``diamond``; ``name`` says which
    composition and phase.
    """
    crystals: list[tuple[str, str, Atoms]] = [
        ("rocksalt", "GeTe rock-salt", build_rocksalt("GeTe", seed=seed)),
        ("rocksalt", "Ge2Sb2Te5 rock-salt", primitive_rocksalt_stack("Ge2Sb2Te5", seed)),
        ("rocksalt", "Ge1Sb2Te4 rock-salt", build_rocksalt("Ge1Sb2Te4", seed=seed)),
        ("rocksalt", "Sb2Te3 rock-salt", primitive_rocksalt_stack("Sb2Te3", seed)),
        ("trigonal", "GeTe R3m", build_layered("GeTe", seed=seed)),
        ("trigonal", "Ge2Sb2Te5 trigonal", primitive_cell(build_layered("Ge2Sb2Te5", seed=seed))),
        # hexagonal cells: their rhombohedral primitive cells need 15x15x15 k-points at 0.12 Å⁻¹
        ("trigonal", "Ge1Sb2Te4 trigonal", build_layered("Ge1Sb2Te4", seed=seed)),
        ("trigonal", "Sb2Te3 trigonal", build_layered("Sb2Te3", seed=seed)),
        ("diamond", "Ge diamond", build_diamond()),
    ]
    frames = []
    for index, (config_type, name, crystal) in enumerate(crystals):
        (frame,) = perturbed_copies(crystal, 1, rattle=rattle, strain=strain, seed=seed + index)
        frame.info = {"config_type": config_type, "name": name}
        frames.append(frame)
    return frames
