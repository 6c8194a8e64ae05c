"""Which of the demo's data and settings make its potential reach the reference set.

Refits the demo's training labels (one tag of the database) with parts of them left out or with
other hyperparameters, and prints the force and energy RMSE of each fit on the shipped reference
set (``gst_flows/data/reference/quasi_binary.extxyz``, never trained on), per config_type.

Variants:

- ``demo``: every label of the tag, the small profile's hyperparameters;
- ``no-liquid``: without the iter-0 random packings and any other ``liquid`` label;
- ``iter-0``: only the iter-0 labels (crystals, packings, isolated atoms);
- ``crystals-only``: the iter-0 crystals and isolated atoms;
- ``small-soap``: every label, SOAP n_max 4, l_max 3, 100 sparse points (the previous demo's).

Run after ``gst-flows demo --tag T`` on the same database::

    .venv/bin/python benchmarks/demo_ablation.py --tag T [--work DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

VARIANTS = ("demo", "no-liquid", "iter-0", "crystals-only", "small-soap")


def _frames(tag: str, work: Path):
    from gst_flows.dataset import export_labels
    from gst_flows.fit.data import read_labelled_frames

    path = work / f"{tag}.extxyz"
    export_labels(path, tag=tag)
    return read_labelled_frames(path)


def _variant(name: str, frames, hyper):
    def ctype(f):
        return f.info.get("config_type")

    if name == "no-liquid":
        frames = [f for f in frames if ctype(f) != "liquid"]
    elif name == "iter-0":
        frames = [f for f in frames if int(f.info.get("iteration", 0)) == 0]
    elif name == "crystals-only":
        kept = ("crystal", "isolated_atom")
        frames = [f for f in frames if int(f.info.get("iteration", 0)) == 0 and ctype(f) in kept]
    elif name == "small-soap":
        hyper = hyper.updated({"soap.n_max": 4, "soap.l_max": 3, "soap.n_sparse": 100})
    return frames, hyper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", required=True, help="tag of the demo's labels")
    parser.add_argument("--work", type=Path, help="fit directories (default: a temporary one)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    args = parser.parse_args()

    from gst_flows.fit.fit import fit_gap
    from gst_flows.fit.reference import reference_errors
    from gst_flows.flows.profiles import active_learning_setup
    from gst_flows.md.potential import gap_calculator

    work = args.work or Path(tempfile.mkdtemp(prefix="demo-ablation-"))
    work.mkdir(parents=True, exist_ok=True)
    frames = _frames(args.tag, work)
    hyper = active_learning_setup("small").maker.fit_maker.hyperparameters
    rows = []
    for name in args.variants:
        data, hp = _variant(name, frames, hyper)
        start = time.perf_counter()
        fit = fit_gap(data, hp, work / name)
        seconds = time.perf_counter() - start
        table = reference_errors(gap_calculator(fit.potential_path))
        rows.append((name, len(data), seconds, table))
        print(f"{name}: {len(data)} frames, fit {seconds:.0f} s", flush=True)
    groups = [g for g in rows[0][3] if g != "all"] + ["all"]
    print(f"\nforce RMSE on the reference set, eV/Å (energy RMSE, meV/atom); tag {args.tag!r}")
    print(f"{'variant':14s} {'frames':>6s} " + " ".join(f"{g:>16s}" for g in groups))
    for name, n, _, table in rows:
        cells = [f"{table[g].force_rmse:.3f} ({1000 * table[g].energy_rmse:.0f})" for g in groups]
        print(f"{name:14s} {n:6d} " + " ".join(f"{c:>16s}" for c in cells))


if __name__ == "__main__":
    main()
