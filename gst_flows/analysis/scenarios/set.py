"""SET scenarios: crystal growth from a template, cumulative SET pulses, seeded grains.

:func:`analyse_set_crystallisation` fits the growth speed of the fronts of a crystallising
layer; :func:`analyse_cumulative_set` follows the crystalline fraction after every pulse of
every pulse train; :func:`analyse_polycrystalline_growth` fits each seed's front until its
grain touches another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from pydantic import BaseModel, Field

from gst_flows.analysis.growth import GrowthFit
from gst_flows.analysis.registry import register_analysis
from gst_flows.analysis.scenarios.common import (
    AnalysisSettings,
    ArraySpec,
    RunData,
    frame_kbar,
    frame_times_ps,
    select_frames,
    stage_end_steps,
)
from gst_flows.md.protocol import Protocol

__all__ = [
    "CumulativeSetResult",
    "Grain",
    "PolycrystallineGrowthResult",
    "Pulse",
    "SetCrystallisationResult",
    "analyse_cumulative_set",
    "analyse_polycrystalline_growth",
    "analyse_set_crystallisation",
]


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


# --------------------------------------------------------------------------- SET crystallisation


@dataclass
class SetCrystallisationResult:
    """What :func:`analyse_set_crystallisation` finds.

    Scalars are named as the fields of
    :class:`~gst_flows.schemas.scenarios.SetCrystallisationDoc`.
    """

    frames: list[Atoms]
    kbar: list[np.ndarray]
    times: np.ndarray
    fraction: np.ndarray
    thickness: np.ndarray
    profile_z: np.ndarray
    profiles: np.ndarray
    fit: GrowthFit | None
    growth_speed: float | None
    growth_speed_stderr: float | None
    initial_fraction: float
    final_fraction: float

    def stored_arrays(self) -> dict[str, ArraySpec]:
        """Arrays for the data store: ``name → (values, unit, description)``."""
        return {
            "time": (self.times, "ps", "time of each analysed frame"),
            "crystalline_fraction": (self.fraction, "", "crystalline share of the amorphous region"),
            "thickness": (self.thickness, "Å", "equivalent crystalline thickness"),
            "profile_z": (self.profile_z, "Å", "slab centres along z"),
            "profiles": (self.profiles, "", "crystalline share per slab (frames, slabs)"),
            "mean_kbar": (np.array([k.mean() for k in self.kbar]), "", "mean k̄ per frame"),
        }


@register_analysis("set-crystallisation", "scenario")
def analyse_set_crystallisation(
    run: RunData, settings: AnalysisSettings, anneal_stage: str = "anneal"
) -> SetCrystallisationResult:
    """Analyse the anneal stage of a crystallisation cell: k̄, profiles, growth speed.

    Parameters
    ----------
    run
        The MD run.
    settings
        Analysis settings.
    anneal_stage
        Name of the stage in which the crystal grows (from both faces of the template).
    """
    from gst_flows.analysis.growth import crystalline_profile, crystalline_thickness, growth_speed

    frames = select_frames(run, settings.frame_stride, [anneal_stage])
    kbars = frame_kbar(frames, settings.zeta)
    thr = settings.threshold
    times = frame_times_ps(frames)
    amorphous = np.asarray(frames[0].arrays["region"]) == 1
    fraction = np.array([float(np.mean(k[amorphous] > thr)) for k in kbars])
    thickness = np.array([crystalline_thickness(f, k > thr) for f, k in zip(frames, kbars, strict=True)])
    profiles = [
        crystalline_profile(f, k > thr, "z", settings.bin_size) for f, k in zip(frames, kbars, strict=True)
    ]
    fit = None
    if len(times) >= 2 and np.ptp(times) > 0:
        fit = growth_speed(times - times[0], thickness, n_fronts=2)
    return SetCrystallisationResult(
        frames=frames,
        kbar=kbars,
        times=times,
        fraction=fraction,
        thickness=thickness,
        profile_z=profiles[0][0],
        profiles=np.array([p[1] for p in profiles]),
        fit=fit,
        growth_speed=None if fit is None else fit.speed,
        growth_speed_stderr=None if fit is None else _finite(fit.stderr),
        initial_fraction=float(fraction[0]),
        final_fraction=float(fraction[-1]),
    )


# --------------------------------------------------------------------------- cumulative SET


class Pulse(BaseModel):
    """Crystallinity after one SET pulse."""

    pulse_type: str = Field(description="Label of the pulse type, e.g. '650 K x 100 ps'.")
    index: int = Field(description="Pulse number within its train (1, 2, ...).")
    temperature: float = Field(description="Pulse temperature, K.")
    duration: float = Field(description="Pulse length, ps.")
    cumulative_time: float = Field(description="Pulse time so far, ps.")
    crystalline_fraction: float = Field(
        description="Crystalline fraction of the cell's middle (region 1) after the pulse "
        "(after the cooling that follows it, when there is one)."
    )
    mean_kbar: float = Field(description="Mean k̄ of the cell after the pulse.")
    pulse_temperature_measured: float | None = Field(
        None,
        description="Mean kinetic temperature of the mobile atoms (from their velocities) "
        "over the second half of the pulse, K.",
    )
    rest_temperature_measured: float | None = Field(
        None,
        description="Mean kinetic temperature of the mobile atoms over the second half "
        "of the cooling after the pulse, K; None without cooling.",
    )


@dataclass
class CumulativeSetResult:
    """What :func:`analyse_cumulative_set` finds.

    ``series`` maps each pulse type to (cumulative pulse time, ps; crystalline fraction), the
    RESET state first; ``frames`` and ``kbar`` hold each train's analysed frames.
    """

    reset_fraction: list[float]
    pulses: list[Pulse]
    series: dict[str, tuple[np.ndarray, np.ndarray]]
    frames: list[list[Atoms]]
    kbar: list[list[np.ndarray]]

    def stored_arrays(self) -> dict[str, ArraySpec]:
        """Arrays for the data store: ``name → (values, unit, description)``."""
        arrays = {}
        for k, (label, (t, f)) in enumerate(self.series.items()):
            arrays[f"pulse_time_{k}"] = (t, "ps", f"cumulative pulse time, {label}")
            arrays[f"fraction_{k}"] = (f, "", f"crystalline fraction after each pulse, {label}")
        return arrays


@register_analysis("cumulative-set", "scenario")
def analyse_cumulative_set(
    runs: Sequence[RunData], settings: AnalysisSettings, labels: Sequence[str]
) -> CumulativeSetResult:
    """Crystallinity of the cell's middle (``region`` 1) after each SET pulse of each train.

    Parameters
    ----------
    runs
        One MD run per pulse type (a RESET, then SET pulses tagged ``set``, each optionally
        followed by a cooling stage tagged ``rest``).
    settings
        Analysis settings.
    labels
        Pulse-type labels, in the order of ``runs``.
    """
    thr = settings.threshold
    pulses: list[Pulse] = []
    resets: list[float] = []
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    all_frames, all_kbars = [], []
    for label, run in zip(labels, runs, strict=True):
        protocol = run.protocol
        ends = stage_end_steps(protocol)
        by_step = {int(f.info["step"]): f for f in run.frames}
        reset_stages = [s.name for s in protocol.stages if s.tag == "reset"]
        set_stages = [s for s in protocol.stages if s.tag == "set"]
        rests = _rest_after(protocol)
        picked = [by_step[ends[reset_stages[-1]]]] if reset_stages else [by_step[0]]
        picked += [by_step[ends[rests.get(s.name, s.name)]] for s in set_stages]
        kbars = frame_kbar(picked, settings.zeta)
        middle = np.asarray(picked[0].arrays["region"]) == 1
        fractions = [float(np.mean(k[middle] > thr)) for k in kbars]
        resets.append(fractions[0])
        cumulative = 0.0
        times, values = [0.0], [fractions[0]]
        for index, (stage, k, frac) in enumerate(
            zip(set_stages, kbars[1:], fractions[1:], strict=True), start=1
        ):
            cumulative += stage.duration / 1000.0
            rest = rests.get(stage.name)
            pulses.append(
                Pulse(
                    pulse_type=label,
                    index=index,
                    temperature=float(stage.start_temperature),
                    duration=stage.duration / 1000.0,
                    cumulative_time=cumulative,
                    crystalline_fraction=frac,
                    mean_kbar=float(k.mean()),
                    pulse_temperature_measured=_late_temperature(run.thermo, protocol, stage.name),
                    rest_temperature_measured=None
                    if rest is None
                    else _late_temperature(run.thermo, protocol, rest),
                )
            )
            times.append(cumulative)
            values.append(frac)
        series[label] = (np.array(times), np.array(values))
        all_frames.append(picked)
        all_kbars.append(kbars)
    return CumulativeSetResult(resets, pulses, series, all_frames, all_kbars)


def _rest_after(protocol: Protocol) -> dict[str, str]:
    """Name of the cooling (``rest``) stage right after each SET stage that has one."""
    from itertools import pairwise

    return {a.name: b.name for a, b in pairwise(protocol.stages) if a.tag == "set" and b.tag == "rest"}


def _late_temperature(thermo: dict[str, np.ndarray], protocol: Protocol, name: str) -> float | None:
    """Mean measured temperature over the second half of a stage, K (None without rows)."""
    index = [s.name for s in protocol.stages].index(name)
    start = protocol.stage_start_steps()[index]
    end = start + protocol.stages[index].n_steps
    rows = (thermo["step"] >= (start + end) / 2) & (thermo["step"] <= end)
    return float(np.mean(thermo["temperature_k"][rows])) if rows.any() else None


# --------------------------------------------------------------------------- seeded grains


class Grain(BaseModel):
    """Growth of one seeded grain."""

    seed_id: int = Field(description="Seed index.")
    initial_atoms: int = Field(description="Atoms in the grain at the start of growth.")
    final_atoms: int = Field(description="Atoms in the grain at the end.")
    growth_speed: float | None = Field(
        None,
        description="Speed of the grain's equivalent-sphere radius before it touches "
        "another grain, m/s (None with fewer than three frames before contact).",
    )
    growth_speed_stderr: float | None = Field(None, description="Standard error, m/s.")
    r_squared: float | None = Field(
        None, description="Coefficient of determination of the linear fit of the radius."
    )
    contact_time: float | None = Field(
        None,
        description="First analysed time at which the grain touches another grain, ps "
        "from the start of growth (None: never).",
    )
    fit_end: float | None = Field(None, description="End of the fitted window, ps from the start of growth.")


@dataclass
class PolycrystallineGrowthResult:
    """What :func:`analyse_polycrystalline_growth` finds.

    Scalars are named as the fields of
    :class:`~gst_flows.schemas.scenarios.PolycrystallineGrowthDoc`; ``fits`` holds each
    seed's radius fit (None where there was none).
    """

    frames: list[Atoms]
    kbar: list[np.ndarray]
    times: np.ndarray
    sizes: np.ndarray
    radii: np.ndarray
    contact: np.ndarray
    n_grains: np.ndarray
    fits: list[GrowthFit | None]
    grains: list[Grain]
    mean_growth_speed: float | None
    final_fraction: float
    final_grains: int

    def stored_arrays(self) -> dict[str, ArraySpec]:
        """Arrays for the data store: ``name → (values, unit, description)``."""
        return {
            "time": (self.times, "ps", "time of each analysed frame"),
            "grain_atoms": (self.sizes, "atoms", "grain size per seed (frames, seeds)"),
            "grain_radius": (self.radii, "Å", "equivalent-sphere radius (frames, seeds)"),
            "grain_contact": (
                self.contact.astype(np.int8),
                "",
                "1 where a seed's grain touches another (frames, seeds)",
            ),
            "n_grains": (self.n_grains, "", "distinct seeded grains per frame (merged grains counted once)"),
        }


@register_analysis("polycrystalline-growth", "scenario")
def analyse_polycrystalline_growth(
    run: RunData, settings: AnalysisSettings, grow_stage: str = "grow"
) -> PolycrystallineGrowthResult:
    """Grain sizes of each seed over the growth stage, and their growth speeds.

    Parameters
    ----------
    run
        The MD run (frames carry ``seed_id``).
    settings
        Analysis settings.
    grow_stage
        Name of the stage in which the grains grow.
    """
    from gst_flows.analysis.bonds import number_density
    from gst_flows.analysis.growth import equivalent_radius, fit_before_contact, track_seeds

    frames = select_frames(run, settings.frame_stride, [grow_stage])
    kbars = frame_kbar(frames, settings.zeta)
    thr = settings.threshold
    seed_id = np.asarray(frames[0].arrays["seed_id"])
    seeds = [np.flatnonzero(seed_id == s) for s in range(int(seed_id.max()) + 1)]
    # each seed's front separately, fitted only until its grain touches another
    tracks = track_seeds(frames, [k > thr for k in kbars], seeds)
    sizes = tracks.sizes
    radii = equivalent_radius(sizes, number_density(frames[0]))
    times = frame_times_ps(frames)
    elapsed = times - times[0]
    contact = tracks.contact_frame()
    grains, fits = [], []
    for s in range(len(seeds)):
        fit, end = fit_before_contact(elapsed, radii[:, s], int(contact[s]))
        fits.append(fit)
        grains.append(
            Grain(
                seed_id=s,
                initial_atoms=int(sizes[0, s]),
                final_atoms=int(sizes[-1, s]),
                growth_speed=None if fit is None else fit.speed,
                growth_speed_stderr=None if fit is None else _finite(fit.stderr),
                r_squared=None if fit is None else _finite(fit.r_squared),
                contact_time=None if contact[s] < 0 else float(elapsed[contact[s]]),
                fit_end=None if fit is None else end,
            )
        )
    speeds = [g.growth_speed for g in grains if g.growth_speed is not None]
    return PolycrystallineGrowthResult(
        frames=frames,
        kbar=kbars,
        times=times,
        sizes=sizes,
        radii=radii,
        contact=tracks.contact,
        n_grains=tracks.n_grains,
        fits=fits,
        grains=grains,
        mean_growth_speed=float(np.mean(speeds)) if speeds else None,
        final_fraction=float(np.mean(kbars[-1] > thr)),
        final_grains=int(tracks.n_grains[-1]),
    )
