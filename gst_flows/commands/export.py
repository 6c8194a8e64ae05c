"""``gst-flows export labels``: write stored labels as extended XYZ for gap_fit."""

from __future__ import annotations

import argparse
import warnings

__all__ = ["add_parser"]


def add_parser(subparsers) -> None:
    """Register the ``export`` sub-command."""
    parser = subparsers.add_parser(
        "export",
        help="write stored labels as extended XYZ for gap_fit",
        description="Write the successful labels of a selection to an extended-XYZ file with "
        "REF_energy (eV), REF_forces (eV/Å), REF_virial (eV, 9 numbers), config_type and the "
        "provenance. A structure labelled twice with one protocol is written once.",
    )
    parser.add_argument("what", choices=["labels"])
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="output file (.extxyz)")
    parser.add_argument("--tag", help="only this tag")
    parser.add_argument(
        "--iteration", type=int, action="append", help="only this active-learning iteration; repeatable"
    )
    parser.add_argument(
        "--config-type", action="append", metavar="TYPE", help="only this config_type; repeatable"
    )
    parser.add_argument(
        "--composition",
        action="append",
        metavar="FORMULA",
        help="only this composition, e.g. Ge1Sb2Te4; repeatable",
    )
    parser.add_argument(
        "--settings-hash",
        metavar="HASH",
        help="only labels of this protocol (hash or a prefix of at least 6 characters); "
        "isolated atoms computed for it are included",
    )
    parser.add_argument("--code", help="only labels of this code: cp2k, vasp, castep, imported")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Export the selection and print what was written."""
    import sys

    from gst_flows.dataset import export_labels

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = export_labels(
            args.output,
            tag=args.tag,
            iteration=args.iteration,
            config_type=args.config_type,
            composition=args.composition,
            settings_hash=args.settings_hash,
            code=args.code,
        )
    print(summary.describe())
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            print(f"warning: {warning.message}", file=sys.stderr)
    return 0
