"""Indirect learning: teacher labels are synthetic, kept apart from DFT labels, and teach a POD."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.db import find_labels, label_filter
from gst_flows.errors import InputError
from gst_flows.execution import run_local
from gst_flows.fit import FitInputError, error_table, predict
from gst_flows.fit.pod import PodBasis
from gst_flows.flows.indirect import IndirectLearningMaker, sample_frames
from gst_flows.flows.label import label_flow
from gst_flows.makers.fit import TrainingSelection, load_training_frames
from gst_flows.makers.md import GapMDMaker
from gst_flows.makers.pod import PodFitMaker
from gst_flows.makers.teacher import TeacherLabelMaker
from gst_flows.md.potential import gap_calculator
from gst_flows.md.protocol import load_protocol, melt_quench, partial_melt
from gst_flows.potentials import potential_calculator
from gst_flows.schemas.indirect import IndirectLearningDoc
from gst_flows.schemas.potential import PotentialRef
from gst_flows.store import get_store
from gst_flows.structures import build_rocksalt
from tests.support.lammps import needs_lammps
from tests.support.standin import StandInLabelMaker
from tests.support.stored_gap import SCENARIO_GAP, store_gap_files

SMALL = PodBasis(two_body_radial=4, three_body_radial=2, three_body_angular=2, ridge=1e-4)
MD = {"frame_interval": 10, "thermo_interval": 10, "checkpoint_interval": 100}


def _cells(n, seed=0):
    cells = []
    for k in range(n):
        atoms = build_rocksalt("Ge1Sb2Te4", seed=seed + k)
        atoms.rattle(0.05, seed=seed + 10 + k)
        atoms.info.clear()
        cells.append(atoms)
    return cells


def _teacher_protocols(melt=1500.0, melt_fs=100.0, rate=4000.0, top=1200.0, heat_fs=200.0):
    """A short melt-quench and a heating ramp for the teacher (a quench the Langevin thermostat
    can follow: at 12,000 K/ps a run could lag three times behind the schedule and trip the MD
    temperature check)."""
    quench = melt_quench(
        melt_temperature=melt, melt_duration=melt_fs, quench_rate=rate, heat_from=None, anneal_duration=0.0
    )
    return quench, partial_melt(start_temperature=300.0, end_temperature=top, duration=heat_fs, fixed=None)


def _small_maker(teacher: PotentialRef, md_makers, n_frames: int = 4, **kwargs) -> IndirectLearningMaker:
    """Every run sampled every second frame, the small POD student, a quarter of the runs held out."""
    return IndirectLearningMaker(
        teacher=teacher.potential_id,
        md_makers=md_makers,
        frame_stride=2,
        n_frames=n_frames,
        student_maker=PodFitMaker(basis=SMALL, test_fraction=0.0),
        heldout_fraction=0.25,
        **kwargs,
    )


def _stored_teacher(tag: str) -> PotentialRef:
    job = store_gap_files(str(SCENARIO_GAP), [tag])
    run_local(job)
    store = get_store()
    store.connect()
    output = store.query_one({"uuid": job.uuid}, properties=["output.potential_ref"])["output"]
    return PotentialRef.model_validate({k: v for k, v in output["potential_ref"].items() if k[0] != "@"})


def test_label_filter_leaves_synthetic_labels_out_unless_asked():
    assert label_filter()["output.provenance.synthetic"] == {"$ne": True}
    assert label_filter(synthetic=True)["output.provenance.synthetic"] is True
    assert "output.provenance.synthetic" not in label_filter(synthetic=None)
    assert TrainingSelection().filters()["synthetic"] is False
    assert TrainingSelection(synthetic=True).criteria()["output.provenance.synthetic"] is True
    with pytest.raises(ValueError, match="repeat"):
        TrainingSelection(repeat=0)


def test_labels_stored_without_the_field_still_match(gst_home, outputs):
    run_local(label_flow(_cells(2, seed=40), StandInLabelMaker(), tag="old-labels"))
    # labels stored before the field existed have no provenance.synthetic at all
    outputs.update_many(
        {"output.provenance.tag": "old-labels"}, {"$unset": {"output.provenance.synthetic": ""}}
    )
    assert (
        outputs.count_documents(
            {"output.provenance.synthetic": {"$exists": True}, "output.provenance.tag": "old-labels"}
        )
        == 0
    )
    assert len(find_labels(tag="old-labels", load=False)) == 2
    assert len(find_labels(tag="old-labels", load=False, synthetic=None)) == 2
    assert find_labels(tag="old-labels", load=False, synthetic=True) == []
    frames, _ = load_training_frames(TrainingSelection(tag="old-labels", repeat=3))
    assert len(frames) == 6  # each structure three times


def test_teacher_settings_hash_names_the_files(tmp_path):
    copy = tmp_path / "gap"
    shutil.copytree(SCENARIO_GAP, copy)
    paths = [copy / "gap.xml", *sorted(copy.glob("gap.xml.sparseX.*"))]
    ref = PotentialRef.from_paths("same-id", paths)
    paths[1].write_text(paths[1].read_text().replace("1", "2", 1))
    changed = PotentialRef.from_paths("same-id", paths)
    assert ref.sha256 == changed.sha256  # the XML is the same, a sparseX file is not
    assert TeacherLabelMaker.settings_for(ref)["sha256"] == ref.sha256
    assert TeacherLabelMaker.settings_hash_for(ref) != TeacherLabelMaker.settings_hash_for(changed)


def test_a_process_loads_its_teacher_once_and_every_label_is_the_teachers(gst_home, outputs, monkeypatch):
    import gst_flows.md.potential as md_potential
    from gst_flows.makers import teacher as teacher_module

    teacher = _stored_teacher("cached-teacher")
    loads = []

    def counting(path, **kwargs):
        loads.append(path)
        return gap_calculator(path, **kwargs)

    monkeypatch.setattr(md_potential, "gap_calculator", counting)
    monkeypatch.setattr(teacher_module, "_LOADED", type(teacher_module._LOADED)())
    # same species and cell, different positions: a stale result would repeat the first label
    cells = _cells(4, seed=70)
    run_local(label_flow(cells, TeacherLabelMaker(teacher=teacher), tag="cached-teacher-labels"))
    assert len(loads) == 1
    labels = [lab.doc.to_atoms() for lab in find_labels(tag="cached-teacher-labels", synthetic=True)]
    assert len(labels) == 4 and len({round(f.info["REF_energy"], 8) for f in labels}) == 4
    for frame in labels:
        frame.calc = gap_calculator(SCENARIO_GAP / "gap.xml")
        assert frame.get_potential_energy() == pytest.approx(frame.info["REF_energy"], abs=1e-6)
        assert np.allclose(frame.get_forces(), frame.arrays["REF_forces"], atol=1e-6)


def test_sample_frames_skips_the_start_and_spreads():
    frames = _cells(1) * 11
    for k, f in enumerate(frames):
        frames[k] = f.copy()
        frames[k].positions[0, 0] += 0.01 * k
    picked = sample_frames(frames, 2, None)
    assert [round(f.positions[0, 0] - frames[0].positions[0, 0], 2) for f in picked] == [
        0.02,
        0.04,
        0.06,
        0.08,
        0.1,
    ]
    assert len(sample_frames(frames, 1, 3)) == 3 and not sample_frames(frames[:1], 1, None)
    # a stopped run: the last frames before the stop besides the sampled ones, each once
    shifts = [
        round(f.positions[0, 0] - frames[0].positions[0, 0], 2) for f in sample_frames(frames, 4, None, 3)
    ]
    assert shifts == [0.04, 0.08, 0.09, 0.1]
    assert not sample_frames(frames[:1], 1, None, 3)  # never the start cell


def test_student_runs_keep_frames_on_the_makers_own_steps():
    """A finer saving interval divides the maker's, so the kept frames fall on its steps."""
    makers = [GapMDMaker(frame_interval=f) for f in (25, 50, 8)]
    runs = IndirectLearningMaker(md_makers=makers, frame_stride=2).student_runs()
    assert [(m.frame_interval, stride) for m, stride in runs] == [(5, 10), (10, 10), (8, 2)]
    assert all(m.engine == "lammps" for m, _ in runs)
    assert [
        m.frame_interval
        for m, _ in IndirectLearningMaker(md_makers=makers, student_frame_interval=None).student_runs()
    ] == [25, 50, 8]


def test_bad_inputs_are_refused_before_any_job(gst_home, outputs):
    before = outputs.count_documents({})
    with pytest.raises(InputError, match="no stored potential with id or tag 'no-such-teacher'"):
        IndirectLearningMaker(teacher="no-such-teacher").make(_cells(2))
    with pytest.raises(InputError, match="no teacher"):
        IndirectLearningMaker().make(_cells(2))
    with pytest.raises(InputError, match="cannot be split"):
        IndirectLearningMaker(teacher="x", md_makers=[GapMDMaker()]).make(_cells(1))
    with pytest.raises(InputError, match="dft_repeat"):
        IndirectLearningMaker(teacher="x", dft_repeat=-1).make(_cells(2))
    with pytest.raises(InputError, match="student_rounds"):
        IndirectLearningMaker(teacher="x", student_rounds=-1).make(_cells(2))
    with pytest.raises(InputError, match="student_cells"):
        IndirectLearningMaker(teacher="x", student_rounds=1).make(_cells(2), student_cells=["GeTe"])
    with pytest.raises(InputError, match="student_frame_interval"):
        IndirectLearningMaker(teacher="x", student_frame_interval=0).make(_cells(2))
    with pytest.raises(InputError, match="blowup_frames"):
        IndirectLearningMaker(teacher="x", blowup_frames=2.5).make(_cells(2))
    assert outputs.count_documents({}) == before


def test_students_can_also_learn_an_earlier_flows_synthetic_labels(gst_home, outputs):
    teacher, other = _stored_teacher("earlier-teacher"), _stored_teacher("other-teacher")
    run_local(label_flow(_cells(3, seed=80), TeacherLabelMaker(teacher=teacher), tag="earlier-synthetic"))
    run_local(label_flow(_cells(2, seed=90), TeacherLabelMaker(teacher=other), tag="other-synthetic"))
    maker = _small_maker(
        teacher,
        [GapMDMaker(protocol=p, **MD) for p in _teacher_protocols()],
        synthetic_tags=["earlier-synthetic"],
        tag="later",
    )
    assert maker.check(_cells(2)) == teacher
    sources = maker.training_sources(TeacherLabelMaker.settings_hash_for(teacher))
    assert [s.tag for s in sources] == ["later-synthetic", "earlier-synthetic"]
    frames, _ = load_training_frames(sources[1:])
    assert len(frames) == 3 and all(f.info["teacher"] == teacher.potential_id for f in frames)

    before = outputs.count_documents({})
    # labels of another teacher, no labels at all, the flow's own tag, a bare text: refused
    for bad, message in (
        (["other-synthetic"], "no synthetic labels of this teacher under tag 'other-synthetic'"),
        (["no-such-tag"], "no synthetic labels of this teacher"),
        (["later-synthetic"], "this flow's own synthetic tag"),
        ("earlier-synthetic", "must be a list of tags"),
    ):
        with pytest.raises(InputError, match=message):
            _small_maker(
                teacher,
                [GapMDMaker(protocol=p, **MD) for p in _teacher_protocols()],
                synthetic_tags=bad,
                tag="later",
            ).make(_cells(2))
    assert outputs.count_documents({}) == before


@needs_lammps
def test_indirect_learning_flow(gst_home, outputs):
    teacher = _stored_teacher("ind-teacher")
    # "DFT" (the stand-in labeller) for the student's training and test sets
    run_local(label_flow(_cells(3, seed=20), StandInLabelMaker(), tag="ind-dft"))
    run_local(label_flow(_cells(2, seed=30), StandInLabelMaker(), tag="ind-dft-test"))
    quench, heat = _teacher_protocols()
    maker = _small_maker(
        teacher,
        [GapMDMaker(protocol=quench, **MD), GapMDMaker(protocol=heat, **MD)],
        dft_tag="ind-dft",
        dft_repeat=2,
        dft_test_tag="ind-dft-test",
        tag="ind",
    )
    flow = maker.make(_cells(2))
    responses = run_local(flow)
    doc = responses[flow.jobs[-1].uuid][1].output
    assert isinstance(doc, IndirectLearningDoc)
    assert doc.teacher_id == teacher.potential_id and doc.teacher_sha256 == teacher.sha256
    assert doc.n_trajectories == 4 and len(doc.heldout_trajectories) == 1 and doc.failed_runs == []
    assert doc.n_synthetic == 3 * 4 and doc.n_synthetic_heldout == 4
    assert doc.n_dft == 3 and doc.n_dft_test == 2 and doc.dft_repeat == 2
    assert (
        doc.student_ref.backend == "pod"
        and "ind" in outputs.find_one({"output.potential_id": doc.student_potential_id})["output"]["tags"]
    )

    # synthetic labels carry the teacher and the flag, and stay out of default queries
    synthetic = find_labels(tag="ind-synthetic", synthetic=True)
    assert len(synthetic) == 3 * 4 + 3  # frames and the isolated atoms of Ge, Sb, Te
    assert all(lab.doc.code == "teacher" for lab in synthetic)
    assert all(lab.doc.provenance.teacher == teacher.potential_id for lab in synthetic)
    assert all(lab.doc.provenance.synthetic is True for lab in synthetic)
    assert find_labels(tag="ind-synthetic") == [] and find_labels(tag="ind-synthetic-heldout") == []
    with pytest.raises(FitInputError, match="no successful labels"):
        load_training_frames(TrainingSelection(tag="ind-synthetic"))
    assert len(find_labels(tag="ind-synthetic", synthetic=None)) == len(synthetic)
    assert all(lab.doc.provenance.synthetic is None for lab in find_labels(tag="ind-dft"))

    # the labels are the teacher's: recompute one from the fixture files
    calc = gap_calculator(SCENARIO_GAP / "gap.xml")
    frame = next(lab.doc for lab in synthetic if lab.doc.natoms > 1).to_atoms()
    frame.calc = calc
    assert frame.get_potential_energy() == pytest.approx(frame.info["REF_energy"], abs=1e-6)
    assert np.allclose(frame.get_forces(), frame.arrays["REF_forces"], atol=1e-6)
    assert frame.info["teacher"] == teacher.potential_id and frame.info["synthetic"] is True

    # the student's error against the teacher is recomputable from the stored labels
    held = [lab.doc.to_atoms() for lab in find_labels(tag="ind-synthetic-heldout", synthetic=True)]
    again = error_table(predict(held, potential_calculator(doc.student_ref)))["all"]
    row = doc.errors_vs_teacher["all"]
    assert row.n_structures == 4
    assert row.force_rmse == pytest.approx(again.force_rmse, rel=1e-6)
    assert row.energy_rmse == pytest.approx(again.energy_rmse, rel=1e-6)
    assert doc.errors_vs_dft["all"].n_structures == 2 and doc.errors_vs_dft["all"].force_rmse > 0

    # the student saw the synthetic training labels and each DFT structure twice
    fit = outputs.find_one({"output.potential_id": doc.student_potential_id})["output"]
    assert fit["training_set"]["n_structures"] == 3 * 4 + 3 + 3 * 2


@needs_lammps
def test_a_failed_teacher_run_is_skipped_and_recorded(gst_home, outputs):
    """A teacher run stopped by its blow-up check leaves the others to teach the student."""
    from gst_flows.md.protocol import SafetyLimits

    teacher = _stored_teacher("skip-teacher")
    quench, heat = _teacher_protocols()
    # a force limit no rattled crystal meets: every heating run is stopped at its first step
    doomed = GapMDMaker(name="doomed heating", protocol=heat, safety=SafetyLimits(max_force=1e-3), **MD)
    maker = _small_maker(teacher, [GapMDMaker(protocol=quench, **MD), doomed], seed=1, tag="skip")
    flow = maker.make(_cells(2))
    failures = []
    responses = run_local(flow, failures=failures)
    doc = responses[flow.jobs[-1].uuid][1].output
    assert isinstance(doc, IndirectLearningDoc)
    assert sorted(doc.failed_runs) == ["teacher labels 0 partial-melt", "teacher labels 1 partial-melt"]
    assert sum("max_force" in f for f in failures) == 2  # the reasons, from the failed MD jobs
    # the two melt-quench runs taught the student: 4 frames each, one run held out
    assert doc.n_synthetic + doc.n_synthetic_heldout == 2 * 4
    assert len(find_labels(tag="skip-synthetic", synthetic=True)) == doc.n_synthetic + 3


@needs_lammps
def test_student_rounds_label_the_students_own_md(gst_home, outputs):
    """A round runs the student's MD; the teacher labels its frames; the next student learns them.

    Two student runs per cell: a melt-quench that completes and a hot heating run stopped
    part-way by a force limit. The document says which stopped; the teacher labels the
    frames leading into the stop (saved every 10 steps, though the maker saves every 50);
    the stored labels are the teacher's, of the student's frames.
    """
    from gst_flows.md.protocol import SafetyLimits

    teacher = _stored_teacher("round-teacher")
    quench, heat = _teacher_protocols()
    hot = partial_melt(start_temperature=300.0, end_temperature=3000.0, duration=600.0, fixed=None)
    doomed = GapMDMaker(
        name="doomed heating",
        protocol=hot,
        engine="lammps",
        safety=SafetyLimits(max_force=10.0),
        **{**MD, "frame_interval": 50},
    )
    maker = _small_maker(
        teacher,
        [GapMDMaker(protocol=quench, **MD), GapMDMaker(protocol=heat, **MD)],
        student_rounds=2,
        student_md_makers=[GapMDMaker(protocol=quench, engine="lammps", **MD), doomed],
        blowup_frames=3,
        tag="round",
    )
    # the student's MD runs on a cell of its own (the teacher's are Ge1Sb2Te4)
    big = build_rocksalt("GeTe", (2, 2, 2), seed=1)
    big.rattle(0.05, seed=2)
    big.info.clear()
    flow = maker.make(_cells(2, seed=60), student_cells=[big])
    failures = []
    responses = run_local(flow, failures=failures)
    assert failures == []
    assert responses
    store = get_store()
    store.connect()
    # the rounds' job: its last output is the last round's document
    doc = IndirectLearningDoc.model_validate(store.get_output(flow.jobs[-1].uuid, which="last"))
    rounds = doc.student_rounds
    assert [r.round for r in rounds] == [0, 1, 2]
    assert doc.student_potential_id == rounds[-1].student_potential_id
    assert len({r.student_potential_id for r in rounds}) == 3  # a new student every round
    synthetic = find_labels(tag="round-synthetic", synthetic=True)
    for r in rounds[:2]:
        assert r.n_runs == 2
        assert r.stopped_runs == [f"student {r.round} md 0 partial-melt"]
        # the stopped run: the frames it kept, and the steps of those the teacher labelled
        run = store.query_one({"name": r.stopped_runs[0]}, properties=["output"], load=True)["output"]
        steps = [f["step"] for f in run["frames"]]
        assert 30 <= steps[-1] < 300  # stopped part-way, after at least three frames
        # saved every 10 steps; kept: the last three before the stop and the maker's own
        # spacing (every 100 steps: frame_stride 2 of its 50-step frames), start cell included
        assert steps[-3:] == [steps[-1] - 20, steps[-1] - 10, steps[-1]]
        assert steps[0] == 0 and set(steps[:-3]) <= {0, 100, 200}
        saved = {
            tuple(np.round(Structure.from_dict(f["structure"]).cart_coords[0], 6)): f["step"]
            for f in run["frames"]
        }
        labelled = [
            saved[tuple(np.round(lab.doc.to_atoms().positions[0], 6))]
            for lab in synthetic
            if lab.doc.provenance.generator == r.stopped_runs[0]
        ]
        assert sorted(labelled) == [s for s in steps if s > 0]  # every kept frame but the start
        assert r.n_labelled == 4 + len(labelled)
    assert rounds[2].n_runs == 0
    # the labels of round k are the teacher's, of frames of the student of round k - 1
    calc = gap_calculator(SCENARIO_GAP / "gap.xml")
    for k in (1, 2):
        batch = [lab.doc for lab in synthetic if lab.doc.provenance.iteration == k]
        assert len(batch) == rounds[k - 1].n_labelled
        assert {lab.natoms for lab in batch} == {64} and {lab.formula for lab in batch} == {"GeTe"}
        assert {lab.provenance.potential_id for lab in batch} == {rounds[k - 1].student_potential_id}
        assert {lab.provenance.config_type for lab in batch} == {
            "student_md_melt_quench",
            "student_md_partial_melt",
        }
        assert all(lab.provenance.teacher == teacher.potential_id for lab in batch)
        frame = batch[0].to_atoms()
        frame.calc = calc
        assert np.allclose(frame.get_forces(), frame.arrays["REF_forces"], atol=1e-6)
    # each student was fitted to everything labelled before it
    sizes = [
        outputs.find_one({"output.potential_id": r.student_potential_id})["output"]["training_set"][
            "n_structures"
        ]
        for r in rounds
    ]
    assert [sizes[k] - sizes[k - 1] for k in (1, 2)] == [r.n_labelled for r in rounds[:2]]


@needs_lammps
@pytest.mark.parametrize("stable", [True, False])
def test_until_stable_ends_the_rounds_at_the_first_student_whose_runs_complete(gst_home, outputs, stable):
    """``until_stable``: a student whose runs all complete ends the rounds (no further fit);
    a student whose run is stopped by the MD checks is followed by the next round as before."""
    from gst_flows.md.protocol import SafetyLimits

    teacher = _stored_teacher(f"stable-teacher-{stable}")
    quench, _ = _teacher_protocols()
    limits = {} if stable else {"safety": SafetyLimits(max_force=0.5)}  # every step trips it
    # seeded MD, teacher and student: the same student on every run (unseeded, one blowing up
    # now and then would fail the stable case)
    student_md = GapMDMaker(protocol=quench, engine="lammps", seed=50, **limits, **MD)
    tag = f"until-stable-{stable}"
    maker = _small_maker(
        teacher,
        [GapMDMaker(protocol=quench, seed=0, **MD)],
        student_rounds=2,
        until_stable=True,
        student_md_makers=[student_md],
        tag=tag,
    )
    flow = maker.make(_cells(2, seed=70))
    responses = run_local(flow)
    store = get_store()
    store.connect()
    doc = IndirectLearningDoc.model_validate(store.get_output(flow.jobs[-1].uuid, which="last"))
    names = {d["name"] for d in outputs.find({"uuid": {"$in": list(responses)}}, {"name": 1})}
    validations = sorted(n for n in names if n.startswith("indirect learning validation"))
    rounds = doc.student_rounds
    if stable:
        # student 0's runs (one per cell) completed: it is the result, with its runs recorded;
        # nothing refitted
        assert doc.stable and [r.round for r in rounds] == [0]
        assert rounds[0].n_runs == 2 and rounds[0].stopped_runs == [] and rounds[0].n_labelled > 0
        assert doc.student_potential_id == rounds[0].student_potential_id
        assert validations == ["indirect learning validation"]
    else:
        assert not doc.stable and [r.round for r in rounds] == [0, 1, 2]
        stopped = [[f"student {r.round} md {i} melt-quench" for i in (0, 1)] for r in rounds[:2]]
        assert [sorted(r.stopped_runs) for r in rounds[:2]] == stopped
        assert validations == [
            "indirect learning validation",
            "indirect learning validation (round 1)",
            "indirect learning validation (round 2)",
        ]
    with pytest.raises(InputError, match="until_stable"):
        IndirectLearningMaker(teacher="x", until_stable=True).make(_cells(2))


def test_reseeded_moves_the_seed_that_counts():
    quench, _ = _teacher_protocols()
    seeded = quench.model_copy(update={"seed": 7})
    # the protocol's seed wins over the maker's, so it is the one moved
    assert load_protocol(GapMDMaker(protocol=seeded, seed=3).reseeded(2).protocol).seed == 9
    assert GapMDMaker(protocol=quench, seed=3).reseeded(2).seed == 5
    assert GapMDMaker(protocol=quench).reseeded(2).seed is None  # a new seed every run anyway
    assert load_protocol(GapMDMaker(protocol=seeded).reseeded(0).protocol).seed == 7


@pytest.mark.parametrize("reseed", [True, False])
def test_student_reseed_gives_each_rounds_runs_other_seeds(gst_home, reseed):
    """The MD jobs of round k run with the seed plus k - 1 (``student_reseed``), else the same."""
    from gst_flows.flows.student_rounds import student_round

    teacher = _stored_teacher(f"reseed-teacher-{reseed}")
    quench, _ = _teacher_protocols()
    student_md = GapMDMaker(protocol=quench.model_copy(update={"seed": 40}), engine="lammps", **MD)
    maker = _small_maker(
        teacher, [GapMDMaker(protocol=quench, **MD)], student_rounds=3, student_md_makers=[student_md],
        student_reseed=reseed,
    )  # fmt: skip
    doc = IndirectLearningDoc(
        tag="reseed", teacher_id=teacher.potential_id, teacher_sha256=teacher.sha256, student_ref=teacher,
        student_potential_id=teacher.potential_id, synthetic_tag="reseed-synthetic",
        heldout_tag="reseed-synthetic-heldout", dft_repeat=0, n_synthetic=1, n_synthetic_heldout=0, n_dft=0,
        n_trajectories=1,
    )  # fmt: skip
    cells = [AseAtomsAdaptor.get_structure(c) for c in _cells(2, seed=80)]
    seeds = {}
    for round_ in (1, 3):
        settings = {"synthetic_tag": "x", "teacher_settings_hash": "h"}
        response = student_round.original(doc, maker, cells, round_, settings, [], teacher)
        runs = [j for j in response.replace.jobs if j.name.startswith(f"student {round_ - 1} md")]
        assert len(runs) == 2  # one per cell
        seeds[round_] = {load_protocol(j.function_args[0].protocol).seed for j in runs}
    assert seeds == ({1: {40}, 3: {42}} if reseed else {1: {40}, 3: {40}})


def test_a_flow_whose_teacher_runs_all_failed_says_so():
    from gst_flows.flows.indirect import student_sources

    summaries = [{"failed_run": f"teacher labels {i} melt-quench"} for i in range(2)]
    with pytest.raises(RuntimeError, match="every teacher MD run failed"):
        student_sources.original(summaries, [], 2)
    assert student_sources.original(summaries[:1], ["source"], 2) == ["source"]


@pytest.mark.slow
@needs_lammps
def test_taught_pod_runs_a_device_scenario_like_its_teacher(gst_home, outputs):
    """A POD taught by the GAP runs the mushroom RESET that a POD fitted to DFT alone cannot.

    (``tests/fit/test_pod.py`` shows a wall-less DFT-only POD blowing up in hot MD; with its
    ZBL wall it still heats the mushroom cell to 2,000 K during the 300 K equilibration and
    is stopped by the force check.) The student of the test GAP must finish the scenario on
    LAMMPS for three cells (scenario seeds), its total energy must rise by the pulse energy,
    and its peak temperature, averaged over the three cells, must be the teacher's within 25 %.

    The peak (the hottest bin of the smoothed maps) is a noisy figure: the teacher's ranges
    from 3,620 to 4,950 K over six scenario seeds, hence the mean over three. The teacher's
    runs are seeded, so the student is the same on every run. Four cells, not two: students
    taught on two cells blew up after the pulse for one of sixteen teacher seeds (with a
    heating ramp to 2,500 K or to 4,000 K alike) and their peaks spread from 3,780 to 6,920 K;
    taught on four, every one of eight seeds (including that one) finished the three RESETs,
    with mean peaks 0.87-1.09 times the teacher's.
    """
    from gst_flows.flows.scenarios import scenario_maker

    teacher = _stored_teacher("scen-teacher")
    quench, heat = _teacher_protocols(melt=2500.0, melt_fs=400.0, rate=10000.0, top=2500.0, heat_fs=600.0)
    md_makers = [GapMDMaker(protocol=quench, seed=0, **MD), GapMDMaker(protocol=heat, seed=100, **MD)]
    maker = _small_maker(teacher, md_makers, n_frames=15, tag="scen")
    flow = maker.make(_cells(4, seed=50))
    student = run_local(flow)[flow.jobs[-1].uuid][1].output.student_potential_id

    peaks = {}
    for name, potential in (("teacher", teacher.potential_id), ("student", student)):
        peaks[name] = []
        for seed in range(3):
            scenario = scenario_maker(
                "mushroom-reset", size="small", potential=potential, engine="lammps", seed=seed
            )
            run = scenario.make()
            outputs_ = run_local(run).get(run.jobs[-1].uuid, {})
            assert outputs_, f"the mushroom RESET (seed {seed}) did not finish with the {name}"
            doc = outputs_[max(outputs_)].output
            assert doc.potential.id == potential and doc.engine == "lammps"
            check = doc.energy_check
            assert check.measured_injected == pytest.approx(check.requested, rel=0.02)
            peaks[name].append(doc.peak_temperature)
    assert np.mean(peaks["student"]) == pytest.approx(np.mean(peaks["teacher"]), rel=0.25), peaks
