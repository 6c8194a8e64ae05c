"""``gst-flows converge FILE``: how far CP2K labels of a cell move as the protocol is tightened."""

from __future__ import annotations

import argparse

from gst_flows.commands.common import format_table, parse_key_values
from gst_flows.dft.convergence import DEFAULT_KPOINT_LADDER

# Command-line option → protocol setting, with the unit shown in the help.
LADDER_OPTIONS = {
    "kspacing": ("kpoint_spacing", "k-point spacings, Å⁻¹ (2π included)"),
    "cutoff": ("cutoff", "plane-wave cutoffs, Ry"),
    "smearing": ("smearing_temperature", "Fermi-Dirac electronic temperatures, K"),
}


def add_parser(subparsers) -> None:
    """Register the ``converge`` sub-command."""
    parser = subparsers.add_parser(
        "converge",
        help="label one cell along ladders of CP2K settings and print the differences from the tightest",
    )
    parser.add_argument("file", help="extxyz, CIF or POSCAR file")
    parser.add_argument("--index", type=int, default=0, help="frame of the file to use (default: the first)")
    for option, (_, text) in LADDER_OPTIONS.items():
        parser.add_argument(f"--{option}", type=float, nargs="+", metavar="X", help=f"ladder of {text}")
    parser.epilog = (
        "Without a ladder: --kspacing "
        + " ".join(f"{v:g}" for v in DEFAULT_KPOINT_LADDER)
        + ". The other settings stay at the base protocol (--set)."
    )
    parser.add_argument(
        "--energy-tol", type=float, default=0.5, help="energy tolerance, meV/atom (default 0.5)"
    )
    parser.add_argument(
        "--force-tol", type=float, default=0.01, help="force RMS tolerance, eV/Å (default 0.01)"
    )
    parser.add_argument("--tag", default="convergence", help="tag stored with the labels")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting of the base CP2K protocol; repeatable",
    )
    parser.set_defaults(handler=run)


def build_flow(args: argparse.Namespace):
    """Read and check the cell and the ladders, then build the flow (no compute yet)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from gst_flows.flows.convergence import Cp2kConvergenceMaker
    from gst_flows.makers.dft import Cp2kLabelMaker
    from gst_flows.structures import read_structures

    frames = read_structures(args.file)
    if not -len(frames) <= args.index < len(frames):
        raise ValueError(f"{args.file} has {len(frames)} frame(s); --index {args.index} is not one")
    ladders = {
        setting: values
        for option, (setting, _) in LADDER_OPTIONS.items()
        if (values := getattr(args, option))
    }
    label_maker = Cp2kLabelMaker(settings=parse_key_values(args.settings))
    label_maker.resolved_settings()  # refuse bad settings before anything is stored
    maker = Cp2kConvergenceMaker(
        label_maker=label_maker,
        energy_tolerance=args.energy_tol,
        force_tolerance=args.force_tol,
        provenance={"tag": args.tag, "source": str(args.file)},
        **({"ladders": ladders} if ladders else {}),
    )
    return maker.make(AseAtomsAdaptor.get_structure(frames[args.index]))


def _number(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def convergence_table(doc) -> str:
    """The points of a :class:`ConvergenceDoc` as a plain-text table."""
    rows = []
    for p in doc.points:
        if p.state != "successful":
            verdict = f"failed: {p.error}"
        elif p.value == p.reference_value:
            verdict = "reference"
        else:
            verdict = {True: "ok", False: "no", None: ""}[p.within_tolerance]
        rows.append(
            [
                p.parameter,
                f"{p.value:g}",
                "x".join(map(str, p.kpoints or [])),
                _number(p.energy_difference, 3),
                _number(p.force_rms_difference, 4),
                _number(p.force_max_difference, 4),
                _number(p.stress_max_difference, 3),
                _number(p.walltime, 1) + (" (reused)" if p.reused else ""),
                verdict,
            ]
        )
    header = (
        "setting",
        "value",
        "k-mesh",
        "ΔE (meV/atom)",
        "ΔF RMS (eV/Å)",
        "ΔF max (eV/Å)",
        "Δσ max (GPa)",
        "wall (s)",
        "within",
    )
    return format_table(rows, header)


def run(args: argparse.Namespace) -> int:
    """Run the ladders here and print the table and the coarsest converged values."""
    from gst_flows.execution import run_local

    flow = build_flow(args)
    responses = run_local(flow)
    summary = responses.get(flow.output.uuid, {}).get(1)
    if summary is None:
        print("the convergence summary did not run; see the messages above")
        return 4
    doc = summary.output
    print(
        f"{doc.formula}, {doc.natoms} atoms; differences from the tightest value of each "
        f"setting; tolerances {doc.energy_tolerance:g} meV/atom, {doc.force_tolerance:g} eV/Å"
    )
    print(convergence_table(doc))
    for parameter, value in doc.recommended.items():
        reference = doc.ladder(parameter)[-1].reference_value
        found = "none of the values" if value is None else f"{value:g}"
        print(f"{parameter}: coarsest within tolerance of {reference:g}: {found}")
    failed = [p for p in doc.points if p.state != "successful"]
    return 4 if failed else 0
