"""The analysis document: one structural analysis of a trajectory or a database selection.

The document holds what the analysis was run on, its options and its summary (numbers and short
lists: first RDF peak, rings per atom, crystalline fraction, growth speed, ...). Its arrays
(histograms, series, maps, per-atom k̄) are :class:`~gst_flows.schemas.arrays.ArrayDoc` parts
whose values go to the ``data`` store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from ase import Atoms
from pydantic import Field

from gst_flows.schemas.arrays import ArrayDoc, ArrayHolder, FigureDoc, array_docs

__all__ = ["AnalysisDoc"]


class AnalysisDoc(ArrayHolder):
    """A structural analysis: source, options, summary; arrays in the data store."""

    name: str = Field("analysis", description="Job name.")
    kind: str = Field(
        description="Analysis kind: rdf, adf, coordination, homopolar, density, "
        "rings, altbc, kbar, temperature, growth or soap-map."
    )
    source: str = Field(
        description="What was analysed: 'file:<path>', 'md:<run directory>', "
        "'database:<label filter>' or 'structures'."
    )
    n_frames: int = Field(description="Frames (or configurations) analysed.")
    n_atoms: int = Field(description="Atoms in the first frame.")
    formula: str = Field(description="Chemical formula of the first frame.")
    composition: dict[str, int] = Field(description="Atoms per element in the first frame.")
    times_ps: list[float] | None = Field(
        None, description="Time of each analysed frame, ps (trajectories of MD runs)."
    )
    options: dict[str, Any] = Field(
        description="Analysis options (Å, degrees, K, ps; the reference structure by formula)."
    )
    summary: dict[str, Any] = Field(
        description="Headline results (units in the analysis documentation: Å, degrees, g/cm³, "
        "K, m/s; fractions and counts dimensionless)."
    )
    figures: list[FigureDoc] = Field(default_factory=list, description="Figures written.")
    kbar_file: str | None = Field(
        None, description="extxyz file with a per-atom 'kbar' column (OVITO colours by it)."
    )
    wall_time_s: float = Field(description="Wall time of the analysis, s.")
    dir_name: str | None = Field(None, description="Directory of the analysis job.")
    last_updated: datetime = Field(default_factory=lambda: datetime.now(UTC), description="Creation time.")

    @classmethod
    def from_result(
        cls,
        result: Any,
        frames: Sequence[Atoms],
        *,
        source: str,
        options: dict[str, Any],
        name: str = "analysis",
        wall_time_s: float = 0.0,
        figures: Sequence[FigureDoc] = (),
        kbar_file: str | None = None,
        store_kbar: bool = True,
        chunk_bytes: int = 8_000_000,
        dir_name: str | None = None,
    ) -> AnalysisDoc:
        """Build the document from an :class:`~gst_flows.analysis.run.AnalysisResult`.

        Parameters
        ----------
        result
            What :func:`gst_flows.analysis.run.analyse` returned.
        frames
            The frames analysed.
        source
            What was analysed (see :attr:`source`).
        options
            The options as plain values.
        name
            Job name.
        wall_time_s
            Wall time of the analysis, s.
        figures, kbar_file
            Files written.
        store_kbar
            Store the per-atom k̄ of every frame (array ``kbar``, frames × atoms).
        chunk_bytes
            Largest stored part of an array, bytes.
        dir_name
            Job directory.
        """
        from gst_flows.analysis.run import array_unit, frame_times

        arrays: list[ArrayDoc] = []
        for key, values in result.arrays.items():
            arrays += array_docs(
                key, np.asarray(values), array_unit(result.kind, key), chunk_bytes=chunk_bytes
            )
        if store_kbar and result.kbar is not None and len({len(k) for k in result.kbar}) == 1:
            arrays += array_docs(
                "kbar", np.asarray(result.kbar), "", "k̄ per atom, frames × atoms", chunk_bytes
            )
        first = frames[0]
        symbols = first.get_chemical_symbols()
        times = None
        if all("time_fs" in f.info for f in frames):
            times = [float(t) for t in frame_times(frames)]
        return cls(
            name=name,
            kind=result.kind,
            source=source,
            n_frames=len(frames),
            n_atoms=len(first),
            formula=first.get_chemical_formula(),
            composition={s: symbols.count(s) for s in sorted(set(symbols))},
            times_ps=times,
            options=options,
            summary=result.summary,
            figures=list(figures),
            kbar_file=kbar_file,
            wall_time_s=wall_time_s,
            dir_name=dir_name,
            arrays=arrays,
        )
