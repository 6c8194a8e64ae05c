"""``gst-flows import FILE``: store an existing labelled extended-XYZ data set."""

from __future__ import annotations

import argparse

from gst_flows.commands.common import parse_key_values

__all__ = ["add_parser"]


def add_parser(subparsers) -> None:
    """Register the ``import`` sub-command."""
    parser = subparsers.add_parser(
        "import",
        help="store a labelled extended-XYZ data set in the database",
        description="Store every frame of an extended-XYZ file as a label (code 'imported'), "
        "recording the file, the data set's name and which keys hold the labels. Every frame "
        "needs an energy and forces; if one lacks them, nothing is stored and the frame is named.",
    )
    parser.add_argument("file", help="extended-XYZ file with labels")
    parser.add_argument("--energy-key", default="REF_energy", help="info key of the energy, eV")
    parser.add_argument("--forces-key", default="REF_forces", help="per-atom array of the forces, eV/Å")
    labels = parser.add_mutually_exclusive_group()
    labels.add_argument(
        "--virial-key",
        default="REF_virial",
        help="info key of the virial, eV (-stress × volume; default REF_virial, optional per frame)",
    )
    labels.add_argument("--stress-key", help="info key of the stress instead, eV/Å³, tensile positive")
    parser.add_argument("--config-type-key", default="config_type", help="info key of the phase label")
    parser.add_argument("--tag", help="tag stored with every label")
    parser.add_argument("--iteration", type=int, help="active-learning iteration of the data")
    parser.add_argument(
        "--source", help="name of the data set (default: the file name); re-import under the same name"
    )
    parser.add_argument(
        "--protocol",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="what is known of the DFT protocol, e.g. code=castep functional=PBEsol; repeatable",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Import the file and print what was stored."""
    from gst_flows.dataset import import_dataset

    summary = import_dataset(
        args.file,
        energy_key=args.energy_key,
        forces_key=args.forces_key,
        virial_key=None if args.stress_key else args.virial_key,
        stress_key=args.stress_key,
        config_type_key=args.config_type_key,
        tag=args.tag,
        iteration=args.iteration,
        source=args.source,
        protocol=parse_key_values(args.protocol, option="--protocol"),
    )
    print(summary.describe())
    return 0
