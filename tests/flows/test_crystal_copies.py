"""Teacher labels of distorted copies of the DFT training crystals (indirect learning)."""

from __future__ import annotations

import numpy as np
import pytest

from gst_flows.db import find_labels
from gst_flows.errors import InputError
from gst_flows.execution import run_local
from gst_flows.flows.crystal_copies import CrystalCopies, crystal_copies_job, dft_crystals
from gst_flows.flows.indirect import IndirectLearningMaker
from gst_flows.flows.label import label_flow
from gst_flows.makers.teacher import TeacherLabelMaker
from gst_flows.md.potential import gap_calculator
from gst_flows.structures import build_rocksalt
from tests.flows.test_indirect import _cells, _stored_teacher
from tests.support.standin import StandInLabelMaker
from tests.support.stored_gap import SCENARIO_GAP


def _dft(tag: str) -> None:
    """Two "DFT" crystals and one liquid under ``tag`` (the stand-in labeller)."""
    crystals = [build_rocksalt("GeTe", (2, 2, 1), seed=1), build_rocksalt("Ge1Sb2Te4", seed=2)]
    for atoms in crystals:
        atoms.info.clear()
    liquid = _cells(1, seed=40)
    run_local(label_flow(crystals, StandInLabelMaker(), tag=tag, config_type="crystal"))
    run_local(label_flow(liquid, StandInLabelMaker(), tag=tag, config_type="liquid"))


def test_bad_copy_settings_are_refused_before_any_job(gst_home, outputs):
    _dft("cc-bad")
    before = outputs.count_documents({})
    cases = [
        (CrystalCopies(n_copies=0), "n_copies"),
        (CrystalCopies(n_copies=2.5), "n_copies"),
        (CrystalCopies(rattle=-0.1), "rattle"),
        (CrystalCopies(strain=0.3), "strain"),
        (CrystalCopies(rattle=0.0, strain=0.0), "both 0"),
        ({"n_copies": 2, "config_type": "no-such-type"}, "no DFT labels of config_type 'no-such-type'"),
        ("many", "must be a CrystalCopies"),
    ]
    for copies, match in cases:
        with pytest.raises(InputError, match=match):
            IndirectLearningMaker(teacher="x", dft_tag="cc-bad", crystal_copies=copies).make(_cells(2))
    with pytest.raises(InputError, match="give dft_tag"):
        IndirectLearningMaker(teacher="x", crystal_copies=CrystalCopies()).make(_cells(2))
    assert outputs.count_documents({}) == before


def test_the_teacher_labels_strained_rattled_copies_of_the_dft_crystals(gst_home, outputs):
    teacher = _stored_teacher("cc-teacher")
    _dft("cc-dft")
    crystals = dft_crystals("cc-dft", "crystal")
    assert len(crystals) == 2  # the liquid is not a crystal
    settings = CrystalCopies(n_copies=6, rattle=0.1, strain=0.02, seed=3)
    labeller = TeacherLabelMaker(teacher=teacher)
    run_local(crystal_copies_job(settings, "cc-dft", labeller, "cc-synthetic", teacher))

    labels = find_labels(tag="cc-synthetic", synthetic=True)
    assert len(labels) == 2 * 6
    assert find_labels(tag="cc-synthetic") == []  # synthetic: out of default queries
    assert {lab.doc.provenance.config_type for lab in labels} == {"crystal_copy"}
    assert all(lab.doc.provenance.teacher == teacher.potential_id for lab in labels)
    calc = gap_calculator(SCENARIO_GAP / "gap.xml")
    for key, crystal in crystals:
        copies = [lab.doc.to_atoms() for lab in labels if key[:12] in lab.doc.provenance.generator]
        assert len(copies) == 6
        for copy in copies:
            # the cell is the crystal's strained by a symmetric tensor within the bound
            eps = np.linalg.solve(crystal.cell.array, copy.cell.array) - np.eye(3)
            assert np.abs(eps).max() <= 0.02 + 1e-9 and np.allclose(eps, eps.T, atol=1e-9)
            assert np.abs(eps).max() > 1e-4
            # displacements about the strained crystal: a rattle of about 0.1 Å per component
            ideal = crystal.positions @ (np.eye(3) + eps)
            shift = copy.positions - ideal
            assert 0.05 < np.sqrt((shift**2).mean()) < 0.15
        # copies differ from each other and are labelled by the teacher itself
        energies = [c.info["REF_energy"] for c in copies]
        assert len(set(np.round(energies, 8))) == 6
        probe = copies[0].copy()
        probe.calc = calc
        assert probe.get_potential_energy() == pytest.approx(copies[0].info["REF_energy"], abs=1e-6)
        assert np.allclose(probe.get_forces(), copies[0].arrays["REF_forces"], atol=1e-6)


def test_the_student_waits_for_the_copies(gst_home, outputs):
    """The copies' batch is among the label batches the student's training sources wait for."""
    teacher = _stored_teacher("cc-teacher-2")
    _dft("cc-dft-2")
    maker = IndirectLearningMaker(
        teacher=teacher.potential_id, dft_tag="cc-dft-2", crystal_copies={"n_copies": 2}, tag="cc"
    )
    flow = maker.make(_cells(2))
    names = [j.name for j in flow.jobs]
    copies = flow.jobs[names.index("teacher labels of crystal copies")]
    gathered = flow.jobs[names.index("student training sources")]
    assert copies.uuid in {ref.uuid for ref in gathered.input_references}
    assert copies.function_args[1]["n_copies"] == 2 and copies.function_args[3]["tag"] == "cc-synthetic"
