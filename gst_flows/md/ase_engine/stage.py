"""Per-stage constants of the ASE engine, computed once at a stage's start (or restored)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from ase import Atoms

from gst_flows.md.protocol import ElectricField, Stage, fixed_mask, heat_groups
from gst_flows.md.units import FS, KB

if TYPE_CHECKING:
    from gst_flows.md.ase_engine.run import _Run


@dataclass
class _Group:
    index: np.ndarray  # atom indices
    rate: float  # eV/fs, positive: inject, negative: remove


class _StageContext:
    """Everything a stage needs per step, computed once at its start (or restored)."""

    def __init__(self, engine: _Run, index: int, stage: Stage, groups: list[_Group] | None) -> None:
        atoms = engine.atoms
        self.index, self.stage = index, stage
        self.dt = stage.timestep
        self.n_steps = stage.n_steps
        self.fixed = fixed_mask(atoms, stage)
        self.mobile = ~self.fixed
        self.n_mobile = int(self.mobile.sum())
        self.dof = 3 * self.n_mobile
        masses = engine.masses
        self.acc = np.where(self.mobile, FS**2 / masses, 0.0)[:, None]
        self.sigma = np.where(self.mobile, np.sqrt(KB / masses) * FS, 0.0)[:, None]
        self.field = self._field_forces(atoms, stage)
        self.plan = engine.plan[index]
        self.groups = groups if groups is not None else self._groups(atoms, stage)
        self.npt = stage.ensemble == "npt"
        self.thermostat = None if stage.ensemble == "nve" else stage.thermostat

    def _field_forces(self, atoms: Atoms, stage: Stage) -> np.ndarray | None:
        fields = stage.actions_of(ElectricField)
        if not fields:
            return None
        symbols = atoms.get_chemical_symbols()
        forces = np.zeros((len(atoms), 3))
        for action in fields:
            charges = np.array([action.charges.get(s, 0.0) for s in symbols])
            forces += charges[:, None] * action.field_vector()[None, :]
        forces[self.fixed] = 0.0
        return forces

    def _groups(self, atoms: Atoms, stage: Stage) -> list[_Group]:
        return [
            _Group(np.flatnonzero(mask), rate)
            for mask, rate in heat_groups(atoms, stage, self.mobile, self.plan.removal_rate)
        ]
