"""``gst-flows demo``: the main job, a small end-to-end run on the embedded database."""

from __future__ import annotations

import argparse
import time


def add_parser(subparsers) -> None:
    """Register the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo", help="build two GST cells, label them with CP2K, store and list them"
    )
    parser.add_argument("--tag", default="demo", help="tag of the demo's labels")
    parser.add_argument("--seed", type=int, default=0, help="seed of the rock-salt builder")
    parser.set_defaults(handler=run)


def demo_structures(seed: int = 0):
    """The demo's cells: rock-salt-like Ge1Sb2Te4 (7 atoms) and rock-salt GeTe (8 atoms)."""
    from gst_flows.structures import build_rocksalt

    cells = []
    for composition in ("Ge1Sb2Te4", "GeTe"):
        atoms = build_rocksalt(composition, supercell=(1, 1, 1), seed=seed)
        atoms.info["config_type"] = "crystal"
        atoms.info["generator"] = f"build_rocksalt({composition}, seed={seed})"
        cells.append(atoms)
    return cells


def run(args: argparse.Namespace) -> int:
    """Build, label (skipping labels already stored), store and print."""
    from gst_flows.commands.query import run as query_run
    from gst_flows.execution import run_local
    from gst_flows.flows.label import label_flow
    from gst_flows.settings import get_settings
    from gst_flows.store import database_uri

    settings = get_settings()
    print(f"database: {database_uri(settings)} ({'embedded' if settings.embedded else 'configured'})")
    cells = demo_structures(args.seed)
    for atoms in cells:
        print(f"built {atoms.get_chemical_formula():12s} {len(atoms):3d} atoms, "
              f"a = {atoms.cell.lengths()[0]:.3f} Å")
    flow = label_flow(cells, tag=args.tag, iteration=0, name="demo labels")
    start = time.perf_counter()
    print("labelling with CP2K (labels already stored with the same settings are reused) ...")
    run_local(flow)
    print(f"done in {time.perf_counter() - start:.0f} s; stored labels tagged {args.tag!r}:")
    return query_run(argparse.Namespace(tag=args.tag, config_type=None, state=None, json=False, all=False))
