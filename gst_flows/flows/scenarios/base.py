"""The generic scenario runner: size presets, validation before compute, MD and analysis jobs.

A scenario is a flow maker (:class:`ScenarioMaker`) with a documented parameter set. Its
fields left at ``None`` take the values of the chosen size preset (:attr:`ScenarioMaker.SIZES`):

``small``
    Tens to a few hundred atoms and a few hundred steps on the ASE engine: a run of the whole
    scenario (MD, analyses, figures, documents) in seconds to minutes on a workstation.
``full``
    The published cell and durations; a cluster job on the LAMMPS engine (``md`` fworker
    category, chained jobs that each fit ``md["walltime"]``), analyses as separate jobs in
    the ``analysis`` category.

:meth:`ScenarioMaker.make` first builds every cell and checks every protocol against it
(:meth:`ScenarioMaker.prepare`): impossible parameters raise :class:`ScenarioError` before a
job exists.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from ase import Atoms
from jobflow import Flow, Job, Maker

from gst_flows.analysis.scenarios import AnalysisSettings
from gst_flows.makers.scenarios import ScenarioMDMaker
from gst_flows.md.protocol import Protocol, ProtocolError
from gst_flows.structures.cells import CellSpec

__all__ = ["PreparedRun", "ScenarioError", "ScenarioMaker", "ScenarioRun"]


class ScenarioError(ValueError):
    """Scenario parameters that cannot work (raised before any compute)."""


@dataclass
class ScenarioRun:
    """One MD run of a scenario, before its cell is built.

    Attributes
    ----------
    label
        Short label of the run (``"650 K x 100 ps"``, ``"npt n=3 run 1"``).
    cell
        How to build the cell.
    protocol
        The protocol to run (energies as requested for this cell).
    info
        Extra values the analysis needs (per-run metadata).
    """

    label: str
    cell: CellSpec
    protocol: Protocol
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class PreparedRun(ScenarioRun):
    """A :class:`ScenarioRun` whose cell has been built and checked.

    Attributes
    ----------
    atoms
        The built cell.
    """

    atoms: Atoms | None = None


_BASE_FIELDS = ("name", "potential", "md", "analysis")


@dataclass
class ScenarioMaker(Maker):
    """Base of the scenario flows.

    Parameters
    ----------
    name
        Flow name.
    size
        Size preset: ``"small"`` or ``"full"`` (see the module documentation).
    potential
        GAP XML path, potential id, a fit document's ``potential_ref``
        (:class:`~gst_flows.schemas.potential.PotentialRef`, checked against its SHA-256 before
        each run) or ``"module:factory"`` (see :mod:`gst_flows.md.potential`); required to make
        the flow.
    engine
        ``"ase"`` or ``"lammps"``; None takes the preset's (small: ase, full: lammps).
    seed
        Seed of the cells' random sublattices, velocities and thermostats.
    timestep
        MD timestep, fs.
    temperature_ceiling
        Highest temperature a stage may ask for, or an energy injection may be expected to
        reach (3 k_B per atom, no heat flow), K.
    md
        Fields of the MD job maker (:class:`~gst_flows.makers.md.GapMDMaker`) overriding the
        preset's: ``thermo_interval``, ``frame_interval``, ``checkpoint_interval``,
        ``walltime``, ``runner`` (``nprocs``, ``command`` ...), ``seed``, ``safety``, ...
    analysis
        Analysis settings; None takes the preset's.
    """

    name: str = "scenario"
    size: str = "small"
    potential: Any = None
    engine: Literal["ase", "lammps"] | None = None
    seed: int = 0
    timestep: float = 2.0
    temperature_ceiling: float = 5000.0
    md: dict[str, Any] = field(default_factory=dict)
    analysis: AnalysisSettings | None = None

    #: Scenario name (documents, command line).
    scenario: ClassVar[str] = "scenario"
    #: Values of the fields left at None, per size preset (plus "engine", "md", "analysis").
    SIZES: ClassVar[dict[str, dict[str, Any]]] = {}

    def __post_init__(self) -> None:
        # JSON (the database, FireWorks) turns tuples into lists: turn them back
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list) and "tuple" in str(f.type):
                setattr(self, f.name, _as_tuple(value))
            numeric = _NUMBER_FIELD.fullmatch(str(f.type))
            if (
                numeric
                and value is not None
                and (isinstance(value, bool) or not isinstance(value, int | float))
            ):
                raise ScenarioError(
                    f"{self.scenario}: {f.name} must be a plain number "
                    f"(units as in docs/scenarios.md), got {value!r}"
                )

    # ------------------------------------------------------------------ parameters

    def resolved(self) -> ScenarioMaker:
        """A copy with the fields left at None filled from the size preset.

        Raises
        ------
        ScenarioError
            For an unknown size.
        """
        if self.size not in self.SIZES:
            raise ScenarioError(
                f"{self.scenario}: unknown size {self.size!r} (sizes: {', '.join(self.SIZES)})"
            )
        preset = dict(self.SIZES[self.size])
        changes: dict[str, Any] = {}
        names = {f.name for f in dataclasses.fields(self)}
        for key, value in preset.items():
            if key == "md":
                changes["md"] = {**value, **self.md}
            elif key == "analysis":
                if self.analysis is None:
                    changes["analysis"] = dataclasses.replace(value)
            elif key not in names:
                raise ScenarioError(f"{self.scenario}: preset {self.size!r} sets unknown field {key!r}")
            elif getattr(self, key) is None:
                changes[key] = value
        out = dataclasses.replace(self, **changes)
        if out.analysis is None:
            out.analysis = AnalysisSettings()
        if out.engine is None:
            out.engine = "ase"
        return out

    def parameters(self) -> dict[str, Any]:
        """The resolved scenario parameters as plain values (recorded in the document)."""
        resolved = self.resolved()
        out: dict[str, Any] = {}
        for f in dataclasses.fields(resolved):
            if f.name in _BASE_FIELDS:
                continue
            value = getattr(resolved, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        out["analysis"] = dataclasses.asdict(resolved.analysis)
        return out

    # ------------------------------------------------------------------ to override

    def runs(self) -> list[ScenarioRun]:
        """The MD runs of the scenario (on the resolved maker)."""
        raise NotImplementedError

    def check_run(self, run: PreparedRun) -> None:
        """Scenario-specific checks of a built cell (raise :class:`ScenarioError`)."""

    def analysis_job(self, md_jobs: list[Job], runs: list[PreparedRun]) -> Job:
        """The analysis job of the scenario."""
        raise NotImplementedError

    # ------------------------------------------------------------------ runner

    def protocol(self, **kwargs: Any) -> Protocol:
        """A protocol with this scenario's seed and temperature ceiling.

        Raises
        ------
        ScenarioError
            When the protocol is invalid (e.g. a temperature above the ceiling).
        """
        kwargs.setdefault("seed", self.seed)
        kwargs.setdefault("temperature_ceiling", self.temperature_ceiling)
        try:
            return Protocol(**kwargs)
        except ValueError as err:
            raise ScenarioError(f"{self.scenario} ({self.size}): {_first_error(err)}") from None

    def prepare(self) -> list[PreparedRun]:
        """Build every cell and check every protocol against it, before any compute.

        Returns
        -------
        list of PreparedRun
            The runs with their cells.

        Raises
        ------
        ScenarioError
            Naming the run and every problem found.
        """
        resolved = self.resolved()
        prepared = []
        for run in resolved.runs():
            try:
                atoms = run.cell.build()
            except ValueError as err:
                raise ScenarioError(
                    f"{self.scenario} ({self.size}), run {run.label!r}: cannot build the cell: {err}"
                ) from None
            item = PreparedRun(run.label, run.cell, run.protocol, run.info, atoms)
            resolved.check_run(item)
            try:
                run.protocol.validate_for(atoms)
            except ProtocolError as err:
                raise ScenarioError(f"{self.scenario} ({self.size}), run {run.label!r}: {err}") from None
            prepared.append(item)
        return prepared

    def md_maker(self, run: ScenarioRun) -> ScenarioMDMaker:
        """The MD job maker of one run (on the resolved maker)."""
        settings = {"thermo_interval": 10, "frame_interval": 50, "checkpoint_interval": 0}
        settings.update(self.md)
        allowed = {f.name for f in dataclasses.fields(ScenarioMDMaker)}
        unknown = sorted(set(settings) - (allowed - {"name", "protocol", "engine", "potential"}))
        if unknown:
            raise ScenarioError(
                f"{self.scenario}: unknown MD setting(s) {', '.join(unknown)} (md takes: "
                f"{', '.join(sorted(allowed - {'name', 'protocol', 'engine', 'potential'}))})"
            )
        return ScenarioMDMaker(
            name=f"{self.scenario} md: {run.label}",
            protocol=run.protocol,
            engine=self.engine,
            potential=self.potential,
            **settings,
        )

    def make(self) -> Flow:
        """The scenario flow: one MD job per run (``md``), then the analysis (``analysis``).

        Returns
        -------
        Flow
            Its output is the scenario document.

        Raises
        ------
        ScenarioError
            When a parameter cannot work, or no potential is given.
        """
        if self.potential is None:
            raise ScenarioError(
                f"{self.scenario}: give a potential (GAP XML path, potential id or module:factory)"
            )
        resolved = self.resolved()
        if isinstance(self.potential, str | Path) and Path(self.potential).is_file():
            # jobs run in their own directories: a relative path would not be found there
            resolved.potential = str(Path(self.potential).resolve())
        prepared = self.prepare()
        md_jobs = [resolved.md_maker(run).make(run.cell) for run in prepared]
        analysis = resolved.analysis_job(md_jobs, prepared)
        return Flow([*md_jobs, analysis], output=analysis.output, name=f"{self.name} ({self.size})")


# Field types that hold one plain number.
_NUMBER_FIELD = re.compile(r"(float|int)(?: \| None)?")


def _as_tuple(value: Any) -> Any:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list) else value


def _first_error(err: ValueError) -> str:
    """The message of a pydantic validation error without its decoration."""
    errors = getattr(err, "errors", None)
    if callable(errors):
        try:
            messages = [e.get("msg", "") for e in errors()]
        except (TypeError, ValueError):
            messages = []
        if messages:
            return "; ".join(m.removeprefix("Value error, ") for m in messages)
    return str(err)
