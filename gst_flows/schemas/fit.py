"""Documents of GAP fitting: the fit, its cross-validation and evaluations."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from gst_flows.schemas.potential import PotentialRef

__all__ = [
    "ChemicalOrderCheck",
    "ChemicalOrderEntry",
    "CrossValidationDoc",
    "ErrorMetrics",
    "FormationEnergies",
    "FormationEntry",
    "GapEvaluationDoc",
    "GapFitDoc",
    "GapPotentialFiles",
    "MemoryReport",
    "MetricSpread",
    "TrainingSetSummary",
]


class ErrorMetrics(BaseModel):
    """RMSE and MAE of a potential on one group of labelled frames."""

    n_structures: int = Field(description="Frames compared.")
    n_atoms: int = Field(description="Atoms in those frames.")
    energy_rmse: float = Field(description="Energy RMSE per atom, eV/atom.")
    energy_mae: float = Field(description="Energy MAE per atom, eV/atom.")
    force_rmse: float | None = Field(None, description="Force-component RMSE, eV/Å.")
    force_mae: float | None = Field(None, description="Force-component MAE, eV/Å.")
    n_force_components: int = Field(0, description="Force components compared.")
    virial_rmse: float | None = Field(None, description="Virial-component RMSE per atom, eV/atom.")
    virial_mae: float | None = Field(None, description="Virial-component MAE per atom, eV/atom.")
    n_virials: int = Field(0, description="Frames whose virial was compared.")


class CompositionCount(BaseModel):
    """Structures and atoms of one group."""

    n_structures: int = Field(description="Structures.")
    n_atoms: int = Field(description="Atoms.")


class TrainingSetSummary(BaseModel):
    """What a labelled set holds."""

    n_structures: int = Field(description="Frames, isolated atoms included.")
    n_atoms: int = Field(description="Atoms.")
    n_force_components: int = Field(description="Force components (3 per atom with forces).")
    n_virials: int = Field(description="Frames with a virial.")
    species: list[str] = Field(description="Element symbols.")
    per_config_type: dict[str, CompositionCount] = Field(description="Counts per config_type.")
    per_composition: dict[str, CompositionCount] = Field(description="Counts per reduced formula.")


class MemoryReport(BaseModel):
    """Predicted against measured peak memory of gap_fit."""

    predicted_bytes: int = Field(description="Prediction made before the run, bytes.")
    measured_bytes: int | None = Field(None, description="Measured peak resident memory, bytes.")
    gap_fit_estimate_bytes: int | None = Field(
        None, description="gap_fit's own estimate from its log, bytes."
    )
    limit_bytes: int | None = Field(None, description="Limit the fit was checked against, bytes.")
    relative_error: float | None = Field(
        None, description="(predicted - measured) / measured, dimensionless."
    )
    breakdown: dict[str, Any] = Field(
        default_factory=dict, description="Terms of the prediction (bytes, counts)."
    )


class GapPotentialFiles(BaseModel):
    """A GAP potential as files: the XML and its sparseX files (kept in the data store)."""

    xml_name: str = Field(description="File name of the potential XML.")
    files: dict[str, str] = Field(description="File name → text content.")

    def write(self, directory: str | Path) -> Path:
        """Write every file into ``directory`` and return the XML path."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in self.files.items():
            (directory / name).write_text(text)
        return directory / self.xml_name

    @classmethod
    def from_paths(cls, paths: list[Path]) -> GapPotentialFiles:
        """Read the XML (first path) and its sparseX files."""
        return cls(xml_name=paths[0].name, files={p.name: p.read_text() for p in paths})


class GapFitDoc(BaseModel):
    """One gap_fit run: settings, data, errors, cost and the potential itself."""

    potential_id: str = Field(description="Identifier used to fetch the potential.")
    name: str | None = Field(None, description="Name of the job.")
    tags: list[str] = Field(default_factory=list, description="User tags of the potential.")
    hyperparameters: dict[str, Any] = Field(description="GapHyperparameters as a dict.")
    e0: dict[str, float] = Field(description="Isolated-atom energy per element, eV.")
    command: list[str] = Field(description="Exact argument vector run.")
    gap_fit_config: str = Field(description="Content of the gap_fit config_file.")
    gap_fit_version: str | None = Field(None, description="gap_fit version from its log.")
    quippy_version: str | None = Field(None, description="Version of the quippy-ase package.")
    source: str | None = Field(None, description="Where the training data came from.")
    fold: int | None = Field(None, description="Cross-validation fold (0-based), if any.")
    n_folds: int | None = Field(None, description="Number of cross-validation folds, if any.")
    split_seed: int | None = Field(None, description="Seed of the train/test split.")
    test_fraction: float | None = Field(None, description="Fraction of structures held out.")
    training_set: TrainingSetSummary = Field(description="What the fit was trained on.")
    test_set: TrainingSetSummary | None = Field(None, description="Held-out set, if any.")
    descriptors: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Species-resolved descriptors: data counts and sparse points.",
    )
    empty_descriptors: list[str] = Field(
        default_factory=list, description="Species combinations without data (not fitted)."
    )
    train_errors: dict[str, ErrorMetrics] = Field(
        default_factory=dict, description="Errors on the training set per config_type."
    )
    test_errors: dict[str, ErrorMetrics] = Field(
        default_factory=dict, description="Errors on the held-out set per config_type."
    )
    wall_time_s: float = Field(description="gap_fit wall time, s.")
    peak_memory_bytes: int = Field(description="Measured gap_fit peak memory, bytes.")
    memory: MemoryReport = Field(description="Predicted against measured memory.")
    dir_name: str | None = Field(None, description="Run directory.")
    train_structure_hashes: list[str] = Field(
        default_factory=list, description="Grouping hash of each training frame (data store)."
    )
    test_structure_hashes: list[str] = Field(
        default_factory=list, description="Grouping hash of each test frame (data store)."
    )
    potential: GapPotentialFiles | None = Field(None, description="The potential files (data store).")
    potential_ref: PotentialRef | None = Field(
        None,
        description="Id, file names and SHA-256 of the potential: what MD makers take to run it.",
    )
    completed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class MetricSpread(BaseModel):
    """Mean and spread of one error over cross-validation folds."""

    mean: float | None = Field(description="Mean over folds (units of the metric).")
    std: float | None = Field(description="Standard deviation over folds.")
    min: float | None = Field(description="Smallest fold value.")
    max: float | None = Field(description="Largest fold value.")
    n_folds: int = Field(description="Folds that had this metric.")

    @classmethod
    def from_values(cls, values: list[float | None]) -> MetricSpread:
        """Statistics of the non-missing values."""
        v = np.array([x for x in values if x is not None and math.isfinite(x)], dtype=float)
        if v.size == 0:
            return cls(mean=None, std=None, min=None, max=None, n_folds=0)
        return cls(
            mean=float(v.mean()),
            std=float(v.std(ddof=1)) if v.size > 1 else 0.0,
            min=float(v.min()),
            max=float(v.max()),
            n_folds=int(v.size),
        )


class CrossValidationDoc(BaseModel):
    """k-fold cross-validation of a potential fit (GAP or POD)."""

    n_folds: int = Field(description="Number of folds.")
    backend: str = Field("gap", description="Potential family of the fold fits (gap, pod).")
    seed: int = Field(description="Seed of the fold assignment.")
    source: str | None = Field(None, description="Where the data came from.")
    hyperparameters: dict[str, Any] = Field(
        description="Fit settings: GapHyperparameters, or a POD's basis and baseline, as a dict."
    )
    potential_ids: list[str] = Field(description="Potential of each fold.")
    fold_test_errors: list[dict[str, ErrorMetrics]] = Field(
        description="Held-out errors of each fold per config_type."
    )
    summary: dict[str, dict[str, MetricSpread]] = Field(
        description="config_type → metric name → spread over folds (units of the metric)."
    )
    disjoint: bool = Field(description="True if no structure hash is in two test folds.")
    wall_time_s: float = Field(description="Summed fit wall time over folds, s.")
    peak_memory_bytes: int | None = Field(
        None, description="Largest measured gap_fit peak, bytes (None: not measured, POD fits)."
    )
    completed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class FormationEntry(BaseModel):
    """The lowest formation energy of one composition among the frames, DFT and potential."""

    n_frames: int = Field(description="Frames of this composition.")
    dft: float = Field(description="Lowest DFT formation energy among them, eV/atom.")
    predicted: float = Field(description="Lowest formation energy by the potential, eV/atom.")


class FormationEnergies(BaseModel):
    """Formation energies from the elements of every compound frame, summarised."""

    references: dict[str, float] = Field(
        description="Element → its lowest DFT energy among the frames, eV/atom (the DFT reference)."
    )
    n_compounds: int = Field(description="Frames holding more than one element.")
    rmse: float = Field(description="RMS error of the formation energy over those frames, eV/atom.")
    mae: float = Field(description="Mean absolute error of the formation energy, eV/atom.")
    wrong_sign: int = Field(
        description="Frames DFT puts below the elements and the potential above them (or the reverse)."
    )
    by_formula: dict[str, FormationEntry] = Field(description="Reduced formula → lowest formation energies.")


class ChemicalOrderEntry(BaseModel):
    """Energy against wrong bonds for the frames of one composition, DFT and potential."""

    n_frames: int = Field(description="Frames of this composition.")
    wrong_min: float = Field(description="Fewest wrong (homopolar and Ge-Sb) bonds per atom among them.")
    wrong_max: float = Field(description="Most wrong bonds per atom among them.")
    slope_dft: float = Field(description="DFT energy per atom against wrong bonds per atom, eV per bond.")
    slope_predicted: float = Field(description="The potential's slope, eV per bond.")


class ChemicalOrderCheck(BaseModel):
    """Energy against wrong-bond count (homopolar and Ge-Sb bonds): DFT against a potential."""

    n_frames: int = Field(description="Frames in the fit (compositions with enough frames and spread).")
    slope_dft: float = Field(
        description="DFT energy per atom against wrong bonds per atom, one slope shared by every "
        "composition (each its own intercept), eV per wrong bond."
    )
    slope_predicted: float = Field(description="The potential's shared slope, eV per wrong bond.")
    relative_rmse: float = Field(
        description="RMS error of the energies per atom relative to each composition's mean, eV/atom."
    )
    by_formula: dict[str, ChemicalOrderEntry] = Field(description="Reduced formula → its own slopes.")


class GapEvaluationDoc(BaseModel):
    """Errors of a potential on a labelled set, with parity plots."""

    potential_id: str | None = Field(None, description="Potential evaluated.")
    source: str | None = Field(None, description="Where the labelled set came from.")
    data_set: TrainingSetSummary = Field(description="What the set holds.")
    errors: dict[str, ErrorMetrics] = Field(description="Errors per config_type.")
    formation: FormationEnergies | None = Field(
        None,
        description="Formation energies from the elements against the reference's, when the set "
        "holds a structure of every element and a compound.",
    )
    chemical_order: ChemicalOrderCheck | None = Field(
        None,
        description="Energy against wrong-bond count on the disordered frames, when a composition "
        "has three or more of them spanning 0.1 wrong bonds per atom.",
    )
    figures: dict[str, str] = Field(
        default_factory=dict, description="Parity plot name → PNG path in the run directory."
    )
    figure_data: dict[str, str] = Field(
        default_factory=dict, description="Parity plot name → base64 PNG (data store)."
    )
    dir_name: str | None = Field(None, description="Run directory.")
    completed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
