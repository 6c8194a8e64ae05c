"""Validation of an indirect-learning student: errors against its teacher and against DFT.

:func:`validate_student` ends every fit of
:class:`~gst_flows.flows.indirect.IndirectLearningMaker` (and of each student round): an
:class:`~gst_flows.schemas.indirect.IndirectLearningDoc` with the student's errors on the
teacher's held-out runs, on the DFT test labels, and the history of the rounds.
"""

from __future__ import annotations

from typing import Any

from jobflow import job

from gst_flows.schemas.indirect import IndirectLearningDoc, StudentRound
from gst_flows.schemas.potential import PotentialRef, as_potential_ref

__all__ = ["failed_runs", "n_structures", "validate_student"]


def failed_runs(summaries: list[Any]) -> list[str]:
    """Names of the teacher runs whose MD failed (see :func:`teacher_label_frames`)."""
    return [s["failed_run"] for s in summaries if isinstance(s, dict) and "failed_run" in s]


def n_structures(store, **filters: Any) -> int:
    """Number of stored labels matching ``filters``, isolated atoms not counted."""
    from gst_flows.db import find_labels

    labels = find_labels(store=store, load=False, **filters)
    return sum(lab.doc.provenance.config_type != "isolated_atom" for lab in labels)


def _errors_on(store, calc, **filters: Any) -> tuple[dict, int]:
    from gst_flows.db import find_labels
    from gst_flows.fit import error_table, predict
    from gst_flows.makers.fit import _metrics

    frames = [lab.doc.to_atoms() for lab in find_labels(store=store, **filters)]
    if not frames:
        return {}, 0
    return _metrics(error_table(predict(frames, calc))), sum(len(f) > 1 for f in frames)


@job(output_schema=IndirectLearningDoc)
def validate_student(
    student_ref: Any,
    teacher: PotentialRef,
    settings: dict[str, Any],
    heldout_trajectories: list[int],
    summaries: list[Any] | None = None,
    previous: Any = None,
    student_runs: list[Any] | None = None,
) -> IndirectLearningDoc:
    """Errors of the student against the teacher (held-out runs) and against DFT (``dft_test_tag``).

    Parameters
    ----------
    student_ref
        The student fit's ``potential_ref``.
    teacher
        The teacher's reference.
    settings
        ``tag``, ``synthetic_tag``, ``heldout_tag``, ``dft_tag``, ``dft_repeat``,
        ``dft_test_tag``, ``n_trajectories`` and ``teacher_settings_hash``.
    heldout_trajectories
        Indices of the held-out MD runs.
    summaries
        Outputs of the teacher label batches (the failed runs are listed in the document).
    previous
        The document of the student before this one (student rounds), whose runs are
        ``student_runs`` (outputs of :func:`~gst_flows.flows.student_rounds.student_label_frames`).
    """
    from gst_flows.potentials import potential_calculator
    from gst_flows.store import current_store

    if student_ref is None:
        raise RuntimeError("the student fit failed: no student to validate (see the fit job's log)")
    store = current_store()
    ref = as_potential_ref(student_ref)
    teacher = as_potential_ref(teacher)
    calc = potential_calculator(ref, store=store)
    synthetic = {"synthetic": True, "settings_hash": settings["teacher_settings_hash"]}
    vs_teacher, n_held = _errors_on(store, calc, tag=settings["heldout_tag"], **synthetic)
    vs_dft, n_dft_test = (
        _errors_on(store, calc, tag=settings["dft_test_tag"]) if settings["dft_test_tag"] else ({}, 0)
    )
    dft_tag = settings["dft_tag"] if settings["dft_repeat"] else None
    rounds = _rounds(previous, student_runs, ref.potential_id, vs_teacher, vs_dft, settings)
    failed = (
        IndirectLearningDoc.model_validate(previous).failed_runs if previous else failed_runs(summaries or [])
    )
    return IndirectLearningDoc(
        tag=settings["tag"],
        teacher_id=teacher.potential_id,
        teacher_sha256=teacher.sha256,
        student_ref=ref,
        student_potential_id=ref.potential_id,
        synthetic_tag=settings["synthetic_tag"],
        heldout_tag=settings["heldout_tag"],
        dft_tag=dft_tag,
        dft_repeat=settings["dft_repeat"] if dft_tag else 0,
        dft_test_tag=settings["dft_test_tag"],
        n_synthetic=n_structures(store, tag=settings["synthetic_tag"], **synthetic),
        n_synthetic_heldout=n_held,
        n_dft=n_structures(store, tag=dft_tag) if dft_tag else 0,
        n_dft_test=n_dft_test,
        n_trajectories=settings["n_trajectories"],
        heldout_trajectories=heldout_trajectories,
        failed_runs=failed,
        errors_vs_teacher=vs_teacher,
        errors_vs_dft=vs_dft,
        student_rounds=rounds,
    )


def _rounds(previous, student_runs, student_id, vs_teacher, vs_dft, settings) -> list[StudentRound]:
    """The round history: the previous student's runs filled in, this student appended."""
    if not settings.get("student_rounds"):
        return []
    rounds = list(IndirectLearningDoc.model_validate(previous).student_rounds) if previous else []
    if rounds:
        rounds[-1] = with_runs(rounds[-1], student_runs or [])
    rounds.append(
        StudentRound(
            round=len(rounds),
            student_potential_id=student_id,
            errors_vs_teacher=vs_teacher.get("all"),
            errors_vs_dft=vs_dft.get("all"),
        )
    )
    return rounds


def with_runs(student: StudentRound, runs: list[dict[str, Any]]) -> StudentRound:
    """``student`` with one more round of its MD runs added to those recorded.

    ``runs``: outputs of ``student_label_frames``, one per run (a failed run is None).
    """
    stopped = [r["run"] if r else "failed run" for r in runs if not r or r["status"] != "completed"]
    clean = bool(runs) and not stopped
    return student.model_copy(
        update={
            "n_runs": student.n_runs + len(runs),
            "stopped_runs": [*student.stopped_runs, *stopped],
            "n_labelled": student.n_labelled + sum(r["n_labelled"] for r in runs if r),
            "clean_rounds": student.clean_rounds + clean,
        }
    )
