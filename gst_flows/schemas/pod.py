"""Document of a POD fit (LAMMPS ML-POD ``fitpod``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from gst_flows.schemas.fit import ErrorMetrics, GapPotentialFiles, TrainingSetSummary
from gst_flows.schemas.potential import PotentialRef

__all__ = ["PodFitDoc"]


class PodFitDoc(BaseModel):
    """One ``fitpod`` run: basis, baseline, data, errors and the potential files.

    The errors are those of the fitted potential as LAMMPS runs it (POD plus baseline,
    single points through :class:`~gst_flows.md.lammps.LammpsCalculator`) against the
    labels, computed by the same code as a :class:`~gst_flows.schemas.fit.GapFitDoc`'s.
    ``potential`` holds the coefficient file (``xml_name``, the main file) and the
    parameter file.
    """

    potential_id: str = Field(description="Identifier used to fetch the potential.")
    name: str | None = Field(None, description="Name of the job.")
    tags: list[str] = Field(default_factory=list, description="User tags of the potential.")
    backend: str = Field("pod", description="Potential family (always pod).")
    basis: dict[str, Any] = Field(description="PodBasis as a dict (radii in Å).")
    baseline: dict[str, float] | None = Field(
        None, description="ZBL baseline (inner, outer switching radius, Å) the POD is fitted on, or None."
    )
    solver: dict[str, float] | None = Field(
        None,
        description="PodLeastSquares weights when the coefficients came from the least-squares "
        "solve on compute pod/global's design matrix; None for fitpod's own solve.",
    )
    species: list[str] = Field(description="Species of the fit in LAMMPS atom-type order.")
    lammps_potential: list[str] = Field(
        default_factory=list, description="pair_style and pair_coeff lines as fitted (run directory paths)."
    )
    fitpod_train_errors: dict[str, float] = Field(
        default_factory=dict,
        description="Training errors of the POD part from the solve (fitpod's own, or the least-squares "
        "solve's; energy eV/atom, force eV/Å).",
    )
    source: str | None = Field(None, description="Where the training data came from.")
    fold: int | None = Field(None, description="Cross-validation fold (0-based), if any.")
    n_folds: int | None = Field(None, description="Number of cross-validation folds, if any.")
    split_seed: int | None = Field(None, description="Seed of the train/test split.")
    test_fraction: float | None = Field(None, description="Fraction of structures held out.")
    training_set: TrainingSetSummary = Field(description="What the fit was trained on.")
    test_set: TrainingSetSummary | None = Field(None, description="Held-out set, if any.")
    train_errors: dict[str, ErrorMetrics] = Field(
        default_factory=dict, description="Errors on the training set per config_type."
    )
    test_errors: dict[str, ErrorMetrics] = Field(
        default_factory=dict, description="Errors on the held-out set per config_type."
    )
    wall_time_s: float = Field(description="Wall time of the fit (baseline subtraction and fitpod), s.")
    dir_name: str | None = Field(None, description="Run directory.")
    train_structure_hashes: list[str] = Field(
        default_factory=list, description="Grouping hash of each training frame (data store)."
    )
    test_structure_hashes: list[str] = Field(
        default_factory=list, description="Grouping hash of each test frame (data store)."
    )
    potential: GapPotentialFiles | None = Field(
        None, description="The coefficient (main) and parameter files (data store)."
    )
    potential_ref: PotentialRef | None = Field(
        None, description="Id, backend, species, baseline and SHA-256 of the files: what MD makers take."
    )
    completed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
