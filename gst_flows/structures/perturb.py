"""Perturbed copies of structures: rattled and strained cells for the iter-0 database."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from .errors import StructureError

__all__ = ["perturbed_copies"]


def perturbed_copies(
    atoms: Atoms,
    n_copies: int,
    rattle: float = 0.05,
    strain: float = 0.03,
    seed: int = 0,
    min_distance: float = 1.8,
    max_tries: int = 50,
) -> list[Atoms]:
    """Copies of ``atoms`` with random atomic displacements and a random cell strain.

    Parameters
    ----------
    atoms
        The reference structure.
    n_copies
        Number of copies.
    rattle
        Standard deviation of the Gaussian displacement of every atom, Å.
    strain
        Largest absolute entry of the symmetric strain tensor applied to the cell.
    seed
        Seed of the random generator (the copies are reproducible).
    min_distance
        Reject and redraw a copy whose closest pair is nearer than this, Å.
    max_tries
        Draws allowed per copy before giving up with :class:`StructureError`.

    Returns
    -------
    list of ase.Atoms
        Copies whose ``info`` records ``generator``, ``rattle``, ``strain`` (the tensor) and
        ``parent`` (the reference formula).
    """
    if n_copies < 0 or rattle < 0 or strain < 0:
        raise StructureError("n_copies, rattle and strain must be non-negative")
    from .validate import minimum_distance

    rng = np.random.default_rng(seed)
    copies: list[Atoms] = []
    for index in range(n_copies):
        for _ in range(max_tries):
            eps = rng.uniform(-strain, strain, size=(3, 3))
            eps = 0.5 * (eps + eps.T)
            copy = atoms.copy()
            copy.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
            copy.positions += rng.normal(0.0, rattle, size=copy.positions.shape)
            if len(copy) < 2 or minimum_distance(copy) >= min_distance:
                break
        else:
            raise StructureError(
                f"could not draw copy {index} with all distances >= {min_distance} Å; lower rattle or strain"
            )
        copy.info.update(
            {
                "generator": f"perturbed_copies(seed={seed}, copy={index})",
                "rattle": rattle,
                "strain": eps.tolist(),
                "parent": atoms.get_chemical_formula(),
            }
        )
        copies.append(copy)
    return copies
