"""The demo loop's last GAP rebuilt from its DFT labels kept in the repository, without the demo.

    python benchmarks/demo_teacher.py [--labels benchmarks/data/demo-2026-12-06] [--tag demo]

``bash scripts/demo.sh`` costs about 1.5 hours of CP2K on two cores; the fast-potential
benchmarks (``stable_student_rounds.py``, ``teacher_liquid_order.py``, ...) need only its DFT
labels and its last GAP. ``--labels`` holds what one demo run stored, written by
``gst-flows export labels --tag demo`` and ``--tag demo-heldout`` (``train.extxyz``,
``heldout.extxyz``) and its figures (``expected.json``: the last GAP's held-out errors and the
iteration). This imports both files into the configured database under ``<tag>`` and
``<tag>-heldout`` (a second import stores nothing), and ``heldout-extra.extxyz`` (20 more
held-out cells labelled with the same protocol by ``label_extra_heldout.py``) under
``<tag>-heldout-extra``, which the student benchmarks' error ratios use; fits the GAP with
the small profile's own fit maker and the ``gap_fit`` seed of the demo's last iteration,
evaluates it on the held-out labels (``<tag>-heldout``) and prints its potential id and
those errors beside the recorded ones: the same labels, hyperparameters and seed give the
same potential, which the check shows. Then, e.g.:

    python benchmarks/stable_student_rounds.py --teacher ID --tag demo --standalone ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT = HERE / "data" / "demo-2026-12-06"


def rebuild(labels: Path, tag: str) -> dict:
    """Import the labels, fit the demo's GAP, evaluate it; ids and errors."""
    from dataclasses import replace

    from gst_flows.dataset import import_dataset
    from gst_flows.execution import run_local
    from gst_flows.fit import error_table, predict
    from gst_flows.fit.data import is_isolated_atom
    from gst_flows.flows.active_learning.jobs import _with_gap_seed
    from gst_flows.flows.active_learning.seeds import derive_seed
    from gst_flows.flows.profiles import active_learning_setup
    from gst_flows.makers.training import TrainingSelection, load_training_frames
    from gst_flows.potentials import potential_calculator

    expected = json.loads((labels / "expected.json").read_text())
    source = f"gst-flows demo of {expected['date']}"
    protocol = {"code": "cp2k", "settings_hash": expected["settings_hash"]}
    files = [("train.extxyz", tag), ("heldout.extxyz", f"{tag}-heldout")]
    if (labels / "heldout-extra.extxyz").exists():  # more held-out cells, labelled after the demo
        files.append(("heldout-extra.extxyz", f"{tag}-heldout-extra"))
    for name, where in files:
        summary = import_dataset(labels / name, tag=where, source=source, protocol=protocol)
        print(summary.describe())
    maker = active_learning_setup("small", tag=tag).maker
    seed = derive_seed(maker.seed, expected["iteration"], 0, "gap_fit")
    fit_maker = replace(_with_gap_seed(maker.fit_maker, seed), test_fraction=0.0, evaluate_train=False)
    job = fit_maker.make(TrainingSelection(tag=tag), test_source=TrainingSelection(tag=f"{tag}-heldout"))
    responses = run_local(job)
    potential_id = responses[job.uuid][max(responses[job.uuid])].output.potential_id
    held, _ = load_training_frames(TrainingSelection(tag=f"{tag}-heldout"))
    held = [f for f in held if not is_isolated_atom(f)]
    errors = error_table(predict(held, potential_calculator(potential_id)))["all"]
    return {
        "potential_id": potential_id,
        "held_out_force_rmse": errors.force_rmse,
        "held_out_energy_rmse": errors.energy_rmse,
        "expected": expected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=DEFAULT, help="directory of the exported labels")
    parser.add_argument("--tag", default="demo", help="tag to import the training labels under")
    args = parser.parse_args()
    out = rebuild(args.labels, args.tag)
    want = out["expected"]
    print(f"teacher: {out['potential_id']}")
    print(
        f"held-out force RMSE {out['held_out_force_rmse']:.4f} eV/Å (the demo's: "
        f"{want['held_out_force_rmse']:.4f}), energy RMSE {1000 * out['held_out_energy_rmse']:.1f} "
        f"meV/atom ({1000 * want['held_out_energy_rmse']:.1f})"
    )
    force, recorded = out["held_out_force_rmse"], want["held_out_force_rmse"]
    same = abs(force - recorded) <= 0.005 * recorded
    print("same potential as the demo's" if same else "differs from the demo's potential: check the labels")


if __name__ == "__main__":
    main()
