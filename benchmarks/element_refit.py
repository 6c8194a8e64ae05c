"""Does the teacher stop favouring a demixed liquid once it has seen the elements?

    python benchmarks/element_refit.py --potential STUDENT_ID [--tag demo] [--copies 3]

Run after ``formation_energies.py`` (it labels the three elements' crystals) and
``stability_screen.py`` (its stability runs of ``--potential`` hold the demixing frames). This
labels A7 Sb and trigonal Te and ``--copies`` rattled, strained copies of each (the demo's
held-out recipe, other seeds) with the demo's CP2K protocol into ``<tag>-elements-train``, fits
two GAPs with the demo loop's own fit maker (hyperparameters of the small profile, same
``gap_fit`` seed): one on ``<tag>`` alone, one on ``<tag>`` and the element labels, and prints
for both the energy against DFT of each element crystal and compound (``<tag>-elements``),
the held-out errors (``<tag>-heldout``), and the energy of the frames of one stability run of
``--potential`` relative to the start of its NVE: whether the separated liquid at the end is
still lower in energy than the mixed one at the start.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from formation_energies import dft_energies, structures
from liquid_order import energy_per_atom, nve_start, stability_runs


def element_cells(copies: int) -> list:
    from gst_flows.flows.profiles import held_out_copies
    from gst_flows.structures.crystals import build_element

    out = []
    for index, element in enumerate(("Sb", "Te")):
        crystal = build_element(element)
        out += [crystal, *held_out_copies(crystal, copies, seed=2000 + index)]
    return out


def fit(selections: list, tag: str) -> str:
    from gst_flows.execution import run_local
    from gst_flows.flows.profiles import active_learning_setup
    from gst_flows.makers.training import TrainingSelection

    fit_maker = active_learning_setup("small", tag=tag).maker.fit_maker
    job = replace(fit_maker, test_fraction=0.0, evaluate_train=False).make(
        selections, test_source=TrainingSelection(tag=f"{tag}-heldout")
    )
    responses = run_local(job)
    doc = responses[job.uuid][max(responses[job.uuid])].output
    return doc.potential_id


def main() -> None:
    from gst_flows.db import find_labels
    from gst_flows.execution import run_local
    from gst_flows.fit import error_table, predict
    from gst_flows.flows.label import label_flow
    from gst_flows.flows.profiles import SMALL_DFT
    from gst_flows.makers.dft import Cp2kLabelMaker
    from gst_flows.makers.training import TrainingSelection
    from gst_flows.potentials import potential_calculator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--potential", required=True, help="the student whose stability runs demixed")
    parser.add_argument("--tag", default="demo")
    parser.add_argument("--copies", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() == 0:  # OpenMPI refuses root unless told (as scripts/demo.sh does)
        os.environ.setdefault("GST_FLOWS_CP2K_CMD", "mpirun --allow-run-as-root -np 2 cp2k.psmp")
    train_tag = f"{args.tag}-elements-train"
    run_local(label_flow(element_cells(args.copies), Cp2kLabelMaker(settings=SMALL_DFT), tag=train_tag))
    gaps = {
        "demo labels": fit([TrainingSelection(tag=args.tag)], args.tag),
        "+ elements": fit([TrainingSelection(tag=args.tag), TrainingSelection(tag=train_tag)], args.tag),
    }
    cells = structures()
    dft = dft_energies(f"{args.tag}-elements", cells)
    held = [lab.doc.to_atoms() for lab in find_labels(tag=f"{args.tag}-heldout")]
    _, run = next(stability_runs(args.potential), (None, None))
    if run is None:
        raise SystemExit(f"no completed stability run of {args.potential}: run stability_screen.py first")
    frames = run.frames()
    start = nve_start(frames)
    print(f"GAPs: {', '.join(f'{k} {v[:8]}' for k, v in gaps.items())}")
    print(f"{'energy minus DFT (meV/atom)':<34}" + "".join(f"{k:>14}" for k in gaps))
    calcs = {k: potential_calculator(v) for k, v in gaps.items()}
    for name, atoms in cells.items():
        errors = [1000 * (energy_per_atom(atoms, c) - dft[name]) for c in calcs.values()]
        print(f"{name:<34}" + "".join(f"{e:14.1f}" for e in errors))
    rmse = {k: 1000 * error_table(predict(held, c))["all"].energy_rmse for k, c in calcs.items()}
    print(f"{'held-out energy RMSE':<34}" + "".join(f"{v:14.1f}" for v in rmse.values()))
    print(f"frames of stability run {run.dir_name or run.name} (energy relative to the NVE start, meV/atom)")
    base = {k: energy_per_atom(frames[start], c) for k, c in calcs.items()}
    for frame in frames[start:]:
        t = frame.info.get("time_fs", 0) / 1000
        cols = "".join(f"{1000 * (energy_per_atom(frame, c) - base[k]):14.1f}" for k, c in calcs.items())
        print(f"{f'{t:5.1f} ps':<34}" + cols, flush=True)


if __name__ == "__main__":
    main()
