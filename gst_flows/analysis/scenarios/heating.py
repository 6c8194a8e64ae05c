"""Heating series: onset of disorder and density against temperature, and its spread per size."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms
from pydantic import BaseModel, Field

from gst_flows.analysis.registry import register_analysis
from gst_flows.analysis.scenarios.common import (
    AnalysisSettings,
    ArraySpec,
    RunData,
    frame_kbar,
    select_frames,
)
from gst_flows.md.protocol import Protocol

__all__ = ["HeatingRun", "HeatingSeriesResult", "HeatingSize", "analyse_heating_series", "target_temperature"]


class HeatingRun(BaseModel):
    """One heating run."""

    label: str = Field(description="Run label, e.g. 'npt n=3 run 1'.")
    ensemble: str = Field(description="nvt, npt or nve.")
    supercell: int = Field(description="n of the n × n × n rock-salt supercell.")
    n_atoms: int = Field(description="Atoms.")
    seed: int = Field(description="Seed of the cation sublattice and the velocities.")
    onset_temperature: float | None = Field(
        None,
        description="Onset of disorder: temperature where the crystalline fraction "
        "drops half-way, K (None when it does not drop).",
    )
    initial_density: float | None = Field(None, description="Density at the start, g/cm³.")
    final_density: float | None = Field(None, description="Density at the end, g/cm³.")


class HeatingSize(BaseModel):
    """Onset temperatures of one size and ensemble over the independent runs."""

    ensemble: str = Field(description="nvt, npt or nve.")
    supercell: int = Field(description="n of the n × n × n supercell.")
    n_atoms: int = Field(description="Atoms.")
    n_runs: int = Field(description="Independent runs.")
    mean_onset: float | None = Field(None, description="Mean onset temperature, K.")
    spread_onset: float | None = Field(
        None, description="Standard deviation of the onset temperature over runs, K."
    )


@dataclass
class HeatingSeriesResult:
    """What :func:`analyse_heating_series` finds.

    ``curves`` holds per run the frame temperatures, crystalline fractions and the density
    series that the figure draws.
    """

    runs: list[HeatingRun]
    sizes: list[HeatingSize]
    curves: list[dict[str, Any]]

    def stored_arrays(self) -> dict[str, ArraySpec]:
        """Arrays for the data store: ``name → (values, unit, description)``."""
        arrays = {}
        for k, curve in enumerate(self.curves):
            label = curve["label"]
            arrays[f"temperature_{k}"] = (curve["temperature"], "K", f"frame temperatures, {label}")
            arrays[f"fraction_{k}"] = (curve["fraction"], "", f"crystalline fraction, {label}")
            arrays[f"density_{k}"] = (
                np.c_[curve["density_temperature"], curve["density"]],
                "K, g/cm³",
                f"target temperature and density, {label}",
            )
        return arrays


def target_temperature(protocol: Protocol, frame: Atoms) -> float:
    """Thermostat target at a frame's step (the heating ramp), K (NaN without one)."""
    step = int(frame.info.get("step", 0))
    for stage, start in zip(protocol.stages, protocol.stage_start_steps(), strict=True):
        if step <= start + stage.n_steps:
            value = stage.temperature_at_step(step - start)
            return float("nan") if value is None else float(value)
    return float("nan")


@register_analysis("heating-series", "scenario")
def analyse_heating_series(
    runs: Sequence[RunData], settings: AnalysisSettings, info: Sequence[Mapping[str, Any]]
) -> HeatingSeriesResult:
    """Onset of disorder and density against temperature for every run; spread per size.

    Parameters
    ----------
    runs
        The MD runs.
    settings
        Analysis settings.
    info
        Per run, in the order of ``runs``: ``label``, ``ensemble``, ``supercell`` (n), ``seed``.
    """
    from gst_flows.analysis.device import onset_temperature

    thr = settings.threshold
    run_docs, curves = [], []
    for meta, run in zip(info, runs, strict=True):
        frames = select_frames(run, settings.frame_stride)
        kbars = frame_kbar(frames, settings.zeta)
        # the thermostat's target; in NVE (no thermostat) the measured temperature
        temperature = np.array([target_temperature(run.protocol, f) for f in frames])
        measured = np.array([f.get_temperature() for f in frames])  # from velocities
        temperature = np.where(np.isfinite(temperature), temperature, measured)
        fraction = np.array([float(np.mean(kb > thr)) for kb in kbars])
        series = run.thermo
        t_series, rho = series["target_temperature_k"], series["density_g_cm3"]
        t_series = np.where(np.isfinite(t_series), t_series, series["temperature_k"])
        onset = onset_temperature(temperature, fraction)
        run_docs.append(
            HeatingRun(
                label=meta["label"],
                ensemble=meta["ensemble"],
                supercell=int(meta["supercell"]),
                n_atoms=run.n_atoms,
                seed=int(meta["seed"]),
                onset_temperature=None if not np.isfinite(onset) else float(onset),
                initial_density=float(rho[0]),
                final_density=float(rho[-1]),
            )
        )
        curves.append(
            {
                "label": meta["label"],
                "ensemble": meta["ensemble"],
                "n_atoms": run.n_atoms,
                "temperature": temperature,
                "fraction": fraction,
                "density_temperature": t_series,
                "density": rho,
                "onset": onset,
            }
        )
    sizes = []
    for key in dict.fromkeys((r.ensemble, r.supercell) for r in run_docs):
        members = [r for r in run_docs if (r.ensemble, r.supercell) == key]
        onsets = [r.onset_temperature for r in members if r.onset_temperature is not None]
        sizes.append(
            HeatingSize(
                ensemble=key[0],
                supercell=key[1],
                n_atoms=members[0].n_atoms,
                n_runs=len(members),
                mean_onset=float(np.mean(onsets)) if onsets else None,
                spread_onset=float(np.std(onsets)) if len(onsets) > 1 else None,
            )
        )
    return HeatingSeriesResult(run_docs, sizes, curves)
