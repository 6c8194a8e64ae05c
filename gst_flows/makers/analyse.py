"""Makers for structural analyses of trajectories and of database selections.

:class:`StructureAnalysisMaker` analyses a trajectory file, a list of structures or the frames
of an MD run (an :class:`~gst_flows.schemas.md.MDDoc`, e.g. a ``GapMDMaker`` job's output);
:class:`DatabaseAnalysisMaker` analyses labelled configurations selected from the database (the
SOAP map of the reference database by default). Both call
:func:`gst_flows.analysis.run.analyse`, write figures into the job directory and return an
:class:`~gst_flows.schemas.analysis.AnalysisDoc` whose arrays go to the ``data`` store.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ase import Atoms
from jobflow import Maker, job
from pymatgen.core import Structure

from gst_flows.analysis.io import read_frames
from gst_flows.analysis.run import ANALYSIS_KINDS, AnalysisOptions, analyse, check_analysis
from gst_flows.makers.md import as_md_doc, structure_to_atoms
from gst_flows.schemas.analysis import AnalysisDoc
from gst_flows.schemas.arrays import FigureDoc

__all__ = ["DatabaseAnalysisMaker", "StructureAnalysisMaker", "load_trajectory"]


def load_trajectory(trajectory: Any, index: str = ":", stride: int = 1) -> tuple[list[Atoms], str]:
    """Frames of a trajectory given as a file, structures or an MD document.

    Parameters
    ----------
    trajectory
        A file ASE reads (path), an ``ase.Atoms`` or pymatgen ``Structure`` or a list of them,
        or an :class:`~gst_flows.schemas.md.MDDoc` (model or resolved job output) whose frames
        were loaded from the data store.
    index
        Frames to read from a file, ASE slice syntax.
    stride
        Keep every ``stride``-th frame (the last frame is always kept).

    Returns
    -------
    tuple
        ``(frames, source)``: the frames and a short description of where they came from.

    Raises
    ------
    FileNotFoundError, TypeError, ValueError
        For a missing file, an unknown input type or an empty selection.
    """
    from gst_flows.schemas.md import MDDoc

    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if isinstance(trajectory, str | os.PathLike):
        frames, source = read_frames(trajectory, index), f"file:{os.fspath(trajectory)}"
    elif isinstance(trajectory, MDDoc) or (isinstance(trajectory, dict) and "trajectory" in trajectory):
        doc = as_md_doc(trajectory)
        if not doc.n_frames:
            raise ValueError("the MD run saved no frames (set frame_interval)")
        frames, source = doc.frames(), f"md:{doc.dir_name or doc.name}"
    elif isinstance(trajectory, Atoms | Structure):
        frames, source = [structure_to_atoms(trajectory)], "structures"
    elif isinstance(trajectory, Sequence) and trajectory:
        frames = []
        for k, item in enumerate(trajectory):
            if not isinstance(item, Atoms | Structure):
                raise TypeError(f"item {k} is a {type(item).__name__}, not a structure")
            frames.append(structure_to_atoms(item))
        source = "structures"
    else:
        raise TypeError(
            f"cannot analyse a {type(trajectory).__name__}: give a file path, structures or an MD document"
        )
    if not frames:
        raise ValueError("no frames to analyse")
    if stride > 1:
        frames = frames[::stride] if (len(frames) - 1) % stride == 0 else [*frames[::stride], frames[-1]]
    return frames, source


@dataclass
class StructureAnalysisMaker(Maker):
    """Analyse a trajectory or a set of structures; return an :class:`AnalysisDoc`.

    Parameters
    ----------
    name
        Job name.
    kind
        Analysis kind, one of :data:`gst_flows.analysis.run.ANALYSIS_KINDS` (``rdf``, ``adf``,
        ``coordination``, ``homopolar``, ``density``, ``rings``, ``altbc``, ``kbar``,
        ``temperature``, ``growth``, ``soap-map``).
    options
        Analysis options (fields of :class:`~gst_flows.analysis.run.AnalysisOptions`, e.g.
        ``{"r_max": 8.0, "cutoffs": {"Ge-Te": 3.2}}``); checked when the maker is built.
    reference
        Crystalline reference structure of ``kbar``/``growth`` (rock-salt and layered
        references of the composition when None).
    index
        Frames to read from a trajectory file (ASE slice syntax).
    frame_stride
        Analyse every ``frame_stride``-th frame (the last is always kept).
    figures
        Write the analysis figures (PNG/PDF) into the job directory.
    formats
        Figure formats.
    write_kbar
        For ``kbar``/``growth``: write ``kbar.extxyz`` (per-atom ``kbar`` and ``crystalline``
        columns, for OVITO) into the job directory and store k̄ per atom in the data store.
    chunk_bytes
        Largest stored part of an array, bytes.
    """

    name: str = "analysis"
    kind: str = "rdf"
    options: dict[str, Any] = field(default_factory=dict)
    reference: Structure | None = None
    index: str = ":"
    frame_stride: int = 1
    figures: bool = True
    formats: tuple[str, ...] = ("png", "pdf")
    write_kbar: bool = True
    chunk_bytes: int = 8_000_000

    fworker_category: ClassVar[str] = "analysis"

    def __post_init__(self) -> None:
        if self.kind not in ANALYSIS_KINDS:
            raise ValueError(f"unknown analysis {self.kind!r}; one of: {', '.join(ANALYSIS_KINDS)}")
        if "reference" in self.options:
            raise ValueError("give the reference structure as the maker's 'reference' field")
        self.formats = tuple(self.formats)
        self.analysis_options()

    def analysis_options(self) -> AnalysisOptions:
        """The options as an :class:`AnalysisOptions` (reference structure converted)."""
        options = AnalysisOptions.from_dict(self.options)
        if self.reference is not None:
            options.reference = structure_to_atoms(self.reference)
        return options

    def check(self, frames: Sequence[Atoms]) -> None:
        """Raise ``ValueError`` when ``frames`` cannot be analysed (runs before any compute)."""
        check_analysis(self.kind, frames, self.analysis_options())

    @job(output_schema=AnalysisDoc, data=["array_data"])
    def make(self, trajectory: Any) -> AnalysisDoc:
        """Analyse ``trajectory``.

        Parameters
        ----------
        trajectory
            A trajectory file, structures, or an MD document (e.g. ``md_job.output``).

        Returns
        -------
        AnalysisDoc
            Summary and figures; arrays in the data store.
        """
        frames, source = load_trajectory(trajectory, self.index, self.frame_stride)
        return self.run(frames, source)

    def run(self, frames: list[Atoms], source: str) -> AnalysisDoc:
        """Analyse ``frames`` in the current directory and build the document."""
        from gst_flows.analysis.io import write_kbar_extxyz
        from gst_flows.plotting.analysis import FIGURE_KINDS, draw_analysis

        options = self.analysis_options()
        check_analysis(self.kind, frames, options)
        start = time.perf_counter()
        result = analyse(self.kind, frames, options)
        wall = time.perf_counter() - start
        workdir = Path.cwd()
        stem = self.kind.replace("-", "_")
        figures = []
        if self.figures and self.kind in FIGURE_KINDS:
            files = draw_analysis(self.kind, result.arrays, workdir / "figures" / stem, formats=self.formats)
            figures.append(
                FigureDoc(name=stem, description=f"{self.kind} of {source}", files=[str(p) for p in files])
            )
        kbar_file = None
        if self.write_kbar and result.kbar is not None:
            kbar_file = str(workdir / f"{stem}.extxyz")
            write_kbar_extxyz(
                kbar_file, [_bare(f) for f in frames], result.kbar, threshold=result.summary["threshold"]
            )
        return AnalysisDoc.from_result(
            result,
            frames,
            source=source,
            options=options.as_record(),
            name=self.name,
            wall_time_s=wall,
            figures=figures,
            kbar_file=kbar_file,
            store_kbar=self.write_kbar,
            chunk_bytes=self.chunk_bytes,
            dir_name=str(workdir),
        )


@dataclass
class DatabaseAnalysisMaker(StructureAnalysisMaker):
    """Analyse labelled configurations selected from the database (default: the SOAP map).

    ``make(filters)`` selects successful labels with
    :func:`gst_flows.dataset.label_filter` keywords (``tag``, ``iteration``, ``config_type``,
    ``composition``, ``settings_hash``, ``code``, ``query``) from the store the job runs
    against; each configuration keeps its provenance (``iteration``, ``config_type``, ...)
    in ``info``, which colours and marks the SOAP map. Isolated-atom labels are left out.
    """

    name: str = "database analysis"
    kind: str = "soap-map"
    exclude_config_types: tuple[str, ...] = ("isolated_atom",)

    @job(output_schema=AnalysisDoc, data=["array_data"])
    def make(self, filters: dict[str, Any] | None = None) -> AnalysisDoc:
        """Analyse the labels matching ``filters``.

        Parameters
        ----------
        filters
            Keyword arguments of :func:`gst_flows.dataset.label_filter`.

        Returns
        -------
        AnalysisDoc
            Summary and figures; arrays in the data store.
        """
        from gst_flows.store import current_store

        frames = self.select(filters, store=current_store())
        return self.run(frames, "database:" + json.dumps(filters or {}, sort_keys=True, default=str))

    def select(self, filters: dict[str, Any] | None, store: Any = None) -> list[Atoms]:
        """Configurations of the labels matching ``filters`` (structures only, no forces)."""
        from gst_flows.dataset import find_labels

        labels = find_labels(store=store, forces=False, **(filters or {}))
        frames = [lab.doc.to_atoms() for lab in labels]
        frames = [f for f in frames if f.info.get("config_type") not in self.exclude_config_types]
        if not frames:
            raise ValueError(f"no labelled configurations match {filters or {}}")
        return frames


def _bare(frame: Atoms) -> Atoms:
    """A copy without calculator or momenta (for extxyz files people open in OVITO)."""
    out = frame.copy()
    out.calc = None
    out.arrays.pop("momenta", None)
    return out
