"""Student rounds of indirect learning: the student's own MD, labelled by the teacher, refitted.

A student fitted only to the teacher's trajectories meets configurations in its own MD that
no teacher run visited. A round (:func:`student_round`) runs the latest student's MD, has the
teacher label frames of those runs (:func:`student_label_frames`; a run stopped by its
blow-up check gives the frames saved before the stop) and fits the next student on
everything so far; :class:`~gst_flows.flows.indirect.IndirectLearningMaker` starts the rounds
(``student_rounds``). With ``until_stable`` a round whose runs all completed ends the rounds
with that student (:func:`_refit_unless_stable`), or, with ``stable_rounds`` above 1, runs it
again in the next round on that round's cells (new packings with
:class:`~gst_flows.flows.fresh_packings.FreshPackings`) until it passes that many in a row.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from jobflow import Flow, Response, job
from jobflow.core.reference import OnMissing
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.flows.fresh_packings import FreshPackings, as_fresh_packings
from gst_flows.flows.indirect import sample_frames, student_sources
from gst_flows.flows.indirect_validation import validate_student, with_runs
from gst_flows.makers.md import structure_to_atoms
from gst_flows.makers.teacher import TeacherLabelMaker
from gst_flows.schemas.indirect import IndirectLearningDoc
from gst_flows.schemas.potential import PotentialRef

if TYPE_CHECKING:
    from gst_flows.flows.indirect import IndirectLearningMaker

__all__ = ["student_label_frames", "student_round"]


@job
def student_label_frames(
    run: Any,
    labeller: TeacherLabelMaker,
    n_frames: int | None,
    provenance: dict[str, Any],
    name: str,
    blowup_frames: int = 0,
) -> Response | dict[str, Any]:
    """Teacher labels of frames of a student's run (an ``al_md`` output).

    The run kept only the frames worth labelling; at most ``n_frames`` of them are labelled,
    evenly spread after the start cell.

    A run stopped by its blow-up check keeps the frames saved until then: they lead into
    the configurations the student gets wrong, and the last ``blowup_frames`` of them are
    labelled besides the sampled ones. The output is ``{"run", "status", "n_labelled"}``
    (``status`` "failed" when the run's job failed outright).
    """
    from gst_flows.flows.label import label_flow

    if run is None:
        return {"run": name, "status": "failed", "n_labelled": 0}
    structures = [f["structure"] for f in run["frames"]]  # decoded by jobflow, or their dicts
    structures = [s if isinstance(s, Structure) else Structure.from_dict(s) for s in structures]
    tail = blowup_frames if run["status"] != "completed" else 0
    frames = sample_frames([AseAtomsAdaptor.get_atoms(s) for s in structures], 1, n_frames, tail)
    if not frames:
        return {"run": name, "status": run["status"], "n_labelled": 0}
    labels = label_flow(
        frames, labeller, name=f"teacher labels of {name}", max_failed_fraction=0.0, **provenance
    )
    summary = _run_summary(labels.output, name, run["status"])
    summary.name = f"summary of {name}"
    return Response(replace=Flow([labels, summary], output=summary.output))


@job
def _run_summary(batch: Any, name: str, status: str) -> dict[str, Any]:
    n = batch["n_successful"] if isinstance(batch, dict) else batch.n_successful
    return {"run": name, "status": status, "n_labelled": int(n)}


@job
def student_round(
    doc: Any,
    maker: IndirectLearningMaker,
    cells: list[Structure] | FreshPackings,
    round_: int,
    settings: dict[str, Any],
    heldout_trajectories: list[int],
    teacher: PotentialRef,
) -> Response:
    """Replace itself by one round: the student's MD, teacher labels of it, the next fit.

    The round's output is the next student's :class:`IndirectLearningDoc`, whose
    ``student_rounds`` records how the runs of every earlier student went; a further round
    follows while ``round_ < maker.student_rounds``. With ``maker.until_stable``, a student
    whose runs all completed is the output instead (no next student), or runs again in the
    next round until it has passed ``maker.stable_rounds`` rounds in a row. ``cells``: the
    cells of every round, or :class:`FreshPackings` drawing new ones for each.
    """
    from gst_flows.flows.active_learning.jobs import al_md

    doc = IndirectLearningDoc.model_validate(doc)
    labeller = TeacherLabelMaker(teacher=teacher)
    jobs, outputs = [], []
    packings = as_fresh_packings(cells)
    student = doc.student_rounds[-1].round if doc.student_rounds else round_ - 1
    # a student run again (stable_rounds) names its runs by round as well
    suffix = f" (round {round_})" if student != round_ - 1 else ""
    for i, cell in enumerate(packings.cells(round_) if packings else cells):
        for md_maker, stride in maker.student_runs():
            if maker.student_reseed:  # other trajectories than the last round's, as fresh cells
                md_maker = md_maker.reseeded(round_ - 1)
            protocol = md_maker.resolved_protocol(structure_to_atoms(cell)).name
            name = f"student {student} md {i} {protocol}{suffix}"
            # the run keeps the frames to label: the maker's spacing and those before a stop
            run = al_md(replace(md_maker, potential=doc.student_ref), cell, None, stride, maker.blowup_frames)
            run.name = name
            run.update_config({"manager_config": {"_category": md_maker.fworker_category}})
            provenance = {
                "tag": settings["synthetic_tag"],
                "config_type": f"student_md_{protocol}".replace("-", "_"),
                "potential_id": doc.student_potential_id,
                "iteration": round_,
                "generator": name,
            }
            labels = student_label_frames(
                run.output, labeller, maker.n_frames, provenance, name, maker.blowup_frames
            )
            labels.name = f"teacher labels of {name}"
            labels.config.on_missing_references = OnMissing.NONE  # a failed run labels nothing
            jobs += [run, labels]
            outputs.append(labels.output)
    args = (doc, maker, cells, round_, settings, heldout_trajectories, teacher)
    if maker.until_stable:
        after = _refit_unless_stable(outputs, *args)
        after.name = f"student {student} stable? (round {round_})"
        steps = [*jobs, after]
    else:
        steps = [*jobs, *_refit(outputs, *args)]
    return Response(replace=Flow(steps, output=steps[-1].output, name=f"student round {round_}"))


def _refit(outputs, doc, maker, cells, round_, settings, heldout_trajectories, teacher) -> list:
    """The rest of a round: the next student's fit, its validation, the next round.

    The next round follows while ``round_ < maker.student_rounds``.
    """
    gathered = student_sources(outputs, maker.training_sources(settings["teacher_settings_hash"]))
    gathered.name = f"student training sources (round {round_})"
    fit = maker.student().make(gathered.output)
    check = validate_student(
        fit.output.potential_ref, teacher, settings, heldout_trajectories, None, doc, outputs
    )
    check.name = f"indirect learning validation (round {round_})"
    steps = [gathered, fit, check]
    if round_ < maker.student_rounds:
        follow = student_round(
            check.output, maker, cells, round_ + 1, settings, heldout_trajectories, teacher
        )
        follow.name = f"student round {round_ + 1}"
        steps.append(follow)
    return steps


@job
def _refit_unless_stable(outputs: list[Any], doc: Any, *args: Any) -> Response | IndirectLearningDoc:
    """``until_stable``: the student's document after ``stable_rounds`` clean rounds, else more.

    The document returned records the student's runs and ``stable``. A round whose runs all
    completed short of that streak is followed by another round of the same student (none
    when ``student_rounds`` are used up: the document, not stable); a round with a stopped
    run by the rest of the round (:func:`_refit`).
    """
    doc = IndirectLearningDoc.model_validate(doc)
    maker, cells, round_ = args[0], args[1], args[2]
    passed = with_runs(doc.student_rounds[-1], outputs)
    if passed.clean_rounds > doc.student_rounds[-1].clean_rounds:  # every run completed
        if passed.clean_rounds >= maker.stable_rounds or round_ >= maker.student_rounds:
            rounds = [*doc.student_rounds[:-1], passed]
            stable = passed.clean_rounds >= maker.stable_rounds
            return doc.model_copy(update={"student_rounds": rounds, "stable": stable})
        # the same student again on the next round's cells; its runs so far are recorded
        again = doc.model_copy(update={"student_rounds": [*doc.student_rounds[:-1], passed]})
        follow = student_round(again, maker, cells, round_ + 1, *args[3:])
        follow.name = f"student round {round_ + 1}"
        return Response(replace=Flow([follow], output=follow.output))
    steps = _refit(outputs, doc, *args)
    return Response(replace=Flow(steps, output=steps[-1].output))
