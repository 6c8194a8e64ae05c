"""Electromigration: species density profiles along the field over time, and each species' drift."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

from gst_flows.analysis.registry import register_analysis
from gst_flows.analysis.scenarios.common import (
    AnalysisSettings,
    ArraySpec,
    RunData,
    frame_times_ps,
    select_frames,
    stage_end_steps,
)

__all__ = ["ElectromigrationResult", "SpeciesDrift", "analyse_electromigration"]


class SpeciesDrift(BaseModel):
    """Motion of one species along the field."""

    species: str = Field(description="Chemical symbol.")
    charge: float = Field(description="Charge used for the field force, e.")
    shift: float = Field(
        description="Shift of the species' mean position along the field over the field "
        "stage, Å (mobile atoms, unwrapped)."
    )
    drift_velocity: float = Field(description="Mean drift velocity along the field, m/s.")


@dataclass
class ElectromigrationResult:
    """What :func:`analyse_electromigration` finds.

    ``density`` maps each species to its number density, 1/Å³ (frames, slabs along z).
    """

    times: np.ndarray
    z: np.ndarray
    density: dict[str, np.ndarray]
    field: float
    temperature: float
    drifts: list[SpeciesDrift]

    def stored_arrays(self) -> dict[str, ArraySpec]:
        """Arrays for the data store: ``name → (values, unit, description)``."""
        arrays = {
            "time": (self.times, "ps", "time of each analysed frame"),
            "z": (self.z, "Å", "slab centres along z"),
        }
        for sp, values in self.density.items():
            arrays[f"density_{sp}"] = (values, "1/Å³", f"{sp} number density (frames, slabs)")
        return arrays


@register_analysis("electromigration", "scenario")
def analyse_electromigration(
    run: RunData, settings: AnalysisSettings, field_stage: str = "field"
) -> ElectromigrationResult:
    """Species density profiles and drifts over the field stage (and the state before it).

    Parameters
    ----------
    run
        The MD run.
    settings
        Analysis settings.
    field_stage
        Name of the stage with the electric field.
    """
    from gst_flows.analysis.device import mean_shift, species_density_profiles
    from gst_flows.md.protocol import ElectricField

    protocol = run.protocol
    action = protocol.stage(field_stage).actions_of(ElectricField)[0]
    unit = action.unit_vector()
    frames = select_frames(run, settings.frame_stride, [field_stage])
    first_end = stage_end_steps(protocol)[protocol.stages[0].name]
    before = [f for f in run.frames if int(f.info["step"]) == first_end]
    frames = before[:1] + frames if protocol.stages[0].name != field_stage else frames
    profiles = [species_density_profiles(f, "z", settings.bin_size) for f in frames]
    times = frame_times_ps(frames)
    mobile = ~np.asarray(frames[0].arrays["fixed"], bool)
    symbols = np.array(frames[0].get_chemical_symbols())
    drifts = []
    span = times[-1] - times[0]
    for symbol in sorted(set(symbols[mobile])):
        shift = float(mean_shift(frames, mobile & (symbols == symbol), unit)[-1])
        drifts.append(
            SpeciesDrift(
                species=symbol,
                charge=float(action.charges.get(symbol, 0.0)),
                shift=shift,
                drift_velocity=shift / span * 100.0 if span > 0 else 0.0,
            )
        )
    return ElectromigrationResult(
        times=times,
        z=profiles[0][0],
        density={sp: np.array([p[1][sp] for p in profiles]) for sp in sorted(profiles[0][1])},
        field=float(action.strength),
        temperature=float(protocol.stage(field_stage).start_temperature or np.nan),
        drifts=drifts,
    )
