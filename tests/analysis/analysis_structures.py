"""Test structures for the analysis tests, built with ase.build and numpy only."""

import numpy as np
from ase import Atoms
from ase.build import bulk

A_ROCKSALT = 6.0
A_DIAMOND = 5.658


def rocksalt_gete(repeat: int = 3, a: float = A_ROCKSALT) -> Atoms:
    """Ideal rock-salt GeTe, conventional cubic cell repeated."""
    atoms = bulk("NaCl", "rocksalt", a=a, cubic=True).repeat(repeat)
    symbols = np.where(atoms.numbers == 11, "Ge", "Te")
    atoms.set_chemical_symbols(symbols.tolist())
    return atoms


def diamond_ge(repeat: int = 2) -> Atoms:
    return bulk("Ge", "diamond", a=A_DIAMOND, cubic=True).repeat(repeat)


def rocksalt_gst(repeat: int = 4, seed: int = 0, a: float = A_ROCKSALT) -> Atoms:
    """Rock-salt Ge1Sb2Te4: Te sublattice full; 1 Ge, 2 Sb, 1 vacancy per 4 cation sites."""
    rng = np.random.default_rng(seed)
    atoms = rocksalt_gete(repeat, a)
    cations = np.flatnonzero(atoms.numbers == 32)
    rng.shuffle(cations)
    n = len(cations) // 4
    symbols = np.array(atoms.get_chemical_symbols())
    symbols[cations[n : 3 * n]] = "Sb"
    atoms.set_chemical_symbols(symbols.tolist())
    del atoms[cations[3 * n :]]
    return atoms


def random_gas(n: int, density: float, seed: int = 0, cell: np.ndarray | None = None) -> Atoms:
    """Uniformly random positions (an ideal gas) of Ge/Sb/Te at a number density in Å⁻³."""
    rng = np.random.default_rng(seed)
    if cell is None:
        cell = np.eye(3) * (n / density) ** (1 / 3)
    frac = rng.random((n, 3))
    symbols = rng.choice(["Ge", "Sb", "Te"], size=n)
    return Atoms(symbols.tolist(), scaled_positions=frac, cell=cell, pbc=True)


def random_packing(
    n: int, density: float, min_distance: float, seed: int = 0, formula: tuple[str, ...] | None = None
) -> Atoms:
    """Random sequential packing with a minimum distance (a crude liquid/amorphous proxy).

    ``density`` is a number density in Å⁻³. Species are drawn at random from Ge, Sb, Te, Te,
    or, with ``formula``, cycle through it (exact composition) and are shuffled.
    """
    rng = np.random.default_rng(seed)
    length = (n / density) ** (1 / 3)
    accepted = np.zeros((0, 3))
    while len(accepted) < n:
        trial = rng.random((4 * n, 3)) * length
        for p in trial:
            d = accepted - p
            d -= length * np.round(d / length)
            if len(accepted) == 0 or np.min(np.einsum("ij,ij->i", d, d)) >= min_distance**2:
                accepted = np.vstack([accepted, p])
                if len(accepted) == n:
                    break
    if formula is None:
        symbols = rng.choice(["Ge", "Sb", "Te", "Te"], size=n)
    else:
        symbols = rng.permutation([formula[i % len(formula)] for i in range(n)])
    return Atoms(symbols.tolist(), positions=accepted, cell=np.eye(3) * length, pbc=True)
