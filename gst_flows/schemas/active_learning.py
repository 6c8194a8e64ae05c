"""Documents of the active-learning loop, and the state its jobs hand on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from gst_flows.schemas.fit import ChemicalOrderCheck, ErrorMetrics
from gst_flows.schemas.potential import PotentialRef

__all__ = ["HistoryRow", "IterationDoc", "LoopState", "SelectionDoc"]


class SelectionDoc(BaseModel):
    """Configurations chosen for labelling from an exploration."""

    tag: str = Field(description="Data-set tag of the loop.")
    iteration: int = Field(description="Iteration the candidates belong to.")
    exploration: str | None = Field(
        None,
        description="Exploration that made the candidates: melt-quench (iter-1) or device "
        "(iter-2: crystallisation and melting).",
    )
    method: str = Field(description="Selection method: fps or cur.")
    fraction_window: tuple[float, float] | None = Field(
        None,
        description="Crystalline fractions (low, high) over which part of the budget was spread "
        "evenly (iter-2), or None (diversity only).",
    )
    transition_share: float | None = Field(
        None, description="Share of the budget spread over fraction_window, dimensionless."
    )
    n_candidates: int = Field(description="Frames offered by the exploration.")
    n_duplicates: int = Field(description="Candidates dropped as near-duplicates.")
    n_existing: int = Field(description="Labelled structures the selection compared against.")
    n_selected: int = Field(description="Configurations chosen (at most the budget).")
    budget: int = Field(description="Labelling budget of the iteration.")
    provenance: list[dict[str, Any]] = Field(
        default_factory=list, description="Generator job, potential, temperature, step of each."
    )
    uncertainty: str | None = Field(
        None, description="How candidates were weighted by uncertainty ('committee') or None."
    )
    mean_candidate_spread: float | None = Field(
        None, description="Mean committee force spread over the candidates, eV/Å."
    )
    selected_spread: list[float] = Field(
        default_factory=list, description="Committee force spread of each chosen structure, eV/Å."
    )
    candidate_fractions: list[float | None] = Field(
        default_factory=list,
        description="Measured crystalline fraction (k̄) of every candidate, dimensionless.",
    )
    candidate_config_types: dict[str, int] = Field(
        default_factory=dict, description="Candidates per measured config_type."
    )
    candidate_fraction_histogram: dict[str, list] | None = Field(
        None, description="Histogram of the candidates' crystalline fractions: edges, counts."
    )
    selected_fraction_histogram: dict[str, list] | None = Field(
        None, description="Histogram of the chosen frames' crystalline fractions: edges, counts."
    )
    md_seeds: list[int] = Field(
        default_factory=list, description="Seed of each exploration MD run, in run order."
    )
    n_liquid_candidates: int = Field(
        0, description="Frames of the liquid-order runs offered (included in n_candidates)."
    )
    n_liquid_selected: int = Field(
        0, description="Of the chosen frames, those chosen across the liquids' wrong-bond fractions."
    )
    liquid_wrong_fractions: list[float] = Field(
        default_factory=list,
        description="Wrong-bond fraction (homopolar and Ge-Sb bonds among all bonds) of every "
        "liquid-order candidate, dimensionless.",
    )
    structures: list[Structure] = Field(
        default_factory=list, description="The chosen structures (data store)."
    )


class IterationDoc(BaseModel):
    """What one iteration of the loop added, the potential it produced and its errors."""

    tag: str = Field(description="Data-set tag of the loop.")
    iteration: int = Field(description="Iteration (0: crystals, AIMD; 1: melt-quench; 2+: device).")
    exploration: str | None = Field(
        None,
        description="Where the iteration's new labels came from: builders (iteration 0), "
        "melt-quench (iter-1) or device (iter-2).",
    )
    potential_id: str = Field(description="Potential fitted in this iteration.")
    potential_ref: PotentialRef | None = Field(
        None, description="The fit's typed reference to that potential (id and SHA-256 of its files)."
    )
    n_labels: int = Field(description="Labelled structures in the training set (isolated atoms too).")
    n_new_labels: int = Field(description="Labels added in this iteration.")
    labels_per_config_type: dict[str, int] = Field(
        default_factory=dict, description="Training structures per config_type."
    )
    held_out_force_rmse: float | None = Field(None, description="Held-out force RMSE, eV/Å.")
    held_out_energy_rmse: float | None = Field(None, description="Held-out energy RMSE, eV/atom.")
    train_force_rmse: float | None = Field(None, description="Training force RMSE, eV/Å.")
    converged: bool = Field(description="Whether the loop stops after this iteration.")
    stop_reason: str | None = Field(None, description="Why the loop stops (or None).")
    committee_potential_ids: list[str] = Field(
        default_factory=list,
        description="Committee fits of this iteration (uncertainty of the next selection).",
    )
    seeds: dict[str, Any] = Field(
        default_factory=dict,
        description="Seeds of the iteration: the flow's, gap_fit's, the committee's subsamples "
        "and fits, the exploration MD runs'.",
    )
    selected_crystalline_fractions: list[float | None] = Field(
        default_factory=list,
        description="Crystalline fraction (k̄) of each frame selected in this iteration.",
    )
    selected_fraction_histogram: dict[str, list] | None = Field(
        None, description="Histogram of those fractions: edges, counts (10 bins on [0, 1])."
    )
    history: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Learning curve so far: iteration, n_labels, held-out force RMSE, potential.",
    )
    explored_errors: ErrorMetrics | None = Field(
        None,
        description="Errors of the potential that explored this iteration (the previous one's) on "
        "the frames it chose, against their new DFT labels, before it was refitted on them: how far "
        "the exploration reached past what the potential knew.",
    )
    explored_chemical_order: ChemicalOrderCheck | None = Field(
        None,
        description="Energy against wrong bonds on those frames (their disordered ones), DFT "
        "against the exploring potential, when a composition has enough of them.",
    )
    completed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class HistoryRow(BaseModel):
    """One finished iteration on the loop's learning curve."""

    iteration: int = Field(description="Iteration.")
    n_labels: int = Field(description="Labelled structures in the iteration's training set.")
    force_rmse: float | None = Field(None, description="Held-out force RMSE, eV/Å.")
    energy_rmse: float | None = Field(None, description="Held-out energy RMSE, eV/atom.")
    potential_id: str = Field(description="Potential fitted in the iteration.")


class LoopState(BaseModel):
    """What each job of the active-learning loop hands to the next one.

    It travels as a job argument (stored with the job, e.g. in a FireWorks spec), not as an
    output document. Jobs queued before the state was typed hold a plain dict with the same
    keys: :meth:`pydantic.BaseModel.model_validate` reads it.
    """

    iteration: int = Field(description="Iteration the job belongs to.")
    n_new_labels: int | None = Field(
        None, description="Labels the iteration's selection added (None in iteration 0)."
    )
    history: list[HistoryRow] = Field(
        default_factory=list, description="Learning curve of the finished iterations."
    )
    potential_id: str | None = Field(
        None, description="Potential of the previous iteration, which drives the exploration."
    )
    potential_ref: PotentialRef | None = Field(
        None,
        description="Its typed reference: the exploration MD fetches it by id and checks its "
        "files' SHA-256 before running (None in states written before references existed).",
    )
    explore: list[Structure] = Field(
        default_factory=list, description="Starting cells of the iter-1 (melt-quench) explorations."
    )
    device: list[Structure] = Field(
        default_factory=list, description="Starting cells of the iter-2 (device) explorations."
    )
    liquid: list[Structure] = Field(
        default_factory=list,
        description="Starting cells of the iter-1 liquid-order explorations (the maker's liquid_maker).",
    )
    committee: list[str] = Field(
        default_factory=list,
        description="Committee potentials of the previous iteration (uncertainty of the selection).",
    )
    seeds: dict[str, Any] = Field(
        default_factory=dict, description="Seeds drawn so far in the iteration (see IterationDoc)."
    )
    selected_fractions: list[float | None] | None = Field(
        None, description="Crystalline fraction (k̄) of each frame the iteration's selection chose."
    )
