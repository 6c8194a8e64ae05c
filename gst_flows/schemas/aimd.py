"""Document of an ab initio MD run (iter-0 liquid and amorphous snapshots)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from pymatgen.core import Structure

__all__ = ["AimdDoc"]


class AimdDoc(BaseModel):
    """A CP2K NVT MD run through stages (melt, hold, quench).

    Per-step series and the saved frames grow with the run and go to the ``data`` store; the
    labelled snapshots are stored as separate :class:`~gst_flows.schemas.label.LabelDoc`
    documents by jobs added to the flow.
    """

    code: str = Field("cp2k", description="MD code.")
    settings: dict[str, Any] = Field(description="DFT protocol (the labelling protocol).")
    settings_hash: str = Field(description="Hash of the DFT protocol.")
    stages: list[dict[str, float]] = Field(description="Stages: temperature (K) and steps.")
    timestep: float = Field(description="Timestep, fs.")
    snapshot_interval: int = Field(description="Steps between saved, labelled frames.")
    natoms: int = Field(description="Number of atoms.")
    formula: str = Field(description="Reduced formula.")
    n_steps: int = Field(description="MD steps run.")
    n_snapshots: int = Field(description="Labelled frames emitted as candidate configurations.")
    final_temperature: float = Field(description="Instantaneous temperature at the end, K.")
    conserved_drift: float = Field(
        description="Drift of CP2K's conserved quantity per atom over the run, eV/atom."
    )
    steps: list[int] = Field(default_factory=list, description="MD step of each series entry.")
    times: list[float] = Field(default_factory=list, description="Time, fs.")
    temperatures: list[float] = Field(default_factory=list, description="Temperature, K.")
    target_temperatures: list[float] = Field(default_factory=list, description="Thermostat, K.")
    potential_energies: list[float] = Field(default_factory=list, description="Epot, eV.")
    trajectory: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Saved frames: step, positions (Å), velocities (Å/fs) (data store).",
    )
    final_structure: Structure | None = Field(None, description="Last structure.")
    dir_name: str | None = Field(None, description="Run directory.")
