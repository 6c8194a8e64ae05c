"""Heating series: rock-salt cells of several sizes heated through the onset of disorder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from jobflow import Job

from gst_flows.analysis.scenarios import AnalysisSettings
from gst_flows.flows.scenarios.base import PreparedRun, ScenarioError, ScenarioMaker, ScenarioRun
from gst_flows.makers.scenarios import HeatingSeriesAnalysisMaker
from gst_flows.md.protocol import InjectEnergy, Ramp, Stage
from gst_flows.md.units import KB
from gst_flows.structures.cells import CellSpec

__all__ = ["HeatingSeriesMaker"]


@dataclass
class HeatingSeriesMaker(ScenarioMaker):
    """Heating series of rock-salt GST: NVT, NPT and NVE, several sizes, independent runs.

    Every run equilibrates at ``start_temperature`` and is then heated to
    ``end_temperature``: NVT and NPT along a linear thermostat ramp (NPT with an isotropic
    Martyna–Tobias–Klein barostat, which gives the isothermal–isobaric volume fluctuations),
    NVE by injecting kinetic energy into every atom at the constant rate that would heat a
    harmonic solid (3 k_B per atom) along the same ramp, with no thermostat. Runs differ in
    cell size, ensemble, and in the seed of their cation sublattice and velocities. The
    analysis gives the crystalline fraction and the density against temperature, the onset of
    disorder of each run (where the crystalline fraction has dropped half-way), and its mean
    and spread per size: the spread shrinks as the cells grow.

    Parameters
    ----------
    composition
        Rock-salt composition.
    sizes
        n of the n × n × n supercells (full: 4, 8 and 12, i.e. 448, 3,584 and 12,096 atoms
        of Ge1Sb2Te4; small: 1 and 2).
    runs_per_size
        Independent runs per size and ensemble (full 5, small 2).
    ensembles
        Any of ``"nvt"``, ``"npt"`` and ``"nve"``.
    start_temperature, end_temperature
        Temperatures of the ramp, K (full 300 → 1,000 K; small 300 → 3,000 K).
    equilibrate_duration, heat_duration
        Stage lengths, fs (full: 20 ps and 350 ps, i.e. 2 K/ps).
    pressure
        Pressure of the NPT runs, GPa.
    """

    name: str = "heating series"
    composition: str = "Ge1Sb2Te4"
    sizes: tuple[int, ...] | None = None
    runs_per_size: int | None = None
    ensembles: tuple[str, ...] = ("nvt", "npt", "nve")
    start_temperature: float = 300.0
    end_temperature: float | None = None
    equilibrate_duration: float | None = None
    heat_duration: float | None = None
    pressure: float = 0.0

    scenario: ClassVar[str] = "heating-series"
    SIZES: ClassVar[dict[str, dict[str, Any]]] = {
        "full": {
            "sizes": (4, 8, 12),
            "runs_per_size": 5,
            "end_temperature": 1000.0,
            "equilibrate_duration": 20_000.0,
            "heat_duration": 350_000.0,
            "engine": "lammps",
            "md": {
                "thermo_interval": 50,
                "frame_interval": 2500,
                "checkpoint_interval": 5000,
                "walltime": 23 * 3600.0,
            },
            "analysis": AnalysisSettings(),
        },
        "small": {
            "sizes": (1, 2),
            "runs_per_size": 2,
            "end_temperature": 3000.0,
            "equilibrate_duration": 20.0,
            "heat_duration": 200.0,
            "engine": "ase",
            "md": {"thermo_interval": 5, "frame_interval": 10, "checkpoint_interval": 0},
            "analysis": AnalysisSettings(),
        },
    }

    def runs(self) -> list[ScenarioRun]:
        """Every (ensemble, size, run) combination."""
        unknown = sorted(set(self.ensembles) - {"nvt", "npt", "nve"})
        if unknown:
            raise ScenarioError(
                f"{self.scenario}: unknown ensemble(s) {', '.join(unknown)} (nvt, npt or nve)"
            )
        runs = []
        for ensemble in self.ensembles:
            for n in self.sizes:
                for r in range(int(self.runs_per_size)):
                    seed = self.seed + 1000 * r + int(n)
                    cell = CellSpec(
                        "heating-cell", {"composition": self.composition, "supercell": int(n), "seed": seed}
                    )
                    protocol = self.protocol(
                        name=f"heating_{ensemble}",
                        description=f"{ensemble}: {self.start_temperature:g} K, then heat to "
                        f"{self.end_temperature:g} K",
                        initial_temperature=self.start_temperature,
                        seed=seed,
                        stages=self._stages(ensemble, _heating_atoms(cell)),
                    )
                    label = f"{ensemble} n={n} run {r + 1}"
                    runs.append(
                        ScenarioRun(
                            label,
                            cell,
                            protocol,
                            {"label": label, "ensemble": ensemble, "supercell": int(n), "seed": seed},
                        )
                    )
        return runs

    def _stages(self, ensemble: str, n_atoms: int) -> list[Stage]:
        """Equilibration at the start temperature, then the heating (on the resolved maker)."""
        common: dict[str, Any] = {"timestep": self.timestep}
        if ensemble == "npt":
            common["pressure"] = self.pressure
        first = "nvt" if ensemble == "nve" else ensemble
        stages = [
            Stage(
                name="equilibrate",
                ensemble=first,
                temperature=self.start_temperature,
                duration=self.equilibrate_duration,
                **common,
            )
        ]
        if ensemble == "nve":
            rise = self.end_temperature - self.start_temperature
            if rise <= 0:
                raise ScenarioError(
                    f"{self.scenario}: an nve heating needs end_temperature above start_temperature"
                )
            energy = 3 * KB * n_atoms * rise
            stages.append(
                Stage(
                    name="heat",
                    ensemble="nve",
                    duration=self.heat_duration,
                    actions=[InjectEnergy(region=None, energy=energy)],
                    **common,
                )
            )
        else:
            stages.append(
                Stage(
                    name="heat",
                    ensemble=ensemble,
                    temperature=Ramp(start=self.start_temperature, end=self.end_temperature),
                    duration=self.heat_duration,
                    **common,
                )
            )
        return stages

    def analysis_job(self, md_jobs: list[Job], runs: list[PreparedRun]) -> Job:
        """Onsets and densities of every run."""
        maker = HeatingSeriesAnalysisMaker(
            size=self.size, parameters=self.parameters(), settings=self.analysis
        )
        return maker.make([j.output for j in md_jobs], [r.info for r in runs])


def _heating_atoms(cell: CellSpec) -> int:
    """Atoms of a heating cell (built: the vacancies depend on the composition)."""
    return len(cell.build())
