"""``gst-flows submit ...``: add a flow to the LaunchPad for ``qlaunch``/``rlaunch``."""

from __future__ import annotations

import argparse

from gst_flows.commands.common import check_counts, check_database
from gst_flows.commands.label import add_label_arguments, build_flow

# Smallest values of the loop's options (--committee 0 turns the committee off).
LOOP_COUNTS = {"iterations": 0, "select": 1, "liquid_select": 0, "committee": 2, "pack": 1}
#: Help of --liquid-select (demo and submit active-learning).
LIQUID_SELECT_HELP = (
    "labels per iter-1 iteration from the held liquid, across its wrong-bond fraction "
    "(default: the profile's, 3 small / 10 full; 0 turns the liquid-order exploration off)"
)


def add_parser(subparsers) -> None:
    """Register the ``submit`` sub-command."""
    parser = subparsers.add_parser("submit", help="add a flow to the FireWorks LaunchPad")
    kinds = parser.add_subparsers(dest="kind", required=True)
    label = kinds.add_parser("label", help="label every frame of a structure file")
    add_label_arguments(label)
    label.add_argument(
        "--pack", type=int, default=1, help="labels per Firework (one queue allocation runs them in turn)"
    )
    label.set_defaults(handler=run_label)
    loop = kinds.add_parser("active-learning", help="the iterative database and GAP loop")
    loop.add_argument(
        "--profile",
        choices=["small", "full"],
        default="full",
        help="full: the published-scale loop; small: the demo's settings",
    )
    loop.add_argument("--tag", default="gst-al")
    loop.add_argument("--iterations", type=int, help="last iteration (0-based)")
    loop.add_argument("--select", type=int, help="labels per iteration")
    loop.add_argument("--liquid-select", type=int, metavar="N", help=LIQUID_SELECT_HELP)
    loop.add_argument("--seed", type=int, default=0)
    loop.add_argument("--pack", type=int, default=1, help="labels per Firework")
    loop.add_argument(
        "--committee",
        type=int,
        default=0,
        metavar="N",
        help="weight the selection by the force spread of N sub-sampled fits "
        "per iteration (0: diversity only)",
    )
    loop.set_defaults(handler=run_active_learning)


def run_label(args: argparse.Namespace) -> int:
    """Submit a labelling flow."""
    from gst_flows.execution import submit

    check_counts(args, {"pack": 1})
    flow, count = build_flow(args)
    ids = submit(flow, pack_size=args.pack)
    print(
        f"submitted {count} label job(s) as fireworks {ids[0]}..{ids[-1]}; "
        "run them with 'qlaunch rapidfire' or 'rlaunch rapidfire'"
    )
    return 0


def run_active_learning(args: argparse.Namespace) -> int:
    """Submit the active-learning loop; its later iterations are added at run time."""
    from gst_flows.execution import submit
    from gst_flows.flows.profiles import active_learning_setup

    check_counts(args, LOOP_COUNTS)
    setup = active_learning_setup(
        args.profile,
        args.tag,
        args.iterations,
        args.select,
        args.seed,
        uncertainty="committee" if args.committee else None,
        committee_size=args.committee or 3,
        n_liquid_select=args.liquid_select,
    )
    check_database()
    ids = submit(setup.flow(), pack_size=args.pack)
    print(
        f"submitted iteration 0 of the {args.profile} loop tagged {args.tag!r} "
        f"({setup.initial_summary()}, {len(setup.held_out)} held-out, "
        f"{len(setup.aimd)} AIMD runs) as {len(ids)} fireworks; later iterations are added "
        "as the loop decides. Run: qlaunch rapidfire with fworkers of categories dft, fit, md"
    )
    return 0
