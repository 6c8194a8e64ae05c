"""Peak memory and time of the least-squares POD solve on a large synthetic design.

    python benchmarks/bench_pod_lstsq_memory.py [--frames 100] [--atoms 1000] [--coefficients 825]

Builds ``--frames`` random design matrices of ``--atoms``-atom frames (3 x atoms force rows and
one energy row each, ``--coefficients`` columns), then solves them with
:func:`gst_flows.fit.pod_lstsq.solve_pod_coefficients` (rows folded into a QR factor block by
block). Prints the size of the designs and the process' peak memory before and after the solve.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from gst_flows.fit.pod_lstsq import PodDesign, PodLeastSquares, solve_pod_coefficients


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--atoms", type=int, default=1000)
    parser.add_argument("--coefficients", type=int, default=825)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n, m = args.coefficients, 3 * args.atoms
    designs = [
        PodDesign(rng.normal(size=n), rng.normal(size=(m, n)), 1.0, rng.normal(size=m), args.atoms)
        for _ in range(args.frames)
    ]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    start = time.perf_counter()
    solve_pod_coefficients(designs, PodLeastSquares(energy_weight=30.0, ridge=1e-2))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    size = args.frames * (m + 1) * n * 8 / 1e9
    print(f"{args.frames * (m + 1):,} rows x {n} coefficients: designs {size:.2f} GB")
    print(
        f"peak memory {before:.2f} GB before the solve, {after:.2f} GB after "
        f"(+{after - before:.2f}); {wall:.0f} s"
    )


if __name__ == "__main__":
    main()
