"""Job makers of the device scenarios: the MD run of a scenario cell and its analyses.

:class:`ScenarioMDMaker` is a :class:`~gst_flows.makers.md.GapMDMaker` that takes a
:class:`CellSpec` (a builder name and its parameters) instead of a structure: the cell is built
inside the job, so a 532,980-atom cross-point cell never travels through the database as a job
input. Each scenario has an analysis maker (``analysis`` fworker category) that reads the MD
documents (frames and series from the data store), calls :mod:`gst_flows.analysis`, draws the
figures (:mod:`gst_flows.plotting.scenarios`), writes per-atom k̄ frames as extxyz, and returns
the scenario's document (:mod:`gst_flows.schemas.scenarios`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from jobflow import Maker, Response, job
from monty.json import MSONable
from pymatgen.core import Structure

from gst_flows.analysis.crystallinity import DEFAULT_THRESHOLD, DEFAULT_ZETA
from gst_flows.makers.md import GapMDMaker, as_md_doc, structure_to_atoms
from gst_flows.md.units import ev_to_fj
from gst_flows.schemas.md import EnergyLedgerDoc, MDDoc, PotentialDoc
from gst_flows.schemas.scenarios import (
    ArrayDoc,
    CrossPointDoc,
    CumulativeSetDoc,
    ElectromigrationDoc,
    FigureDoc,
    GrainDoc,
    HeatingRunDoc,
    HeatingSeriesDoc,
    HeatingSizeDoc,
    LedgerCheckDoc,
    MushroomResetDoc,
    PolycrystallineGrowthDoc,
    PulseDoc,
    SetCrystallisationDoc,
    SpeciesDriftDoc,
    StageLedgerDoc,
    array_docs,
)

__all__ = [
    "SEED_ARRAY",
    "AnalysisSettings",
    "CellSpec",
    "CrossPointAnalysisMaker",
    "CumulativeSetAnalysisMaker",
    "ElectromigrationAnalysisMaker",
    "HeatingSeriesAnalysisMaker",
    "MushroomResetAnalysisMaker",
    "PolycrystallineGrowthAnalysisMaker",
    "ScenarioAnalysisMaker",
    "ScenarioMDMaker",
    "SetCrystallisationAnalysisMaker",
]

_DATA = ["array_data"]

#: Per-atom array marking the atoms of crystalline seeds (see :attr:`CellSpec.mark_seeds`).
SEED_ARRAY = "seed_atom"


# --------------------------------------------------------------------------- cells


@dataclass
class CellSpec(MSONable):
    """How to build a scenario cell: a builder of :mod:`gst_flows.structures` and its arguments.

    Parameters
    ----------
    kind
        Builder name in :data:`gst_flows.structures.BUILDERS` (``mushroom``,
        ``cross-point``, ``crystallisation-cell``, ``heating-cell``, ``seeded``, ...).
    params
        Keyword parameters of the builder (``composition``, ``supercell``, ``seed``, ...).
    fixed_boundary_planes
        Atomic planes normal to z held fixed at the periodic z boundary (the lower half at the
        bottom, the rest at the top; they meet through the boundary): a blocking electrode
        for the electromigration cell. 0 leaves the builder's ``fixed`` array alone.
    mark_seeds
        Add a boolean per-atom array :data:`SEED_ARRAY` marking the atoms of crystalline
        seeds (``seed_id`` ≥ 0), so a protocol can hold them fixed.
    """

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    fixed_boundary_planes: int = 0
    mark_seeds: bool = False

    def build(self) -> Atoms:
        """Build the cell (role arrays ``fixed``, ``region``, ``seed_id`` set)."""
        from gst_flows.structures import build

        atoms = build(self.kind, **self.params)
        if self.fixed_boundary_planes:
            atoms.arrays["fixed"] = boundary_planes(atoms, self.fixed_boundary_planes)
        if self.mark_seeds:
            atoms.arrays[SEED_ARRAY] = np.asarray(atoms.arrays["seed_id"]) >= 0
        return atoms


def boundary_planes(atoms: Atoms, n_planes: int, tolerance: float = 0.3) -> np.ndarray:
    """Atoms of the ``n_planes`` atomic planes (normal to z) next to the periodic z boundary.

    Parameters
    ----------
    atoms
        Layered structure (planes normal to z).
    n_planes
        Planes to select: ``ceil(n/2)`` at the bottom and ``floor(n/2)`` at the top.
    tolerance
        Atoms within this height, Å, belong to one plane.

    Returns
    -------
    numpy.ndarray
        Boolean mask.
    """
    z = atoms.positions[:, 2]
    order = np.sort(z)
    starts = np.r_[order[0], order[1:][np.diff(order) > tolerance]]
    if n_planes >= len(starts):
        raise ValueError(f"{n_planes} boundary planes asked for, the cell has {len(starts)}")
    bottom = (n_planes + 1) // 2
    top = n_planes - bottom
    low = starts[bottom] - tolerance / 2
    high = starts[len(starts) - top] - tolerance / 2 if top else np.inf
    return (z < low) | (z >= high)


def cell_atoms(cell: CellSpec | Structure | Atoms | dict) -> Atoms:
    """Atoms of a cell given as a :class:`CellSpec`, a structure or their dictionaries."""
    if isinstance(cell, dict):
        cell = CellSpec.from_dict(cell) if "kind" in cell else Structure.from_dict(cell)
    if isinstance(cell, CellSpec):
        return cell.build()
    return structure_to_atoms(cell)


@dataclass
class ScenarioMDMaker(GapMDMaker):
    """The MD run of a scenario: builds its cell in the job, then runs like GapMDMaker.

    Same fields as :class:`~gst_flows.makers.md.GapMDMaker`; walltime stops continue in a
    chained job that rebuilds the cell from the same :class:`CellSpec`.
    """

    name: str = "scenario md"

    @job(output_schema=MDDoc, data=["frame_data", "thermo_data", "final_structure"])
    def make(self, cell: CellSpec | Structure | Atoms, restart_from: str | None = None) -> MDDoc | Response:
        """Build ``cell`` and run the protocol on it.

        Parameters
        ----------
        cell
            A :class:`CellSpec` (or a structure).
        restart_from
            Run directory of an earlier job of the same protocol to continue from.

        Returns
        -------
        MDDoc or Response
            The document, or a replacement job continuing the run after a walltime stop.
        """
        return self.run_protocol(cell_atoms(cell), cell, restart_from)


# --------------------------------------------------------------------------- analysis base


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


def stage_end_steps(doc: MDDoc) -> dict[str, int]:
    """Global step at which each stage of the run ends."""
    from gst_flows.md.protocol import Protocol

    protocol = Protocol.from_dict(doc.protocol)
    starts = protocol.stage_start_steps()
    return {s.name: start + s.n_steps for s, start in zip(protocol.stages, starts, strict=True)}


@dataclass
class ScenarioAnalysisMaker(Maker):
    """Base of the scenario analyses: common fields and helpers (no job of its own).

    Parameters
    ----------
    name
        Job name.
    scenario
        Scenario name recorded in the document.
    size
        Size preset recorded in the document.
    parameters
        Scenario parameters recorded in the document.
    settings
        Analysis settings.
    """

    name: str = "scenario analysis"
    scenario: str = ""
    size: str = "small"
    parameters: dict[str, Any] = field(default_factory=dict)
    settings: AnalysisSettings = field(default_factory=AnalysisSettings)

    fworker_category: ClassVar[str] = "analysis"

    # -- frames and k̄

    def frames(self, doc: MDDoc, stages: Sequence[str] | None = None) -> list[Atoms]:
        """Saved frames of ``doc``: every ``frame_stride``-th, and the stage ends.

        Only frames of ``stages`` when given; duplicate steps are dropped.
        """
        ends = set(stage_end_steps(doc).values())
        out, seen = [], set()
        for k, frame in enumerate(doc.frames()):
            step = int(frame.info.get("step", 0))
            if step in seen:
                continue
            if stages is not None and frame.info.get("stage_name") not in stages:
                continue
            if k % max(1, self.settings.frame_stride) == 0 or step in ends:
                seen.add(step)
                out.append(frame)
        return out

    def kbar(self, frames: Sequence[Atoms], reference: Atoms | None = None) -> list[np.ndarray]:
        """k̄ of every frame (reference environments computed once)."""
        from gst_flows.analysis.crystallinity import crystallinity, prepare_reference

        if not frames:
            return []
        refs, soap = prepare_reference(frames[0], reference)
        return [crystallinity(f, refs, zeta=self.settings.zeta, settings=soap) for f in frames]

    # -- outputs

    def figure(self, fig: Any, name: str, description: str = "") -> FigureDoc:
        """Save a matplotlib figure in ``figures/`` of the job directory."""
        from gst_flows.plotting.figures import save_figure

        paths = save_figure(fig, Path.cwd() / "figures" / name, formats=self.settings.formats)
        return FigureDoc(name=name, description=description, files=[str(p) for p in paths])

    def kbar_file(self, frames: Sequence[Atoms], kbars: Sequence[np.ndarray], name: str = "kbar") -> str:
        """Write frames with a per-atom ``kbar`` column (and ``crystalline``) as extxyz."""
        from gst_flows.analysis.io import write_kbar_extxyz

        index = np.arange(len(frames))
        limit = self.settings.kbar_frames
        if limit is not None and len(index) > max(limit, 1):
            index = np.unique(np.linspace(0, len(index) - 1, max(limit, 2)).round().astype(int))
            if limit <= 1:
                index = index[-1:]
        path = Path.cwd() / f"{name}.extxyz"
        chosen = []
        for k in index:
            frame = frames[k].copy()
            frame.calc = None
            for key in ("momenta",):
                frame.arrays.pop(key, None)
            chosen.append(frame)
        write_kbar_extxyz(path, chosen, [kbars[k] for k in index], threshold=self.settings.threshold)
        return str(path)

    def arrays(self, **items: tuple[np.ndarray, str, str]) -> list[ArrayDoc]:
        """``name=(values, unit, description)`` → array parts for the data store."""
        out: list[ArrayDoc] = []
        for name, (values, unit, description) in items.items():
            out += array_docs(name, np.asarray(values), unit, description, self.settings.chunk_bytes)
        return out

    def common(self, docs: Sequence[MDDoc]) -> dict[str, Any]:
        """Document fields shared by every scenario."""
        first = docs[0]
        return {
            "scenario": self.scenario,
            "name": self.name,
            "size": self.size,
            "parameters": self.parameters,
            "protocol_names": [d.protocol_name for d in docs],
            "protocols": [d.protocol for d in docs],
            "engine": first.engine,
            "potential": PotentialDoc(**first.potential.model_dump()),
            "formula": first.formula,
            "n_atoms": first.n_atoms,
            "n_runs": len(docs),
            "md_dirs": [d.dir_name or "" for d in docs],
            "ledger": EnergyLedgerDoc(**first.ledger.model_dump()),
            "dir_name": str(Path.cwd()),
        }

    @staticmethod
    def times_ps(frames: Sequence[Atoms]) -> np.ndarray:
        """Simulated time of each frame, ps."""
        return np.array([float(f.info.get("time_fs", 0.0)) / 1000.0 for f in frames])

    def ledger_check(self, doc: MDDoc) -> LedgerCheckDoc:
        """Energy the protocol asked for against what the run's total energy shows.

        ``injected`` and ``removed`` are the engine's own tallies; ``measured_injected`` is
        the rise of the total (kinetic + potential) energy of the thermodynamic series across
        every NVE stage that injects, ``measured_removed`` its fall across every NVE stage
        that removes.
        """
        from gst_flows.analysis.device import energy_change
        from gst_flows.md.protocol import Protocol

        protocol = Protocol.from_dict(doc.protocol)
        plan = protocol.energy_plan()
        requested = sum(p.injected for p in plan)
        injected, removed = doc.ledger.injected, doc.ledger.removed
        change = balance = None
        series = doc.thermo_series()
        steps, etot = series.get("step", np.array([])), series.get("etot_ev", np.array([]))
        nve = [s for s in doc.stages if s.ensemble == "nve"]
        if nve and len(steps):
            first = nve[0].start_step
            rows = np.flatnonzero(steps <= first)
            start = etot[rows[-1]] if rows.size else etot[0]
            change = float(etot[-1] - start)
            if injected > 0:
                balance = abs(change - (injected - removed)) / injected
        stages = []
        measured = {"in": None, "out": None}
        starts = protocol.stage_start_steps()
        for stage, energy, first in zip(protocol.stages, plan, starts, strict=True):
            planned = energy.injected - energy.removed
            if stage.ensemble != "nve" or planned == 0 or not len(steps):
                continue
            try:
                rise = energy_change(steps, etot, first, first + stage.n_steps)
            except ValueError:
                continue  # the run stopped before the stage ended
            stages.append(
                StageLedgerDoc(
                    stage=stage.name,
                    planned=planned,
                    measured=rise,
                    relative_error=abs(rise - planned) / abs(planned),
                )
            )
            key = "in" if planned > 0 else "out"
            measured[key] = (measured[key] or 0.0) + (rise if planned > 0 else -rise)
        rise = measured["in"]
        return LedgerCheckDoc(
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


# --------------------------------------------------------------------------- SET


@dataclass
class SetCrystallisationAnalysisMaker(ScenarioAnalysisMaker):
    """k̄ series, crystalline profiles along z and the growth speed of the anneal stage."""

    name: str = "set crystallisation analysis"
    scenario: str = "set-crystallisation"

    @job(output_schema=SetCrystallisationDoc, data=_DATA)
    def make(self, md_doc: MDDoc | dict, anneal_stage: str = "anneal") -> SetCrystallisationDoc:
        """Analyse the anneal stage of the run.

        Parameters
        ----------
        md_doc
            The MD document (frames loaded from the data store).
        anneal_stage
            Name of the stage in which the crystal grows.
        """
        from gst_flows.analysis.growth import (
            crystalline_profile,
            crystalline_thickness,
            growth_speed,
        )
        from gst_flows.plotting import scenarios as plots

        doc = as_md_doc(md_doc)
        frames = self.frames(doc, [anneal_stage])
        kbars = self.kbar(frames)
        thr = self.settings.threshold
        times = self.times_ps(frames)
        amorphous = np.asarray(frames[0].arrays["region"]) == 1
        fraction = np.array([float(np.mean(k[amorphous] > thr)) for k in kbars])
        thickness = np.array([crystalline_thickness(f, k > thr) for f, k in zip(frames, kbars, strict=True)])
        profiles = [
            crystalline_profile(f, k > thr, "z", self.settings.bin_size)
            for f, k in zip(frames, kbars, strict=True)
        ]
        fit = None
        if len(times) >= 2 and np.ptp(times) > 0:
            fit = growth_speed(times - times[0], thickness, n_fronts=2)
        figures = [
            self.figure(
                plots.plot_growth(times, fraction, thickness, fit, title="SET crystallisation"),
                "set_crystallisation",
                "crystalline fraction and thickness vs time",
            ),
            self.figure(
                plots.plot_profile_map(
                    times, profiles[0][0], np.array([p[1] for p in profiles]), label="crystalline share"
                ),
                "set_profiles",
                "crystalline share along z vs time",
            ),
        ]
        return SetCrystallisationDoc(
            **self.common([doc]),
            anneal_temperature=float(self.parameters.get("anneal_temperature", np.nan)),
            growth_speed=None if fit is None else fit.speed,
            growth_speed_stderr=None if fit is None or not np.isfinite(fit.stderr) else fit.stderr,
            initial_fraction=float(fraction[0]),
            final_fraction=float(fraction[-1]),
            figures=figures,
            kbar_files=[self.kbar_file(frames, kbars)],
            arrays=self.arrays(
                time=(times, "ps", "time of each analysed frame"),
                crystalline_fraction=(fraction, "", "crystalline share of the amorphous region"),
                thickness=(thickness, "Å", "equivalent crystalline thickness"),
                profile_z=(profiles[0][0], "Å", "slab centres along z"),
                profiles=(
                    np.array([p[1] for p in profiles]),
                    "",
                    "crystalline share per slab (frames, slabs)",
                ),
                mean_kbar=(np.array([k.mean() for k in kbars]), "", "mean k̄ per frame"),
            ),
        )


@dataclass
class CumulativeSetAnalysisMaker(ScenarioAnalysisMaker):
    """Crystallinity of the cell's middle (``region`` 1) after each SET pulse of each train."""

    name: str = "cumulative set analysis"
    scenario: str = "cumulative-set"

    @job(output_schema=CumulativeSetDoc, data=_DATA)
    def make(self, md_docs: list[MDDoc | dict], labels: list[str]) -> CumulativeSetDoc:
        """Analyse one run per pulse type.

        Parameters
        ----------
        md_docs
            MD documents, one per pulse type, in the order of ``labels``.
        labels
            Pulse-type labels.
        """
        from gst_flows.md.protocol import Protocol
        from gst_flows.plotting import scenarios as plots

        docs = [as_md_doc(d) for d in md_docs]
        thr = self.settings.threshold
        pulses: list[PulseDoc] = []
        resets: list[float] = []
        series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        kbar_files = []
        for label, doc in zip(labels, docs, strict=True):
            protocol = Protocol.from_dict(doc.protocol)
            ends = stage_end_steps(doc)
            by_step = {int(f.info["step"]): f for f in doc.frames()}
            reset_stages = [s.name for s in protocol.stages if s.tag == "reset"]
            set_stages = [s for s in protocol.stages if s.tag == "set"]
            rests = _rest_after(protocol)
            picked = [by_step[ends[reset_stages[-1]]]] if reset_stages else [by_step[0]]
            picked += [by_step[ends[rests.get(s.name, s.name)]] for s in set_stages]
            thermo = doc.thermo_series()
            kbars = self.kbar(picked)
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
                    PulseDoc(
                        pulse_type=label,
                        index=index,
                        temperature=float(stage.start_temperature),
                        duration=stage.duration / 1000.0,
                        cumulative_time=cumulative,
                        crystalline_fraction=frac,
                        mean_kbar=float(k.mean()),
                        pulse_temperature_measured=_late_temperature(thermo, protocol, stage.name),
                        rest_temperature_measured=None
                        if rest is None
                        else _late_temperature(thermo, protocol, rest),
                    )
                )
                times.append(cumulative)
                values.append(frac)
            series[label] = (np.array(times), np.array(values))
            safe = "".join(c if c.isalnum() else "_" for c in label).strip("_")
            kbar_files.append(self.kbar_file(picked, kbars, f"kbar_{safe}"))
        figures = [
            self.figure(
                plots.plot_cumulative_set(series),
                "cumulative_set",
                "crystalline fraction vs cumulative pulse time per pulse type",
            )
        ]
        arrays = {}
        for k, (label, (t, f)) in enumerate(series.items()):
            arrays[f"pulse_time_{k}"] = (t, "ps", f"cumulative pulse time, {label}")
            arrays[f"fraction_{k}"] = (f, "", f"crystalline fraction after each pulse, {label}")
        return CumulativeSetDoc(
            **self.common(docs),
            reset_fraction=resets,
            pulses=pulses,
            figures=figures,
            kbar_files=kbar_files,
            arrays=self.arrays(**arrays),
        )


def _rest_after(protocol: Any) -> dict[str, str]:
    """Name of the cooling (``rest``) stage right after each SET stage that has one."""
    from itertools import pairwise

    return {a.name: b.name for a, b in pairwise(protocol.stages) if a.tag == "set" and b.tag == "rest"}


def _late_temperature(thermo: dict[str, np.ndarray], protocol: Any, name: str) -> float | None:
    """Mean measured temperature over the second half of a stage, K (None without rows)."""
    index = [s.name for s in protocol.stages].index(name)
    start = protocol.stage_start_steps()[index]
    end = start + protocol.stages[index].n_steps
    rows = (thermo["step"] >= (start + end) / 2) & (thermo["step"] <= end)
    return float(np.mean(thermo["temperature_k"][rows])) if rows.any() else None


@dataclass
class PolycrystallineGrowthAnalysisMaker(ScenarioAnalysisMaker):
    """Grain sizes of each seed over time and their growth speeds."""

    name: str = "polycrystalline growth analysis"
    scenario: str = "polycrystalline-growth"

    @job(output_schema=PolycrystallineGrowthDoc, data=_DATA)
    def make(self, md_doc: MDDoc | dict, grow_stage: str = "grow") -> PolycrystallineGrowthDoc:
        """Analyse the growth stage.

        Parameters
        ----------
        md_doc
            The MD document.
        grow_stage
            Name of the stage in which the grains grow.
        """
        from gst_flows.analysis.bonds import number_density
        from gst_flows.analysis.growth import equivalent_radius, fit_before_contact, track_seeds
        from gst_flows.plotting import scenarios as plots

        doc = as_md_doc(md_doc)
        frames = self.frames(doc, [grow_stage])
        kbars = self.kbar(frames)
        thr = self.settings.threshold
        seed_id = np.asarray(frames[0].arrays["seed_id"])
        seeds = [np.flatnonzero(seed_id == s) for s in range(int(seed_id.max()) + 1)]
        # each seed's front separately, fitted only until its grain touches another
        tracks = track_seeds(frames, [k > thr for k in kbars], seeds)
        sizes = tracks.sizes
        radii = equivalent_radius(sizes, number_density(frames[0]))
        times = self.times_ps(frames)
        elapsed = times - times[0]
        contact = tracks.contact_frame()
        grains, fits = [], []
        for s in range(len(seeds)):
            fit, end = fit_before_contact(elapsed, radii[:, s], int(contact[s]))
            fits.append(fit)
            grains.append(
                GrainDoc(
                    seed_id=s,
                    initial_atoms=int(sizes[0, s]),
                    final_atoms=int(sizes[-1, s]),
                    growth_speed=None if fit is None else fit.speed,
                    growth_speed_stderr=None if fit is None or not np.isfinite(fit.stderr) else fit.stderr,
                    r_squared=None if fit is None or not np.isfinite(fit.r_squared) else fit.r_squared,
                    contact_time=None if contact[s] < 0 else float(elapsed[contact[s]]),
                    fit_end=None if fit is None else end,
                )
            )
        speeds = [g.growth_speed for g in grains if g.growth_speed is not None]
        figures = [
            self.figure(
                plots.plot_grain_growth(times, radii, fits),
                "polycrystalline_growth",
                "equivalent grain radius vs time",
            )
        ]
        return PolycrystallineGrowthDoc(
            **self.common([doc]),
            anneal_temperature=float(self.parameters.get("anneal_temperature", np.nan)),
            grains=grains,
            mean_growth_speed=float(np.mean(speeds)) if speeds else None,
            final_fraction=float(np.mean(kbars[-1] > thr)),
            final_grains=int(tracks.n_grains[-1]),
            figures=figures,
            kbar_files=[self.kbar_file(frames, kbars)],
            arrays=self.arrays(
                time=(times, "ps", "time of each analysed frame"),
                grain_atoms=(sizes, "atoms", "grain size per seed (frames, seeds)"),
                grain_radius=(radii, "Å", "equivalent-sphere radius (frames, seeds)"),
                grain_contact=(
                    tracks.contact.astype(np.int8),
                    "",
                    "1 where a seed's grain touches another (frames, seeds)",
                ),
                n_grains=(
                    tracks.n_grains,
                    "",
                    "distinct seeded grains per frame (merged grains counted once)",
                ),
            ),
        )


# --------------------------------------------------------------------------- heating


@dataclass
class HeatingSeriesAnalysisMaker(ScenarioAnalysisMaker):
    """Onset of disorder and density against temperature for every run; spread per size."""

    name: str = "heating series analysis"
    scenario: str = "heating-series"

    @job(output_schema=HeatingSeriesDoc, data=_DATA)
    def make(self, md_docs: list[MDDoc | dict], runs: list[dict[str, Any]]) -> HeatingSeriesDoc:
        """Analyse every heating run.

        Parameters
        ----------
        md_docs
            MD documents in the order of ``runs``.
        runs
            Per run: ``label``, ``ensemble``, ``supercell`` (n), ``seed``.
        """
        from gst_flows.analysis.device import onset_temperature
        from gst_flows.plotting import scenarios as plots

        docs = [as_md_doc(d) for d in md_docs]
        thr = self.settings.threshold
        run_docs, curves, arrays = [], [], {}
        for k, (run, doc) in enumerate(zip(runs, docs, strict=True)):
            frames = self.frames(doc)
            kbars = self.kbar(frames)
            # the thermostat's target; in NVE (no thermostat) the measured temperature
            temperature = np.array([_target_temperature(doc, f) for f in frames])
            measured = np.array([f.get_temperature() for f in frames])  # from velocities
            temperature = np.where(np.isfinite(temperature), temperature, measured)
            fraction = np.array([float(np.mean(kb > thr)) for kb in kbars])
            series = doc.thermo_series()
            t_series, rho = series["target_temperature_k"], series["density_g_cm3"]
            t_series = np.where(np.isfinite(t_series), t_series, series["temperature_k"])
            onset = onset_temperature(temperature, fraction)
            run_docs.append(
                HeatingRunDoc(
                    label=run["label"],
                    ensemble=run["ensemble"],
                    supercell=int(run["supercell"]),
                    n_atoms=doc.n_atoms,
                    seed=int(run["seed"]),
                    onset_temperature=None if not np.isfinite(onset) else float(onset),
                    initial_density=float(rho[0]),
                    final_density=float(rho[-1]),
                )
            )
            curves.append(
                {
                    "label": run["label"],
                    "ensemble": run["ensemble"],
                    "n_atoms": doc.n_atoms,
                    "temperature": temperature,
                    "fraction": fraction,
                    "density_temperature": t_series,
                    "density": rho,
                    "onset": onset,
                }
            )
            arrays[f"temperature_{k}"] = (temperature, "K", f"frame temperatures, {run['label']}")
            arrays[f"fraction_{k}"] = (fraction, "", f"crystalline fraction, {run['label']}")
            arrays[f"density_{k}"] = (
                np.c_[t_series, rho],
                "K, g/cm³",
                f"target temperature and density, {run['label']}",
            )
        sizes = []
        for key in dict.fromkeys((r.ensemble, r.supercell) for r in run_docs):
            members = [r for r in run_docs if (r.ensemble, r.supercell) == key]
            onsets = [r.onset_temperature for r in members if r.onset_temperature is not None]
            sizes.append(
                HeatingSizeDoc(
                    ensemble=key[0],
                    supercell=key[1],
                    n_atoms=members[0].n_atoms,
                    n_runs=len(members),
                    mean_onset=float(np.mean(onsets)) if onsets else None,
                    spread_onset=float(np.std(onsets)) if len(onsets) > 1 else None,
                )
            )
        figures = [
            self.figure(
                plots.plot_heating_series(curves),
                "heating_series",
                "crystalline fraction and density vs temperature per size; onset spread per size",
            )
        ]
        return HeatingSeriesDoc(
            **self.common(docs), runs=run_docs, sizes=sizes, figures=figures, arrays=self.arrays(**arrays)
        )


def _target_temperature(doc: MDDoc, frame: Atoms) -> float:
    """Thermostat target at a frame's step (the heating ramp), K."""
    from gst_flows.md.protocol import Protocol

    protocol = Protocol.from_dict(doc.protocol)
    step = int(frame.info.get("step", 0))
    for stage, start in zip(protocol.stages, protocol.stage_start_steps(), strict=True):
        if step <= start + stage.n_steps:
            value = stage.temperature_at_step(step - start)
            return float("nan") if value is None else float(value)
    return float("nan")


# --------------------------------------------------------------------------- RESET


@dataclass
class MushroomResetAnalysisMaker(ScenarioAnalysisMaker):
    """xz temperature maps, disordered base length from k̄, energy ledger (eV and fJ)."""

    name: str = "mushroom reset analysis"
    scenario: str = "mushroom-reset"

    @job(output_schema=MushroomResetDoc, data=_DATA)
    def make(self, md_doc: MDDoc | dict, pulse_stage: str = "pulse") -> MushroomResetDoc:
        """Analyse the RESET run.

        Parameters
        ----------
        md_doc
            The MD document.
        pulse_stage
            Name of the stage that injects the energy.
        """
        from gst_flows.analysis.device import barrier_crossings, disordered_base_length
        from gst_flows.analysis.temperature import temperature_map
        from gst_flows.plotting import scenarios as plots

        doc = as_md_doc(md_doc)
        frames = self.frames(doc)
        s = self.settings
        # the map is cut at the periodic z boundary half-way between the top of the fixed
        # barrier and the bottom layer, and not smoothed across it: heat crosses only
        # through the barrier, which holds none
        shift = _boundary_gap_shift(frames[0])
        maps = [temperature_map(_shifted(f, shift), "xz", s.bin_size, s.sigma) for f in frames]
        kbars = self.kbar(frames)
        mobile = ~np.asarray(frames[0].arrays["fixed"], bool)
        centre = float(frames[0].cell.lengths()[0] / 2)
        bases = [
            disordered_base_length(
                f, k, s.threshold, bin_size=min(3.0, s.bin_size), centre=centre, mask=mobile
            )
            for f, k in zip(frames, kbars, strict=True)
        ]
        times = self.times_ps(frames)
        stack = np.array([m.temperature for m in maps])
        check = self.ledger_check(doc)
        series = doc.thermo_series()
        region = np.asarray(frames[0].arrays["region"]) == 1
        crossings = barrier_crossings(frames, ~mobile)
        pressures = self.pulse_pressures(doc, pulse_stage, region & mobile)
        figures = [
            self.figure(
                plots.plot_xz_maps(maps, times, [str(f.info.get("stage_name", "")) for f in frames]),
                "mushroom_temperature_maps",
                "xz temperature maps at saved frames",
            ),
            self.figure(
                plots.plot_base_length(times, np.array([b.length for b in bases])),
                "mushroom_base_length",
                "disordered base length vs time",
            ),
            self.figure(
                plots.plot_energy_ledger(series, check.requested),
                "mushroom_energy_ledger",
                "injected energy vs time (eV and fJ)",
            ),
        ]
        return MushroomResetDoc(
            **self.common([doc]),
            focal_radius=float(self.parameters.get("focal_radius", np.nan)),
            n_focal_atoms=int((region & mobile).sum()),
            energy_check=check,
            peak_temperature=float(np.nanmax(stack)),
            base_length=bases[-1].length,
            max_base_length=max(b.length for b in bases),
            barrier_crossings=int(crossings.max()),
            **pressures,
            figures=figures,
            kbar_files=[self.kbar_file(frames, kbars)],
            arrays=self.arrays(
                time=(times, "ps", "time of each analysed frame"),
                barrier_crossings=(
                    crossings,
                    "atoms",
                    "mobile atoms through the fixed barrier (or out of an open cell) per frame",
                ),
                temperature_map=(stack, "K", "smoothed temperature (frames, x bins, z bins)"),
                map_x=(maps[0].edges[0], "Å", "bin edges along x"),
                map_z=(maps[0].edges[1] - shift, "Å", "bin edges along z"),
                base_length=(np.array([b.length for b in bases]), "Å", "disordered base length per frame"),
                base_share=(
                    np.array([b.disordered_fraction for b in bases]),
                    "",
                    "disordered share of the bottom layer per x bin (frames, bins)",
                ),
                mean_kbar=(np.array([k.mean() for k in kbars]), "", "mean k̄ per frame"),
            ),
        )

    def pulse_pressures(self, doc: MDDoc, stage: str, focal: np.ndarray) -> dict[str, Any]:
        """Pressure of the cell and of the focal region at the start and end of the pulse.

        The cell's from the thermodynamic series; the focal region's from its atoms'
        velocities and the potential's per-atom stresses (None when the potential cannot be
        loaded here or gives no per-atom stresses).
        """
        from gst_flows.analysis.device import per_atom_virials, region_pressure
        from gst_flows.md.protocol import Protocol

        protocol = Protocol.from_dict(doc.protocol)
        first = protocol.stage_start_steps()[protocol.stages.index(protocol.stage(stage))]
        steps = (first, first + protocol.stage(stage).n_steps)
        series = doc.thermo_series()
        out: dict[str, Any] = {}
        for key, step in zip(("before", "after"), steps, strict=True):
            rows = np.flatnonzero(series["step"] == step)
            out[f"pressure_{key}"] = float(series["pressure_gpa"][rows[-1]]) if rows.size else None
            out[f"focal_pressure_{key}"] = None
        calc = _stress_calculator(doc)
        if calc is None:
            return out
        by_step = {int(f.info["step"]): f for f in doc.frames()}
        for key, step in zip(("before", "after"), steps, strict=True):
            if step in by_step:
                frame = by_step[step].copy()
                frame.set_velocities(by_step[step].get_velocities())
                frame.calc = calc
                out[f"focal_pressure_{key}"] = region_pressure(frame, focal, per_atom_virials(frame))
        return out


def _boundary_gap_shift(atoms: Atoms) -> float:
    """Shift along z that puts the periodic boundary mid-way between the top and bottom atoms.

    0 for a cell open along z.
    """
    if not atoms.pbc[2]:
        return 0.0
    z = atoms.positions[:, 2]
    return float(atoms.cell.lengths()[2] - z.max() + z.min()) / 2 - float(z.min())


def _shifted(frame: Atoms, shift: float) -> Atoms:
    """A copy of ``frame`` moved by ``shift`` along z (velocities kept), open along z.

    Positions are wrapped into the cell along z first, so the cut falls at the cell's face.
    """
    if shift == 0.0 and not frame.pbc[2]:
        return frame
    out = frame.copy()
    length = float(out.cell.lengths()[2])
    out.positions[:, 2] = (out.positions[:, 2] + shift) % length
    out.pbc = (frame.pbc[0], frame.pbc[1], False)
    return out


def _stress_calculator(doc: MDDoc) -> Any:
    """An ASE calculator of the run's potential that gives per-atom stresses, or None."""
    from gst_flows.md.potential import resolve_potential

    potential = doc.potential
    ref = potential.path if potential.path else (potential.id if potential.kind == "factory" else None)
    if ref is None:
        return None
    try:
        calc, _ = resolve_potential(ref)
    except (OSError, ValueError, LookupError):
        return None
    return calc if "stresses" in getattr(calc, "implemented_properties", ()) else None


@dataclass
class CrossPointAnalysisMaker(ScenarioAnalysisMaker):
    """T(z, t), k̄ by height, RDF of the central region over time, energy ledger.

    Parameters
    ----------
    central_thickness
        Thickness of the central region of the RDF, Å (the central 20 nm of the published
        cell).
    rdf_r_max
        Largest distance of the RDF, Å.
    """

    name: str = "cross-point analysis"
    scenario: str = "cross-point"
    central_thickness: float = 200.0
    rdf_r_max: float = 8.0

    @job(output_schema=CrossPointDoc, data=_DATA)
    def make(self, md_doc: MDDoc | dict, pulse_stage: str = "pulse") -> CrossPointDoc:
        """Analyse the melt–quench run.

        Parameters
        ----------
        md_doc
            The MD document.
        pulse_stage
            Name of the heating-pulse stage.
        """
        from gst_flows.analysis.device import binned_mean, central_mask, region_rdf
        from gst_flows.analysis.temperature import temperature_profile
        from gst_flows.plotting import scenarios as plots
        from gst_flows.structures import build_layered

        doc = as_md_doc(md_doc)
        frames = self.frames(doc)
        s = self.settings
        profiles = [temperature_profile(f, "z", s.bin_size, s.sigma) for f in frames]
        composition = self.parameters.get("composition", "Ge1Sb2Te4")
        reference = build_layered(composition, (2, 2, 3), cell="orthogonal")
        kbars = self.kbar(frames, reference)
        heights = [binned_mean(f, k, "z", s.bin_size) for f, k in zip(frames, kbars, strict=True)]
        fraction = min(1.0, self.central_thickness / float(frames[0].cell.lengths()[2]))
        rdfs = [region_rdf(f, central_mask(f, "z", fraction), self.rdf_r_max) for f in frames]
        times = self.times_ps(frames)
        t_zt = np.array([p.temperature for p in profiles])
        k_zt = np.array([h[1] for h in heights])
        g_rt = np.array([g[1] for g in rdfs])
        end = stage_end_steps(doc)[pulse_stage]
        at_pulse_end = next((k for k, f in enumerate(frames) if int(f.info["step"]) == end), len(frames) - 1)
        molten = float(np.nanmean(k_zt[at_pulse_end] < s.threshold))
        check = self.ledger_check(doc)
        series = doc.thermo_series()
        z_centres = profiles[0].centres[0]
        figures = [
            self.figure(
                plots.plot_map_zt(times, z_centres, t_zt, label="T (K)", cmap="inferno"),
                "cross_point_temperature",
                "T(z, t)",
            ),
            self.figure(
                plots.plot_map_zt(
                    times, heights[0][0], k_zt, label="mean k̄", cmap="viridis", vmin=0.0, vmax=1.0
                ),
                "cross_point_kbar",
                "k̄ by height over time",
            ),
            self.figure(
                plots.plot_rdf_series(rdfs[0][0], g_rt, times),
                "cross_point_rdf",
                "RDF of the central region over time",
            ),
            self.figure(
                plots.plot_energy_ledger(series, check.requested),
                "cross_point_energy_ledger",
                "injected and removed energy vs time",
            ),
        ]
        return CrossPointDoc(
            **self.common([doc]),
            energy_check=check,
            peak_temperature=float(np.nanmax(t_zt)),
            molten_fraction=molten,
            final_mean_kbar=float(kbars[-1].mean()),
            central_fraction=fraction,
            central_thickness=self.central_thickness,
            figures=figures,
            kbar_files=[self.kbar_file(frames, kbars)],
            arrays=self.arrays(
                time=(times, "ps", "time of each analysed frame"),
                z=(z_centres, "Å", "slab centres along z"),
                temperature_zt=(t_zt, "K", "smoothed slab temperature (frames, slabs)"),
                kbar_zt=(k_zt, "", "mean k̄ per slab (frames, slabs)"),
                rdf_r=(rdfs[0][0], "Å", "RDF bin centres"),
                rdf_central=(g_rt, "", "g(r) of the central region (frames, bins)"),
            ),
        )


# --------------------------------------------------------------------------- field


@dataclass
class ElectromigrationAnalysisMaker(ScenarioAnalysisMaker):
    """Species density profiles along the field over time, and each species' drift."""

    name: str = "electromigration analysis"
    scenario: str = "electromigration"

    @job(output_schema=ElectromigrationDoc, data=_DATA)
    def make(self, md_doc: MDDoc | dict, field_stage: str = "field") -> ElectromigrationDoc:
        """Analyse the field stage.

        Parameters
        ----------
        md_doc
            The MD document.
        field_stage
            Name of the stage with the field.
        """
        from gst_flows.analysis.device import mean_shift, species_density_profiles
        from gst_flows.md.protocol import ElectricField, Protocol
        from gst_flows.plotting import scenarios as plots

        doc = as_md_doc(md_doc)
        protocol = Protocol.from_dict(doc.protocol)
        action = protocol.stage(field_stage).actions_of(ElectricField)[0]
        unit = action.unit_vector()
        frames = self.frames(doc, [field_stage])
        before = [
            f for f in doc.frames() if int(f.info["step"]) == stage_end_steps(doc)[protocol.stages[0].name]
        ]
        frames = before[:1] + frames if protocol.stages[0].name != field_stage else frames
        profiles = [species_density_profiles(f, "z", self.settings.bin_size) for f in frames]
        times = self.times_ps(frames)
        mobile = ~np.asarray(frames[0].arrays["fixed"], bool)
        symbols = np.array(frames[0].get_chemical_symbols())
        drifts = []
        span = times[-1] - times[0]
        for symbol in sorted(set(symbols[mobile])):
            shift = float(mean_shift(frames, mobile & (symbols == symbol), unit)[-1])
            drifts.append(
                SpeciesDriftDoc(
                    species=symbol,
                    charge=float(action.charges.get(symbol, 0.0)),
                    shift=shift,
                    drift_velocity=shift / span * 100.0 if span > 0 else 0.0,
                )
            )
        species = sorted(profiles[0][1])
        stack = {sp: np.array([p[1][sp] for p in profiles]) for sp in species}
        figures = [
            self.figure(
                plots.plot_species_profiles(profiles[0][0], stack, times),
                "electromigration_profiles",
                "species number density along z over time",
            )
        ]
        arrays = {
            "time": (times, "ps", "time of each analysed frame"),
            "z": (profiles[0][0], "Å", "slab centres along z"),
        }
        for sp, values in stack.items():
            arrays[f"density_{sp}"] = (values, "1/Å³", f"{sp} number density (frames, slabs)")
        return ElectromigrationDoc(
            **self.common([doc]),
            field=float(action.strength),
            temperature=float(protocol.stage(field_stage).start_temperature or np.nan),
            drifts=drifts,
            figures=figures,
            arrays=self.arrays(**arrays),
        )
