"""Wall time of a least-squares POD fit with ``fitpod`` seeded by a few frames, against all frames.

    python benchmarks/bench_pod_lstsq_fit.py [--tag demo] [--synthetic-tag demo-taught-synthetic]
        [--frames 300] [--work /tmp/bench-pod-fit]

Fits the same frames (the DFT labels of ``--tag`` and up to ``--frames`` teacher labels of
``--synthetic-tag``, from the configured database: run ``bash scripts/demo.sh`` first) with the
825-coefficient basis and the ZBL baseline, by least squares, twice side by side: ``fitpod``
on :func:`gst_flows.fit.pod.fitpod_seed` (the default) and on every distinct frame (as before).
Prints both wall times and the largest difference of the coefficients.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from gst_flows.db import find_labels
from gst_flows.fit import pod
from gst_flows.fit.data import is_isolated_atom
from gst_flows.fit.pod_lstsq import PodLeastSquares, read_pod_coefficients
from gst_flows.makers.fit import TrainingSelection, load_training_frames

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_potential_targets import MID_BASIS

#: The 825-coefficient basis of ``fast_potential_targets.py`` (3-body 4 x 3, 4-body 4 x 2).
BASIS = replace(pod.PodBasis(), **MID_BASIS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", default="demo")
    parser.add_argument("--synthetic-tag", default="demo-taught-synthetic")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-pod-fit"))
    args = parser.parse_args()
    frames, _ = load_training_frames(TrainingSelection(tag=args.tag))
    taught = [lab.doc.to_atoms() for lab in find_labels(tag=args.synthetic_tag, synthetic=True)]
    frames += [a for a in taught if not is_isolated_atom(a)][: args.frames]
    solver, baseline = PodLeastSquares(energy_weight=30.0, ridge=1e-2), pod.ZblBaseline(1.5, 2.5)
    times, coefficients = {}, {}
    for name, seed in (("seeded", pod.FITPOD_SEED_FRAMES), ("every frame", len(frames))):
        pod.FITPOD_SEED_FRAMES = seed
        start = time.perf_counter()
        directory = args.work / name.replace(" ", "-")
        result = pod.fit_pod(frames, directory, BASIS, baseline=baseline, solver=solver)
        times[name] = time.perf_counter() - start
        coefficients[name] = read_pod_coefficients(result.coefficient_file)
    n_atoms = sum(len(a) for a in frames)
    print(f"{len(frames)} frames ({n_atoms:,} atoms), {coefficients['seeded'].size} coefficients")
    for name, wall in times.items():
        print(f"  fitpod on {name:12s}: fit {wall:6.1f} s")
    print(f"  ratio {times['every frame'] / times['seeded']:.2f}x")
    difference = np.abs(coefficients["seeded"] - coefficients["every frame"]).max()
    print(f"  largest coefficient difference {difference:.2e}")


if __name__ == "__main__":
    main()
