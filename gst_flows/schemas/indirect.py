"""The document of an indirect-learning run: a student potential taught by a teacher GAP."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from gst_flows.schemas.fit import ErrorMetrics
from gst_flows.schemas.potential import PotentialRef

__all__ = ["IndirectLearningDoc", "StudentRound"]


class StudentRound(BaseModel):
    """One student of a run with student rounds: how its own MD went, and its errors.

    A round runs the student's MD on the flow's cells; the teacher labels frames of those
    runs (stopped runs included, up to the blow-up check that stopped them) and the next
    student is fitted with them.
    """

    round: int = Field(description="0: the student of the teacher's frames; k: after k rounds.")
    student_potential_id: str = Field(description="Potential id of this student.")
    n_runs: int = Field(0, description="MD runs of this student (0: not run, the last student).")
    stopped_runs: list[str] = Field(
        default_factory=list, description="Runs of this student stopped early (blow-up check) or failed."
    )
    n_labelled: int = Field(0, description="Frames of its runs the teacher labelled for the next fit.")
    clean_rounds: int = Field(
        0, description="Rounds of this student in which every run completed (until_stable's streak)."
    )
    errors_vs_teacher: ErrorMetrics | None = Field(None, description="Pooled errors on the held-out runs.")
    errors_vs_dft: ErrorMetrics | None = Field(None, description="Pooled errors on the DFT held-out labels.")


class IndirectLearningDoc(BaseModel):
    """A student fitted to a teacher's synthetic labels (and DFT labels), and its errors.

    Errors are keyed by config_type with the pooled row ``"all"`` (energies eV/atom, forces
    eV/Å, virials eV/atom), as in the fit documents.
    """

    tag: str = Field(description="Tag of the run; synthetic labels carry '<tag>-synthetic'.")
    teacher_id: str = Field(description="Potential id of the teacher GAP.")
    teacher_sha256: str = Field(description="SHA-256 of the teacher's XML file (hex).")
    student_ref: PotentialRef = Field(description="The student potential (fit's potential_ref).")
    student_potential_id: str = Field(description="Potential id of the student.")
    synthetic_tag: str = Field(description="Tag of the synthetic training labels.")
    heldout_tag: str = Field(description="Tag of the held-out synthetic labels.")
    dft_tag: str | None = Field(None, description="Tag of the DFT training labels, if any.")
    dft_repeat: int = Field(description="Times each DFT structure entered the training set (0: none).")
    dft_test_tag: str | None = Field(None, description="Tag of the DFT held-out labels, if any.")
    n_synthetic: int = Field(description="Synthetic training structures (isolated atoms excluded).")
    n_synthetic_heldout: int = Field(description="Held-out synthetic structures.")
    n_dft: int = Field(description="Distinct DFT training structures (before repetition).")
    n_dft_test: int = Field(0, description="DFT held-out structures.")
    n_trajectories: int = Field(description="Teacher MD runs.")
    heldout_trajectories: list[int] = Field(
        default_factory=list, description="Indices (cell-major) of the held-out MD runs."
    )
    failed_runs: list[str] = Field(
        default_factory=list,
        description="Teacher runs whose MD failed (blow-up check, engine error): skipped, nothing "
        "labelled from them; the reason is in the failed MD job's log.",
    )
    errors_vs_teacher: dict[str, ErrorMetrics] = Field(
        default_factory=dict, description="Student against the teacher on the held-out synthetic frames."
    )
    errors_vs_dft: dict[str, ErrorMetrics] = Field(
        default_factory=dict, description="Student against DFT on the DFT held-out labels (if given)."
    )
    student_rounds: list[StudentRound] = Field(
        default_factory=list,
        description="Every student of a run with student rounds, first to last (empty without).",
    )
    stable: bool = Field(
        False,
        description="The rounds ended at this student because its runs all completed "
        "(IndirectLearningMaker.until_stable).",
    )
    completed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
