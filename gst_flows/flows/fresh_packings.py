"""Fresh random packings for every student round of indirect learning.

A student whose rounds run on the same few cells learns those cells: two students that
completed the stability protocol on their rounds' two packings blew up on most fresh
packings of the same composition within the first hundred steps of the melt (measured in
``docs/fast-potentials.md``). ``IndirectLearningMaker.make(cells, student_cells=FreshPackings(...))``
draws new packings for every round instead, so that each round's runs are on cells no
student has run on, and ``until_stable`` judges a student on unseen cells.

A packing is far from equilibrium: it releases strain energy as heat within the first steps.
Start the student's runs on packings hot (a melt at the protocol's initial temperature); a run
from 300 K, such as a heating ramp, trips the MD temperature check at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase.data import atomic_numbers
from monty.json import MSONable
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.errors import InputError
from gst_flows.structures.devices.common import random_packing
from gst_flows.structures.errors import StructureError

__all__ = ["FreshPackings", "as_fresh_packings"]

WHERE = "student_cells"


@dataclass(frozen=True)
class FreshPackings(MSONable):
    """Random periodic packings drawn anew for every student round.

    Attributes
    ----------
    counts
        Atoms per element of each cell of a round, e.g. ``[{"Ge": 222, "Sb": 222, "Te": 556}]``.
    density
        Number density of the cubic cells, atoms/Å³ (0.031: liquid and amorphous GST).
    min_distance
        No two atoms of a packing closer than this, Å.
    seed
        Seed of the packings: cell ``k`` of round ``r`` comes from ``(seed, r, k)``, so the
        cells of a round are reproducible and no two rounds share one.
    """

    counts: list[dict[str, int]] = field(default_factory=list)
    density: float = 0.031
    min_distance: float = 2.5
    seed: int = 0

    def check(self) -> list[Structure]:
        """Refuse counts, density or distance that cannot give packings, before any job.

        Returns the packings of the first round (drawing them is the last check).
        """
        if not self.counts or not all(isinstance(c, dict) and c for c in self.counts):
            raise InputError("counts must be a list of atom counts per element, one per cell", where=WHERE)
        for counts in self.counts:
            for element, n in counts.items():
                if element not in atomic_numbers or element == "X":
                    raise InputError(f"unknown element {element!r} in counts", where=WHERE)
                if int(n) != n or n < 1:
                    raise InputError(f"count of {element} must be a whole number >= 1, got {n}", where=WHERE)
        if not 0.005 <= self.density <= 0.1:
            raise InputError(f"density must be in [0.005, 0.1] atoms/Å³, got {self.density}", where=WHERE)
        if not 1.0 <= self.min_distance <= 4.0:
            raise InputError(f"min_distance must be in [1, 4] Å, got {self.min_distance}", where=WHERE)
        try:
            return self.cells(1)
        except StructureError as exc:
            raise InputError(
                f"no packing at {self.density} atoms/Å³ with min_distance {self.min_distance} Å: {exc}",
                where=WHERE,
                fix="lower the density or min_distance",
            ) from exc

    def cells(self, round_: int) -> list[Structure]:
        """The packings of round ``round_`` (1 for the first round), one per entry of ``counts``."""
        out = []
        for k, counts in enumerate(self.counts):
            side = (sum(counts.values()) / self.density) ** (1 / 3)
            seed = int(np.random.SeedSequence([int(self.seed), int(round_), k]).generate_state(1)[0])
            atoms = random_packing((side, side, side), counts, min_distance=self.min_distance, seed=seed)
            out.append(AseAtomsAdaptor.get_structure(atoms))
        return out


def as_fresh_packings(value: Any) -> FreshPackings | None:
    """A :class:`FreshPackings` from itself or its dict (as stored with a job); else None."""
    if isinstance(value, FreshPackings):
        return value
    if isinstance(value, dict) and value.get("@class") == FreshPackings.__name__:
        return FreshPackings(**{k: v for k, v in value.items() if not k.startswith("@")})
    return None
