"""Indirect learning: a stored GAP teaches a POD with its own MD frames and labels.

    python examples/indirect_learning.py GAP_ID [DFT_TAG [DFT_TEST_TAG]]

``GAP_ID`` is the potential id (or tag) of a GAP in the configured database (the
``potential_id`` of its fit document); ``DFT_TAG`` adds the DFT labels of that tag to the
student's training set (each structure five times), ``DFT_TEST_TAG`` validates the student
against DFT as well. The teacher runs a short melt-quench and a heating ramp on a 56-atom
Ge1Sb2Te4 rock-salt cell and a 64-atom GeTe cell (one run of four is held out), about 3 ps
each. Without arguments the example stores the small test GAP of
``tests/fixtures/scenario_gap`` (fitted to a pair potential, not to DFT: plumbing only) and
uses it: about 8 minutes on one core here (60 training and 20 held-out frames; the POD is
within 2 meV/atom and 0.06 eV/Å of that teacher on the held-out run).
"""

from __future__ import annotations

import sys
from pathlib import Path

from gst_flows.execution import run_local
from gst_flows.fit import format_error_table
from gst_flows.flows.indirect import IndirectLearningMaker
from gst_flows.schemas.indirect import IndirectLearningDoc
from gst_flows.structures import build_rocksalt

ROOT = Path(__file__).parents[1]


def fixture_teacher() -> str:
    """Store the scenario test GAP and return its potential id."""
    sys.path.insert(0, str(ROOT))
    from tests.support.stored_gap import SCENARIO_GAP, store_gap_files

    job = store_gap_files(str(SCENARIO_GAP), ["example-teacher"])
    return run_local(job)[job.uuid][1].output.potential_id


def main() -> None:
    teacher = sys.argv[1] if len(sys.argv) > 1 else fixture_teacher()
    dft_tag = sys.argv[2] if len(sys.argv) > 2 else None
    dft_test_tag = sys.argv[3] if len(sys.argv) > 3 else None
    cells = [build_rocksalt("Ge1Sb2Te4", (2, 2, 2), seed=0), build_rocksalt("GeTe", (2, 2, 2), seed=0)]
    maker = IndirectLearningMaker(
        teacher=teacher, dft_tag=dft_tag, dft_test_tag=dft_test_tag, n_frames=20, tag="indirect-example"
    )
    flow = maker.make(cells)  # the teacher and every setting are checked here, before any job
    doc: IndirectLearningDoc = run_local(flow)[flow.jobs[-1].uuid][1].output
    print(
        f"teacher {doc.teacher_id}: {doc.n_synthetic} synthetic training frames, "
        f"{doc.n_synthetic_heldout} held out; {doc.n_dft} DFT structures x {doc.dft_repeat}"
    )
    print(f"student {doc.student_potential_id} ({doc.student_ref.backend})")
    print(format_error_table(doc.errors_vs_teacher, "student against the teacher (held-out runs)"))
    if doc.errors_vs_dft:
        print(format_error_table(doc.errors_vs_dft, "student against DFT"))


if __name__ == "__main__":
    main()
