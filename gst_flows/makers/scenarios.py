"""Job makers of the device scenarios: the MD run of a scenario cell and its analyses.

:class:`ScenarioMDMaker` is a :class:`~gst_flows.makers.md.GapMDMaker` that takes a
:class:`~gst_flows.structures.cells.CellSpec` (a builder name and its parameters) instead of a
structure: the cell is built inside the job, so a 532,980-atom cross-point cell never travels
through the database as a job input. Each scenario has an analysis maker (``analysis`` fworker
category) that reads the MD documents (frames and series from the data store), runs the
scenario's analysis (:mod:`gst_flows.analysis.scenarios`, looked up by name in
:mod:`gst_flows.analysis.registry`), draws its figures (:mod:`gst_flows.plotting.scenarios`),
writes per-atom k̄ frames as extxyz, and returns the scenario's document
(:mod:`gst_flows.schemas.scenarios`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from jobflow import Maker, Response, job
from pymatgen.core import Structure

from gst_flows.analysis.registry import get_analysis
from gst_flows.analysis.scenarios import AnalysisSettings, RunData
from gst_flows.makers.md import GapMDMaker, as_md_doc, structure_to_atoms
from gst_flows.schemas.md import MDDoc
from gst_flows.schemas.scenarios import (
    CrossPointDoc,
    CumulativeSetDoc,
    ElectromigrationDoc,
    FigureDoc,
    HeatingSeriesDoc,
    MushroomResetDoc,
    PolycrystallineGrowthDoc,
    ScenarioDoc,
    SetCrystallisationDoc,
)
from gst_flows.structures.cells import SEED_ARRAY, CellSpec, boundary_planes

__all__ = [
    "SEED_ARRAY",
    "AnalysisSettings",
    "CellSpec",
    "CrossPointAnalysisMaker",
    "CumulativeSetAnalysisMaker",
    "ElectromigrationAnalysisMaker",
    "HeatingSeriesAnalysisMaker",
    "MushroomResetAnalysisMaker",
    "PolycrystallineGrowthAnalysisMaker",
    "ScenarioAnalysisMaker",
    "ScenarioMDMaker",
    "SetCrystallisationAnalysisMaker",
    "boundary_planes",
    "cell_atoms",
    "run_data",
]

_DATA = ["array_data"]


# --------------------------------------------------------------------------- MD


def cell_atoms(cell: CellSpec | Structure | Atoms | dict) -> Atoms:
    """Atoms of a cell given as a :class:`CellSpec`, a structure or their dictionaries."""
    if isinstance(cell, dict):
        cell = CellSpec.from_dict(cell) if "kind" in cell else Structure.from_dict(cell)
    if isinstance(cell, CellSpec):
        return cell.build()
    return structure_to_atoms(cell)


@dataclass
class ScenarioMDMaker(GapMDMaker):
    """The MD run of a scenario: builds its cell in the job, then runs like GapMDMaker.

    Same fields as :class:`~gst_flows.makers.md.GapMDMaker`; walltime stops continue in a
    chained job that rebuilds the cell from the same :class:`CellSpec`.
    """

    name: str = "scenario md"

    @job(output_schema=MDDoc, data=["frame_data", "thermo_data", "final_structure"])
    def make(self, cell: CellSpec | Structure | Atoms, restart_from: str | None = None) -> MDDoc | Response:
        """Build ``cell`` and run the protocol on it.

        Parameters
        ----------
        cell
            A :class:`CellSpec` (or a structure).
        restart_from
            Run directory of an earlier job of the same protocol to continue from.

        Returns
        -------
        MDDoc or Response
            The document, or a replacement job continuing the run after a walltime stop.
        """
        return self.run_protocol(cell_atoms(cell), cell, restart_from)


# --------------------------------------------------------------------------- analysis base


def run_data(doc: MDDoc | dict) -> RunData:
    """What the scenario analyses read of an MD document (frames and series loaded)."""
    from gst_flows.md.protocol import Protocol

    doc = as_md_doc(doc)
    return RunData(
        protocol=Protocol.from_dict(doc.protocol),
        frames=doc.frames(),
        thermo=doc.thermo_series(),
        injected=doc.ledger.injected,
        removed=doc.ledger.removed,
        stages_run=tuple(s.name for s in doc.stages),
        n_atoms=doc.n_atoms,
    )


@dataclass
class ScenarioAnalysisMaker(Maker):
    """Base of the scenario analyses: common fields and helpers (no job of its own).

    Subclasses name their analysis in :attr:`analysis` (a ``scenario`` entry of
    :mod:`gst_flows.analysis.registry`) and their document class in :attr:`document_class`.

    Parameters
    ----------
    name
        Job name.
    scenario
        Scenario name recorded in the document.
    size
        Size preset recorded in the document.
    parameters
        Scenario parameters recorded in the document.
    settings
        Analysis settings.
    """

    name: str = "scenario analysis"
    scenario: str = ""
    size: str = "small"
    parameters: dict[str, Any] = field(default_factory=dict)
    settings: AnalysisSettings = field(default_factory=AnalysisSettings)

    fworker_category: ClassVar[str] = "analysis"
    analysis: ClassVar[str] = ""
    document_class: ClassVar[type[ScenarioDoc]] = ScenarioDoc

    def analyse(self, runs: RunData | Sequence[RunData], **kwargs: Any) -> Any:
        """Run this maker's scenario analysis (by name, from the registry) with its settings."""
        return get_analysis(self.analysis, "scenario")(runs, self.settings, **kwargs)

    def document(
        self,
        result: Any,
        docs: Sequence[MDDoc],
        thermo: dict[str, np.ndarray] | None = None,
        kbar_files: Sequence[str] = (),
    ) -> ScenarioDoc:
        """Draw the figures of ``result`` and build its document.

        Parameters
        ----------
        result
            What the analysis returned.
        docs
            The MD documents analysed (provenance).
        thermo
            Thermodynamic series of the first run, for the energy-ledger figures.
        kbar_files
            k̄ frames written (see :meth:`kbar_file`).
        """
        from gst_flows.plotting.scenarios import scenario_figures

        figures = [self.figure(*spec) for spec in scenario_figures(self.analysis, result, thermo)]
        return self.document_class.from_result(
            result,
            figures=figures,
            kbar_files=kbar_files,
            chunk_bytes=self.settings.chunk_bytes,
            **self.provenance(docs),
        )

    def figure(self, fig: Any, name: str, description: str = "") -> FigureDoc:
        """Save a matplotlib figure in ``figures/`` of the job directory."""
        from gst_flows.plotting.figures import save_figure

        paths = save_figure(fig, Path.cwd() / "figures" / name, formats=self.settings.formats)
        return FigureDoc(name=name, description=description, files=[str(p) for p in paths])

    def kbar_file(self, frames: Sequence[Atoms], kbars: Sequence[np.ndarray], name: str = "kbar") -> str:
        """Write frames with a per-atom ``kbar`` column (and ``crystalline``) as extxyz."""
        from gst_flows.analysis.io import write_kbar_extxyz

        index = np.arange(len(frames))
        limit = self.settings.kbar_frames
        if limit is not None and len(index) > max(limit, 1):
            index = np.unique(np.linspace(0, len(index) - 1, max(limit, 2)).round().astype(int))
            if limit <= 1:
                index = index[-1:]
        path = Path.cwd() / f"{name}.extxyz"
        chosen = []
        for k in index:
            frame = frames[k].copy()
            frame.calc = None
            for key in ("momenta",):
                frame.arrays.pop(key, None)
            chosen.append(frame)
        write_kbar_extxyz(path, chosen, [kbars[k] for k in index], threshold=self.settings.threshold)
        return str(path)

    def provenance(self, docs: Sequence[MDDoc]) -> dict[str, Any]:
        """Document fields shared by every scenario: what ran, with what, where."""
        first = docs[0]
        return {
            "scenario": self.scenario,
            "name": self.name,
            "size": self.size,
            "parameters": self.parameters,
            "protocol_names": [d.protocol_name for d in docs],
            "protocols": [d.protocol for d in docs],
            "engine": first.engine,
            "potential": first.potential,
            "formula": first.formula,
            "n_atoms": first.n_atoms,
            "n_runs": len(docs),
            "md_dirs": [d.dir_name or "" for d in docs],
            "ledger": first.ledger.model_copy(),
            "dir_name": str(Path.cwd()),
        }


def stress_calculator(doc: MDDoc) -> Any:
    """An ASE calculator of the run's potential that gives per-atom stresses, or None.

    None as well for a POD: its per-atom stresses would need a LAMMPS run per frame.
    """
    from gst_flows.md.potential import resolve_potential

    potential = doc.potential
    if potential.backend != "gap":
        return None
    ref = potential.path if potential.path else (potential.id if potential.kind == "factory" else None)
    if ref is None:
        return None
    try:
        calc, _ = resolve_potential(ref)
    except (OSError, ValueError, LookupError):
        return None
    return calc if "stresses" in getattr(calc, "implemented_properties", ()) else None


# --------------------------------------------------------------------------- scenarios


@dataclass
class SetCrystallisationAnalysisMaker(ScenarioAnalysisMaker):
    """k̄ series, crystalline profiles along z and the growth speed of the anneal stage."""

    name: str = "set crystallisation analysis"
    scenario: str = "set-crystallisation"
    analysis: ClassVar[str] = "set-crystallisation"
    document_class: ClassVar[type[ScenarioDoc]] = SetCrystallisationDoc

    @job(output_schema=SetCrystallisationDoc, data=_DATA)
    def make(self, md_doc: MDDoc | dict, anneal_stage: str = "anneal") -> SetCrystallisationDoc:
        """Analyse the anneal stage of the run.

        Parameters
        ----------
        md_doc
            The MD document (frames loaded from the data store).
        anneal_stage
            Name of the stage in which the crystal grows.
        """
        doc = as_md_doc(md_doc)
        result = self.analyse(run_data(doc), anneal_stage=anneal_stage)
        return self.document(result, [doc], kbar_files=[self.kbar_file(result.frames, result.kbar)])


@dataclass
class CumulativeSetAnalysisMaker(ScenarioAnalysisMaker):
    """Crystallinity of the cell's middle (``region`` 1) after each SET pulse of each train."""

    name: str = "cumulative set analysis"
    scenario: str = "cumulative-set"
    analysis: ClassVar[str] = "cumulative-set"
    document_class: ClassVar[type[ScenarioDoc]] = CumulativeSetDoc

    @job(output_schema=CumulativeSetDoc, data=_DATA)
    def make(self, md_docs: list[MDDoc | dict], labels: list[str]) -> CumulativeSetDoc:
        """Analyse one run per pulse type.

        Parameters
        ----------
        md_docs
            MD documents, one per pulse type, in the order of ``labels``.
        labels
            Pulse-type labels.
        """
        docs = [as_md_doc(d) for d in md_docs]
        result = self.analyse([run_data(d) for d in docs], labels=labels)
        files = [
            self.kbar_file(
                frames, kbars, "kbar_" + "".join(c if c.isalnum() else "_" for c in label).strip("_")
            )
            for label, frames, kbars in zip(labels, result.frames, result.kbar, strict=True)
        ]
        return self.document(result, docs, kbar_files=files)


@dataclass
class PolycrystallineGrowthAnalysisMaker(ScenarioAnalysisMaker):
    """Grain sizes of each seed over time and their growth speeds."""

    name: str = "polycrystalline growth analysis"
    scenario: str = "polycrystalline-growth"
    analysis: ClassVar[str] = "polycrystalline-growth"
    document_class: ClassVar[type[ScenarioDoc]] = PolycrystallineGrowthDoc

    @job(output_schema=PolycrystallineGrowthDoc, data=_DATA)
    def make(self, md_doc: MDDoc | dict, grow_stage: str = "grow") -> PolycrystallineGrowthDoc:
        """Analyse the growth stage.

        Parameters
        ----------
        md_doc
            The MD document.
        grow_stage
            Name of the stage in which the grains grow.
        """
        doc = as_md_doc(md_doc)
        result = self.analyse(run_data(doc), grow_stage=grow_stage)
        return self.document(result, [doc], kbar_files=[self.kbar_file(result.frames, result.kbar)])


@dataclass
class HeatingSeriesAnalysisMaker(ScenarioAnalysisMaker):
    """Onset of disorder and density against temperature for every run; spread per size."""

    name: str = "heating series analysis"
    scenario: str = "heating-series"
    analysis: ClassVar[str] = "heating-series"
    document_class: ClassVar[type[ScenarioDoc]] = HeatingSeriesDoc

    @job(output_schema=HeatingSeriesDoc, data=_DATA)
    def make(self, md_docs: list[MDDoc | dict], runs: list[dict[str, Any]]) -> HeatingSeriesDoc:
        """Analyse every heating run.

        Parameters
        ----------
        md_docs
            MD documents in the order of ``runs``.
        runs
            Per run: ``label``, ``ensemble``, ``supercell`` (n), ``seed``.
        """
        docs = [as_md_doc(d) for d in md_docs]
        result = self.analyse([run_data(d) for d in docs], info=runs)
        return self.document(result, docs)


@dataclass
class MushroomResetAnalysisMaker(ScenarioAnalysisMaker):
    """xz temperature maps, disordered base length from k̄, energy ledger (eV and fJ)."""

    name: str = "mushroom reset analysis"
    scenario: str = "mushroom-reset"
    analysis: ClassVar[str] = "mushroom-reset"
    document_class: ClassVar[type[ScenarioDoc]] = MushroomResetDoc

    @job(output_schema=MushroomResetDoc, data=_DATA)
    def make(self, md_doc: MDDoc | dict, pulse_stage: str = "pulse") -> MushroomResetDoc:
        """Analyse the RESET run.

        Parameters
        ----------
        md_doc
            The MD document.
        pulse_stage
            Name of the stage that injects the energy.
        """
        doc = as_md_doc(md_doc)
        run = run_data(doc)
        result = self.analyse(run, pulse_stage=pulse_stage, stress_calculator=stress_calculator(doc))
        return self.document(result, [doc], run.thermo, [self.kbar_file(result.frames, result.kbar)])


@dataclass
class CrossPointAnalysisMaker(ScenarioAnalysisMaker):
    """T(z, t), k̄ by height, RDF of the central region over time, energy ledger.

    Parameters
    ----------
    central_thickness
        Thickness of the central region of the RDF, Å (the central 20 nm of the published
        cell).
    rdf_r_max
        Largest distance of the RDF, Å.
    """

    name: str = "cross-point analysis"
    scenario: str = "cross-point"
    central_thickness: float = 200.0
    rdf_r_max: float = 8.0
    analysis: ClassVar[str] = "cross-point"
    document_class: ClassVar[type[ScenarioDoc]] = CrossPointDoc

    @job(output_schema=CrossPointDoc, data=_DATA)
    def make(self, md_doc: MDDoc | dict, pulse_stage: str = "pulse") -> CrossPointDoc:
        """Analyse the melt–quench run.

        Parameters
        ----------
        md_doc
            The MD document.
        pulse_stage
            Name of the heating-pulse stage.
        """
        doc = as_md_doc(md_doc)
        run = run_data(doc)
        result = self.analyse(
            run,
            pulse_stage=pulse_stage,
            composition=self.parameters.get("composition", "Ge1Sb2Te4"),
            central_thickness=self.central_thickness,
            rdf_r_max=self.rdf_r_max,
        )
        return self.document(result, [doc], run.thermo, [self.kbar_file(result.frames, result.kbar)])


@dataclass
class ElectromigrationAnalysisMaker(ScenarioAnalysisMaker):
    """Species density profiles along the field over time, and each species' drift."""

    name: str = "electromigration analysis"
    scenario: str = "electromigration"
    analysis: ClassVar[str] = "electromigration"
    document_class: ClassVar[type[ScenarioDoc]] = ElectromigrationDoc

    @job(output_schema=ElectromigrationDoc, data=_DATA)
    def make(self, md_doc: MDDoc | dict, field_stage: str = "field") -> ElectromigrationDoc:
        """Analyse the field stage.

        Parameters
        ----------
        md_doc
            The MD document.
        field_stage
            Name of the stage with the field.
        """
        doc = as_md_doc(md_doc)
        result = self.analyse(run_data(doc), field_stage=field_stage)
        return self.document(result, [doc])
