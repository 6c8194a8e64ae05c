"""``gst-flows label FILE``: label every frame of a structure file with CP2K."""

from __future__ import annotations

import argparse

from gst_flows.commands.common import check_database, parse_key_values, print_label_table
from gst_flows.errors import InputError, one_line


def add_parser(subparsers) -> None:
    """Register the ``label`` sub-command."""
    parser = subparsers.add_parser("label", help="label every frame of a structure file with CP2K")
    add_label_arguments(parser)
    parser.add_argument("--submit", action="store_true", help="add to the LaunchPad instead of running here")
    parser.set_defaults(handler=run)


def add_label_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by ``label`` and ``submit label``."""
    parser.add_argument("file", help="extxyz, CIF or POSCAR file")
    parser.add_argument("--tag", help="tag stored with every label")
    parser.add_argument("--config-type", help="config_type for frames that carry none")
    parser.add_argument("--iteration", type=int, help="active-learning iteration")
    parser.add_argument(
        "--max-failed-fraction",
        type=float,
        default=None,
        help="stop the flow when a larger fraction of labels fails (default: never)",
    )
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a CP2K setting (e.g. kpoint_spacing=0.4); repeatable",
    )


def build_flow(args: argparse.Namespace):
    """Read and validate the frames, then build the labelling flow (no compute yet).

    Settings, elements without a basis set or pseudopotential, and a configured database that
    does not answer are refused here, before anything is stored.
    """
    from gst_flows.flows.label import label_flow
    from gst_flows.makers.dft import Cp2kLabelMaker
    from gst_flows.structures import read_structures

    if args.max_failed_fraction is not None and not 0 <= args.max_failed_fraction <= 1:
        raise InputError(
            f"{args.max_failed_fraction:g} is not a fraction",
            where="--max-failed-fraction",
            fix="give a number from 0 to 1",
        )
    settings = parse_key_values(args.settings, option="--set")
    frames = read_structures(args.file)
    maker = Cp2kLabelMaker(settings=settings)
    try:
        protocol = maker.resolved_settings()
    except (TypeError, ValueError) as exc:
        raise InputError(
            one_line(exc),
            where="CP2K settings (--set or the config's dft)",
            fix="see the CP2K protocol keys in the README",
        ) from None
    missing = protocol.missing_elements(s for atoms in frames for s in atoms.get_chemical_symbols())
    if missing:
        raise InputError(
            "cannot label " + "; ".join(f"{el}: {what}" for el, what in missing.items()),
            where=str(args.file),
            fix="label Ge, Sb and Te only, or give basis and potential for every element "
            "with --set or the config's dft section",
        )
    check_database()
    return label_flow(
        frames,
        maker,
        tag=args.tag,
        config_type=args.config_type,
        iteration=args.iteration,
        source=str(args.file),
        max_failed_fraction=args.max_failed_fraction,
    ), len(frames)


def run(args: argparse.Namespace) -> int:
    """Label the frames here, or submit them."""
    from gst_flows.execution import run_local, submit

    flow, count = build_flow(args)
    if args.submit:
        ids = submit(flow)
        print(f"submitted {count} label job(s) as fireworks {ids[0]}..{ids[-1]}")
        return 0
    responses = run_local(flow)
    docs = []
    for uuid, response in responses.items():
        output = response[1].output if 1 in response else None
        if hasattr(output, "state"):
            docs.append({**output.model_dump(), "uuid": uuid})
    print_label_table(docs)
    summary = responses.get(flow.output.uuid, {}).get(1)
    if summary is None:
        print(f"the batch stopped: too many failed labels (limit {args.max_failed_fraction})")
        return 4
    doc = summary.output
    print(f"{doc.n_successful} successful ({doc.n_reused} reused), {doc.n_failed} failed of {doc.n_total}")
    return 0 if doc.n_failed == 0 else 4
