"""Electromigration: a constant electric field on charged ions at high temperature."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from jobflow import Job

from gst_flows.analysis.scenarios import AnalysisSettings
from gst_flows.flows.scenarios.base import PreparedRun, ScenarioError, ScenarioMaker, ScenarioRun
from gst_flows.makers.scenarios import ElectromigrationAnalysisMaker
from gst_flows.md.protocol import ElectricField, FixAtoms, Stage
from gst_flows.structures.cells import CellSpec

__all__ = ["DEFAULT_CHARGES", "ElectromigrationMaker"]

#: Charges of cation-like (Ge, Sb) and anion-like (Te) ions, e.
DEFAULT_CHARGES: dict[str, float] = {"Ge": 1.0, "Sb": 1.0, "Te": -1.0}


@dataclass
class ElectromigrationMaker(ScenarioMaker):
    """Electromigration: NVT at ``temperature`` with a constant field from bottom to top.

    A rock-salt cell elongated along z whose ``electrode_planes`` atomic planes at the
    periodic z boundary are held fixed (a blocking electrode: ions pile up against it instead
    of circulating through the boundary). After an equilibration without field, the force
    q·E acts on every mobile ion; cation-like and anion-like ions (opposite charges) drift in
    opposite directions. The analysis gives the species density profiles along the field over
    time and each species' drift.

    Parameters
    ----------
    composition
        Rock-salt composition.
    supercell
        Cubic repeats (full 6 × 6 × 12, 3,024 atoms of Ge1Sb2Te4; small 2 × 2 × 3, 84).
    electrode_planes
        Fixed atomic planes at the z boundary (full 4, small 2).
    temperature
        Temperature, K.
    field
        Field strength, V/Å (the force on a unit charge, eV/Å).
    direction
        ``"z"`` (bottom to top), ``"-z"``, ...
    charges
        Charge per species, e; every species of the cell needs one.
    equilibrate_duration, field_duration
        Stage lengths, fs (full: 10 ps and 200 ps).
    """

    name: str = "electromigration"
    composition: str = "Ge1Sb2Te4"
    supercell: tuple[int, int, int] | None = None
    electrode_planes: int | None = None
    temperature: float = 1000.0
    field: float = 0.03
    direction: str = "z"
    charges: dict[str, float] = dataclasses.field(default_factory=lambda: dict(DEFAULT_CHARGES))
    equilibrate_duration: float | None = None
    field_duration: float | None = None

    scenario: ClassVar[str] = "electromigration"
    SIZES: ClassVar[dict[str, dict[str, Any]]] = {
        "full": {
            "supercell": (6, 6, 12),
            "electrode_planes": 4,
            "equilibrate_duration": 10_000.0,
            "field_duration": 200_000.0,
            "engine": "lammps",
            "md": {
                "thermo_interval": 50,
                "frame_interval": 2500,
                "checkpoint_interval": 5000,
                "walltime": 23 * 3600.0,
            },
            "analysis": AnalysisSettings(bin_size=3.0),
        },
        "small": {
            "supercell": (2, 2, 3),
            "electrode_planes": 2,
            "equilibrate_duration": 20.0,
            "field_duration": 200.0,
            "engine": "ase",
            "md": {"thermo_interval": 5, "frame_interval": 20, "checkpoint_interval": 0},
            "analysis": AnalysisSettings(bin_size=3.0),
        },
    }

    def runs(self) -> list[ScenarioRun]:
        """One run: equilibrate, then the field."""
        try:
            action = ElectricField(strength=self.field, direction=self.direction, charges=dict(self.charges))
        except ValueError as err:
            raise ScenarioError(f"{self.scenario}: {err}") from None
        fix = FixAtoms(array="fixed")
        common = {"ensemble": "nvt", "temperature": self.temperature, "timestep": self.timestep}
        protocol = self.protocol(
            name="electromigration",
            description=f"NVT {self.temperature:g} K, field {self.field:g} V/Å along {self.direction}",
            initial_temperature=self.temperature,
            stages=[
                Stage(name="equilibrate", duration=self.equilibrate_duration, actions=[fix], **common),
                Stage(name="field", duration=self.field_duration, actions=[fix, action], **common),
            ],
        )
        cell = CellSpec(
            "heating-cell",
            {"composition": self.composition, "supercell": list(self.supercell), "seed": self.seed},
            fixed_boundary_planes=int(self.electrode_planes),
        )
        return [ScenarioRun("field", cell, protocol)]

    def analysis_job(self, md_jobs: list[Job], runs: list[PreparedRun]) -> Job:
        """Species density profiles and drifts."""
        maker = ElectromigrationAnalysisMaker(
            size=self.size, parameters=self.parameters(), settings=self.analysis
        )
        return maker.make(md_jobs[0].output)
