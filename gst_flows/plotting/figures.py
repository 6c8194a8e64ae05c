"""Figure functions: each takes analysis results and returns a matplotlib Figure.

Figures are built with the object-oriented API on the Agg canvas, so they work
without a display; :func:`save_figure` writes PNG and PDF side by side.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from gst_flows.analysis.altbc import ALTBC
from gst_flows.analysis.bonds import AngleDistribution
from gst_flows.analysis.rdf import RDF
from gst_flows.analysis.rings import RingStatistics
from gst_flows.analysis.soap_map import SoapMap
from gst_flows.analysis.temperature import TemperatureMap


def save_figure(
    figure: Figure, stem: str | os.PathLike, formats: Sequence[str] = ("png", "pdf"), dpi: int = 200
) -> list[Path]:
    """Write a figure in several formats.

    Parameters
    ----------
    figure
        The figure.
    stem
        Output path without suffix; parent folders are created.
    formats
        File formats (suffixes).
    dpi
        Resolution of raster formats in dots per inch.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        figure.savefig(path, dpi=dpi, bbox_inches="tight")
        paths.append(path)
    return paths


def plot_rdf(rdf: RDF, *, partial: bool = True, title: str | None = None) -> Figure:
    """Total g(r) and, below it, the partial g_ab(r) offset for readability."""
    show_partial = partial and len(rdf.partial) > 1
    fig = Figure(figsize=(5.0, 6.5 if show_partial else 3.2))
    axes = fig.subplots(2 if show_partial else 1, 1, sharex=True, squeeze=False)[:, 0]
    axes[0].plot(rdf.r, rdf.total, color="k", lw=1.2)
    axes[0].axhline(1.0, color="0.7", lw=0.8, ls="--")
    axes[0].set_ylabel("g(r)")
    if title:
        axes[0].set_title(title)
    if show_partial:
        offset = 0.0
        step = max(float(np.nanmax(g)) for g in rdf.partial.values()) * 0.6
        for key, g in rdf.partial.items():
            axes[1].plot(rdf.r, g + offset, lw=1.0, label=key)
            offset += step
        axes[1].set_ylabel("g$_{ab}$(r) (offset)")
        axes[1].legend(fontsize=7, ncol=2, frameon=False)
    axes[-1].set_xlabel("r (Å)")
    axes[-1].set_xlim(0.0, float(rdf.r[-1]))
    return fig


def plot_angles(adf: AngleDistribution, *, title: str | None = None) -> Figure:
    """Bond-angle distribution, total and per central species."""
    fig = Figure(figsize=(5.0, 3.4))
    ax = fig.add_subplot()
    ax.plot(adf.theta, adf.total, color="k", lw=1.4, label="all")
    for key, density in adf.by_centre.items():
        ax.plot(adf.theta, density, lw=1.0, label=f"{key}-centred")
    ax.set_xlabel("bond angle (degrees)")
    ax.set_ylabel("probability density (1/degree)")
    ax.set_xlim(0, 180)
    ax.legend(fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    return fig


def plot_rings(stats: RingStatistics | Mapping[str, RingStatistics], *, title: str | None = None) -> Figure:
    """Ring-size histogram (rings per atom); several labelled sets side by side."""
    sets = {"": stats} if isinstance(stats, RingStatistics) else dict(stats)
    fig = Figure(figsize=(5.0, 3.4))
    ax = fig.add_subplot()
    width = 0.8 / max(len(sets), 1)
    for k, (label, s) in enumerate(sets.items()):
        ax.bar(s.sizes + (k - (len(sets) - 1) / 2) * width, s.per_atom, width, label=label or None)
    ax.set_xlabel("ring size")
    ax.set_ylabel("rings per atom")
    if len(sets) > 1:
        ax.legend(fontsize=8, frameon=False)
    first = next(iter(sets.values()))
    ax.set_xticks(first.sizes)
    if title:
        ax.set_title(title)
    return fig


def plot_altbc(result: ALTBC, *, title: str | None = None) -> Figure:
    """ALTBC heat map over the two bond lengths."""
    fig = Figure(figsize=(4.4, 3.8))
    ax = fig.add_subplot()
    step = result.r[1] - result.r[0] if len(result.r) > 1 else 1.0
    extent = (result.r[0] - step / 2, result.r[-1] + step / 2) * 2
    image = ax.imshow(result.density.T, origin="lower", extent=extent, cmap="magma", aspect="equal")
    ax.plot(extent[:2], extent[:2], color="w", lw=0.6, ls=":")
    ax.set_xlabel("r$_1$ (Å)")
    ax.set_ylabel("r$_2$ (Å)")
    fig.colorbar(image, ax=ax, label="triples per atom per Å$^2$")
    if title:
        ax.set_title(title)
    return fig


def plot_crystallinity_series(
    times: np.ndarray,
    series: Mapping[str, np.ndarray],
    *,
    time_unit: str = "ps",
    title: str | None = None,
) -> Figure:
    """Crystalline fraction (and mass density if present) against time."""
    fig = Figure(figsize=(5.0, 3.4))
    ax = fig.add_subplot()
    ax.plot(times, series["crystalline_fraction"], "o-", color="C0", ms=3)
    ax.set_xlabel(f"time ({time_unit})")
    ax.set_ylabel("crystalline fraction", color="C0")
    ax.set_ylim(-0.02, 1.02)
    if "density" in series and np.isfinite(series["density"]).any():
        twin = ax.twinx()
        twin.plot(times, series["density"], "s--", color="C3", ms=3)
        twin.set_ylabel("density (g/cm$^3$)", color="C3")
    if title:
        ax.set_title(title)
    return fig


def plot_temperature_map(
    tmap: TemperatureMap,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = None,
) -> Figure:
    """2D temperature map in K, axes in nm."""
    if tmap.temperature.ndim != 2:
        raise ValueError("plot_temperature_map needs a 2D map; use plot_temperature_profile")
    e0, e1 = (e / 10.0 for e in tmap.edges)
    width = 5.0
    height = float(np.clip(width * (e1[-1] / max(e0[-1], 1e-9)), 2.0, 9.0))
    fig = Figure(figsize=(width + 1.2, height))
    ax = fig.add_subplot()
    mesh = ax.pcolormesh(e0, e1, tmap.temperature.T, cmap="inferno", vmin=vmin, vmax=vmax, shading="flat")
    ax.set_aspect("equal")
    ax.set_xlabel(f"{tmap.axes[0]} (nm)")
    ax.set_ylabel(f"{tmap.axes[1]} (nm)")
    fig.colorbar(mesh, ax=ax, label="T (K)")
    if title:
        ax.set_title(title)
    return fig


def plot_temperature_profile(
    profiles: TemperatureMap | Sequence[TemperatureMap],
    labels: Sequence[str] | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """One or several 1D temperature profiles, position in nm against T in K."""
    items = [profiles] if isinstance(profiles, TemperatureMap) else list(profiles)
    fig = Figure(figsize=(5.0, 3.4))
    ax = fig.add_subplot()
    for k, prof in enumerate(items):
        if prof.temperature.ndim != 1:
            raise ValueError("plot_temperature_profile needs 1D profiles")
        label = labels[k] if labels is not None else None
        ax.plot(prof.centres[0] / 10.0, prof.temperature, lw=1.2, label=label)
    ax.set_xlabel(f"{items[0].axes[0]} (nm)")
    ax.set_ylabel("T (K)")
    if labels is not None:
        ax.legend(fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    return fig


def plot_soap_map(
    soap_map: SoapMap,
    colour_by: Sequence[str] | None = None,
    *,
    marker_by: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Scatter plot of the SOAP map, coloured by one label (iteration) and shaped by another."""
    coords = soap_map.coordinates
    n = len(coords)
    colours = list(colour_by) if colour_by is not None else ["all"] * n
    shapes = list(marker_by) if marker_by is not None else [""] * n
    if len(colours) != n or len(shapes) != n:
        raise ValueError("need one label per configuration")
    fig = Figure(figsize=(5.4, 4.4))
    ax = fig.add_subplot()
    markers = "osD^v<>ph*"
    colour_keys = sorted(set(colours))
    shape_keys = sorted(set(shapes))
    for ci, c in enumerate(colour_keys):
        for si, s in enumerate(shape_keys):
            mask = np.array([(a == c and b == s) for a, b in zip(colours, shapes, strict=True)])
            if not mask.any():
                continue
            label = " / ".join(x for x in (c, s) if x)
            ax.scatter(
                coords[mask, 0],
                coords[mask, 1] if coords.shape[1] > 1 else np.zeros(mask.sum()),
                s=14,
                color=f"C{ci % 10}",
                marker=markers[si % len(markers)],
                label=label,
                alpha=0.8,
                linewidths=0,
            )
    ax.set_xlabel(f"{soap_map.method} 1")
    ax.set_ylabel(f"{soap_map.method} 2")
    ax.legend(fontsize=7, frameon=False, loc="best")
    if title:
        ax.set_title(title)
    return fig
