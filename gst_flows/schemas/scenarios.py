"""Result documents of the device scenarios (SET crystallisation to electromigration).

Every scenario document records the scenario's parameters (as resolved for the chosen size),
the protocol that ran, the atoms, the potential, the key figures of the scenario, the figures
and extxyz files written, and its arrays. Arrays (time series, profiles, maps, per-atom k̄) go
to the ``data`` store: each :class:`ArrayDoc` carries its values in ``array_data``, which the
job decorator sends there, split along the first axis into parts of at most ``chunk_bytes``,
so no stored object nears MongoDB's 16 MB limit whatever the size of the cell.

Each document is built with :meth:`ScenarioDoc.from_result` from the result of its scenario's
analysis (:mod:`gst_flows.analysis.scenarios`) and the provenance the analysis maker adds. The
entries of the documents (``LedgerCheckDoc``, ``PulseDoc``, ``GrainDoc``, ...) are the models
that analysis returns, stored as they are, under their document names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

import numpy as np
from pydantic import Field

from gst_flows.analysis.scenarios import Grain as GrainDoc
from gst_flows.analysis.scenarios import HeatingRun as HeatingRunDoc
from gst_flows.analysis.scenarios import HeatingSize as HeatingSizeDoc
from gst_flows.analysis.scenarios import LedgerCheck as LedgerCheckDoc
from gst_flows.analysis.scenarios import Pulse as PulseDoc
from gst_flows.analysis.scenarios import SpeciesDrift as SpeciesDriftDoc
from gst_flows.analysis.scenarios import StageLedger as StageLedgerDoc
from gst_flows.md.potential import PotentialInfo
from gst_flows.md.results import EnergyLedger
from gst_flows.schemas.arrays import ArrayDoc, ArrayHolder, FigureDoc, array_docs

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
    potential: PotentialInfo | None = Field(None, description="The potential.")
    formula: str = Field(description="Chemical formula of the (first) cell.")
    n_atoms: int = Field(description="Atoms in the (first) cell.")
    n_runs: int = Field(1, description="Number of MD runs analysed.")
    md_dirs: list[str] = Field(default_factory=list, description="Run directories of the MD jobs.")
    ledger: EnergyLedger | None = Field(None, description="Energy ledger of the (first) run.")
    figures: list[FigureDoc] = Field(default_factory=list, description="Figures written.")
    kbar_files: list[str] = Field(
        default_factory=list, description="extxyz files with a per-atom 'kbar' column (OVITO)."
    )
    dir_name: str | None = Field(None, description="Directory of the analysis job.")
    last_updated: datetime = Field(default_factory=lambda: datetime.now(UTC), description="Creation time.")

    #: Fields copied from the scenario parameters by :meth:`from_result` (NaN when absent).
    parameter_fields: ClassVar[tuple[str, ...]] = ()

    def key_figures(self) -> dict[str, Any]:
        """The scenario's headline numbers (for printing and queries)."""
        return {}

    @classmethod
    def from_result(
        cls,
        result: Any,
        *,
        figures: Sequence[FigureDoc] = (),
        kbar_files: Sequence[str] = (),
        chunk_bytes: int = 8_000_000,
        **provenance: Any,
    ) -> Self:
        """Build the document from the result of the scenario's analysis.

        Parameters
        ----------
        result
            The result object of the scenario's function in
            :mod:`gst_flows.analysis.scenarios`: its attributes named as fields of this
            document are copied, its ``stored_arrays()`` go to :attr:`arrays`.
        figures
            Figures written.
        kbar_files
            extxyz files with per-atom k̄ written.
        chunk_bytes
            Largest stored part of an array, bytes.
        **provenance
            The other fields: ``scenario``, ``name``, ``size``, ``parameters``, the MD runs'
            ``protocols``, ``engine``, ``potential``, ``ledger``, ... ; the fields of
            :attr:`parameter_fields` are read from ``parameters`` unless given.
        """
        parameters = provenance.get("parameters") or {}
        for name in cls.parameter_fields:
            provenance.setdefault(name, float(parameters.get(name, np.nan)))
        values = {
            f.name: getattr(result, f.name)
            for f in dataclasses.fields(result)
            if f.name in cls.model_fields and f.name not in provenance
        }
        arrays = [
            part
            for name, (data, unit, description) in result.stored_arrays().items()
            for part in array_docs(name, np.asarray(data), unit, description, chunk_bytes)
        ]
        return cls(
            **provenance,
            **values,
            figures=list(figures),
            kbar_files=list(kbar_files),
            arrays=arrays,
        )


# --------------------------------------------------------------------------- SET


class SetCrystallisationDoc(ScenarioDoc):
    """SET crystallisation: growth of the crystal from the fixed template on annealing."""

    parameter_fields: ClassVar[tuple[str, ...]] = ("anneal_temperature",)

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


class PolycrystallineGrowthDoc(ScenarioDoc):
    """Polycrystalline growth from seeds at the anneal temperature."""

    parameter_fields: ClassVar[tuple[str, ...]] = ("anneal_temperature",)

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

    parameter_fields: ClassVar[tuple[str, ...]] = ("focal_radius",)

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
