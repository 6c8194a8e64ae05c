"""Run two device scenarios at small size: a mushroom-cell RESET and a cross-point melt–quench.

Each scenario builds its cell, checks the protocol against it, runs the MD job and the
analysis job through jobflow into the gst-flows database (the embedded one if none is
configured), and prints its key figures and where the figures and k̄ frames went.

    python examples/scenarios.py --potential tests/fixtures/scenario_gap/gap.xml

The fixture GAP is a test stand-in (fitted to pair-potential labels, not DFT): use a GST GAP
for physical numbers.
"""

from __future__ import annotations

import argparse

from gst_flows.execution import run_local
from gst_flows.flows.scenarios import CrossPointMaker, MushroomResetMaker, ScenarioError


def run(maker) -> None:
    for prepared in maker.prepare():  # builds and checks, no compute
        print(f"{maker.scenario}: {len(prepared.atoms)} atoms")
        print("  " + prepared.protocol.summary().replace("\n", "\n  "))
    flow = maker.make()
    responses = run_local(flow)
    if flow.jobs[-1].uuid not in responses:
        raise SystemExit(f"{maker.scenario} did not finish: see the job logs above")
    doc = responses[flow.jobs[-1].uuid][1].output
    for key, value in doc.key_figures().items():
        print(f"  {key}: {value}")
    for figure in doc.figures:
        print(f"  figure {figure.name}: {figure.files[0]}")
    print(f"  k̄ frames: {doc.kbar_files[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--potential", required=True, help="GAP XML file")
    args = parser.parse_args()

    # A focal region that does not fit is refused before anything runs.
    try:
        MushroomResetMaker(focal_radius=50.0, potential=args.potential).make()
    except ScenarioError as err:
        print(f"refused: {err}")

    run(MushroomResetMaker(size="small", potential=args.potential))
    run(CrossPointMaker(size="small", potential=args.potential))


if __name__ == "__main__":
    main()
