"""Per-atom role arrays shared by every builder.

MD protocols read these arrays instead of recomputing geometry:

``fixed`` (bool)
    Atom is held fixed (e.g. crystal template layers, top layers of a slab).
``region`` (int)
    Region label: 0 for the bulk; builders document their other labels
    (e.g. 1 = heating focal region, 1 = amorphous/melt region).
``seed_id`` (int)
    Index of the crystalline seed an atom belongs to, -1 for none.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

__all__ = ["ROLE_ARRAYS", "add_roles"]

#: Names and dtypes of the role arrays, with their default value.
ROLE_ARRAYS: dict[str, tuple[type, int | bool]] = {
    "fixed": (bool, False),
    "region": (np.int32, 0),
    "seed_id": (np.int32, -1),
}


def add_roles(
    atoms: Atoms,
    fixed: np.ndarray | None = None,
    region: np.ndarray | None = None,
    seed_id: np.ndarray | None = None,
) -> Atoms:
    """Attach the role arrays, in place, filling missing ones with defaults.

    Parameters
    ----------
    atoms
        Structure to annotate.
    fixed, region, seed_id
        Per-atom values; None keeps an existing array or sets the default
        (False, 0, -1).

    Returns
    -------
    ase.Atoms
        The same object.
    """
    given = {"fixed": fixed, "region": region, "seed_id": seed_id}
    n = len(atoms)
    for name, (dtype, default) in ROLE_ARRAYS.items():
        value = given[name]
        if value is None:
            if name in atoms.arrays and len(atoms.arrays[name]) == n:
                continue
            value = np.full(n, default, dtype=dtype)
        value = np.asarray(value, dtype=dtype)
        if value.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {value.shape}")
        if name in atoms.arrays:
            del atoms.arrays[name]
        atoms.new_array(name, value)
    return atoms
