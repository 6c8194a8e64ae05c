"""RESET scenarios: the mushroom-cell pulse and the cross-point melt–quench.

:func:`analyse_mushroom_reset` gives xz temperature maps, the disordered base length from k̄,
the barrier crossings, the pulse pressures and the energy ledger; :func:`analyse_cross_point`
gives T(z, t), k̄ by height, the RDF of the central region over time and the energy ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms

from gst_flows.analysis.registry import register_analysis
from gst_flows.analysis.scenarios.common import (
    AnalysisSettings,
    ArraySpec,
    LedgerCheck,
    RunData,
    frame_kbar,
    frame_times_ps,
    ledger_check,
    select_frames,
    stage_end_steps,
)

__all__ = [
    "CrossPointResult",
    "MushroomResetResult",
    "analyse_cross_point",
    "analyse_mushroom_reset",
    "pulse_pressures",
]


@dataclass
class MushroomResetResult:
    """What :func:`analyse_mushroom_reset` finds.

    Scalars are named as the fields of
    :class:`~gst_flows.schemas.scenarios.MushroomResetDoc`; ``frames``, ``kbar``, ``maps``
    and ``bases`` are the per-frame results behind the arrays and figures.
    """

    frames: list[Atoms]
    kbar: list[np.ndarray]
    times: np.ndarray
    maps: list[Any]
    map_shift: float
    bases: list[Any]
    crossings: np.ndarray
    n_focal_atoms: int
    energy_check: LedgerCheck
    peak_temperature: float
    base_length: float
    max_base_length: float
    barrier_crossings: int
    pressure_before: float | None = None
    pressure_after: float | None = None
    focal_pressure_before: float | None = None
    focal_pressure_after: float | None = None

    def stored_arrays(self) -> dict[str, ArraySpec]:
        """Arrays for the data store: ``name → (values, unit, description)``."""
        return {
            "time": (self.times, "ps", "time of each analysed frame"),
            "barrier_crossings": (
                self.crossings,
                "atoms",
                "mobile atoms through the fixed barrier (or out of an open cell) per frame",
            ),
            "temperature_map": (
                np.array([m.temperature for m in self.maps]),
                "K",
                "smoothed temperature (frames, x bins, z bins)",
            ),
            "map_x": (self.maps[0].edges[0], "Å", "bin edges along x"),
            "map_z": (self.maps[0].edges[1] - self.map_shift, "Å", "bin edges along z"),
            "base_length": (
                np.array([b.length for b in self.bases]),
                "Å",
                "disordered base length per frame",
            ),
            "base_share": (
                np.array([b.disordered_fraction for b in self.bases]),
                "",
                "disordered share of the bottom layer per x bin (frames, bins)",
            ),
            "mean_kbar": (np.array([k.mean() for k in self.kbar]), "", "mean k̄ per frame"),
        }


@register_analysis("mushroom-reset", "scenario")
def analyse_mushroom_reset(
    run: RunData,
    settings: AnalysisSettings,
    pulse_stage: str = "pulse",
    stress_calculator: Any = None,
) -> MushroomResetResult:
    """Analyse the RESET run of a mushroom cell.

    Parameters
    ----------
    run
        The MD run.
    settings
        Analysis settings.
    pulse_stage
        Name of the stage that injects the energy.
    stress_calculator
        ASE calculator of the run's potential with per-atom stresses, for the pressure of the
        focal region (None: not computed).
    """
    from gst_flows.analysis.device import barrier_crossings, disordered_base_length
    from gst_flows.analysis.temperature import temperature_map
    from gst_flows.structures.cells import boundary_gap_shift, open_along_z

    frames = select_frames(run, settings.frame_stride)
    s = settings
    # the map is cut at the periodic z boundary half-way between the top of the fixed
    # barrier and the bottom layer, and not smoothed across it: heat crosses only
    # through the barrier, which holds none
    shift = boundary_gap_shift(frames[0])
    maps = [temperature_map(open_along_z(f, shift), "xz", s.bin_size, s.sigma) for f in frames]
    kbars = frame_kbar(frames, s.zeta)
    mobile = ~np.asarray(frames[0].arrays["fixed"], bool)
    centre = float(frames[0].cell.lengths()[0] / 2)
    bases = [
        disordered_base_length(f, k, s.threshold, bin_size=min(3.0, s.bin_size), centre=centre, mask=mobile)
        for f, k in zip(frames, kbars, strict=True)
    ]
    region = np.asarray(frames[0].arrays["region"]) == 1
    crossings = barrier_crossings(frames, ~mobile)
    return MushroomResetResult(
        frames=frames,
        kbar=kbars,
        times=frame_times_ps(frames),
        maps=maps,
        map_shift=shift,
        bases=bases,
        crossings=crossings,
        n_focal_atoms=int((region & mobile).sum()),
        energy_check=ledger_check(run),
        peak_temperature=float(np.nanmax(np.array([m.temperature for m in maps]))),
        base_length=bases[-1].length,
        max_base_length=max(b.length for b in bases),
        barrier_crossings=int(crossings.max()),
        **pulse_pressures(run, pulse_stage, region & mobile, stress_calculator),
    )


def pulse_pressures(
    run: RunData, stage: str, focal: np.ndarray, calculator: Any = None
) -> dict[str, float | None]:
    """Pressure of the cell and of the focal region at the start and end of a stage, GPa.

    The cell's from the thermodynamic series; the focal region's from its atoms' velocities
    and the per-atom stresses of ``calculator`` (None without a calculator).

    Returns
    -------
    dict
        ``pressure_before``, ``pressure_after``, ``focal_pressure_before``,
        ``focal_pressure_after``.
    """
    from gst_flows.analysis.device import per_atom_virials, region_pressure

    protocol = run.protocol
    first = protocol.stage_start_steps()[protocol.stages.index(protocol.stage(stage))]
    steps = (first, first + protocol.stage(stage).n_steps)
    series = run.thermo
    out: dict[str, float | None] = {}
    for key, step in zip(("before", "after"), steps, strict=True):
        rows = np.flatnonzero(series["step"] == step)
        out[f"pressure_{key}"] = float(series["pressure_gpa"][rows[-1]]) if rows.size else None
        out[f"focal_pressure_{key}"] = None
    if calculator is None:
        return out
    by_step = {int(f.info["step"]): f for f in run.frames}
    for key, step in zip(("before", "after"), steps, strict=True):
        if step in by_step:
            frame = by_step[step].copy()
            frame.set_velocities(by_step[step].get_velocities())
            frame.calc = calculator
            out[f"focal_pressure_{key}"] = region_pressure(frame, focal, per_atom_virials(frame))
    return out


@dataclass
class CrossPointResult:
    """What :func:`analyse_cross_point` finds.

    Scalars are named as the fields of :class:`~gst_flows.schemas.scenarios.CrossPointDoc`;
    the arrays hold T(z, t), k̄ by height and the RDF of the central region.
    """

    frames: list[Atoms]
    kbar: list[np.ndarray]
    times: np.ndarray
    z: np.ndarray
    temperature_zt: np.ndarray
    kbar_z: np.ndarray
    kbar_zt: np.ndarray
    rdf_r: np.ndarray
    rdf_central: np.ndarray
    energy_check: LedgerCheck
    peak_temperature: float
    molten_fraction: float
    final_mean_kbar: float
    central_fraction: float
    central_thickness: float

    def stored_arrays(self) -> dict[str, ArraySpec]:
        """Arrays for the data store: ``name → (values, unit, description)``."""
        return {
            "time": (self.times, "ps", "time of each analysed frame"),
            "z": (self.z, "Å", "slab centres along z"),
            "temperature_zt": (self.temperature_zt, "K", "smoothed slab temperature (frames, slabs)"),
            "kbar_zt": (self.kbar_zt, "", "mean k̄ per slab (frames, slabs)"),
            "rdf_r": (self.rdf_r, "Å", "RDF bin centres"),
            "rdf_central": (self.rdf_central, "", "g(r) of the central region (frames, bins)"),
        }


@register_analysis("cross-point", "scenario")
def analyse_cross_point(
    run: RunData,
    settings: AnalysisSettings,
    pulse_stage: str = "pulse",
    composition: str = "Ge1Sb2Te4",
    central_thickness: float = 200.0,
    rdf_r_max: float = 8.0,
) -> CrossPointResult:
    """Analyse the melt–quench run of a cross-point cell.

    Parameters
    ----------
    run
        The MD run.
    settings
        Analysis settings.
    pulse_stage
        Name of the heating-pulse stage.
    composition
        Composition of the layered crystal whose environments are k̄'s reference.
    central_thickness
        Thickness of the central region of the RDF, Å.
    rdf_r_max
        Largest distance of the RDF, Å.
    """
    from gst_flows.analysis.device import binned_mean, central_mask, region_rdf
    from gst_flows.analysis.temperature import temperature_profile
    from gst_flows.structures import build_layered

    frames = select_frames(run, settings.frame_stride)
    s = settings
    profiles = [temperature_profile(f, "z", s.bin_size, s.sigma) for f in frames]
    reference = build_layered(composition, (2, 2, 3), cell="orthogonal")
    kbars = frame_kbar(frames, s.zeta, reference)
    heights = [binned_mean(f, k, "z", s.bin_size) for f, k in zip(frames, kbars, strict=True)]
    fraction = min(1.0, central_thickness / float(frames[0].cell.lengths()[2]))
    rdfs = [region_rdf(f, central_mask(f, "z", fraction), rdf_r_max) for f in frames]
    t_zt = np.array([p.temperature for p in profiles])
    k_zt = np.array([h[1] for h in heights])
    end = stage_end_steps(run.protocol)[pulse_stage]
    at_pulse_end = next((k for k, f in enumerate(frames) if int(f.info["step"]) == end), len(frames) - 1)
    return CrossPointResult(
        frames=frames,
        kbar=kbars,
        times=frame_times_ps(frames),
        z=profiles[0].centres[0],
        temperature_zt=t_zt,
        kbar_z=heights[0][0],
        kbar_zt=k_zt,
        rdf_r=rdfs[0][0],
        rdf_central=np.array([g[1] for g in rdfs]),
        energy_check=ledger_check(run),
        peak_temperature=float(np.nanmax(t_zt)),
        molten_fraction=float(np.nanmean(k_zt[at_pulse_end] < s.threshold)),
        final_mean_kbar=float(kbars[-1].mean()),
        central_fraction=fraction,
        central_thickness=central_thickness,
    )
