"""Labelling throughput with real CP2K through jobflow, and the share of time spent outside CP2K.

Labels rattled rock-salt Ge1Sb2Te4 cells of 7, 14 and 28 atoms with the default protocol (or
``--kpoint-spacing``), each through the full path (flow → run_locally → custodian → CP2K →
parse → LabelDoc → embedded database), in a private data directory. Prints configurations per
hour and the overhead share: 1 − (CP2K's own wall time) / (job wall time).

    python benchmarks/bench_labelling.py [--repeats 3] [--kpoint-spacing 0.25]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="cells per size")
    parser.add_argument("--kpoint-spacing", type=float, default=0.25)
    parser.add_argument("--sizes", default="1,2,4", help="supercell multiples of the 7-atom cell")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="gst-bench-")
    os.environ["GST_FLOWS_DATA_DIR"] = home
    os.environ["GST_FLOWS_CONFIG"] = os.path.join(home, "none.yaml")
    from gst_flows.dbserver import EmbeddedServer
    from gst_flows.execution import run_local
    from gst_flows.flows.label import label_flow
    from gst_flows.makers.dft import Cp2kLabelMaker
    from gst_flows.structures import build_rocksalt

    supercells = {1: (1, 1, 1), 2: (2, 1, 1), 4: (2, 2, 1)}
    maker = Cp2kLabelMaker(settings={"kpoint_spacing": args.kpoint_spacing})
    print(f"{'atoms':>5}  {'k-mesh':>7}  {'s/config':>9}  {'configs/h':>9}  {'CP2K s':>7}  overhead")
    try:
        for mult in (int(x) for x in args.sizes.split(",")):
            cells = []
            for r in range(args.repeats):
                cell = build_rocksalt("Ge1Sb2Te4", supercell=supercells[mult], seed=r)
                cell.rattle(0.05, seed=100 + r)
                cells.append(cell)
            flow = label_flow(cells, maker, tag=f"bench-{mult}")
            start = time.perf_counter()
            responses = run_local(flow)
            wall = time.perf_counter() - start
            docs = [responses[j.uuid][1].output for j in flow.jobs[:-1]]
            cp2k = sum(d.walltime or 0.0 for d in docs)
            per = wall / len(cells)
            print(
                f"{len(cells[0]):5d}  {'x'.join(map(str, docs[0].kpoints or [1, 1, 1])):>7}  "
                f"{per:9.1f}  {3600 / per:9.1f}  {cp2k / len(cells):7.1f}  "
                f"{1 - cp2k / wall:7.1%}"
            )
    finally:
        EmbeddedServer(home).stop()


if __name__ == "__main__":
    main()
