"""Compare two potentials on the same held-out frames: RMSE ratios with bootstrap intervals.

Runs in about twenty seconds:

    python examples/compare_potentials.py [labelled.extxyz]

Fits two PODs to the same training split of the project's CP2K test fixture (``fitpod``'s own
solve, and least squares on the design matrix), predicts the held-out frames with both in
LAMMPS, and prints the ratio of their energy and force RMSEs with a 90 % paired bootstrap
interval over the structures (:func:`gst_flows.fit.rmse_ratio`). A handful of test frames
gives a wide interval: a ratio is only a ranking when its interval excludes 1.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from gst_flows.fit import predict, read_labelled_frames, rmse_ratio, split_by_structure
from gst_flows.fit.pod import ZblBaseline, fit_pod
from gst_flows.fit.pod_lstsq import PodLeastSquares
from gst_flows.md.lammps import LammpsCalculator

DATA = Path(__file__).parents[1] / "tests" / "fixtures" / "gst_cp2k_small.extxyz"


def main() -> None:
    frames = read_labelled_frames(sys.argv[1] if len(sys.argv) > 1 else DATA)
    train, test = split_by_structure(frames, test_fraction=0.3, seed=0)
    baseline = ZblBaseline(1.5, 2.5)
    with tempfile.TemporaryDirectory() as tmp:
        fits = {
            "fitpod": fit_pod(train, Path(tmp) / "fitpod", baseline=baseline),
            "least squares": fit_pod(train, Path(tmp) / "lstsq", baseline=baseline, solver=PodLeastSquares()),
        }
        predictions = {n: predict(test, LammpsCalculator(r.lammps_potential())) for n, r in fits.items()}
    a, b = predictions["least squares"], predictions["fitpod"]
    print(f"{len(train)} training frames, {len(a.n_atoms)} held-out frames")
    for quantity in ("energy", "forces"):
        print(f"{quantity:>7}: least squares / fitpod RMSE = {rmse_ratio(a, b, quantity)}")


if __name__ == "__main__":
    main()
