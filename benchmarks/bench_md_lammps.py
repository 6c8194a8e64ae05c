"""LAMMPS engine speed: µs per atom-step with pair_style quip, and the 1 → 2 rank speed-up.

Runs NVE MD of rock-salt Ge-Sb-Te cells (1,000 and 8,000 atoms) through the gst-flows
``pair_style quip`` plugin and reads LAMMPS' own loop time (start-up and potential loading
excluded). The potential is the project's test stand-in GAP (``fit_test_gap``: two-body +
SOAP, three species, fitted in seconds to Lennard-Jones labels), or any GAP given with
``--potential``. Figures, not a timed test: other jobs on the machine slow it down.

    python benchmarks/bench_md_lammps.py [--steps 10] [--potential gap.xml] [--json out.json]

It also runs two independent 1-rank copies at once: their combined throughput over one copy's
is the most any 2-rank run can gain on this machine (shared caches, memory bandwidth, a
virtual machine's cores), the ceiling the 2-rank speed-up is compared with.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from gst_flows.md.lammps import LammpsPotential, LammpsRunner
from gst_flows.md.lammps.data import lammps_species, write_lammps_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test stand-in GAP lives in tests/
from tests.support.lammps_gap import fit_test_gap, rocksalt_test_cell

LOOP = re.compile(r"Loop time of (\S+) on (\d+) procs for (\d+) steps with (\d+) atoms")
CPU = re.compile(r"(\S+)% CPU use with (\d+) MPI tasks")


def run_md(atoms, potential, nprocs: int, steps: int, workdir: Path) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    species = lammps_species(atoms)
    rng = np.random.default_rng(0)
    atoms = atoms.copy()
    atoms.set_velocities(rng.normal(scale=0.02, size=(len(atoms), 3)))
    write_lammps_data(workdir / "bench.data", atoms, species)
    script = [
        "units metal",
        "atom_style atomic",
        "atom_modify map array",
        "boundary p p p",
        "read_data bench.data",
        *potential.commands(species),
        "neighbor 1.0 bin",
        "neigh_modify every 1 delay 0 check yes",
        "timestep 0.002",
        "fix nve all nve",
        "thermo 0",
        f"run {steps}",
    ]
    (workdir / "in.bench").write_text("\n".join(script) + "\n")
    start = time.perf_counter()
    log = LammpsRunner(nprocs=nprocs).run("in.bench", workdir)
    wall = time.perf_counter() - start
    match = LOOP.search(log.read_text())
    if match is None:
        raise RuntimeError(f"no loop time in {log}")
    loop = float(match.group(1))
    cpu = CPU.search(log.read_text())
    share = float(cpu.group(1)) / 100.0 if cpu else 1.0
    n = len(atoms)
    return {
        "atoms": n,
        "nprocs": nprocs,
        "steps": steps,
        "loop_s": loop,
        "wall_s": wall,
        "cpu_share": share,
        "us_per_atom_step": loop / (n * steps) * 1e6,
        # what the loop would take with a core to itself per rank
        "busy_loop_s": loop * min(share, 1.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="MD steps per measurement")
    parser.add_argument("--potential", type=Path, help="GAP XML (default: the test stand-in)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-lammps-") as tmp:
        tmp = Path(tmp)
        xml = args.potential or fit_test_gap(tmp / "gap")
        potential = LammpsPotential.gap(xml)
        rows = []
        for repeat, ranks in ((5, (1, 2)), (10, (1, 2))):
            atoms = rocksalt_test_cell(repeat=repeat, seed=1)
            atoms.rattle(0.03, seed=2)
            for nprocs in ranks:
                row = run_md(atoms, potential, nprocs, args.steps, tmp / f"n{len(atoms)}-p{nprocs}")
                rows.append(row)
                print(
                    f"{row['atoms']:>6} atoms  {nprocs} rank(s)  {row['steps']} steps  "
                    f"loop {row['loop_s']:7.2f} s  {row['us_per_atom_step']:8.1f} µs/atom-step"
                    f"  ({100 * row['cpu_share']:.0f}% CPU per rank)"
                )
        # Two independent 1-rank runs side by side: the machine's own ceiling for 2 ranks.
        atoms = rocksalt_test_cell(repeat=10, seed=1)
        atoms.rattle(0.03, seed=2)
        with ThreadPoolExecutor(2) as pool:
            pair = list(
                pool.map(lambda i: run_md(atoms, potential, 1, args.steps, tmp / f"pair{i}"), range(2))
            )
        by = {(r["atoms"], r["nprocs"]): r for r in rows}
        ceiling = 2 * by[(8000, 1)]["loop_s"] / max(r["loop_s"] for r in pair)
        print(
            f"two independent 1-rank runs at once: loops {pair[0]['loop_s']:.2f} and "
            f"{pair[1]['loop_s']:.2f} s, so 2 cores give at most {ceiling:.2f}x here"
        )
        speedup = {n: by[(n, 1)]["loop_s"] / by[(n, 2)]["loop_s"] for n in (1000, 8000)}
        busy = {n: by[(n, 1)]["busy_loop_s"] / by[(n, 2)]["busy_loop_s"] for n in (1000, 8000)}
        scaling = by[(8000, 1)]["us_per_atom_step"] / by[(1000, 1)]["us_per_atom_step"]
        print(
            f"speed-up 1 -> 2 ranks: {speedup[1000]:.2f}x at 1,000 atoms, "
            f"{speedup[8000]:.2f}x at 8,000 atoms (target >= 1.8x)"
        )
        print(
            f"  from CPU time (each rank on a core of its own): {busy[1000]:.2f}x at 1,000, "
            f"{busy[8000]:.2f}x at 8,000 atoms"
        )
        print(
            f"parallel efficiency at 8,000 atoms against that ceiling: {100 * speedup[8000] / ceiling:.0f}%"
        )
        print(f"cost per atom-step 8,000 / 1,000 atoms (1 rank): {scaling:.2f} (1 = linear)")
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "runs": rows,
                        "speedup_2_ranks": speedup,
                        "speedup_2_ranks_cpu_time": busy,
                        "linearity_8000_vs_1000": scaling,
                        "two_core_ceiling": ceiling,
                        "potential": str(xml),
                    },
                    indent=1,
                )
            )


if __name__ == "__main__":
    main()
