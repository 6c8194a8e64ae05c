"""Figures of an analysis from its arrays, as :func:`gst_flows.analysis.run.analyse` returns them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["FIGURE_KINDS", "draw_analysis"]

#: Analysis kinds with a figure.
FIGURE_KINDS = ("rdf", "adf", "rings", "altbc", "kbar", "temperature", "growth", "soap-map")


def draw_analysis(
    kind: str,
    data: dict[str, np.ndarray],
    stem: str | Path,
    title: str | None = None,
    formats: Sequence[str] = ("png", "pdf"),
) -> list[Path]:
    """Draw the figure(s) of one analysis from its arrays and write them.

    Parameters
    ----------
    kind
        Analysis kind (one of :data:`FIGURE_KINDS`).
    data
        The analysis arrays (``AnalysisResult.arrays`` or a saved NPZ).
    stem
        Output path without suffix; a temperature analysis adds ``<stem>_profile``.
    title
        Figure title.
    formats
        File formats.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    import gst_flows.plotting as pl
    from gst_flows.analysis import ALTBC, RDF, AngleDistribution, RingStatistics, SoapMap
    from gst_flows.analysis.temperature import TemperatureMap

    if kind == "rdf":
        partial = {k[2:]: v for k, v in data.items() if k.startswith("g_")}
        figs = {"": pl.plot_rdf(RDF(data["r"], data["total"], partial), title=title)}
    elif kind == "adf":
        by = {k[4:]: v for k, v in data.items() if k.startswith("adf_")}
        figs = {"": pl.plot_angles(AngleDistribution(data["theta"], data["total"], by), title=title)}
    elif kind == "rings":
        stats = RingStatistics(data["sizes"], data["counts"], data["per_atom"], None)
        figs = {"": pl.plot_rings(stats, title=title)}
    elif kind == "altbc":
        figs = {"": pl.plot_altbc(ALTBC(data["r"], data["density"], 0, 0), title=title)}
    elif kind in ("kbar", "growth"):
        figs = {"": pl.plot_crystallinity_series(data["time"], data, title=title)}
    elif kind == "temperature":
        axes = tuple(str(a) for a in data["axes"])
        last = TemperatureMap(data["maps"][-1], (data["edges_0"], data["edges_1"]), data["maps"][-1], axes)
        profile = TemperatureMap(
            data["profiles"][-1],
            (data["profile_edges"],),
            data["profiles"][-1],
            (str(data["profile_axis"][0]),),
        )
        figs = {
            "": pl.plot_temperature_map(last, title=title),
            "_profile": pl.plot_temperature_profile(profile, title=title),
        }
    elif kind == "soap-map":
        smap = SoapMap(data["coordinates"], data["kernel"], data["explained"], "map")
        figs = {
            "": pl.plot_soap_map(
                smap,
                [str(c) for c in data["colour"]],
                marker_by=[str(m) for m in data["marker"]],
                title=title,
            )
        }
    else:
        raise ValueError(f"no figure for {kind!r}")
    stem = Path(stem)
    written: list[Path] = []
    for suffix, fig in figs.items():
        written += pl.save_figure(fig, stem.with_name(stem.name + suffix), formats=formats)
    return written
