"""Peak memory and time of the least-squares POD fit, its design rows in one chunk or streamed.

    python benchmarks/bench_pod_lstsq_memory.py [--frames 40] [--atoms 1000] [--basis default]
        [--work /tmp/bench-pod-lstsq-memory]

Fits ``--frames`` random Ge2Sb2Te5 packings of ``--atoms`` atoms (``random_packing``, 0.031
atoms/Å^3, atoms 2.5 Å apart; zero energies and small random forces as labels: only memory
and time are measured) with :func:`gst_flows.fit.pod_lstsq.solve_pod_frames` (design rows
from ``compute pod/global``, the solve, the training predictions), for the basis of
``DEFAULT_POD_BASIS`` (``--basis default``) or the 825-coefficient one of
``fast_potential_targets.py`` (``--basis 825``); ``fitpod`` on three small cells gives the
parameter file. Each variant runs in a fresh process: every design row in one chunk
(``DESIGN_CHUNK_ROWS`` above their number: all designs held at once, as before the fit
streamed them) and chunks of the default ``DESIGN_CHUNK_ROWS``. Prints the rows, chunks,
peak resident memory of the process (``ru_maxrss``: before the fit, i.e. Python, the modules
and the frames, and at the end; the design workers, separate processes, hold one chunk's
rows each), the wall time, and the largest difference of the coefficients.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from gst_flows.fit import pod_lstsq
from gst_flows.fit.pod import PodBasis, fit_pod
from gst_flows.makers.pod import DEFAULT_POD_BASIS
from gst_flows.structures.devices.common import random_packing

#: Atoms per Å^3 of the packings, and their shortest distance (Å).
NUMBER_DENSITY, MIN_DISTANCE = 0.031, 2.5
VARIANTS = ("one chunk", "streamed")


def labelled_packing(natoms: int, seed: int):
    """A random Ge2Sb2Te5 packing with a zero energy and small random forces as labels."""
    ge = round(natoms * 2 / 9)
    counts = {"Ge": ge, "Sb": ge, "Te": natoms - 2 * ge}
    box = [(natoms / NUMBER_DENSITY) ** (1 / 3)] * 3
    atoms = random_packing(box, counts, min_distance=MIN_DISTANCE, seed=seed)
    atoms.info["REF_energy"] = 0.0
    atoms.arrays["REF_forces"] = 0.1 * np.random.default_rng(seed).normal(size=(natoms, 3))
    return atoms


def basis(name: str) -> PodBasis:
    if name == "default":
        return DEFAULT_POD_BASIS
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fast_potential_targets import MID_BASIS

    return replace(PodBasis(), **MID_BASIS)


def run_variant(work: Path, variant: str) -> dict:
    """One fit in this process; its figures (peak memory in MB)."""
    spec = json.loads((work / "spec.json").read_text())
    with open(work / "frames.pkl", "rb") as f:
        frames = pickle.load(f)
    rows = sum(1 + 3 * len(a) for a in frames)
    if variant == "one chunk":
        pod_lstsq.DESIGN_CHUNK_ROWS = rows
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    start = time.perf_counter()
    solver = pod_lstsq.PodLeastSquares()
    coefficients, _ = pod_lstsq.solve_pod_frames(
        frames, spec["param"], spec["coefficients"], spec["species"], solver
    )
    wall = time.perf_counter() - start
    np.save(work / f"{variant.replace(' ', '-')}.npy", coefficients)
    return {
        "rows": rows,
        "coefficients": coefficients.size,
        "chunks": len(pod_lstsq.design_chunks(frames)),
        "before": before,
        "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
        "seconds": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--atoms", type=int, default=1000)
    parser.add_argument("--basis", choices=("default", "825"), default="default")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-pod-lstsq-memory"))
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.work, args.variant)))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    seed = fit_pod([labelled_packing(60, k) for k in range(3)], args.work / "fitpod", basis(args.basis))
    spec = {
        "param": str(seed.param_file),
        "coefficients": str(seed.coefficient_file),
        "species": list(seed.species),
    }
    (args.work / "spec.json").write_text(json.dumps(spec))
    frames = [labelled_packing(args.atoms, 100 + k) for k in range(args.frames)]
    with open(args.work / "frames.pkl", "wb") as f:
        pickle.dump(frames, f)
    figures = {}
    for variant in VARIANTS:  # one after the other, each in a fresh process
        command = [sys.executable, __file__, "--work", str(args.work), "--variant", variant]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        figures[variant] = json.loads(out.strip().splitlines()[-1])
    first = figures[VARIANTS[0]]
    size = first["rows"] * first["coefficients"] * 8 / 1e6
    print(
        f"{args.frames} frames of {args.atoms} atoms: {first['rows']:,} design rows x "
        f"{first['coefficients']} coefficients ({size:,.0f} MB); "
        f"DESIGN_CHUNK_ROWS {pod_lstsq.DESIGN_CHUNK_ROWS:,}"
    )
    header = ("chunks", "before MB", "peak MB", "fit MB", "s")
    print(f"{'':10s} " + " ".join(f"{h:>9s}" for h in header))
    for variant, f in figures.items():
        print(
            f"{variant:10s} {f['chunks']:9d} {f['before']:9.0f} {f['peak']:9.0f} "
            f"{f['peak'] - f['before']:9.0f} {f['seconds']:9.1f}"
        )
    a, b = (np.load(args.work / f"{v.replace(' ', '-')}.npy") for v in VARIANTS)
    difference, largest = np.abs(a - b).max(), np.abs(a).max()
    print(f"largest coefficient difference {difference:.2e} (largest coefficient {largest:.2e})")


if __name__ == "__main__":
    main()
