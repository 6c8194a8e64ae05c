"""SET scenarios.

Crystallisation from a template, cumulative SET pulse trains, and polycrystalline growth
from seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from jobflow import Job

from gst_flows.analysis.scenarios import AnalysisSettings
from gst_flows.flows.scenarios.base import PreparedRun, ScenarioError, ScenarioMaker, ScenarioRun
from gst_flows.makers.scenarios import (
    CumulativeSetAnalysisMaker,
    PolycrystallineGrowthAnalysisMaker,
    SetCrystallisationAnalysisMaker,
)
from gst_flows.md.protocol import FixAtoms, PulseTrain, Ramp, ResetPulse, SetPulse, Stage
from gst_flows.structures.cells import SEED_ARRAY, CellSpec

__all__ = ["CumulativeSetMaker", "PolycrystallineGrowthMaker", "SetCrystallisationMaker"]

_FULL_MD = {
    "thermo_interval": 50,
    "frame_interval": 2500,
    "checkpoint_interval": 5000,
    "walltime": 23 * 3600.0,
}
_SMALL_MD = {"thermo_interval": 5, "frame_interval": 25, "checkpoint_interval": 0}


def _cell_parameters(maker: Any, **extra: Any) -> dict[str, Any]:
    """Cell parameters of a maker that may insert an amorphous structure from a file."""
    params: dict[str, Any] = {
        "composition": maker.composition,
        "supercell": list(maker.supercell),
        "seed": maker.seed,
        **extra,
    }
    if maker.amorphous is not None:
        params["amorphous"] = maker.amorphous
    return params


def _melt_and_quench(maker: Any, common: dict[str, Any]) -> tuple[list[Stage], float]:
    """Melt and quench stages before an anneal, and the temperature the run starts at.

    A stage of zero duration is left out; without a melt the run starts at the anneal
    temperature.
    """
    stages = []
    if maker.melt_duration:
        stages.append(
            Stage(
                name="melt",
                temperature=maker.melt_temperature,
                duration=maker.melt_duration,
                tag="reset",
                **common,
            )
        )
    if maker.quench_duration:
        stages.append(
            Stage(
                name="quench",
                duration=maker.quench_duration,
                tag="reset",
                temperature=Ramp(start=maker.melt_temperature, end=maker.anneal_temperature),
                **common,
            )
        )
    start = maker.melt_temperature if maker.melt_duration else maker.anneal_temperature
    return stages, start


@dataclass
class SetCrystallisationMaker(ScenarioMaker):
    """SET crystallisation: a crystal grows along [111] from fixed template layers.

    The crystallisation cell (rock-salt GST, [111] along z, ``crystal_bilayers`` fixed
    template bilayers at the periodic z boundary) has its middle made amorphous by a melt and
    quench of the mobile atoms (the template held), then is annealed (NVT) at
    ``anneal_temperature``. The analysis follows k̄, the crystalline share of the amorphous
    region and the crystalline thickness, and fits the speed of the two crystal fronts.

    Parameters
    ----------
    composition
        Rock-salt composition.
    supercell
        Repeats of the [111]-oriented cell (full: 6 × 4 × 4, 1,008 atoms of Ge1Sb2Te4, about
        3.0 × 2.9 × 4.2 nm; small: 2 × 2 × 2, 84 atoms).
    crystal_bilayers
        Fixed template bilayers.
    amorphous
        File of an amorphous structure to insert into the middle (then no melt is needed:
        set ``melt_duration`` and ``quench_duration`` to 0).
    melt_temperature
        Temperature of the melt of the middle, K (full 1,200; small 4,000 to amorphise a
        small cell within a hundred femtoseconds).
    melt_duration, quench_duration, anneal_duration
        Stage lengths, fs (full: 20, 20 and 600 ps, the published 600 ps at 600 K).
    anneal_temperature
        SET temperature, K.
    """

    name: str = "set crystallisation"
    composition: str = "Ge1Sb2Te4"
    supercell: tuple[int, int, int] | None = None
    crystal_bilayers: int = 2
    amorphous: str | None = None
    melt_temperature: float | None = None
    melt_duration: float | None = None
    quench_duration: float | None = None
    anneal_duration: float | None = None
    anneal_temperature: float = 600.0

    scenario: ClassVar[str] = "set-crystallisation"
    SIZES: ClassVar[dict[str, dict[str, Any]]] = {
        "full": {
            "supercell": (6, 4, 4),
            "melt_temperature": 1200.0,
            "melt_duration": 20_000.0,
            "quench_duration": 20_000.0,
            "anneal_duration": 600_000.0,
            "engine": "lammps",
            "md": _FULL_MD,
            "analysis": AnalysisSettings(bin_size=2.0, kbar_frames=20),
        },
        "small": {
            "supercell": (2, 2, 2),
            "melt_temperature": 4000.0,
            "melt_duration": 100.0,
            "quench_duration": 40.0,
            "anneal_duration": 200.0,
            "engine": "ase",
            "md": _SMALL_MD,
            "analysis": AnalysisSettings(bin_size=2.0),
        },
    }

    def runs(self) -> list[ScenarioRun]:
        """One run: melt and quench the middle, then anneal."""
        params = _cell_parameters(self, crystal_bilayers=self.crystal_bilayers)
        fix = FixAtoms(array="fixed")
        common = {"ensemble": "nvt", "timestep": self.timestep, "actions": [fix]}
        stages, start = _melt_and_quench(self, common)
        stages.append(
            Stage(
                name="anneal",
                temperature=self.anneal_temperature,
                duration=self.anneal_duration,
                tag="set",
                **common,
            )
        )
        protocol = self.protocol(
            name="set_crystallisation",
            description=f"melt the middle at {self.melt_temperature:g} K, quench, anneal at "
            f"{self.anneal_temperature:g} K with the template fixed",
            initial_temperature=start,
            stages=stages,
        )
        return [ScenarioRun("anneal", CellSpec("crystallisation-cell", params), protocol)]

    def analysis_job(self, md_jobs: list[Job], runs: list[PreparedRun]) -> Job:
        """k̄ series, profiles and growth speed of the anneal stage."""
        maker = SetCrystallisationAnalysisMaker(
            size=self.size, parameters=self.parameters(), settings=self.analysis
        )
        return maker.make(md_jobs[0].output)


def _pulse_label(temperature: float, duration: float) -> str:
    return f"{temperature:g} K x {duration / 1000:g} ps"


@dataclass
class CumulativeSetMaker(ScenarioMaker):
    """Cumulative SET: a RESET, then trains of SET pulses; crystallinity after each pulse.

    One MD run per pulse type, each from the same cell: a RESET (melt at
    ``melt_temperature``, linear quench to ``quench_temperature``, hold), then ``count``
    identical NVT pulses, each followed by a cooling back to ``rest_temperature`` for
    ``rest_duration``, so that pulse width matters (5 × 100 ps and 10 × 50 ps at 600 K are
    different runs). With ``fixed_template`` the cell's crystalline template bilayers stay
    fixed through the RESET and the pulses, so the pulses grow the crystal from them. The
    analysis reads k̄ at the end of the RESET and after every pulse (at the end of its
    cooling), and the measured temperature of every pulse and cooling.

    Parameters
    ----------
    composition
        Rock-salt composition.
    supercell
        Repeats of the [111]-oriented crystallisation cell (full 6 × 4 × 4, small 2 × 1 × 2).
    fixed_template
        Hold the crystal template bilayers fixed.
    pulse_types
        ``(temperature K, duration fs, count)`` of each train (full: 650 K × 100 ps × 5,
        600 K × 100 ps × 5, 600 K × 50 ps × 10).
    melt_temperature, melt_duration, quench_duration, quench_temperature, hold_duration
        The RESET (K and fs).
    rest_temperature, rest_duration
        Cooling after each pulse (none when the duration is 0), K and fs (full: 300 K for
        20 ps; small: 300 K for 100 fs).
    tdamp
        Thermostat time constant of every stage, fs (full 100; small 20, so the small cell
        cools within its short rests).
    """

    name: str = "cumulative set"
    composition: str = "Ge1Sb2Te4"
    supercell: tuple[int, int, int] | None = None
    fixed_template: bool = True
    pulse_types: tuple[tuple[float, float, int], ...] | None = None
    melt_temperature: float | None = None
    melt_duration: float | None = None
    quench_duration: float | None = None
    quench_temperature: float = 300.0
    hold_duration: float | None = None
    rest_temperature: float = 300.0
    rest_duration: float | None = None
    tdamp: float | None = None

    scenario: ClassVar[str] = "cumulative-set"
    SIZES: ClassVar[dict[str, dict[str, Any]]] = {
        "full": {
            "supercell": (6, 4, 4),
            "pulse_types": ((650.0, 100_000.0, 5), (600.0, 100_000.0, 5), (600.0, 50_000.0, 10)),
            "melt_temperature": 1200.0,
            "melt_duration": 30_000.0,
            "quench_duration": 50_000.0,
            "hold_duration": 10_000.0,
            "rest_duration": 20_000.0,
            "tdamp": 100.0,
            "engine": "lammps",
            "md": {**_FULL_MD, "frame_interval": 0},
            "analysis": AnalysisSettings(),
        },
        "small": {
            "supercell": (2, 1, 2),
            "pulse_types": ((650.0, 40.0, 2), (600.0, 40.0, 2), (600.0, 20.0, 4)),
            "melt_temperature": 4000.0,
            "melt_duration": 80.0,
            "quench_duration": 20.0,
            "hold_duration": 0.0,
            "rest_duration": 100.0,
            "tdamp": 20.0,
            "engine": "ase",
            "md": {**_SMALL_MD, "frame_interval": 0},
            "analysis": AnalysisSettings(),
        },
    }

    def runs(self) -> list[ScenarioRun]:
        """One run per pulse type."""
        cell = CellSpec(
            "crystallisation-cell",
            {"composition": self.composition, "supercell": list(self.supercell), "seed": self.seed},
        )
        reset = ResetPulse(
            melt_temperature=self.melt_temperature,
            melt_duration=self.melt_duration,
            quench_temperature=self.quench_temperature,
            quench_duration=self.quench_duration,
            hold_duration=self.hold_duration,
        )
        runs = []
        for temperature, duration, count in self.pulse_types:
            label = _pulse_label(temperature, duration)
            train = PulseTrain(
                name="pulse",
                reset=reset,
                pulses=[SetPulse(temperature=temperature, duration=duration, count=int(count))],
                rest_temperature=self.rest_temperature,
                rest_duration=self.rest_duration,
                timestep=self.timestep,
                tdamp=self.tdamp,
                actions=[FixAtoms(array="fixed")] if self.fixed_template else [],
            )
            protocol = self.protocol(
                name=f"cumulative_set_{temperature:g}K_{duration / 1000:g}ps",
                description=f"RESET then {count} SET pulses of {label}",
                initial_temperature=self.melt_temperature,
                stages=[train],
            )
            runs.append(ScenarioRun(label, cell, protocol))
        return runs

    def analysis_job(self, md_jobs: list[Job], runs: list[PreparedRun]) -> Job:
        """Crystallinity after each pulse of each train."""
        maker = CumulativeSetAnalysisMaker(
            size=self.size, parameters=self.parameters(), settings=self.analysis
        )
        return maker.make([j.output for j in md_jobs], [r.label for r in runs])


@dataclass
class PolycrystallineGrowthMaker(ScenarioMaker):
    """Polycrystalline growth: crystalline seeds in an amorphous matrix annealed at 600 K.

    The matrix (an amorphous structure from a file, or a random packing at the amorphous
    density) is melted and quenched to the anneal temperature (NVT) with the seed atoms held
    fixed, then the whole cell is annealed (NVT). The analysis follows the grain grown from
    each seed (clusters of crystalline atoms holding seed atoms) and fits the speed of its
    equivalent-sphere radius (published: about 0.7 m/s at 600 K) only until that grain touches
    another (merged grains are counted once); the box must keep the seeds apart long enough.

    Parameters
    ----------
    composition
        Composition of seeds and matrix.
    supercell
        Box in cubic rock-salt cells (full 12 × 12 × 12, 7.2 nm, about 12,000 atoms, so
        three 100-atom seeds growing at ~0.7 m/s stay apart for most of the 2 ns; small
        3 × 3 × 3).
    min_box_length
        Shortest cell edge allowed, Å (full 70: the published ≥ 7 nm for three seeds;
        small 0).
    n_seeds
        Number of seeds.
    seed_atoms
        Atoms per seed (full 100, small 10).
    amorphous
        File of an amorphous structure for the matrix.
    melt_temperature, melt_duration, quench_duration
        Melt of the matrix and its linear quench to the anneal temperature, with the seeds
        held (K, fs; full 1,200 K, 10 ps, 10 ps; small 4,000 K, 60 fs, 40 fs). Set both
        durations to 0 to anneal the matrix as given.
    tdamp
        Thermostat time constant of the melt and quench, fs.
    anneal_temperature, anneal_duration
        The growth anneal (K, fs; full 2 ns).
    """

    name: str = "polycrystalline growth"
    composition: str = "Ge1Sb2Te4"
    supercell: tuple[int, int, int] | None = None
    n_seeds: int = 3
    min_box_length: float | None = None
    seed_atoms: int | None = None
    amorphous: str | None = None
    melt_temperature: float | None = None
    melt_duration: float | None = None
    quench_duration: float | None = None
    tdamp: float = 20.0
    anneal_temperature: float = 600.0
    anneal_duration: float | None = None

    scenario: ClassVar[str] = "polycrystalline-growth"
    SIZES: ClassVar[dict[str, dict[str, Any]]] = {
        "full": {
            "supercell": (12, 12, 12),
            "min_box_length": 70.0,
            "seed_atoms": 100,
            "melt_temperature": 1200.0,
            "melt_duration": 10_000.0,
            "quench_duration": 10_000.0,
            "anneal_duration": 2_000_000.0,
            "engine": "lammps",
            "md": {**_FULL_MD, "frame_interval": 10_000},
            "analysis": AnalysisSettings(kbar_frames=20),
        },
        "small": {
            "supercell": (3, 3, 3),
            "min_box_length": 0.0,
            "seed_atoms": 10,
            "melt_temperature": 4000.0,
            "melt_duration": 60.0,
            "quench_duration": 40.0,
            "anneal_duration": 200.0,
            "engine": "ase",
            "md": _SMALL_MD,
            "analysis": AnalysisSettings(),
        },
    }

    def runs(self) -> list[ScenarioRun]:
        """One run: melt and quench the matrix around the held seeds, then anneal."""
        params = _cell_parameters(self, n_seeds=self.n_seeds, seed_atoms=self.seed_atoms)
        hold = FixAtoms(array=SEED_ARRAY)
        common = {"ensemble": "nvt", "timestep": self.timestep, "tdamp": self.tdamp, "actions": [hold]}
        stages, start = _melt_and_quench(self, common)
        stages.append(
            Stage(
                name="grow",
                ensemble="nvt",
                temperature=self.anneal_temperature,
                duration=self.anneal_duration,
                tag="set",
                timestep=self.timestep,
            )
        )
        protocol = self.protocol(
            name="polycrystalline_growth",
            description=f"{self.n_seeds} seeds of {self.seed_atoms} atoms: melt and quench the "
            f"matrix, anneal at {self.anneal_temperature:g} K",
            initial_temperature=start,
            stages=stages,
        )
        return [ScenarioRun("anneal", CellSpec("seeded", params, mark_seeds=True), protocol)]

    def check_run(self, run: PreparedRun) -> None:
        """The box keeps the seeds apart: no edge shorter than ``min_box_length``."""
        shortest = float(min(run.atoms.cell.lengths()))
        if shortest < self.min_box_length:
            raise ScenarioError(
                f"{self.scenario} ({self.size}): the box's shortest edge is {shortest:.1f} Å, "
                f"below min_box_length {self.min_box_length:g} Å: {self.n_seeds} seeds would "
                "touch before their growth speed can be fitted; use a larger supercell"
            )

    def analysis_job(self, md_jobs: list[Job], runs: list[PreparedRun]) -> Job:
        """Grain sizes and growth speeds."""
        maker = PolycrystallineGrowthAnalysisMaker(
            size=self.size, parameters=self.parameters(), settings=self.analysis
        )
        return maker.make(md_jobs[0].output)
