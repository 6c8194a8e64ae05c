"""Convergence of the CP2K protocol on a 14-atom rattled rock-salt Ge1Sb2Te4 cell.

Runs ``gst-flows converge`` (real CP2K, one label at a time, in a private data directory) on
``build_rocksalt("Ge1Sb2Te4", supercell=(2, 1, 1), seed=0)`` rattled by 0.1 Å (seed 1): a
k-point ladder, a cutoff pair and a smearing pair, each against its tightest value. Prints
the table of energy (meV/atom), force RMS (eV/Å) and stress (GPa) differences and the wall
time of each label. The defaults are the run in docs/dft-codes.md ("Protocol convergence"),
made with ``GST_FLOWS_CP2K_CMD=cp2k.psmp`` (one MPI rank). With ``--data-dir`` the labels are
kept, and a second run with a longer ladder computes only the new points.

    python benchmarks/bench_dft_convergence.py [--kspacing 0.35 0.3 0.25 0.2 0.15 0.14 0.12 0.1]
        [--cutoff 300 400] [--smearing 500 250] [--base-kspacing 0.3] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--kspacing", nargs="+", default=["0.35", "0.3", "0.25", "0.2", "0.15", "0.14", "0.12", "0.1"]
    )
    parser.add_argument("--cutoff", nargs="+", default=["300", "400"])
    parser.add_argument("--smearing", nargs="+", default=["500", "250"])
    parser.add_argument(
        "--base-kspacing", default="0.3", help="k-point spacing of the cutoff and smearing ladders, Å⁻¹"
    )
    parser.add_argument("--rattle", type=float, default=0.1, help="Å")
    parser.add_argument("--data-dir", help="keep labels here (reused by a second run)")
    args = parser.parse_args()

    home = args.data_dir or tempfile.mkdtemp(prefix="gst-bench-")
    os.makedirs(home, exist_ok=True)
    os.environ["GST_FLOWS_DATA_DIR"] = home
    os.environ["GST_FLOWS_CONFIG"] = os.path.join(home, "none.yaml")
    from ase.io import write

    from gst_flows.cli import main as cli
    from gst_flows.dbserver import EmbeddedServer
    from gst_flows.structures import build_rocksalt

    cell = build_rocksalt("Ge1Sb2Te4", supercell=(2, 1, 1), seed=0)
    cell.rattle(args.rattle, seed=1)
    path = os.path.join(home, "gst14.extxyz")
    write(path, cell)
    argv = ["converge", path, "--kspacing", *args.kspacing, "--set", f"kpoint_spacing={args.base_kspacing}"]
    if args.cutoff:
        argv += ["--cutoff", *args.cutoff]
    if args.smearing:
        argv += ["--smearing", *args.smearing]
    try:
        return cli(argv)
    finally:
        EmbeddedServer(home).stop()


if __name__ == "__main__":
    raise SystemExit(main())
