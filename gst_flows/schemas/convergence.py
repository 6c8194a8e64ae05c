"""The protocol-convergence document: label differences along ladders of DFT settings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["ConvergenceDoc", "ConvergencePoint"]


class ConvergencePoint(BaseModel):
    """One setting of a ladder and how far its label is from the ladder's tightest one."""

    parameter: str = Field(description="The setting varied: kpoint_spacing, cutoff, ...")
    value: float = Field(description="Its value (Å⁻¹ for k-point spacing, Ry, K, ...).")
    reference_value: float = Field(description="The ladder's tightest value, the reference.")
    settings_hash: str | None = Field(None, description="Settings hash of the label.")
    label_uuid: str | None = Field(None, description="uuid of the label job.")
    state: str | None = Field(None, description="State of the label (None: the job died).")
    error: str | None = Field(None, description="Why the label failed, if it did.")
    kpoints: list[int] | None = Field(None, description="Monkhorst-Pack mesh used.")
    energy_per_atom: float | None = Field(None, description="Energy, eV/atom.")
    energy_difference: float | None = Field(None, description="(E - E_ref) / N, meV/atom (signed).")
    force_rms_difference: float | None = Field(
        None, description="RMS over the 3N components of F - F_ref, eV/Å."
    )
    force_max_difference: float | None = Field(None, description="Largest component of |F - F_ref|, eV/Å.")
    stress_max_difference: float | None = Field(None, description="Largest component of |σ - σ_ref|, GPa.")
    walltime: float | None = Field(None, description="DFT wall time of the label, s.")
    reused: bool = Field(False, description="Whether the label was an earlier stored one.")
    within_tolerance: bool | None = Field(
        None, description="Both differences within the tolerances (None for the reference)."
    )


class ConvergenceDoc(BaseModel):
    """Convergence of a labelling protocol on one structure, one ladder per setting.

    Each ladder varies one setting with the rest of ``base_settings`` fixed; every label is
    compared with the label at the ladder's tightest value. ``recommended`` holds, per setting,
    the coarsest value whose label and every tighter one's are within both tolerances.
    """

    code: str = Field(description="DFT code of the labels.")
    formula: str = Field(description="Reduced chemical formula of the structure.")
    natoms: int = Field(description="Number of atoms.")
    structure_hash: str = Field(description="SHA-1 of the structure (see hashing).")
    base_settings: dict[str, Any] = Field(description="Protocol the ladders start from.")
    energy_tolerance: float = Field(description="Energy tolerance, meV/atom.")
    force_tolerance: float = Field(description="Force RMS tolerance, eV/Å.")
    points: list[ConvergencePoint] = Field(description="Every ladder point, coarsest first.")
    recommended: dict[str, float | None] = Field(
        description="Per setting, the coarsest value within the tolerances (None: none is)."
    )

    def ladder(self, parameter: str) -> list[ConvergencePoint]:
        """The points of one setting's ladder, coarsest first."""
        return [p for p in self.points if p.parameter == parameter]
