"""Full-size cross-point plumbing: the 532,980-atom cell through LAMMPS, memory at scale.

Builds the published cross-point cell (layered trigonal Ge1Sb2Te4, 20 × 20 × 41 nm, 30
septuple-layer blocks) exactly as ``CrossPointMaker(size="full")`` does, checks the protocol
against it, writes the LAMMPS inputs of the whole protocol (5 ps NVT, 10 ps graded 60 fJ
pulse, 40 ps heat removal: 27,500 steps), then runs the first few steps of every stage through
the LAMMPS engine with the Lennard-Jones stand-in pair style (not a GAP: the point is the
plumbing — data file, ten graded ``fix heat`` groups, restarts between stages, dumps, thermo
parsing, energy ledger — and the memory at this size). Prints times, peak memory of LAMMPS
and of Python, and the ledger error.

    python benchmarks/bench_cross_point_plumbing.py [--steps 3] [--nprocs 1] [--keep DIR]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from gst_flows.flows.scenarios import CrossPointMaker, run_lammps_plumbing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3, help="steps run per stage")
    parser.add_argument("--nprocs", type=int, default=1, help="MPI ranks")
    parser.add_argument("--keep", type=Path, help="work directory to keep (default: temporary)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-cross-point-"))
    try:
        result = run_lammps_plumbing(
            CrossPointMaker(size="full"), work, steps_per_stage=args.steps, nprocs=args.nprocs
        )
        print(result.summary())
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        if args.json:
            data = {
                "n_atoms": result.n_atoms,
                "protocol_steps": result.inputs.n_steps,
                "input_bytes": result.inputs.bytes,
                "steps_per_stage": result.steps_per_stage,
                "build_seconds": result.build_seconds,
                "inputs_seconds": result.inputs_seconds,
                "run_seconds": result.run_seconds,
                "python_peak_mb": result.python_peak_mb,
                "lammps_peak_mb": result.lammps_peak_mb,
                "lammps_reported_mb": result.lammps_reported_mb,
                "ledger": result.ledger,
                "requested": result.requested,
                "completed": result.completed,
                **result.extra,
            }
            args.json.write_text(json.dumps(data, indent=1, default=str))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
