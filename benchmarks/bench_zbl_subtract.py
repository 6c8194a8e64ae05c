"""Taking the ZBL baseline off POD training labels: one LAMMPS run per frame against batches.

    python benchmarks/bench_zbl_subtract.py [--frames 300]

``ZblBaseline.subtract`` evaluates the baseline of every frame with a contact inside its
outer radius. Starting LAMMPS costs about 0.1 s, far more than the single point of a small
cell, so frames go ``ZBL_BATCH`` at a time into one run. Same frames (rattled 7-atom
Ge1Sb2Te4 rock-salt cells, the size of the crystal copies, each with a contact inside the
wall), one run per frame against the batches, side by side; prints both times and the
largest difference of the results.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from gst_flows.fit.pod import ZblBaseline
from gst_flows.md.lammps import lammps_single_point
from gst_flows.structures import build_rocksalt

SPECIES = ("Ge", "Sb", "Te")


def frames(n: int) -> list:
    out = []
    for k in range(n):
        atoms = build_rocksalt("Ge1Sb2Te4", seed=k)
        atoms.rattle(0.2, seed=k)
        atoms.positions[1] = atoms.positions[0] + [2.1, 0.0, 0.0]
        atoms.info["REF_energy"] = 0.0
        atoms.arrays["REF_forces"] = np.zeros((len(atoms), 3))
        out.append(atoms)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    baseline = ZblBaseline(1.5, 2.5)
    cells = frames(args.frames)
    potential = baseline.lammps_potential(SPECIES)
    start = time.perf_counter()
    one_by_one = [lammps_single_point(a, potential, species=SPECIES) for a in cells]
    t_each = time.perf_counter() - start
    start = time.perf_counter()
    batched = baseline.subtract(cells, SPECIES)
    t_batch = time.perf_counter() - start
    diff = max(abs(b.info["REF_energy"] + sp.energy) for b, sp in zip(batched, one_by_one, strict=True))
    print(f"{args.frames} frames of {len(cells[0])} atoms, ZBL {baseline.pair_style}")
    print(f"one LAMMPS run per frame: {t_each:6.1f} s ({1000 * t_each / args.frames:.0f} ms per frame)")
    print(f"batched (subtract):       {t_batch:6.1f} s ({1000 * t_batch / args.frames:.1f} ms per frame)")
    print(f"ratio {t_each / t_batch:.1f}x; largest energy difference {diff:.2e} eV")


if __name__ == "__main__":
    main()
