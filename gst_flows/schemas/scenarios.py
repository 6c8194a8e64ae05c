"""Result documents of the device scenarios (SET crystallisation to electromigration).

Every scenario document records the scenario's parameters (as resolved for the chosen size),
the protocol that ran, the atoms, the potential, the key figures of the scenario, the figures
and extxyz files written, and its arrays. Arrays (time series, profiles, maps, per-atom k̄) go
to the ``data`` store: each :class:`ArrayDoc` carries its values in ``array_data``, which the
job decorator sends there, split along the first axis into parts of at most ``chunk_bytes``,
so no stored object nears MongoDB's 16 MB limit whatever the size of the cell.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from gst_flows.schemas.arrays import ArrayDoc, ArrayHolder, FigureDoc, array_docs
from gst_flows.schemas.md import EnergyLedgerDoc, PotentialDoc

__all__ = [
    "ArrayDoc",
    "CrossPointDoc",
    "CumulativeSetDoc",
    "ElectromigrationDoc",
    "FigureDoc",
    "GrainDoc",
    "HeatingRunDoc",
    "HeatingSeriesDoc",
    "HeatingSizeDoc",
    "LedgerCheckDoc",
    "MushroomResetDoc",
    "PolycrystallineGrowthDoc",
    "PulseDoc",
    "ScenarioDoc",
    "SetCrystallisationDoc",
    "SpeciesDriftDoc",
    "StageLedgerDoc",
    "array_docs",
]


def _pair(a: float | None, b: float | None) -> str:
    return "n/a" if a is None or b is None else f"{a:.4g} / {b:.4g}"


class StageLedgerDoc(BaseModel):
    """One NVE stage that injects or removes energy: the plan and the measured change."""

    stage: str = Field(description="Stage name.")
    planned: float = Field(description="Energy the stage's actions add (negative: remove), eV.")
    measured: float = Field(
        description="Total (kinetic + potential) energy at the stage end minus that at its start, eV."
    )
    relative_error: float = Field(description="|measured - planned| / |planned|.")


class LedgerCheckDoc(BaseModel):
    """Energy asked for by the protocol against the energy the engine put in and took out.

    ``requested`` is the plan; ``measured_injected`` is what the run's total energy
    (kinetic + potential, from the thermodynamic series) rose by across the injection stages.
    """

    requested: float = Field(description="Energy the protocol injects, eV.")
    requested_fj: float = Field(description="Energy the protocol injects, fJ.")
    injected: float = Field(description="Energy the engine injected, eV.")
    injected_fj: float = Field(description="Energy the engine injected, fJ.")
    removed: float = Field(0.0, description="Energy the engine removed, eV.")
    removed_fj: float = Field(0.0, description="Energy the engine removed, fJ.")
    relative_error: float = Field(description="|injected - requested| / requested (dimensionless).")
    total_energy_change: float | None = Field(
        None,
        description="Change of the total (kinetic + potential) energy over the NVE "
        "stages, eV; equals injected - removed up to the integration error.",
    )
    balance_error: float | None = Field(
        None, description="|total_energy_change - (injected - removed)| / injected (dimensionless)."
    )
    measured_injected: float | None = Field(
        None,
        description="Rise of the total energy across the NVE stages that inject, eV "
        "(None when no such stage).",
    )
    measured_injected_fj: float | None = Field(None, description="measured_injected in fJ.")
    measured_error: float | None = Field(
        None, description="|measured_injected - requested| / requested (dimensionless)."
    )
    measured_removed: float | None = Field(
        None,
        description="Fall of the total energy across the NVE stages that remove, eV "
        "(None when no such stage).",
    )
    stages: list[StageLedgerDoc] = Field(
        default_factory=list,
        description="Plan and measured change per NVE stage that injects or removes energy.",
    )

    def key_figures(self, removed: bool = False) -> dict[str, Any]:
        """Requested, injected, measured (and removed) energy in eV and fJ, and the error."""
        out = {
            "requested energy (eV / fJ)": _pair(self.requested, self.requested_fj),
            "injected energy (eV / fJ)": _pair(self.injected, self.injected_fj),
            "measured energy rise (eV / fJ)": _pair(self.measured_injected, self.measured_injected_fj),
        }
        if removed:
            out["removed energy (eV / fJ)"] = _pair(self.removed, self.removed_fj)
        out["ledger error"] = self.relative_error
        return out


class ScenarioDoc(ArrayHolder):
    """What every scenario document holds."""

    scenario: str = Field(description="Scenario name, e.g. 'mushroom-reset'.")
    name: str = Field(description="Job name.")
    size: str = Field(description="Size preset the scenario ran at ('small', 'full', ...).")
    parameters: dict[str, Any] = Field(
        description="Scenario parameters as resolved for the size (units in the scenario's "
        "documentation: fs, K, eV, Å)."
    )
    protocol_names: list[str] = Field(description="Protocol name of each MD run.")
    protocols: list[dict[str, Any]] = Field(description="Each protocol as run (internal units).")
    engine: str = Field(description="MD engine: ase or lammps.")
    potential: PotentialDoc | None = Field(None, description="The potential.")
    formula: str = Field(description="Chemical formula of the (first) cell.")
    n_atoms: int = Field(description="Atoms in the (first) cell.")
    n_runs: int = Field(1, description="Number of MD runs analysed.")
    md_dirs: list[str] = Field(default_factory=list, description="Run directories of the MD jobs.")
    ledger: EnergyLedgerDoc | None = Field(None, description="Energy ledger of the (first) run.")
    figures: list[FigureDoc] = Field(default_factory=list, description="Figures written.")
    kbar_files: list[str] = Field(
        default_factory=list, description="extxyz files with a per-atom 'kbar' column (OVITO)."
    )
    dir_name: str | None = Field(None, description="Directory of the analysis job.")
    last_updated: datetime = Field(default_factory=lambda: datetime.now(UTC), description="Creation time.")

    def key_figures(self) -> dict[str, Any]:
        """The scenario's headline numbers (for printing and queries)."""
        return {}


# --------------------------------------------------------------------------- SET


class SetCrystallisationDoc(ScenarioDoc):
    """SET crystallisation: growth of the crystal from the fixed template on annealing."""

    anneal_temperature: float = Field(description="Anneal temperature, K.")
    growth_speed: float | None = Field(
        None,
        description="Speed of each crystal front, m/s (from the crystalline thickness "
        "growing from both faces of the template).",
    )
    growth_speed_stderr: float | None = Field(None, description="Standard error, m/s.")
    initial_fraction: float = Field(
        description="Crystalline fraction of the amorphous region at the start of the anneal."
    )
    final_fraction: float = Field(
        description="Crystalline fraction of the amorphous region at the end of the anneal."
    )

    def key_figures(self) -> dict[str, Any]:
        """Growth speed and crystalline fractions."""
        return {
            "growth speed (m/s)": self.growth_speed,
            "crystalline fraction, start of anneal": self.initial_fraction,
            "crystalline fraction, end of anneal": self.final_fraction,
        }


class PulseDoc(BaseModel):
    """Crystallinity after one SET pulse."""

    pulse_type: str = Field(description="Label of the pulse type, e.g. '650 K x 100 ps'.")
    index: int = Field(description="Pulse number within its train (1, 2, ...).")
    temperature: float = Field(description="Pulse temperature, K.")
    duration: float = Field(description="Pulse length, ps.")
    cumulative_time: float = Field(description="Pulse time so far, ps.")
    crystalline_fraction: float = Field(
        description="Crystalline fraction of the cell's middle (region 1) after the pulse "
        "(after the cooling that follows it, when there is one)."
    )
    mean_kbar: float = Field(description="Mean k̄ of the cell after the pulse.")
    pulse_temperature_measured: float | None = Field(
        None,
        description="Mean kinetic temperature of the mobile atoms (from their velocities) "
        "over the second half of the pulse, K.",
    )
    rest_temperature_measured: float | None = Field(
        None,
        description="Mean kinetic temperature of the mobile atoms over the second half "
        "of the cooling after the pulse, K; None without cooling.",
    )


class CumulativeSetDoc(ScenarioDoc):
    """Cumulative SET: crystallinity after each pulse of each pulse type."""

    reset_fraction: list[float] = Field(
        description="Crystalline fraction of the cell's middle after the RESET, one per pulse type."
    )
    pulses: list[PulseDoc] = Field(description="One entry per pulse.")

    def key_figures(self) -> dict[str, Any]:
        """Crystalline fraction after the last pulse of each type."""
        last = {p.pulse_type: p for p in self.pulses}
        return {
            f"{kind}: fraction after {p.index} pulses ({p.cumulative_time:g} ps)": p.crystalline_fraction
            for kind, p in last.items()
        }

    def final_fractions(self) -> dict[str, float]:
        """Crystalline fraction after the last pulse of each type."""
        out: dict[str, float] = {}
        for pulse in self.pulses:
            out[pulse.pulse_type] = pulse.crystalline_fraction
        return out


class GrainDoc(BaseModel):
    """Growth of one seeded grain."""

    seed_id: int = Field(description="Seed index.")
    initial_atoms: int = Field(description="Atoms in the grain at the start of growth.")
    final_atoms: int = Field(description="Atoms in the grain at the end.")
    growth_speed: float | None = Field(
        None,
        description="Speed of the grain's equivalent-sphere radius before it touches "
        "another grain, m/s (None with fewer than three frames before contact).",
    )
    growth_speed_stderr: float | None = Field(None, description="Standard error, m/s.")
    r_squared: float | None = Field(
        None, description="Coefficient of determination of the linear fit of the radius."
    )
    contact_time: float | None = Field(
        None,
        description="First analysed time at which the grain touches another grain, ps "
        "from the start of growth (None: never).",
    )
    fit_end: float | None = Field(None, description="End of the fitted window, ps from the start of growth.")


class PolycrystallineGrowthDoc(ScenarioDoc):
    """Polycrystalline growth from seeds at the anneal temperature."""

    anneal_temperature: float = Field(description="Anneal temperature, K.")
    grains: list[GrainDoc] = Field(description="One entry per seed.")
    mean_growth_speed: float | None = Field(None, description="Mean of the grains' growth speeds, m/s.")
    published_growth_speed: float = Field(
        0.7, description="Growth speed published for 600 K with the published potential, m/s."
    )
    final_fraction: float = Field(description="Crystalline fraction at the end.")
    final_grains: int | None = Field(
        None, description="Distinct seeded grains at the end (merged grains counted once)."
    )

    def key_figures(self) -> dict[str, Any]:
        """Per-grain and mean growth speed."""
        out: dict[str, Any] = {f"grain {g.seed_id} speed (m/s)": g.growth_speed for g in self.grains}
        out["mean growth speed (m/s)"] = self.mean_growth_speed
        out["final crystalline fraction"] = self.final_fraction
        return out


# --------------------------------------------------------------------------- heating


class HeatingRunDoc(BaseModel):
    """One heating run."""

    label: str = Field(description="Run label, e.g. 'npt n=3 run 1'.")
    ensemble: str = Field(description="nvt, npt or nve.")
    supercell: int = Field(description="n of the n × n × n rock-salt supercell.")
    n_atoms: int = Field(description="Atoms.")
    seed: int = Field(description="Seed of the cation sublattice and the velocities.")
    onset_temperature: float | None = Field(
        None,
        description="Onset of disorder: temperature where the crystalline fraction "
        "drops half-way, K (None when it does not drop).",
    )
    initial_density: float | None = Field(None, description="Density at the start, g/cm³.")
    final_density: float | None = Field(None, description="Density at the end, g/cm³.")


class HeatingSizeDoc(BaseModel):
    """Onset temperatures of one size and ensemble over the independent runs."""

    ensemble: str = Field(description="nvt, npt or nve.")
    supercell: int = Field(description="n of the n × n × n supercell.")
    n_atoms: int = Field(description="Atoms.")
    n_runs: int = Field(description="Independent runs.")
    mean_onset: float | None = Field(None, description="Mean onset temperature, K.")
    spread_onset: float | None = Field(
        None, description="Standard deviation of the onset temperature over runs, K."
    )


class HeatingSeriesDoc(ScenarioDoc):
    """Heating series: onset of disorder and density against temperature per size."""

    runs: list[HeatingRunDoc] = Field(description="Every run.")
    sizes: list[HeatingSizeDoc] = Field(description="Per size and ensemble.")

    def key_figures(self) -> dict[str, Any]:
        """Onset temperature (mean ± spread) per size and ensemble."""
        return {
            f"{s.ensemble} {s.n_atoms} atoms onset (K)": None
            if s.mean_onset is None
            else f"{s.mean_onset:.0f} ± {s.spread_onset or 0.0:.0f}"
            for s in self.sizes
        }


# --------------------------------------------------------------------------- RESET


class MushroomResetDoc(ScenarioDoc):
    """Mushroom-cell RESET: energy into the focal region, temperature maps, disordered base."""

    focal_radius: float = Field(description="Radius of the half-cylinder focal region, Å.")
    n_focal_atoms: int = Field(description="Mobile atoms in the focal region.")
    energy_check: LedgerCheckDoc = Field(description="Requested against injected energy.")
    peak_temperature: float = Field(description="Highest local temperature of the smoothed xz maps, K.")
    base_length: float = Field(description="Length of the disordered area along the bottom at the end, Å.")
    max_base_length: float = Field(description="Largest disordered base length over the saved frames, Å.")
    barrier_crossings: int = Field(
        0,
        description="Most mobile atoms found through the fixed barrier layers (in an open "
        "cell: out of the cell) in any saved frame; 0 when every atom stayed.",
    )
    pressure_before: float | None = Field(
        None, description="Pressure of the cell at the start of the pulse, GPa."
    )
    pressure_after: float | None = Field(
        None, description="Pressure of the cell at the end of the pulse, GPa."
    )
    focal_pressure_before: float | None = Field(
        None,
        description="Pressure of the focal region at the start of the pulse (velocities "
        "and per-atom stresses of its atoms), GPa; None without per-atom stresses.",
    )
    focal_pressure_after: float | None = Field(
        None, description="Pressure of the focal region at the end of the pulse, GPa."
    )

    def key_figures(self) -> dict[str, Any]:
        """Energy ledger, peak temperature and disordered base length."""
        return {
            **self.energy_check.key_figures(removed=False),
            "peak temperature (K)": self.peak_temperature,
            "disordered base length (nm)": self.base_length / 10.0,
        }


class CrossPointDoc(ScenarioDoc):
    """Cross-point melt–quench: graded pulse, heat removal, T(z, t), k̄ by height, RDF."""

    energy_check: LedgerCheckDoc = Field(description="Requested against injected energy.")
    peak_temperature: float = Field(description="Highest slab temperature of T(z, t), K.")
    molten_fraction: float = Field(
        description="Share of the height with mean k̄ below the threshold at the end of the pulse."
    )
    final_mean_kbar: float = Field(description="Mean k̄ at the end.")
    central_fraction: float = Field(
        description="Thickness of the central region of the RDF, share of the height."
    )
    central_thickness: float | None = Field(
        None, description="Thickness of the central region of the RDF, Å."
    )

    def key_figures(self) -> dict[str, Any]:
        """Energy ledger, peak temperature and molten share."""
        return {
            **self.energy_check.key_figures(removed=True),
            "peak temperature (K)": self.peak_temperature,
            "molten share of the height after the pulse": self.molten_fraction,
            "final mean k̄": self.final_mean_kbar,
        }


# --------------------------------------------------------------------------- field


class SpeciesDriftDoc(BaseModel):
    """Motion of one species along the field."""

    species: str = Field(description="Chemical symbol.")
    charge: float = Field(description="Charge used for the field force, e.")
    shift: float = Field(
        description="Shift of the species' mean position along the field over the field "
        "stage, Å (mobile atoms, unwrapped)."
    )
    drift_velocity: float = Field(description="Mean drift velocity along the field, m/s.")


class ElectromigrationDoc(ScenarioDoc):
    """Electromigration: species density profiles along the field over time."""

    field: float = Field(description="Field strength, V/Å (force on a unit charge, eV/Å).")
    temperature: float = Field(description="Temperature, K.")
    drifts: list[SpeciesDriftDoc] = Field(description="Per species.")

    def key_figures(self) -> dict[str, Any]:
        """Shift and drift velocity per species, and the field work."""
        out: dict[str, Any] = {f"{d.species} shift along the field (Å)": d.shift for d in self.drifts}
        if self.ledger is not None:
            out["field work (eV)"] = self.ledger.field_work
        return out
