"""Indirect learning: a stored GAP teaches a POD with its own MD frames and labels.

    python examples/indirect_learning.py [GAP_ID [DFT_TAG [DFT_TEST_TAG]]] [--student-rounds N]
        [--until-stable [--stable-rounds K]] [--fresh-packings N] [--crystal-copies N]
        [--synthetic-tag TAG ...]

``GAP_ID`` is the potential id (or tag) of a GAP in the configured database (the
``potential_id`` of its fit document); ``DFT_TAG`` adds the DFT labels of that tag to the
student's training set (each structure five times), ``DFT_TEST_TAG`` validates the student
against DFT as well. The teacher runs a short melt-quench and a heating ramp on a 56-atom
Ge1Sb2Te4 rock-salt cell and a 64-atom GeTe cell (one run of four is held out), about 3 ps
each. Without arguments the example stores the small test GAP of
``tests/fixtures/scenario_gap`` (fitted to a pair potential, not to DFT: plumbing only) and
uses it: about 8 minutes on one core here (60 training and 20 held-out frames; the POD is
within 2 meV/atom and 0.06 eV/Å of that teacher on the held-out run). ``--student-rounds N``
adds N rounds of the student's own MD (the same protocols on LAMMPS), labelled by the teacher
and fitted into the next student; the table lists how every student's runs went.
``--until-stable`` ends the rounds at the first student whose runs all complete
(``--stable-rounds K``: complete K rounds in a row). ``--fresh-packings N`` runs each round's
student MD on N new 56-atom Ge1Sb2Te4 random packings (``FreshPackings``) instead of the teacher's
cells: cells no student ran on before; only the melt-quench runs there (a packing releases its
strain energy as heat in the first steps, which trips the temperature check of a run starting
at 300 K, such as the heating ramp).
``--crystal-copies N`` (with ``DFT_TAG``) has the teacher label N rattled (0.15 Å) and strained
(3 %) copies of every DFT crystal of ``DFT_TAG`` for the student as well.
``--synthetic-tag TAG`` (repeatable) has every student also fit the labels another flow had
the same teacher store under ``TAG`` (a ``<tag>-synthetic`` of that flow; labels of another
teacher are refused before any job).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from gst_flows.execution import run_local
from gst_flows.fit import format_error_table
from gst_flows.flows.crystal_copies import CrystalCopies
from gst_flows.flows.fresh_packings import FreshPackings
from gst_flows.flows.indirect import IndirectLearningMaker, default_teacher_md_makers
from gst_flows.schemas.indirect import IndirectLearningDoc
from gst_flows.store import get_store
from gst_flows.structures import build_rocksalt

ROOT = Path(__file__).parents[1]


def fixture_teacher() -> str:
    """Store the scenario test GAP and return its potential id."""
    sys.path.insert(0, str(ROOT))
    from tests.support.stored_gap import SCENARIO_GAP, store_gap_files

    job = store_gap_files(str(SCENARIO_GAP), ["example-teacher"])
    return run_local(job)[job.uuid][1].output.potential_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("teacher", nargs="?", help="GAP potential id or tag (default: the test GAP)")
    parser.add_argument("dft_tag", nargs="?")
    parser.add_argument("dft_test_tag", nargs="?")
    parser.add_argument("--student-rounds", type=int, default=0)
    parser.add_argument("--until-stable", action="store_true", help="end the rounds at a stable student")
    parser.add_argument("--stable-rounds", type=int, default=1, help="clean rounds in a row (--until-stable)")
    parser.add_argument("--fresh-packings", type=int, default=0, help="new student cells every round")
    parser.add_argument("--crystal-copies", type=int, default=0, help="teacher copies per DFT crystal")
    parser.add_argument(
        "--synthetic-tag", action="append", default=[], help="earlier synthetic labels of this teacher"
    )
    args = parser.parse_args()
    cells = [build_rocksalt("Ge1Sb2Te4", (2, 2, 2), seed=0), build_rocksalt("GeTe", (2, 2, 2), seed=0)]
    maker = IndirectLearningMaker(
        teacher=args.teacher or fixture_teacher(),
        dft_tag=args.dft_tag,
        dft_test_tag=args.dft_test_tag,
        n_frames=20,
        student_rounds=args.student_rounds,
        until_stable=args.until_stable,
        stable_rounds=args.stable_rounds,
        crystal_copies=CrystalCopies(n_copies=args.crystal_copies) if args.crystal_copies else None,
        synthetic_tags=args.synthetic_tag,
        tag="indirect-example",
    )
    cell = {"Ge": 8, "Sb": 16, "Te": 32}  # Ge1Sb2Te4, as the teacher's first cell
    packings = FreshPackings(counts=[cell] * args.fresh_packings, min_distance=2.7, seed=1)
    student_cells = packings if args.fresh_packings else None
    if student_cells:  # the melt-quench alone: it starts hot
        quench = default_teacher_md_makers()[0]
        maker.student_md_makers = [replace(quench, name="student md melt-quench", engine="lammps")]
    # the teacher and every setting are checked here, before any job
    flow = maker.make(cells, student_cells=student_cells)
    run_local(flow)
    store = get_store()
    store.connect()
    # the flow's last job is the validation (or the rounds, which end with the last validation)
    doc = IndirectLearningDoc.model_validate(store.get_output(flow.jobs[-1].uuid, which="last"))
    print(
        f"teacher {doc.teacher_id}: {doc.n_synthetic} synthetic training frames, "
        f"{doc.n_synthetic_heldout} held out; {doc.n_dft} DFT structures x {doc.dft_repeat}"
    )
    stable = "; its MD runs all completed (until_stable)" if doc.stable else ""
    print(f"student {doc.student_potential_id} ({doc.student_ref.backend}){stable}")
    print(format_error_table(doc.errors_vs_teacher, "student against the teacher (held-out runs)"))
    if doc.errors_vs_dft:
        print(format_error_table(doc.errors_vs_dft, "student against DFT"))
    for r in doc.student_rounds:
        held = r.errors_vs_teacher
        print(
            f"student {r.round} {r.student_potential_id}: {r.n_runs} MD runs, {len(r.stopped_runs)} stopped "
            f"({r.clean_rounds} rounds with none stopped), "
            f"{r.n_labelled} frames labelled"
            + (f"; held-out force RMSE against the teacher {held.force_rmse:.3f} eV/Å" if held else "")
        )


if __name__ == "__main__":
    main()
