"""Stable hashes of structures, used for de-duplication and train/test splits."""

from __future__ import annotations

import hashlib

import numpy as np
from ase import Atoms

__all__ = ["structure_hash"]


def structure_hash(atoms: Atoms, decimals: int = 4) -> str:
    """SHA-1 of species, positions (wrapped, rounded to ``decimals`` Å), cell and pbc.

    Two structures that differ by less than the rounding, or only by wrapping atoms into the
    cell, hash alike; atom order matters.
    """
    wrapped = atoms.copy()
    if any(atoms.pbc):
        wrapped.wrap(eps=10.0 ** (-decimals))
    digest = hashlib.sha1()
    digest.update(np.asarray(atoms.numbers, dtype=np.int64).tobytes())
    # Adding 0.0 turns -0.0 into 0.0 so the bytes are stable.
    for array in (wrapped.positions, atoms.cell.array):
        digest.update((np.round(np.asarray(array, dtype=float), decimals) + 0.0).tobytes())
    digest.update(np.asarray(atoms.pbc, dtype=np.int8).tobytes())
    return digest.hexdigest()
