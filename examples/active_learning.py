"""Compose the active-learning loop in Python: a profile's cells, your own changes, then run.

    python examples/active_learning.py            # print the plan, run nothing
    python examples/active_learning.py --submit   # add iteration 0 to the FireWorks LaunchPad
    python examples/active_learning.py --local    # run it here (the demo's loop, about 1.5 h of CP2K)

The small profile (`gst-flows demo`) is the starting point: nine crystal types, twelve random
packings standing in for AIMD liquids, iter-1 melt-quench cells and a 90-atom liquid held at
1,000 K (labelled across its chemical order), and iter-2 crystallisation/melting cells. Here the
loop adds a fourth exploration cell (rock-salt Ge2Sb2Te5) and labels six structures per
iteration; every other setting is the profile's. Later iterations are added to
the workflow by the loop itself (jobflow ``Response(replace=...)``), so ``--submit`` needs only
``qlaunch rapidfire`` with workers of the categories ``dft``, ``fit`` and ``md``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from gst_flows.flows.profiles import active_learning_setup
from gst_flows.structures.reference_sets import primitive_rocksalt_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--submit", action="store_true", help="add the flow to the LaunchPad")
    mode.add_argument("--local", action="store_true", help="run the flow here")
    parser.add_argument("--tag", default="example-al")
    args = parser.parse_args()

    setup = active_learning_setup("small", args.tag, n_select=6, seed=1)
    # one more melt-quench cell: a 18-atom stack of rock-salt Ge2Sb2Te5 primitive cells
    setup.explore.append(primitive_rocksalt_stack("Ge2Sb2Te5", seed=1).repeat((1, 1, 2)))
    setup.maker = replace(setup.maker, max_iterations=3)

    maker = setup.maker
    print(f"loop {maker.tag!r}: iterations 0-{maker.max_iterations}, {maker.n_select} labels each")
    print(f"iter-0: {setup.initial_summary()}, {len(setup.held_out)} held-out cells")
    print("iter-1 cells: " + ", ".join(f"{a.get_chemical_formula()}" for a in setup.explore))
    print(f"iter-1 protocol: {maker.explore_maker.resolved_protocol().name}")
    hold = maker.liquid_maker.resolved_protocol()
    print(
        "iter-1 liquid order: "
        + ", ".join(f"{len(a)}-atom {a.get_chemical_formula('metal')}" for a in setup.liquid)
        + f", {hold.description}; {maker.n_liquid_select} frames across its wrong-bond fraction"
    )
    print("iter-2 protocols: " + ", ".join(m.resolved_protocol().name for m in maker.device_makers))
    dft = maker.label_maker.settings
    name = type(maker.label_maker).__name__
    print(f"labels: {name}, {dft['functional']}, k-spacing {dft['kpoint_spacing']} 1/Å")
    flow = setup.flow()
    print(f"iteration 0 is a flow of {len(flow.jobs)} jobs")

    if args.submit:
        from gst_flows.execution import submit

        ids = submit(flow)
        print(f"submitted as {len(ids)} fireworks; run: qlaunch rapidfire")
    elif args.local:
        from gst_flows.execution import run_local

        run_local(flow)
        print(f"done; the labels: gst-flows query labels --tag {args.tag}")


if __name__ == "__main__":
    main()
