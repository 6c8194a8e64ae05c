"""``gst-flows submit ...``: add a flow to the LaunchPad for ``qlaunch``/``rlaunch``."""

from __future__ import annotations

import argparse

from gst_flows.commands.label import add_label_arguments, build_flow


def add_parser(subparsers) -> None:
    """Register the ``submit`` sub-command."""
    parser = subparsers.add_parser("submit", help="add a flow to the FireWorks LaunchPad")
    kinds = parser.add_subparsers(dest="kind", required=True)
    label = kinds.add_parser("label", help="label every frame of a structure file")
    add_label_arguments(label)
    label.add_argument("--pack", type=int, default=1,
                       help="labels per Firework (one queue allocation runs them in turn)")
    label.set_defaults(handler=run_label)


def run_label(args: argparse.Namespace) -> int:
    """Submit a labelling flow."""
    from gst_flows.execution import submit

    flow, count = build_flow(args)
    ids = submit(flow, pack_size=args.pack)
    print(f"submitted {count} label job(s) as fireworks {ids[0]}..{ids[-1]}; "
          "run them with 'qlaunch rapidfire' or 'rlaunch rapidfire'")
    return 0
