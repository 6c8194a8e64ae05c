"""What every scenario analysis reads and shares: the run, the settings, frames, k̄, the ledger.

:class:`RunData` is one MD run as the analyses see it (protocol, frames, thermodynamic series,
the engine's energy tallies); :class:`AnalysisSettings` the settings every scenario shares.
:func:`ledger_check` compares the energy a protocol asked for with what the run shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms
from monty.json import MSONable
from pydantic import BaseModel, Field

from gst_flows.analysis.crystallinity import DEFAULT_THRESHOLD, DEFAULT_ZETA
from gst_flows.md.protocol import Protocol
from gst_flows.md.units import ev_to_fj

__all__ = [
    "AnalysisSettings",
    "ArraySpec",
    "LedgerCheck",
    "RunData",
    "StageLedger",
    "frame_kbar",
    "frame_times_ps",
    "ledger_check",
    "select_frames",
    "stage_end_steps",
]

#: An array for the data store: ``(values, unit, description)``.
ArraySpec = tuple[np.ndarray, str, str]


@dataclass
class AnalysisSettings(MSONable):
    """Settings shared by the scenario analyses.

    Parameters
    ----------
    threshold
        k̄ above which an atom is crystalline (default: the calibrated
        :data:`~gst_flows.analysis.crystallinity.DEFAULT_THRESHOLD`).
    zeta
        Exponent of the SOAP kernel of k̄ (default: the calibrated
        :data:`~gst_flows.analysis.crystallinity.DEFAULT_ZETA`).
    frame_stride
        Analyse every ``frame_stride``-th saved frame (stage ends are always kept).
    bin_size
        Bin width of profiles and maps, Å.
    sigma
        Standard deviation of the Gaussian smoothing of temperature maps and profiles, Å
        (10 Å = the published 1.0 nm).
    kbar_frames
        Largest number of frames written to the k̄ extxyz file (at least one; evenly spread,
        first and last included; None for all analysed frames).
    formats
        Figure file formats.
    chunk_bytes
        Largest stored part of an array, bytes.
    """

    threshold: float = DEFAULT_THRESHOLD
    zeta: float = DEFAULT_ZETA
    frame_stride: int = 1
    bin_size: float = 5.0
    sigma: float = 10.0
    kbar_frames: int | None = None
    formats: tuple[str, ...] = ("png", "pdf")
    chunk_bytes: int = 8_000_000

    def __post_init__(self) -> None:
        self.formats = tuple(self.formats)


@dataclass
class RunData:
    """One MD run as the scenario analyses read it.

    Parameters
    ----------
    protocol
        The protocol that ran.
    frames
        Saved frames, with ``step``, ``time_fs`` and ``stage_name`` in ``info``.
    thermo
        The full thermodynamic series (columns of :data:`gst_flows.md.results.THERMO_COLUMNS`).
    injected, removed
        Energy the engine injected and removed over the run, eV.
    stages_run
        Names of the stages that ran (that have a stage summary).
    n_atoms
        Atoms in the cell.
    """

    protocol: Protocol
    frames: list[Atoms]
    thermo: dict[str, np.ndarray]
    injected: float
    removed: float
    stages_run: tuple[str, ...]
    n_atoms: int


def stage_end_steps(protocol: Protocol) -> dict[str, int]:
    """Global step at which each stage of ``protocol`` ends."""
    starts = protocol.stage_start_steps()
    return {s.name: start + s.n_steps for s, start in zip(protocol.stages, starts, strict=True)}


def select_frames(run: RunData, stride: int = 1, stages: Sequence[str] | None = None) -> list[Atoms]:
    """Saved frames of ``run``: every ``stride``-th, and the stage ends.

    Only frames of ``stages`` when given; duplicate steps are dropped.
    """
    ends = set(stage_end_steps(run.protocol).values())
    out, seen = [], set()
    for k, frame in enumerate(run.frames):
        step = int(frame.info.get("step", 0))
        if step in seen:
            continue
        if stages is not None and frame.info.get("stage_name") not in stages:
            continue
        if k % max(1, stride) == 0 or step in ends:
            seen.add(step)
            out.append(frame)
    return out


def frame_kbar(frames: Sequence[Atoms], zeta: float, reference: Atoms | None = None) -> list[np.ndarray]:
    """k̄ of every frame (reference environments computed once)."""
    from gst_flows.analysis.crystallinity import crystallinity, prepare_reference

    if not frames:
        return []
    refs, soap = prepare_reference(frames[0], reference)
    return [crystallinity(f, refs, zeta=zeta, settings=soap) for f in frames]


def frame_times_ps(frames: Sequence[Atoms]) -> np.ndarray:
    """Simulated time of each frame, ps."""
    return np.array([float(f.info.get("time_fs", 0.0)) / 1000.0 for f in frames])


def _pair(a: float | None, b: float | None) -> str:
    return "n/a" if a is None or b is None else f"{a:.4g} / {b:.4g}"


class StageLedger(BaseModel):
    """One NVE stage that injects or removes energy: the plan and the measured change."""

    stage: str = Field(description="Stage name.")
    planned: float = Field(description="Energy the stage's actions add (negative: remove), eV.")
    measured: float = Field(
        description="Total (kinetic + potential) energy at the stage end minus that at its start, eV."
    )
    relative_error: float = Field(description="|measured - planned| / |planned|.")


class LedgerCheck(BaseModel):
    """Energy asked for by the protocol against the energy the engine put in and took out.

    ``requested`` is the plan; ``measured_injected`` is what the run's total energy
    (kinetic + potential, from the thermodynamic series) rose by across the injection stages.
    """

    requested: float = Field(description="Energy the protocol injects, eV.")
    requested_fj: float = Field(description="Energy the protocol injects, fJ.")
    injected: float = Field(description="Energy the engine injected, eV.")
    injected_fj: float = Field(description="Energy the engine injected, fJ.")
    removed: float = Field(0.0, description="Energy the engine removed, eV.")
    removed_fj: float = Field(0.0, description="Energy the engine removed, fJ.")
    relative_error: float = Field(description="|injected - requested| / requested (dimensionless).")
    total_energy_change: float | None = Field(
        None,
        description="Change of the total (kinetic + potential) energy over the NVE "
        "stages, eV; equals injected - removed up to the integration error.",
    )
    balance_error: float | None = Field(
        None, description="|total_energy_change - (injected - removed)| / injected (dimensionless)."
    )
    measured_injected: float | None = Field(
        None,
        description="Rise of the total energy across the NVE stages that inject, eV "
        "(None when no such stage).",
    )
    measured_injected_fj: float | None = Field(None, description="measured_injected in fJ.")
    measured_error: float | None = Field(
        None, description="|measured_injected - requested| / requested (dimensionless)."
    )
    measured_removed: float | None = Field(
        None,
        description="Fall of the total energy across the NVE stages that remove, eV "
        "(None when no such stage).",
    )
    stages: list[StageLedger] = Field(
        default_factory=list,
        description="Plan and measured change per NVE stage that injects or removes energy.",
    )

    def key_figures(self, removed: bool = False) -> dict[str, Any]:
        """Requested, injected, measured (and removed) energy in eV and fJ, and the error."""
        out = {
            "requested energy (eV / fJ)": _pair(self.requested, self.requested_fj),
            "injected energy (eV / fJ)": _pair(self.injected, self.injected_fj),
            "measured energy rise (eV / fJ)": _pair(self.measured_injected, self.measured_injected_fj),
        }
        if removed:
            out["removed energy (eV / fJ)"] = _pair(self.removed, self.removed_fj)
        out["ledger error"] = self.relative_error
        return out


def ledger_check(run: RunData) -> LedgerCheck:
    """Energy the protocol asked for against what the run's total energy shows.

    ``injected`` and ``removed`` are the engine's own tallies; ``measured_injected`` is
    the rise of the total (kinetic + potential) energy of the thermodynamic series across
    every NVE stage that injects, ``measured_removed`` its fall across every NVE stage
    that removes.
    """
    from gst_flows.analysis.device import energy_change

    protocol = run.protocol
    plan = protocol.energy_plan()
    requested = sum(p.injected for p in plan)
    injected, removed = run.injected, run.removed
    change = balance = None
    steps, etot = run.thermo.get("step", np.array([])), run.thermo.get("etot_ev", np.array([]))
    starts = protocol.stage_start_steps()
    nve = [
        start
        for stage, start in zip(protocol.stages, starts, strict=True)
        if stage.name in run.stages_run and stage.ensemble == "nve"
    ]
    if nve and len(steps):
        rows = np.flatnonzero(steps <= nve[0])
        start = etot[rows[-1]] if rows.size else etot[0]
        change = float(etot[-1] - start)
        if injected > 0:
            balance = abs(change - (injected - removed)) / injected
    stages = []
    measured = {"in": None, "out": None}
    for stage, energy, first in zip(protocol.stages, plan, starts, strict=True):
        planned = energy.injected - energy.removed
        if stage.ensemble != "nve" or planned == 0 or not len(steps):
            continue
        try:
            rise = energy_change(steps, etot, first, first + stage.n_steps)
        except ValueError:
            continue  # the run stopped before the stage ended
        stages.append(
            StageLedger(
                stage=stage.name,
                planned=planned,
                measured=rise,
                relative_error=abs(rise - planned) / abs(planned),
            )
        )
        key = "in" if planned > 0 else "out"
        measured[key] = (measured[key] or 0.0) + (rise if planned > 0 else -rise)
    rise = measured["in"]
    return LedgerCheck(
        requested=requested,
        requested_fj=ev_to_fj(requested),
        injected=injected,
        injected_fj=ev_to_fj(injected),
        removed=removed,
        removed_fj=ev_to_fj(removed),
        relative_error=abs(injected - requested) / requested if requested else 0.0,
        total_energy_change=change,
        balance_error=balance,
        measured_injected=rise,
        measured_injected_fj=None if rise is None else ev_to_fj(rise),
        measured_error=None if rise is None or not requested else abs(rise - requested) / requested,
        measured_removed=measured["out"],
        stages=stages,
    )
