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
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gst_flows.analysis.run import ANALYSIS_KINDS
from gst_flows.plotting.analysis import FIGURE_KINDS

if TYPE_CHECKING:
    from gst_flows.analysis.run import AnalysisOptions

__all__ = [
    "KINDS",
    "add_parser",
    "load_frames",
    "options_from_args",
    "parse_cutoffs",
    "run_analyse",
    "run_plot",
]

KINDS = ANALYSIS_KINDS
PLOT_KINDS = FIGURE_KINDS


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
    parser.add_argument(
        "trajectory",
        metavar="TRAJECTORY",
        help="structure or trajectory file, or db:KEY=VALUE[,KEY=VALUE] for labelled "
        "configurations in the database (keys: tag, iteration, config_type, composition, "
        "settings_hash, code), e.g. db:tag=demo",
    )
    parser.add_argument("-i", "--index", default=":", help="frames to read, ASE slice syntax (default ':')")
    parser.add_argument("--format", help="ASE file format if not clear from the name")
    parser.add_argument(
        "-o", "--output", default="analysis", metavar="DIR", help="output folder (default analysis)"
    )
    parser.add_argument("--name", help="stem of the output files (default: KIND)")
    parser.add_argument("--no-plot", action="store_true", help="skip figures")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    parser.add_argument(
        "--store",
        action="store_true",
        help="run as a job and store the analysis document (arrays in the data store) in the "
        "database; files go to the job directory",
    )
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
    from gst_flows.errors import InputError

    def radius(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise InputError(
                f"{text!r} is not a radius",
                where="--cutoff",
                fix="give a distance in Å, e.g. 3.2, or per pair, e.g. Ge-Te=3.2",
            )
        return value

    if len(items) == 1 and "=" not in items[0]:
        return radius(items[0])
    table: dict[str, float] = {}
    for item in items:
        if "=" not in item:
            raise InputError(
                f"mix of a single cutoff and a table: {item!r}",
                where="--cutoff",
                fix="use A-B=R entries only",
            )
        key, value = item.split("=", 1)
        table[key.strip()] = radius(value)
    return table


def load_frames(path: str, index: str = ":", fmt: str | None = None) -> list:
    """Read frames with ASE (see :func:`gst_flows.analysis.io.read_frames`)."""
    from gst_flows.analysis.io import read_frames

    return read_frames(path, index, fmt)


def _write(out: Path, stem: str, summary: dict, arrays: dict[str, np.ndarray]) -> None:
    from gst_flows.analysis.run import jsonable

    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(jsonable(summary), indent=2) + "\n")
    if arrays:
        np.savez_compressed(out / f"{stem}.npz", **arrays)


def options_from_args(args: argparse.Namespace) -> AnalysisOptions:
    """Analysis options from the command-line arguments (reference structure read here)."""
    from gst_flows.analysis.run import AnalysisOptions

    return AnalysisOptions(
        cutoffs=parse_cutoffs(args.cutoff),
        r_max=args.r_max,
        bin_width=args.bin_width,
        min_angle=args.min_angle,
        max_size=args.max_size,
        reference=load_frames(args.reference)[0] if args.reference else None,
        zeta=args.zeta,
        threshold=args.threshold,
        axis=args.axis,
        fronts=args.fronts,
        seed_array=args.seed_array,
        method=args.method,
        colour_by=args.colour_by,
        marker_by=args.marker_by,
        plane=args.plane,
        bin_size=args.bin_size,
        sigma=args.sigma,
        timestep_ps=args.timestep,
        progress=args.progress,
    )


def run_analyse(args: argparse.Namespace) -> int:
    """Handler of ``gst-flows analyse``."""
    from gst_flows.analysis.io import write_kbar_extxyz
    from gst_flows.analysis.run import analyse, check_analysis, jsonable
    from gst_flows.plotting.analysis import draw_analysis

    if args.store or args.trajectory.startswith("db:"):
        return _run_stored(args)
    frames = load_frames(args.trajectory, args.index, args.format)
    options = options_from_args(args)
    check_analysis(args.kind, frames, options)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    stem = args.name or args.kind.replace("-", "_")
    start = time.perf_counter()
    result = analyse(args.kind, frames, options)
    summary = {"kind": args.kind, "trajectory": args.trajectory, **result.summary}
    summary["seconds"] = round(time.perf_counter() - start, 3)
    if args.kind == "kbar":
        threshold = summary["threshold"]
        write_kbar_extxyz(out / f"{stem}.extxyz", frames, result.kbar, threshold=threshold)
    _write(out, stem, summary, result.arrays)
    if not args.no_plot and args.kind in PLOT_KINDS:
        draw_analysis(args.kind, result.arrays, out / stem)
    print(json.dumps(jsonable({k: v for k, v in summary.items() if k != "trajectory"})))
    print(f"wrote {out / stem}.*")
    return 0


def database_filters(text: str) -> dict[str, Any]:
    """``db:tag=demo,iteration=1`` → ``{"tag": "demo", "iteration": 1}``."""
    filters: dict[str, Any] = {}
    for item in filter(None, text.removeprefix("db:").split(",")):
        if "=" not in item:
            raise ValueError(f"database selection {item!r} is not KEY=VALUE")
        key, value = (part.strip() for part in item.split("=", 1))
        filters[key] = int(value) if key == "iteration" else value
    if not filters:
        raise ValueError("give a database selection such as db:tag=demo")
    return filters


def _run_stored(args: argparse.Namespace) -> int:
    from pymatgen.io.ase import AseAtomsAdaptor

    from gst_flows.commands.common import check_database
    from gst_flows.execution import run_local
    from gst_flows.makers.analyse import DatabaseAnalysisMaker, StructureAnalysisMaker
    from gst_flows.schemas.analysis import AnalysisDoc

    options = options_from_args(args)
    if args.trajectory.startswith("db:"):
        filters = database_filters(args.trajectory)
    else:
        frames = load_frames(args.trajectory, args.index, args.format)
    check_database()
    values = {k: getattr(options, k) for k in options.__dataclass_fields__}
    reference = values.pop("reference")
    common = {
        "name": args.name or f"analysis {args.kind}",
        "kind": args.kind,
        "options": values,
        "reference": None if reference is None else AseAtomsAdaptor.get_structure(reference),
        "figures": not args.no_plot,
    }
    if args.trajectory.startswith("db:"):
        job = DatabaseAnalysisMaker(**common).make(filters)
    else:
        StructureAnalysisMaker(**common).check(frames)
        job = StructureAnalysisMaker(index=args.index, **common).make(str(Path(args.trajectory).resolve()))
    responses = run_local(job)
    response = responses.get(job.uuid, {})
    if not response:
        print(f"analysis job {job.uuid} failed: see the log above")
        return 1
    doc = next(iter(response.values())).output
    doc = doc if isinstance(doc, AnalysisDoc) else AnalysisDoc.model_validate(doc)
    print(json.dumps({"uuid": job.uuid, **doc.summary}))
    for figure in doc.figures:
        print("\n".join(f"wrote {f}" for f in figure.files))
    if doc.kbar_file:
        print(f"wrote {doc.kbar_file}")
    print(f"stored the analysis document of job {job.uuid} (arrays in the data store)")
    return 0


def run_plot(args: argparse.Namespace) -> int:
    """Handler of ``gst-flows plot``."""
    path = Path(args.result)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    with np.load(path) as npz:
        data = {k: npz[k] for k in npz.files}
    stem = Path(args.output) if args.output else path.with_suffix("")
    from gst_flows.plotting.analysis import draw_analysis

    for written in draw_analysis(args.kind, data, stem, args.title):
        print(f"wrote {written}")
    return 0
