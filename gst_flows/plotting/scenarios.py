"""Figures of the device scenarios; each function returns a matplotlib Figure (Agg canvas).

Save them with :func:`gst_flows.plotting.figures.save_figure` (PNG and PDF).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from gst_flows.analysis.growth import GrowthFit
from gst_flows.analysis.temperature import TemperatureMap
from gst_flows.md.units import ev_to_fj

__all__ = [
    "FigureSpec",
    "plot_base_length",
    "plot_cumulative_set",
    "plot_energy_ledger",
    "plot_grain_growth",
    "plot_growth",
    "plot_heating_series",
    "plot_map_zt",
    "plot_profile_map",
    "plot_rdf_series",
    "plot_species_profiles",
    "plot_xz_maps",
    "scenario_figures",
]


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around (possibly uneven) centres, for pcolormesh."""
    c = np.asarray(centres, dtype=float)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.r_[c[0] - (mid[0] - c[0]), mid, c[-1] + (c[-1] - mid[-1])]


def plot_growth(
    times: np.ndarray,
    fraction: np.ndarray,
    thickness: np.ndarray,
    fit: GrowthFit | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Crystalline fraction and crystalline thickness (with the growth fit) against time (ps)."""
    fig = Figure(figsize=(5.6, 3.4))
    ax = fig.add_subplot()
    ax.plot(times, fraction, "o-", color="C0", ms=3)
    ax.set_xlabel("time (ps)")
    ax.set_ylabel("crystalline fraction", color="C0")
    ax.set_ylim(-0.02, 1.02)
    twin = ax.twinx()
    twin.plot(times, np.asarray(thickness) / 10.0, "s", color="C3", ms=3)
    if fit is not None:
        t = np.asarray(times) - times[0]
        twin.plot(
            times,
            (fit.intercept + 2 * fit.slope * t) / 10.0,
            "--",
            color="C3",
            label=f"{fit.speed:.3g} m/s per front",
        )
        twin.legend(fontsize=8, frameon=False, loc="lower right")
    twin.set_ylabel("crystalline thickness (nm)", color="C3")
    if title:
        ax.set_title(title)
    return fig


def plot_profile_map(
    times: np.ndarray,
    centres: np.ndarray,
    values: np.ndarray,
    *,
    label: str = "",
    axis: str = "z",
    cmap: str = "viridis",
) -> Figure:
    """A quantity per slab (rows: frames) as a map of position (nm) against time (ps)."""
    return plot_map_zt(times, centres, values, label=label, cmap=cmap, vmin=0.0, vmax=1.0, axis=axis)


def plot_map_zt(
    times: np.ndarray,
    z: np.ndarray,
    values: np.ndarray,
    *,
    label: str = "",
    cmap: str = "inferno",
    vmin: float | None = None,
    vmax: float | None = None,
    axis: str = "z",
) -> Figure:
    """A slab quantity (frames × slabs) as a colour map: time (ps) across, height (nm) up."""
    fig = Figure(figsize=(5.8, 3.6))
    ax = fig.add_subplot()
    mesh = ax.pcolormesh(
        _edges(np.asarray(times)),
        _edges(np.asarray(z) / 10.0),
        np.asarray(values, dtype=float).T,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        shading="flat",
    )
    ax.set_xlabel("time (ps)")
    ax.set_ylabel(f"{axis} (nm)")
    fig.colorbar(mesh, ax=ax, label=label)
    return fig


def plot_cumulative_set(series: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """Crystalline fraction against cumulative SET pulse time, one line per pulse type."""
    fig = Figure(figsize=(5.0, 3.4))
    ax = fig.add_subplot()
    for k, (label, (t, f)) in enumerate(series.items()):
        ax.plot(t, f, "o-", ms=4, color=f"C{k}", label=label)
    ax.set_xlabel("cumulative pulse time (ps)")
    ax.set_ylabel("crystalline fraction")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8, frameon=False)
    return fig


def plot_grain_growth(times: np.ndarray, radii: np.ndarray, fits: Sequence[GrowthFit | None]) -> Figure:
    """Equivalent radius of each seeded grain against time, with its linear fit."""
    fig = Figure(figsize=(5.0, 3.4))
    ax = fig.add_subplot()
    t0 = times[0] if len(times) else 0.0
    for s in range(radii.shape[1]):
        ax.plot(times, radii[:, s] / 10.0, "o", ms=3, color=f"C{s}")
        fit = fits[s]
        if fit is not None:
            ax.plot(
                times,
                (fit.intercept + fit.slope * (times - t0)) / 10.0,
                "-",
                color=f"C{s}",
                label=f"grain {s}: {fit.speed:.3g} m/s",
            )
    ax.set_xlabel("time (ps)")
    ax.set_ylabel("equivalent radius (nm)")
    ax.legend(fontsize=8, frameon=False)
    return fig


def plot_heating_series(curves: Sequence[Mapping[str, Any]]) -> Figure:
    """Crystalline fraction and density against temperature, and onsets per size.

    Runs are coloured by size; the onset panel shows the spread shrinking as cells grow.
    """
    fig = Figure(figsize=(10.5, 3.4))
    ax_f, ax_d, ax_o = fig.subplots(1, 3)
    sizes = sorted({c["n_atoms"] for c in curves})
    colour = {n: f"C{k}" for k, n in enumerate(sizes)}
    style = {"nvt": "-", "npt": "--"}
    labelled: set[tuple[int, str]] = set()
    for c in curves:
        key = (c["n_atoms"], c["ensemble"])
        label = f"{c['n_atoms']} atoms, {c['ensemble']}" if key not in labelled else None
        labelled.add(key)
        ax_f.plot(
            c["temperature"],
            c["fraction"],
            style.get(c["ensemble"], "-"),
            color=colour[c["n_atoms"]],
            lw=1.0,
            label=label,
        )
        ax_d.plot(
            c["density_temperature"],
            c["density"],
            style.get(c["ensemble"], "-"),
            color=colour[c["n_atoms"]],
            lw=1.0,
        )
    ax_f.set_xlabel("temperature (K)")
    ax_f.set_ylabel("crystalline fraction")
    ax_f.legend(fontsize=7, frameon=False)
    ax_d.set_xlabel("temperature (K)")
    ax_d.set_ylabel("density (g/cm$^3$)")
    for k, n in enumerate(sizes):
        for ens, marker in (("nvt", "o"), ("npt", "s")):
            onsets = [
                c["onset"]
                for c in curves
                if c["n_atoms"] == n and c["ensemble"] == ens and np.isfinite(c["onset"])
            ]
            if onsets:
                ax_o.plot([n] * len(onsets), onsets, marker, color=colour[n], alpha=0.6)
                ax_o.errorbar([n], [np.mean(onsets)], yerr=[np.std(onsets)], fmt="k_", capsize=4)
        del k
    ax_o.set_xscale("log")
    ax_o.set_xlabel("atoms")
    ax_o.set_ylabel("onset of disorder (K)")
    fig.tight_layout()
    return fig


def plot_xz_maps(
    maps: Sequence[TemperatureMap],
    times: np.ndarray,
    labels: Sequence[str] | None = None,
    *,
    max_panels: int = 6,
) -> Figure:
    """A row of xz temperature maps at evenly spread saved frames (common colour scale, K)."""
    pick = np.unique(np.linspace(0, len(maps) - 1, min(max_panels, len(maps))).round().astype(int))
    vmax = float(np.nanmax([np.nanmax(m.temperature) for m in maps]))
    vmin = float(np.nanmin([np.nanmin(m.temperature) for m in maps]))
    first = maps[0]
    aspect = (first.edges[1][-1] - first.edges[1][0]) / max(first.edges[0][-1], 1e-9)
    fig = Figure(figsize=(2.6 * len(pick) + 1.0, max(2.0, 2.6 * aspect) + 0.6))
    axes = fig.subplots(1, len(pick), squeeze=False)[0]
    mesh = None
    for ax, k in zip(axes, pick, strict=True):
        m = maps[k]
        mesh = ax.pcolormesh(
            m.edges[0] / 10.0,
            m.edges[1] / 10.0,
            m.temperature.T,
            cmap="inferno",
            vmin=vmin,
            vmax=vmax,
            shading="flat",
        )
        ax.set_aspect("equal")
        stage = f" ({labels[k]})" if labels is not None and labels[k] else ""
        ax.set_title(f"{times[k]:.3g} ps{stage}", fontsize=8)
        ax.set_xlabel("x (nm)")
    axes[0].set_ylabel("z (nm)")
    if mesh is not None:
        fig.colorbar(mesh, ax=list(axes), label="T (K)", shrink=0.8)
    return fig


def plot_base_length(times: np.ndarray, lengths: np.ndarray) -> Figure:
    """Disordered base length (nm) against time (ps)."""
    fig = Figure(figsize=(5.0, 3.2))
    ax = fig.add_subplot()
    ax.plot(times, np.asarray(lengths) / 10.0, "o-", ms=3)
    ax.set_xlabel("time (ps)")
    ax.set_ylabel("disordered base length (nm)")
    return fig


def plot_energy_ledger(series: Mapping[str, np.ndarray], requested: float) -> Figure:
    """Cumulative injected (and removed) energy against time, eV with fJ on the right axis."""
    fig = Figure(figsize=(5.2, 3.4))
    ax = fig.add_subplot()
    t = np.asarray(series["time_fs"]) / 1000.0
    ax.plot(t, series["injected_ev"], color="C3", label="injected")
    if np.any(np.asarray(series["removed_ev"]) > 0):
        ax.plot(t, series["removed_ev"], color="C0", label="removed")
    ax.axhline(requested, color="0.5", ls=":", label=f"requested {requested:.4g} eV")
    ax.set_xlabel("time (ps)")
    ax.set_ylabel("energy (eV)")
    ax.legend(fontsize=8, frameon=False)
    twin = ax.twinx()
    lo, hi = ax.get_ylim()
    twin.set_ylim(ev_to_fj(lo), ev_to_fj(hi))
    twin.set_ylabel("energy (fJ)")
    return fig


def plot_rdf_series(r: np.ndarray, g: np.ndarray, times: np.ndarray, *, max_lines: int = 6) -> Figure:
    """g(r) of the central region at evenly spread times, offset upwards."""
    pick = np.unique(np.linspace(0, len(g) - 1, min(max_lines, len(g))).round().astype(int))
    fig = Figure(figsize=(5.0, 4.4))
    ax = fig.add_subplot()
    peak = float(np.nanmax(g)) if np.isfinite(np.nanmax(g)) else 1.0
    step = max(1.5, 0.3 * peak)
    for n, k in enumerate(pick):
        ax.plot(r, g[k] + n * step, lw=1.0, label=f"{times[k]:.3g} ps")
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("g(r), central region (offset)")
    ax.legend(fontsize=7, frameon=False)
    return fig


def plot_species_profiles(z: np.ndarray, stack: Mapping[str, np.ndarray], times: np.ndarray) -> Figure:
    """Number density of each species along z at the first, middle and last frame.

    One panel per species.
    """
    fig = Figure(figsize=(3.2 * len(stack) + 0.5, 3.2))
    axes = fig.subplots(1, len(stack), squeeze=False)[0]
    pick = np.unique(np.array([0, len(times) // 2, len(times) - 1]))
    for ax, (species, values) in zip(axes, stack.items(), strict=True):
        for n, k in enumerate(pick):
            ax.plot(np.asarray(z) / 10.0, values[k], color=f"C{n}", lw=1.2, label=f"{times[k]:.3g} ps")
        ax.set_title(species)
        ax.set_xlabel("z (nm)")
    axes[0].set_ylabel("number density (Å$^{-3}$)")
    axes[0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- figures per scenario

#: A figure with its file name and what it shows.
FigureSpec = tuple[Figure, str, str]


def _mushroom_reset(result: Any, thermo: Mapping[str, np.ndarray]) -> Iterator[FigureSpec]:
    labels = [str(f.info.get("stage_name", "")) for f in result.frames]
    yield (
        plot_xz_maps(result.maps, result.times, labels),
        "mushroom_temperature_maps",
        "xz temperature maps at saved frames",
    )
    lengths = np.array([b.length for b in result.bases])
    yield plot_base_length(result.times, lengths), "mushroom_base_length", "disordered base length vs time"
    yield (
        plot_energy_ledger(thermo, result.energy_check.requested),
        "mushroom_energy_ledger",
        "injected energy vs time (eV and fJ)",
    )


def _cross_point(result: Any, thermo: Mapping[str, np.ndarray]) -> Iterator[FigureSpec]:
    times = result.times
    yield (
        plot_map_zt(times, result.z, result.temperature_zt, label="T (K)", cmap="inferno"),
        "cross_point_temperature",
        "T(z, t)",
    )
    yield (
        plot_map_zt(times, result.kbar_z, result.kbar_zt, label="mean k̄", cmap="viridis", vmin=0.0, vmax=1.0),
        "cross_point_kbar",
        "k̄ by height over time",
    )
    yield (
        plot_rdf_series(result.rdf_r, result.rdf_central, times),
        "cross_point_rdf",
        "RDF of the central region over time",
    )
    yield (
        plot_energy_ledger(thermo, result.energy_check.requested),
        "cross_point_energy_ledger",
        "injected and removed energy vs time",
    )


def _set_crystallisation(result: Any, thermo: Mapping[str, np.ndarray]) -> Iterator[FigureSpec]:
    times = result.times
    yield (
        plot_growth(times, result.fraction, result.thickness, result.fit, title="SET crystallisation"),
        "set_crystallisation",
        "crystalline fraction and thickness vs time",
    )
    yield (
        plot_profile_map(times, result.profile_z, result.profiles, label="crystalline share"),
        "set_profiles",
        "crystalline share along z vs time",
    )


def _cumulative_set(result: Any, thermo: Mapping[str, np.ndarray]) -> Iterator[FigureSpec]:
    yield (
        plot_cumulative_set(result.series),
        "cumulative_set",
        "crystalline fraction vs cumulative pulse time per pulse type",
    )


def _polycrystalline_growth(result: Any, thermo: Mapping[str, np.ndarray]) -> Iterator[FigureSpec]:
    yield (
        plot_grain_growth(result.times, result.radii, result.fits),
        "polycrystalline_growth",
        "equivalent grain radius vs time",
    )


def _heating_series(result: Any, thermo: Mapping[str, np.ndarray]) -> Iterator[FigureSpec]:
    yield (
        plot_heating_series(result.curves),
        "heating_series",
        "crystalline fraction and density vs temperature per size; onset spread per size",
    )


def _electromigration(result: Any, thermo: Mapping[str, np.ndarray]) -> Iterator[FigureSpec]:
    yield (
        plot_species_profiles(result.z, result.density, result.times),
        "electromigration_profiles",
        "species number density along z over time",
    )


_FIGURES = {
    "mushroom-reset": _mushroom_reset,
    "cross-point": _cross_point,
    "set-crystallisation": _set_crystallisation,
    "cumulative-set": _cumulative_set,
    "polycrystalline-growth": _polycrystalline_growth,
    "heating-series": _heating_series,
    "electromigration": _electromigration,
}


def scenario_figures(
    analysis: str, result: Any, thermo: Mapping[str, np.ndarray] | None = None
) -> Iterator[FigureSpec]:
    """The figures of a scenario analysis, one at a time.

    Parameters
    ----------
    analysis
        Scenario analysis name (see :mod:`gst_flows.analysis.scenarios`).
    result
        What that analysis returned.
    thermo
        Thermodynamic series of the (first) run, for the energy-ledger figures.

    Yields
    ------
    tuple
        ``(figure, name, description)``.
    """
    if analysis not in _FIGURES:
        raise ValueError(f"no figures for scenario analysis {analysis!r}; one of: {', '.join(_FIGURES)}")
    yield from _FIGURES[analysis](result, thermo or {})
