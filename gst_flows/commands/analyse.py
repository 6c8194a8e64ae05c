"""``gst-flows analyse KIND TRAJECTORY`` and ``gst-flows plot KIND RESULT``.

``analyse`` reads frames with ASE, runs one analysis of :mod:`gst_flows.analysis`
and writes ``KIND.json`` (summary), ``KIND.npz`` (arrays) and figures
(``KIND.png``/``.pdf``) into the output folder; ``kbar`` also writes an extended
XYZ file with a per-atom ``kbar`` column. ``plot`` redraws the figure of a
saved ``KIND.npz``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["KINDS", "add_parser", "load_frames", "parse_cutoffs", "run_analyse", "run_plot"]

KINDS = (
    "rdf",
    "adf",
    "coordination",
    "homopolar",
    "density",
    "rings",
    "altbc",
    "kbar",
    "temperature",
    "growth",
    "soap-map",
)
PLOT_KINDS = ("rdf", "adf", "rings", "altbc", "kbar", "temperature", "growth", "soap-map")


def add_parser(subparsers: Any, *, plot: bool = True) -> None:
    """Register the ``analyse`` (and ``plot``) sub-commands.

    Parameters
    ----------
    subparsers
        The object returned by ``ArgumentParser.add_subparsers``.
    plot
        Also register ``plot``.
    """
    parser = subparsers.add_parser(
        "analyse",
        help="structural analysis of a structure or trajectory",
        description="Run one structural analysis on the frames of a trajectory (any file "
        "ASE reads) and write a JSON summary, an NPZ of the arrays and PNG/PDF figures.",
    )
    parser.add_argument("kind", metavar="KIND", choices=KINDS, help=f"one of: {', '.join(KINDS)}")
    parser.add_argument("trajectory", metavar="TRAJECTORY", help="structure or trajectory file")
    parser.add_argument("-i", "--index", default=":", help="frames to read, ASE slice syntax (default ':')")
    parser.add_argument("--format", help="ASE file format if not clear from the name")
    parser.add_argument(
        "-o", "--output", default="analysis", metavar="DIR", help="output folder (default analysis)"
    )
    parser.add_argument("--name", help="stem of the output files (default: KIND)")
    parser.add_argument("--no-plot", action="store_true", help="skip figures")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    parser.add_argument(
        "--cutoff",
        action="append",
        default=[],
        metavar="R|A-B=R",
        help="bond cutoff in Å: one radius, or per pair (repeatable); default 3.2 Å for Ge/Sb/Te",
    )
    parser.add_argument("--timestep", type=float, default=1.0, help="ps between frames read")
    group = parser.add_argument_group("rdf / adf / altbc / rings")
    group.add_argument("--r-max", type=float, help="largest distance in Å (rdf 8, altbc 4)")
    group.add_argument("--bin-width", type=float, help="bin width (Å, degrees for adf)")
    group.add_argument("--min-angle", type=float, default=155.0, help="ALTBC angle (degrees)")
    group.add_argument("--max-size", type=int, default=12, help="largest ring size")
    group = parser.add_argument_group("kbar / growth / soap-map")
    group.add_argument("--reference", help="crystalline reference structure file")
    group.add_argument("--zeta", type=float, help="SOAP kernel exponent")
    group.add_argument("--threshold", type=float, help="k̄ threshold for crystalline atoms")
    group.add_argument("--axis", default="z", help="growth / profile axis (x, y, z)")
    group.add_argument("--fronts", type=int, default=1, help="growth fronts in the layer")
    group.add_argument("--seed-array", default="seed_id", help="per-atom array naming crystal seeds (growth)")
    group.add_argument("--method", default="kpca", choices=("kpca", "mds"), help="SOAP map")
    group.add_argument("--colour-by", default="iteration", help="info key for map colours")
    group.add_argument("--marker-by", default="config_type", help="info key for map markers")
    group = parser.add_argument_group("temperature")
    group.add_argument("--plane", default="xz", help="map plane (default xz)")
    group.add_argument("--bin-size", type=float, default=5.0, help="bin width in Å")
    group.add_argument("--sigma", type=float, default=10.0, help="Gaussian width in Å")
    parser.set_defaults(handler=run_analyse)

    if not plot:
        return
    plot_parser = subparsers.add_parser(
        "plot",
        help="redraw the figure of a saved analysis",
        description="Redraw PNG/PDF figures from a KIND.npz written by 'gst-flows analyse'.",
    )
    plot_parser.add_argument("kind", metavar="KIND", choices=PLOT_KINDS, help=", ".join(PLOT_KINDS))
    plot_parser.add_argument("result", metavar="RESULT", help="NPZ file written by analyse")
    plot_parser.add_argument("-o", "--output", help="figure stem (default: next to RESULT)")
    plot_parser.add_argument("--title", help="figure title")
    plot_parser.set_defaults(handler=run_plot)


def parse_cutoffs(items: Sequence[str]) -> float | dict[str, float] | None:
    """Turn ``--cutoff`` values into a cutoff specification.

    ``[]`` gives ``None`` (the GST table), ``["3.0"]`` one radius,
    ``["Ge-Te=3.2", "Ge-Ge=2.8"]`` a per-pair table.
    """
    if not items:
        return None
    if len(items) == 1 and "=" not in items[0]:
        return float(items[0])
    table: dict[str, float] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"mix of a single cutoff and a table: {item!r}; use A-B=R entries")
        key, value = item.split("=", 1)
        table[key.strip()] = float(value)
    return table


def load_frames(path: str, index: str = ":", fmt: str | None = None) -> list:
    """Read frames with ASE; a missing file raises ``FileNotFoundError``."""
    from ase.io import read

    if not Path(path).exists():
        raise FileNotFoundError(f"no such file: {path}")
    frames = read(path, index=index, format=fmt)
    frames = frames if isinstance(frames, list) else [frames]
    if not frames:
        raise ValueError(f"no frames selected from {path} with index {index!r}")
    return frames


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _write(out: Path, stem: str, summary: dict, arrays: dict[str, np.ndarray]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
    if arrays:
        np.savez_compressed(out / f"{stem}.npz", **arrays)


def _frame_stats(frames: list, fn: Callable) -> dict[str, float]:
    values = [fn(f) for f in frames]
    keys = values[0].keys()
    return {k: float(np.mean([v[k] for v in values])) for k in keys}


def run_analyse(args: argparse.Namespace) -> int:
    """Handler of ``gst-flows analyse``."""
    import gst_flows.analysis as an

    frames = load_frames(args.trajectory, args.index, args.format)
    cutoffs = parse_cutoffs(args.cutoff)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    stem = args.name or args.kind.replace("-", "_")
    times = np.arange(len(frames)) * args.timestep
    start = time.perf_counter()
    summary: dict[str, Any] = {"kind": args.kind, "trajectory": args.trajectory, "frames": len(frames)}
    arrays: dict[str, np.ndarray] = {}
    kind = args.kind

    if kind == "rdf":
        res = an.radial_distribution(frames, args.r_max or 8.0, args.bin_width or 0.02)
        arrays = {"r": res.r, "total": res.total, **{f"g_{k}": v for k, v in res.partial.items()}}
        summary["first_peak"] = float(res.r[np.argmax(res.total)])
    elif kind == "adf":
        res = an.bond_angle_distribution(frames, cutoffs, args.bin_width or 1.0)
        arrays = {"theta": res.theta, "total": res.total}
        arrays.update({f"adf_{k}": v for k, v in res.by_centre.items()})
        summary["mode"] = float(res.theta[np.argmax(res.total)])
    elif kind == "coordination":
        summary["coordination"] = _frame_stats(frames, lambda f: an.partial_coordination(f, cutoffs))
        arrays = {"coordination": an.coordination_numbers(frames[-1], cutoffs)}
    elif kind == "homopolar":
        summary["fractions"] = _frame_stats(frames, lambda f: an.homopolar_bond_fraction(f, cutoffs))
        summary["bond_counts"] = _frame_stats(frames, lambda f: an.bond_counts(f, cutoffs))
    elif kind == "density":
        density = np.array([an.mass_density(f) for f in frames])
        arrays = {"time": times, "density": density}
        summary["mean_density"] = float(density.mean())
    elif kind == "rings":
        res = an.ring_statistics(frames, cutoffs, args.max_size, progress=args.progress)
        arrays = {"sizes": res.sizes, "counts": res.counts, "per_atom": res.per_atom}
        summary["rings_per_atom"] = dict(zip(res.sizes.tolist(), res.per_atom.tolist(), strict=True))
    elif kind == "altbc":
        res = an.altbc(
            frames, r_max=args.r_max or 4.0, bin_width=args.bin_width or 0.02, min_angle=args.min_angle
        )
        arrays = {"r": res.r, "density": res.density}
        summary.update(n_triples=res.n_triples, n_centres=res.n_centres)
    elif kind in ("kbar", "growth"):
        arrays, summary = _kbar(frames, times, args, cutoffs, summary, stem, out)
    elif kind == "temperature":
        arrays, summary = _temperature(frames, times, args, summary)
    elif kind == "soap-map":
        res = an.soap_map(frames, args.method, progress=args.progress)
        arrays = {"coordinates": res.coordinates, "kernel": res.kernel, "explained": res.explained}
        arrays["colour"] = np.array(an.frame_labels(frames, args.colour_by))
        arrays["marker"] = np.array(an.frame_labels(frames, args.marker_by))
        summary["explained"] = res.explained
    summary["seconds"] = round(time.perf_counter() - start, 3)
    _write(out, stem, summary, arrays)
    if not args.no_plot and kind in PLOT_KINDS:
        draw(kind, {k: np.asarray(v) for k, v in arrays.items()}, out / stem)
    print(json.dumps(_jsonable({k: v for k, v in summary.items() if k != "trajectory"})))
    print(f"wrote {out / stem}.*")
    return 0


def _kbar(
    frames: list,
    times: np.ndarray,
    args: argparse.Namespace,
    cutoffs: float | dict[str, float] | None,
    summary: dict[str, Any],
    stem: str,
    out: Path,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    import gst_flows.analysis as an
    from gst_flows.analysis.soap import SoapSettings

    zeta = args.zeta if args.zeta is not None else an.DEFAULT_ZETA
    threshold = args.threshold if args.threshold is not None else an.DEFAULT_THRESHOLD
    reference = load_frames(args.reference)[0] if args.reference else None
    refs, settings = an.prepare_reference(frames[0], reference, SoapSettings())
    iterator = frames
    if args.progress:
        from tqdm.auto import tqdm

        iterator = tqdm(frames, desc="k̄", unit="frame")
    kbars, fraction, density, thickness, grains = [], [], [], [], []
    seeds = None
    if args.kind == "growth" and args.seed_array in frames[0].arrays:
        ids = np.asarray(frames[0].arrays[args.seed_array])
        seeds = [np.flatnonzero(ids == s) for s in np.unique(ids[ids > 0])]
    for frame in iterator:
        kbar = an.crystallinity(frame, refs, zeta=zeta, settings=settings)
        kbars.append(kbar)
        crystalline = kbar > threshold
        fraction.append(an.crystalline_fraction(kbar, threshold))
        density.append(an.mass_density(frame))
        if args.kind == "growth":
            thickness.append(an.crystalline_thickness(frame, crystalline, args.axis))
            if seeds:
                sizes = an.seeded_grain_sizes(frame, crystalline, seeds, cutoffs)
                grains.append(an.equivalent_radius(sizes, an.number_density(frame)))
    arrays = {
        "time": times,
        "crystalline_fraction": np.array(fraction),
        "density": np.array(density),
        "mean_kbar": np.array([k.mean() for k in kbars]),
    }
    summary.update(zeta=zeta, threshold=threshold, final_fraction=fraction[-1])
    if args.kind == "kbar":
        an.write_kbar_extxyz(out / f"{stem}.extxyz", frames, kbars, threshold=threshold)
        antisites = an.find_antisites(frames[-1], kbars[-1], threshold, cutoffs=cutoffs)
        summary["antisites_last_frame"] = int(antisites.sum())
    else:
        arrays["thickness"] = np.array(thickness)
        if len(frames) >= 2:
            fit = an.growth_speed(times, arrays["thickness"], n_fronts=args.fronts)
            summary["front_speed_m_per_s"] = fit.speed
        if grains:
            radii = np.array(grains)
            arrays["grain_radius"] = radii
            if len(frames) >= 2:
                summary["grain_speed_m_per_s"] = [
                    an.growth_speed(times, radii[:, g]).speed for g in range(radii.shape[1])
                ]
    return arrays, summary


def _temperature(
    frames: list, times: np.ndarray, args: argparse.Namespace, summary: dict[str, Any]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    import gst_flows.analysis as an

    maps, profiles, mean_t = [], [], []
    for frame in frames:
        tmap = an.temperature_map(frame, args.plane, args.bin_size, args.sigma)
        prof = an.temperature_profile(frame, args.axis, args.bin_size, args.sigma)
        maps.append(tmap.temperature)
        profiles.append(prof.temperature)
        mean_t.append(an.kinetic_temperature(frame))
    arrays = {
        "time": times,
        "maps": np.array(maps),
        "profiles": np.array(profiles),
        "edges_0": tmap.edges[0],
        "edges_1": tmap.edges[1],
        "profile_edges": prof.edges[0],
        "axes": np.array(list(args.plane)),
        "profile_axis": np.array([args.axis]),
        "temperature": np.array(mean_t),
    }
    summary.update(mean_temperature=mean_t, max_temperature=float(np.nanmax(maps)))
    return arrays, summary


def draw(kind: str, data: dict[str, np.ndarray], stem: Path, title: str | None = None) -> list:
    """Draw the figure(s) of one analysis from its saved arrays."""
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
    written = []
    for suffix, fig in figs.items():
        written += pl.save_figure(fig, stem.with_name(stem.name + suffix))
    return written


def run_plot(args: argparse.Namespace) -> int:
    """Handler of ``gst-flows plot``."""
    path = Path(args.result)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    with np.load(path) as npz:
        data = {k: npz[k] for k in npz.files}
    stem = Path(args.output) if args.output else path.with_suffix("")
    for written in draw(args.kind, data, stem, args.title):
        print(f"wrote {written}")
    return 0
