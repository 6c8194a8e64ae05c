"""MD protocols: what to run, independent of the engine that runs it.

A :class:`Protocol` is an ordered list of :class:`Stage` objects. A stage has an ensemble
(``nvt``, ``npt`` or ``nve``), a thermostat (Langevin or Nosé–Hoover chain), a timestep, a
duration, a temperature schedule (constant, linear ramp or values per sub-interval) and
actions that last the whole stage:

- :class:`FixAtoms`: atoms flagged in a per-atom array (``fixed``) do not move and are left out
  of thermostats and temperatures;
- :class:`InjectEnergy`: kinetic energy added to a region (``region`` array) at a constant rate,
  conserving the region's momentum;
- :class:`GradedInjection`: the same in slabs along an axis, with more energy at one end;
- :class:`RemoveHeat`: energy injected earlier taken out of every mobile atom at a constant rate;
- :class:`ElectricField`: a constant force q·E on every atom from per-species charges.

A :class:`PulseTrain` in the stage list expands into stages (a RESET melt–quench followed by
SET annealing pulses) when the protocol is loaded, so engines only ever see stages.

Units: eV, Å, fs, K, GPa, charges in e and fields in V/Å (= eV/Å per e); injection rates in
eV/ps. YAML files may write quantities with units (``"30 ps"``, ``"0.264 fJ"``).

Engines (ASE, LAMMPS) translate a validated protocol; the helpers :func:`select_atoms`,
:func:`graded_groups`, :func:`heat_groups` and :meth:`Protocol.energy_plan` give both the same
atom groups and energies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from gst_flows.md.units import KB, ev_to_fj, parse_quantity

if TYPE_CHECKING:
    from ase import Atoms

__all__ = [
    "Action",
    "ElectricField",
    "FixAtoms",
    "GradedInjection",
    "InjectEnergy",
    "Protocol",
    "ProtocolError",
    "PulseTrain",
    "Ramp",
    "RemoveHeat",
    "ResetPulse",
    "RunSettings",
    "SafetyLimits",
    "SetPulse",
    "Stage",
    "StageEnergy",
    "Steps",
    "TemperaturePiece",
    "fixed_mask",
    "graded_groups",
    "heat_groups",
    "iter_actions",
    "list_protocols",
    "load_protocol",
    "melt_anneal",
    "melt_quench",
    "partial_melt",
    "pulse_train",
    "select_atoms",
]


class ProtocolError(ValueError):
    """A protocol that cannot run on a given structure (raised before any compute)."""


def _quantity(dimension: str):
    return BeforeValidator(partial(parse_quantity, dimension=dimension))


Duration = Annotated[float, _quantity("time"), Field(gt=0)]
"""Time in fs (or a string with a unit)."""
Energy = Annotated[float, _quantity("energy")]
"""Energy in eV (or ``"0.264 fJ"``)."""
Power = Annotated[float, _quantity("power")]
"""Injection rate in eV/ps."""
Temperature = Annotated[float, _quantity("temperature"), Field(ge=0)]
"""Temperature in K."""
Pressure = Annotated[float, _quantity("pressure")]
"""Pressure in GPa."""
FieldStrength = Annotated[float, _quantity("field")]
"""Electric field in V/Å (force per unit charge, eV/Å per e)."""
AxisName = Literal["x", "y", "z"]
_AXES = {"x": 0, "y": 1, "z": 2}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --------------------------------------------------------------------------- schedules


@dataclass(frozen=True)
class TemperaturePiece:
    """A linear piece of a temperature schedule, in whole steps.

    Attributes
    ----------
    start_step
        First step of the piece, counted from the start of the stage.
    n_steps
        Number of steps in the piece.
    start, end
        Target temperature at the start and at the end of the piece, K.
    """

    start_step: int
    n_steps: int
    start: float
    end: float


class Ramp(_Model):
    """Linear temperature ramp over the stage: ``start`` at t = 0, ``end`` at the stage end (K)."""

    start: Temperature
    end: Temperature


class Steps(_Model):
    """Constant temperatures over consecutive sub-intervals of the stage.

    Parameters
    ----------
    values
        Temperatures, K.
    durations
        Length of each sub-interval, fs; equal sub-intervals when omitted. They must add up to
        the stage duration.
    """

    values: list[Temperature] = Field(min_length=1)
    durations: list[Duration] | None = None

    @model_validator(mode="after")
    def _lengths(self) -> Steps:
        if self.durations is not None and len(self.durations) != len(self.values):
            raise ValueError(
                f"temperature steps: {len(self.values)} values but {len(self.durations)} durations"
            )
        return self


def _schedule_shorthand(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return {"values": list(value)}
    return value


TemperatureSchedule = Annotated[
    Annotated[float, _quantity("temperature"), Field(ge=0)] | Ramp | Steps | None,
    BeforeValidator(_schedule_shorthand),
]


# --------------------------------------------------------------------------- actions


class FixAtoms(_Model):
    """Hold atoms fixed: no motion, left out of thermostats, temperatures and injections.

    Parameters
    ----------
    array
        Name of a per-atom array; atoms with a non-zero (True) value are fixed.
    """

    kind: Literal["fix_atoms"] = "fix_atoms"
    array: str = "fixed"


class InjectEnergy(_Model):
    """Add kinetic energy to the atoms of a region at a constant rate.

    Velocities of the region's mobile atoms are scaled about their centre-of-mass velocity each
    step, so the region's total momentum does not change (as LAMMPS ``fix heat`` does). Give
    either ``rate`` or ``energy``; the injection lasts the whole stage.

    Parameters
    ----------
    region
        Name of a per-atom array selecting the region (non-zero values, or those equal to
        ``region_value``); None for every mobile atom.
    region_value
        Value of the array that marks the region; None for any non-zero value.
    rate
        Power, eV/ps (55 eV/ps for the published mushroom-cell RESET).
    energy
        Total energy over the stage, eV (``"0.264 fJ"`` accepted).
    """

    kind: Literal["inject_energy"] = "inject_energy"
    region: str | None = "region"
    region_value: int | None = None
    rate: Power | None = None
    energy: Energy | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> InjectEnergy:
        if (self.rate is None) == (self.energy is None):
            raise ValueError("inject_energy: give exactly one of 'rate' (eV/ps) or 'energy' (eV)")
        amount = self.rate if self.rate is not None else self.energy
        if amount <= 0:
            raise ValueError("inject_energy: the rate or energy must be positive")
        return self

    def total_energy(self, duration: float) -> float:
        """Energy injected over ``duration`` fs, eV."""
        return self.energy if self.energy is not None else self.rate * duration / 1000.0


class GradedInjection(_Model):
    """Add kinetic energy with a gradient along an axis (the cross-point heating pulse).

    The mobile atoms (of ``region``, or all) are cut into ``n_slabs`` slabs of equal thickness
    between their lowest and highest coordinate along ``axis`` at the start of the stage; slab
    membership is then kept. The power per atom falls linearly from ``ratio`` times the top
    value at the low end to the top value at the high end; each slab keeps its momentum.

    Parameters
    ----------
    axis
        Cartesian axis of the gradient.
    rate
        Total power, eV/ps; or give ``energy``.
    energy
        Total energy over the stage, eV (``"60 fJ"`` accepted).
    ratio
        Power per atom at the low end over that at the high end (> 0; 1 is uniform).
    n_slabs
        Number of slabs.
    region, region_value
        Optional restriction to a region, as in :class:`InjectEnergy`.
    """

    kind: Literal["graded_injection"] = "graded_injection"
    axis: AxisName = "z"
    rate: Power | None = None
    energy: Energy | None = None
    ratio: float = Field(3.0, gt=0)
    n_slabs: int = Field(10, ge=1)
    region: str | None = None
    region_value: int | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> GradedInjection:
        if (self.rate is None) == (self.energy is None):
            raise ValueError("graded_injection: give exactly one of 'rate' (eV/ps) or 'energy' (eV)")
        amount = self.rate if self.rate is not None else self.energy
        if amount <= 0:
            raise ValueError("graded_injection: the rate or energy must be positive")
        return self

    def total_energy(self, duration: float) -> float:
        """Energy injected over ``duration`` fs, eV."""
        return self.energy if self.energy is not None else self.rate * duration / 1000.0


class RemoveHeat(_Model):
    """Take kinetic energy out of every mobile atom at a constant rate over the stage.

    Velocities are scaled about the group's centre-of-mass velocity, conserving its momentum.

    Parameters
    ----------
    energy
        Energy to remove, eV; None removes everything injected by earlier stages and not yet
        removed (the cross-point quench).
    region, region_value
        Optional restriction to a region, as in :class:`InjectEnergy`.
    """

    kind: Literal["remove_heat"] = "remove_heat"
    energy: Energy | None = Field(None, gt=0)
    region: str | None = None
    region_value: int | None = None


class ElectricField(_Model):
    """A constant force q·E on every mobile atom.

    Parameters
    ----------
    strength
        Field, V/Å: the force on a unit charge in eV/Å (0.03 published; ``"3 MV/cm"`` accepted).
    direction
        ``x``, ``y``, ``z`` (optionally signed, ``-z``) or a Cartesian vector (normalised).
        ``z`` is bottom to top.
    charges
        Charge per chemical symbol, e; every species in the structure needs one (0 is allowed).
        Cation-like Ge and Sb and anion-like Te take opposite signs.
    """

    kind: Literal["electric_field"] = "electric_field"
    strength: FieldStrength
    direction: Literal["x", "y", "z", "-x", "-y", "-z"] | tuple[float, float, float] = "z"
    charges: dict[str, float] = Field(min_length=1)

    @model_validator(mode="after")
    def _direction(self) -> ElectricField:
        if not isinstance(self.direction, str) and np.linalg.norm(self.direction) == 0:
            raise ValueError("electric_field: the direction vector is zero")
        return self

    def unit_vector(self) -> np.ndarray:
        """Return the unit vector of the field direction."""
        if isinstance(self.direction, str):
            vec = np.zeros(3)
            vec[_AXES[self.direction[-1]]] = -1.0 if self.direction.startswith("-") else 1.0
            return vec
        vec = np.asarray(self.direction, dtype=float)
        return vec / np.linalg.norm(vec)

    def field_vector(self) -> np.ndarray:
        """Field vector, V/Å."""
        return self.strength * self.unit_vector()


def _action_shorthand(value: Any) -> Any:
    # ``{inject_energy: {rate: 55}}`` is accepted as ``{kind: inject_energy, rate: 55}``.
    if isinstance(value, dict) and "kind" not in value and len(value) == 1:
        ((kind, body),) = value.items()
        if isinstance(body, dict):
            return {"kind": kind, **body}
        if body is None:
            return {"kind": kind}
    return value


Action = Annotated[
    FixAtoms | InjectEnergy | GradedInjection | RemoveHeat | ElectricField,
    Field(discriminator="kind"),
    BeforeValidator(_action_shorthand),
]
"""Any stage action, tagged by its ``kind``."""


# --------------------------------------------------------------------------- stages


class Stage(_Model):
    """One stage of a protocol.

    Parameters
    ----------
    name
        Unique name within the protocol (frames and summaries are labelled with it).
    ensemble
        ``nvt``, ``npt`` (isotropic Martyna–Tobias–Klein barostat under the stage's
        thermostat, as LAMMPS ``fix npt``, or ``fix nph`` + ``fix langevin``) or ``nve``.
    duration
        Length of the stage, fs; a whole number of timesteps.
    timestep
        Timestep, fs.
    temperature
        Schedule of the thermostat target, K: a number (constant), ``{start, end}`` (linear
        ramp), ``{values, durations}`` or a list (constant per sub-interval). Required for
        ``nvt`` and ``npt``; on ``nve`` it only sets the initial velocities of a first stage.
    thermostat
        ``langevin`` (BAOAB) or ``nose-hoover`` (chain of three, as LAMMPS ``fix nvt``).
    tdamp
        Thermostat time constant, fs (Langevin friction = 1/tdamp).
    pressure
        Target pressure of ``npt``, GPa.
    pdamp
        Barostat time constant, fs (the period of the barostat's volume oscillation).
    actions
        Actions lasting the whole stage.
    tag
        Free label grouping stages (``reset``, ``set``, ``pulse``), kept in the outputs.
    """

    name: str = Field(min_length=1)
    ensemble: Literal["nvt", "npt", "nve"]
    duration: Duration
    timestep: Duration = 2.0
    temperature: TemperatureSchedule = None
    thermostat: Literal["langevin", "nose-hoover"] = "langevin"
    tdamp: Duration = 100.0
    pressure: Pressure = 0.0
    pdamp: Duration = 1000.0
    actions: list[Action] = Field(default_factory=list)
    tag: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Stage:
        n = self.duration / self.timestep
        if abs(n - round(n)) > 1e-6 * max(1.0, n) or round(n) < 1:
            raise ValueError(
                f"stage {self.name!r}: duration {self.duration:g} fs is not a whole number of "
                f"{self.timestep:g} fs timesteps"
            )
        if self.ensemble in ("nvt", "npt") and self.temperature is None:
            raise ValueError(f"stage {self.name!r}: ensemble {self.ensemble} needs a temperature")
        if (
            self.ensemble != "nve"
            and self.thermostat == "nose-hoover"
            and any(min(p.start, p.end) <= 0 for p in self.temperature_pieces())
        ):
            raise ValueError(
                f"stage {self.name!r}: a Nosé–Hoover thermostat needs a temperature "
                "above 0 K (use langevin to quench to 0 K)"
            )
        if isinstance(self.temperature, Steps) and self.temperature.durations is not None:
            total = sum(self.temperature.durations)
            if abs(total - self.duration) > 1e-6 * self.duration:
                raise ValueError(
                    f"stage {self.name!r}: temperature step durations add up to {total:g} fs, "
                    f"not the stage duration {self.duration:g} fs"
                )
        self.temperature_pieces()  # whole steps per piece
        kinds = [a.kind for a in self.actions]
        if kinds.count("remove_heat") > 1:
            raise ValueError(f"stage {self.name!r}: at most one remove_heat action")
        if "remove_heat" in kinds and ("inject_energy" in kinds or "graded_injection" in kinds):
            raise ValueError(f"stage {self.name!r}: cannot inject and remove heat in one stage")
        if self.ensemble == "npt" and "fix_atoms" in kinds:
            raise ValueError(
                f"stage {self.name!r}: fixed atoms are not supported in npt (the barostat "
                "rescales every position); use nvt"
            )
        return self

    # -- derived quantities

    @property
    def n_steps(self) -> int:
        """Number of timesteps in the stage."""
        return round(self.duration / self.timestep)

    def actions_of(self, kind: type) -> list:
        """Actions of one class, in order."""
        return [a for a in self.actions if isinstance(a, kind)]

    def temperature_pieces(self) -> list[TemperaturePiece]:
        """Return the schedule as linear pieces in whole steps (empty without a temperature).

        Raises
        ------
        ValueError
            When a sub-interval is not a whole number of timesteps.
        """
        sched, n = self.temperature, self.n_steps
        if sched is None:
            return []
        if isinstance(sched, Ramp):
            return [TemperaturePiece(0, n, sched.start, sched.end)]
        if isinstance(sched, Steps):
            count = len(sched.values)
            durations = sched.durations or [self.duration / count] * count
            pieces, start = [], 0
            for value, length in zip(sched.values, durations, strict=True):
                steps = length / self.timestep
                if abs(steps - round(steps)) > 1e-6 * max(1.0, steps) or round(steps) < 1:
                    raise ValueError(
                        f"stage {self.name!r}: temperature sub-interval of {length:g} fs is not "
                        f"a whole number of {self.timestep:g} fs timesteps"
                    )
                pieces.append(TemperaturePiece(start, round(steps), value, value))
                start += round(steps)
            return pieces
        return [TemperaturePiece(0, n, float(sched), float(sched))]

    def temperature_at_step(self, step: int) -> float | None:
        """Target temperature after ``step`` steps of the stage, K (None without a schedule)."""
        pieces = self.temperature_pieces()
        if not pieces:
            return None
        for piece in pieces:
            if step <= piece.start_step + piece.n_steps:
                frac = (step - piece.start_step) / piece.n_steps
                return piece.start + (piece.end - piece.start) * max(0.0, frac)
        return pieces[-1].end

    @property
    def start_temperature(self) -> float | None:
        """Target temperature at the start of the stage, K."""
        pieces = self.temperature_pieces()
        return pieces[0].start if pieces else None

    @property
    def end_temperature(self) -> float | None:
        """Target temperature at the end of the stage, K."""
        pieces = self.temperature_pieces()
        return pieces[-1].end if pieces else None

    @property
    def max_temperature(self) -> float | None:
        """Highest target temperature of the stage, K."""
        pieces = self.temperature_pieces()
        return max(max(p.start, p.end) for p in pieces) if pieces else None


# --------------------------------------------------------------------------- pulse trains


class ResetPulse(_Model):
    """A RESET: melt above Tm, then quench (NVT).

    Parameters
    ----------
    melt_temperature
        Melt temperature, K.
    melt_duration
        Time held at the melt temperature, fs.
    quench_temperature
        Final temperature of the quench, K.
    quench_duration
        Length of the linear quench, fs.
    hold_duration
        Time held at the quench temperature afterwards, fs (0 for none).
    """

    melt_temperature: Temperature = 1100.0
    melt_duration: Duration = 20_000.0
    quench_temperature: Temperature = 300.0
    quench_duration: Duration = 20_000.0
    hold_duration: Annotated[float, _quantity("time"), Field(ge=0)] = 0.0


class SetPulse(_Model):
    """A SET pulse: annealing at a constant temperature (NVT).

    Parameters
    ----------
    temperature
        Pulse temperature, K.
    duration
        Pulse length, fs.
    count
        Number of identical consecutive pulses.
    """

    temperature: Temperature
    duration: Duration
    count: int = Field(1, ge=1)


class PulseTrain(_Model):
    """A RESET followed by SET pulses, expanded into stages when the protocol is loaded.

    Parameters
    ----------
    name
        Prefix of the generated stage names (``<name>-reset-melt``, ``<name>-set-1``, ...).
    reset
        The RESET before the pulses; None for none.
    pulses
        SET pulses in order.
    rest_temperature, rest_duration
        Optional interval between pulses (e.g. back to 300 K, where crystallinity is read);
        none when ``rest_duration`` is 0.
    timestep, thermostat, tdamp
        Passed to every generated stage.
    actions
        Actions (e.g. :class:`FixAtoms`) added to every generated stage.
    """

    name: str = "pulse"
    reset: ResetPulse | None = None
    pulses: list[SetPulse] = Field(min_length=1)
    rest_temperature: Temperature = 300.0
    rest_duration: Annotated[float, _quantity("time"), Field(ge=0)] = 0.0
    timestep: Duration = 2.0
    thermostat: Literal["langevin", "nose-hoover"] = "langevin"
    tdamp: Duration = 100.0
    actions: list[Action] = Field(default_factory=list)

    def stages(self) -> list[Stage]:
        """Return the generated stages."""
        common = {
            "ensemble": "nvt",
            "timestep": self.timestep,
            "thermostat": self.thermostat,
            "tdamp": self.tdamp,
        }
        out: list[Stage] = []

        def add(name: str, duration: float, temperature: Any, tag: str) -> None:
            if duration > 0:
                out.append(
                    Stage(
                        name=f"{self.name}-{name}",
                        duration=duration,
                        temperature=temperature,
                        tag=tag,
                        actions=[a.model_copy() for a in self.actions],
                        **common,
                    )
                )

        if self.reset is not None:
            r = self.reset
            add("reset-melt", r.melt_duration, r.melt_temperature, "reset")
            add(
                "reset-quench",
                r.quench_duration,
                Ramp(start=r.melt_temperature, end=r.quench_temperature),
                "reset",
            )
            add("reset-hold", r.hold_duration, r.quench_temperature, "reset")
        index = 0
        for pulse in self.pulses:
            for _ in range(pulse.count):
                index += 1
                add(f"set-{index}", pulse.duration, pulse.temperature, "set")
                add(f"rest-{index}", self.rest_duration, self.rest_temperature, "rest")
        return out


# --------------------------------------------------------------------------- run settings


class SafetyLimits(_Model):
    """Blow-up detection: a run stops with an error when a limit is crossed.

    Parameters
    ----------
    max_force
        Largest force allowed on any atom, eV/Å (checked every step).
    min_distance
        Smallest interatomic distance allowed, Å (checked every ``check_interval`` steps).
    temperature_factor
        The run stops when the temperature exceeds this factor times the expected temperature
        (the schedule, or for ``nve`` the start temperature plus the injected energy), taking
        at least 300 K as the expected temperature (checked every step).
    check_interval
        Steps between distance checks (at most 10, so a blow-up is caught within 10 steps).
    """

    max_force: float = Field(50.0, gt=0)
    min_distance: float = Field(1.0, ge=0)
    temperature_factor: float = Field(3.0, gt=1)
    check_interval: int = Field(10, ge=1, le=10)


class RunSettings(_Model):
    """How a run is recorded, checkpointed and guarded (the same for every engine).

    Parameters
    ----------
    thermo_interval
        Steps between rows of the thermodynamic series (stage ends are always recorded). The
        pressure column needs the stress, which costs a GAP a few percent extra on those steps.
    frame_interval
        Steps between saved frames (positions and velocities); 0 saves only the first frame and
        the last frame of each stage.
    checkpoint_interval
        Steps between checkpoints (0 for checkpoints only at stage ends).
    walltime
        Stop cleanly at a checkpoint once this many seconds have passed, so a chained job can
        continue; None for no limit.
    progress_interval
        Seconds between progress reports.
    safety
        Blow-up limits.
    """

    thermo_interval: int = Field(50, ge=1)
    frame_interval: int = Field(500, ge=0)
    checkpoint_interval: int = Field(5000, ge=0)
    walltime: float | None = Field(None, gt=0)
    progress_interval: float = Field(60.0, gt=0)
    safety: SafetyLimits = Field(default_factory=SafetyLimits)


# --------------------------------------------------------------------------- protocol


@dataclass(frozen=True)
class StageEnergy:
    """Energy a stage adds or takes out through its actions (a plan, before any compute).

    Attributes
    ----------
    stage
        Stage name.
    injected
        Energy injected, eV.
    removed
        Energy removed, eV.
    injection_rate, removal_rate
        The corresponding constant rates, eV/fs.
    """

    stage: str
    injected: float
    removed: float
    injection_rate: float
    removal_rate: float


def _expand_generators(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    out: list[Any] = []
    for item in value:
        if isinstance(item, PulseTrain):
            out.extend(item.stages())
        elif isinstance(item, dict) and set(item) == {"pulse_train"}:
            out.extend(PulseTrain.model_validate(item["pulse_train"]).stages())
        else:
            out.append(item)
    return out


class Protocol(_Model):
    """An MD protocol: stages run one after another on one structure.

    Parameters
    ----------
    name
        Short name.
    description
        What the protocol models, and its source.
    stages
        The stages; :class:`PulseTrain` entries (``{pulse_train: {...}}`` in YAML) are expanded.
    initial_temperature
        Temperature of the Maxwell–Boltzmann velocities drawn at the start, K. None keeps
        velocities the structure carries, or draws them at the first stage's start temperature
        when it has none.
    seed
        Seed of the velocity and thermostat random numbers; None draws one (recorded in the
        outputs).
    temperature_ceiling
        Highest temperature a stage may ask for or an injection may be expected to reach, K.
    reference_atoms
        Number of atoms the energies of the actions were written for (the published cell);
        :meth:`scaled_to` rescales energies and rates to another size.
    """

    name: str = "protocol"
    description: str = ""
    stages: Annotated[list[Stage], BeforeValidator(_expand_generators)] = Field(min_length=1)
    initial_temperature: Temperature | None = None
    seed: int | None = None
    temperature_ceiling: Temperature = 5000.0
    reference_atoms: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _checks(self) -> Protocol:
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stage names must be unique; repeated: {', '.join(dupes)}")
        for stage in self.stages:
            hot = stage.max_temperature
            if hot is not None and hot > self.temperature_ceiling:
                raise ValueError(
                    f"stage {stage.name!r} asks for {hot:g} K, above the temperature ceiling "
                    f"{self.temperature_ceiling:g} K (temperature_ceiling)"
                )
        self.energy_plan()
        return self

    # -- totals

    @property
    def n_steps(self) -> int:
        """Total number of timesteps."""
        return sum(s.n_steps for s in self.stages)

    @property
    def duration(self) -> float:
        """Total simulated time, fs."""
        return sum(s.duration for s in self.stages)

    def stage_start_steps(self) -> list[int]:
        """Global step at which each stage starts."""
        starts, total = [], 0
        for stage in self.stages:
            starts.append(total)
            total += stage.n_steps
        return starts

    def stage(self, name: str) -> Stage:
        """Return the stage called ``name``."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"no stage {name!r} in protocol {self.name!r}")

    def start_temperature(self) -> float | None:
        """Temperature of freshly drawn velocities, K (None: leave atoms at rest)."""
        if self.initial_temperature is not None:
            return self.initial_temperature
        return self.stages[0].start_temperature

    def energy_plan(self) -> list[StageEnergy]:
        """Energy each stage injects and removes, from the actions alone.

        Raises
        ------
        ValueError
            When a ``remove_heat`` without an energy has nothing left to remove.
        """
        plan, balance = [], 0.0
        for stage in self.stages:
            injected = sum(
                a.total_energy(stage.duration)
                for a in stage.actions
                if isinstance(a, InjectEnergy | GradedInjection)
            )
            removed = 0.0
            for action in stage.actions_of(RemoveHeat):
                removed = action.energy if action.energy is not None else balance
                if removed <= 0:
                    raise ValueError(
                        f"stage {stage.name!r}: remove_heat without an energy removes what "
                        "earlier stages injected, and they injected nothing"
                    )
            balance += injected - removed
            plan.append(
                StageEnergy(
                    stage.name, injected, removed, injected / stage.duration, removed / stage.duration
                )
            )
        return plan

    # -- checks against a structure

    def validate_for(self, atoms: Atoms) -> None:
        """Check that the protocol can run on ``atoms``, before any compute.

        Checks per-atom arrays named by actions (present, right length, non-empty selection of
        mobile atoms), charges for every species under a field, that some atoms move, that
        no injection is expected to heat its atoms above :attr:`temperature_ceiling` (taking a
        heat capacity of 3 k_B per atom and no heat flow out: an upper estimate), and that no
        heat removal takes more energy than its atoms hold at the temperature expected when
        it starts (3 k_B per atom: the most a removal can take before the kinetic energy runs
        out).

        Parameters
        ----------
        atoms
            The starting structure, with its role arrays (``fixed``, ``region``, ...).

        Raises
        ------
        ProtocolError
            Listing every problem found.
        """
        problems: list[str] = []
        n_atoms = len(atoms)
        symbols = sorted(set(atoms.get_chemical_symbols()))
        temperature = self.start_temperature()
        if temperature is None:
            temperature = 0.0
        if atoms.get_momenta().any() and self.initial_temperature is None:
            temperature = max(temperature, _current_temperature(atoms))
        for stage in self.stages:
            where = f"stage {stage.name!r}"
            try:
                fixed = fixed_mask(atoms, stage)
            except ProtocolError as err:
                problems.append(f"fix_atoms: {err}")
                continue
            mobile = ~fixed
            n_mobile = int(mobile.sum())
            if n_mobile == 0:
                problems.append(f"{where}: every atom is fixed")
                continue
            if stage.temperature is not None:
                temperature = stage.end_temperature
            peak_rise, total_rise = 0.0, 0.0
            for action in stage.actions:
                if isinstance(action, InjectEnergy | GradedInjection | RemoveHeat):
                    try:
                        group = select_atoms(atoms, action.region, action.region_value) & mobile
                    except ProtocolError as err:
                        problems.append(f"{where}, {action.kind}: {err}")
                        continue
                    if not group.any():
                        what = f"'{action.region}' array" if action.region else "structure"
                        problems.append(
                            f"{where}, {action.kind}: no mobile atom selected by the {what}"
                            + (f" (value {action.region_value})" if action.region_value else "")
                        )
                        continue
                if isinstance(action, InjectEnergy):
                    energy = action.total_energy(stage.duration)
                    peak_rise = max(peak_rise, energy / (3 * KB * group.sum()))
                    total_rise += energy / (3 * KB * n_mobile)
                elif isinstance(action, GradedInjection):
                    energy = action.total_energy(stage.duration)
                    groups = graded_groups(atoms, action, stage.duration, mobile)
                    per_atom = max(rate * stage.duration / m.sum() for m, rate in groups)
                    peak_rise = max(peak_rise, per_atom / (3 * KB))
                    total_rise += energy / (3 * KB * n_mobile)
                elif isinstance(action, ElectricField):
                    present = sorted(set(np.asarray(atoms.get_chemical_symbols())[mobile]))
                    missing = [s for s in present if s not in action.charges]
                    if missing:
                        given = ", ".join(sorted(action.charges)) or "none"
                        problems.append(
                            f"{where}, electric_field: no charge for {', '.join(missing)} "
                            f"(charges given for {given})"
                        )
            if peak_rise and temperature + peak_rise > self.temperature_ceiling:
                problems.append(
                    f"{where}: the injected energy is expected to heat its atoms to about "
                    f"{temperature + peak_rise:,.0f} K, above the temperature ceiling "
                    f"{self.temperature_ceiling:,.0f} K: lower the energy, enlarge the region "
                    "or raise temperature_ceiling"
                )
            plan = {p.stage: p for p in self.energy_plan()}[stage.name]
            for action in stage.actions_of(RemoveHeat):
                group = select_atoms(atoms, action.region, action.region_value) & mobile
                held = 3 * KB * int(group.sum()) * temperature
                if group.any() and plan.removed > held:
                    problems.append(
                        f"{where}, remove_heat: removing {plan.removed:.4g} eV needs more "
                        f"kinetic energy than its {int(group.sum())} atoms can give: at the "
                        f"expected {temperature:,.0f} K they hold about {held:.4g} eV of heat "
                        "(3 k_B per atom, kinetic and potential) and the run would stop when "
                        "their kinetic energy ran out; remove less energy"
                    )
            temperature += total_rise - plan.removed / (3 * KB * n_mobile)
        problems = list(dict.fromkeys(problems))
        if problems:
            head = f"protocol {self.name!r} cannot run on {atoms.get_chemical_formula()} "
            head += f"({n_atoms} atoms, species {', '.join(symbols)}):"
            raise ProtocolError("\n  ".join([head, *problems]))

    # -- transformations

    def scaled_to(self, n_atoms: int) -> Protocol:
        """Return a copy with action energies scaled by ``n_atoms / reference_atoms``.

        Energy per atom, hence the temperature reached, stays that of the published cell.

        Raises
        ------
        ValueError
            When :attr:`reference_atoms` is not set.
        """
        if self.reference_atoms is None:
            raise ValueError(f"protocol {self.name!r} has no reference_atoms to scale from")
        factor = n_atoms / self.reference_atoms
        data = self.to_dict()
        for stage in data["stages"]:
            for action in stage["actions"]:
                for key in ("rate", "energy"):
                    if action.get(key) is not None and action["kind"] != "electric_field":
                        action[key] *= factor
        data["reference_atoms"] = n_atoms
        return Protocol.from_dict(data)

    # -- serialisation

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dictionary (all fields, internal units)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Protocol:
        """Build from :meth:`to_dict` output or a YAML mapping."""
        data = {k: v for k, v in data.items() if not k.startswith("@")}
        return cls.model_validate(data)

    def as_dict(self) -> dict[str, Any]:
        """MSON form (``@module``/``@class``), for jobflow and FireWorks."""
        return {"@module": type(self).__module__, "@class": type(self).__name__, **self.to_dict()}

    def to_yaml(self, path: str | Path | None = None) -> str:
        """YAML text of the protocol (fields left at their defaults omitted).

        Parameters
        ----------
        path
            Also write it there when given.
        """
        data = self.model_dump(mode="json", exclude_defaults=True)
        for stage, model in zip(data["stages"], self.stages, strict=True):
            if model.actions:
                # the tag ``kind`` has a default, so exclude_defaults drops it: put it back
                stage["actions"] = [
                    {"kind": m.kind, **{k: v for k, v in d.items() if k != "kind"}}
                    for d, m in zip(stage["actions"], model.actions, strict=True)
                ]
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_yaml(cls, source: str | Path) -> Protocol:
        """Load from a YAML file path or YAML text."""
        text = source
        if isinstance(source, Path) or (
            isinstance(source, str) and "\n" not in source and Path(source).exists()
        ):
            text = Path(source).read_text()
        data = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise ValueError("a protocol file must hold a mapping with a 'stages' list")
        return cls.from_dict(data)

    def hash(self) -> str:
        """SHA-256 of the canonical JSON form (restarts check it)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def summary(self) -> str:
        """Describe the stages in a few lines."""
        lines = [f"{self.name}: {len(self.stages)} stages, {self.duration / 1000:g} ps, {self.n_steps} steps"]
        plan = {p.stage: p for p in self.energy_plan()}
        for stage in self.stages:
            temp = ""
            if stage.temperature is not None:
                a, b = stage.start_temperature, stage.end_temperature
                temp = f" {a:g} K" if a == b else f" {a:g}→{b:g} K"
            extra = [a.kind for a in stage.actions]
            energy = plan[stage.name]
            if energy.injected:
                extra.append(f"+{energy.injected:g} eV ({ev_to_fj(energy.injected):.3g} fJ)")
            if energy.removed:
                extra.append(f"-{energy.removed:g} eV")
            lines.append(
                f"  {stage.name}: {stage.ensemble}{temp}, {stage.duration / 1000:g} ps"
                + (f" [{', '.join(extra)}]" if extra else "")
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------- atom groups


def _current_temperature(atoms: Atoms) -> float:
    n = len(atoms)
    return 2 * atoms.get_kinetic_energy() / (3 * n * KB) if n else 0.0


def select_atoms(atoms: Atoms, array: str | None, value: int | None = None) -> np.ndarray:
    """Boolean mask of the atoms selected by a per-atom array.

    Parameters
    ----------
    atoms
        Structure carrying the array.
    array
        Array name; None selects every atom.
    value
        Select atoms whose value equals this; None selects non-zero (True) values.

    Raises
    ------
    ProtocolError
        When the array is missing or has the wrong length.
    """
    n = len(atoms)
    if array is None:
        return np.ones(n, dtype=bool)
    if array not in atoms.arrays:
        have = sorted(k for k in atoms.arrays if k not in ("numbers", "positions", "momenta"))
        raise ProtocolError(
            f"the structure has no per-atom array '{array}' (it has: {', '.join(have) or 'none'})"
        )
    data = np.asarray(atoms.arrays[array])
    if data.shape[:1] != (n,) or data.ndim != 1:
        raise ProtocolError(f"per-atom array '{array}' has shape {data.shape}, expected ({n},)")
    return data == value if value is not None else data.astype(bool)


def fixed_mask(atoms: Atoms, stage: Stage) -> np.ndarray:
    """Atoms held fixed during ``stage`` (union of its :class:`FixAtoms` arrays)."""
    mask = np.zeros(len(atoms), dtype=bool)
    for action in stage.actions_of(FixAtoms):
        mask |= select_atoms(atoms, action.array)
    return mask


def graded_groups(
    atoms: Atoms, action: GradedInjection, duration: float, mobile: np.ndarray | None = None
) -> list[tuple[np.ndarray, float]]:
    """Slabs of a graded injection and the power each receives.

    Parameters
    ----------
    atoms
        Structure at the start of the stage.
    action
        The graded injection.
    duration
        Length of the stage, fs (converts a total energy into a rate).
    mobile
        Mask of mobile atoms (default: all).

    Returns
    -------
    list of (numpy.ndarray, float)
        For each non-empty slab from the low to the high end: its boolean atom mask and its
        injection rate in eV/fs. Rates add up to the action's total rate.
    """
    selected = select_atoms(atoms, action.region, action.region_value)
    if mobile is not None:
        selected &= mobile
    if not selected.any():
        raise ProtocolError(f"graded_injection: no mobile atom in '{action.region}'")
    coord = atoms.positions[:, _AXES[action.axis]]
    lo, hi = coord[selected].min(), coord[selected].max()
    width = (hi - lo) / action.n_slabs or 1.0
    index = np.clip(((coord - lo) / width).astype(int), 0, action.n_slabs - 1)
    masks, weights = [], []
    for k in range(action.n_slabs):
        mask = selected & (index == k)
        count = int(mask.sum())
        if count:
            frac = (k + 0.5) / action.n_slabs
            masks.append(mask)
            weights.append(count * (action.ratio + (1.0 - action.ratio) * frac))
    rate = action.total_energy(duration) / duration
    total = sum(weights)
    return [(mask, rate * w / total) for mask, w in zip(masks, weights, strict=True)]


def heat_groups(
    atoms: Atoms, stage: Stage, mobile: np.ndarray, removal_rate: float
) -> list[tuple[np.ndarray, float]]:
    """Atoms whose kinetic energy a stage changes at a constant rate, and the rates.

    Parameters
    ----------
    atoms
        The structure when the stage starts, with the role arrays that select regions.
    stage
        The stage; its :class:`InjectEnergy`, :class:`GradedInjection` and
        :class:`RemoveHeat` actions make the groups, in order.
    mobile
        Atoms that may move (no group holds a fixed atom).
    removal_rate
        Power a :class:`RemoveHeat` action takes out, eV/fs (the stage's
        :attr:`StageEnergy.removal_rate`).

    Returns
    -------
    list of (numpy.ndarray, float)
        Boolean atom mask and rate in eV/fs of each group (negative: heat removed).
    """
    groups: list[tuple[np.ndarray, float]] = []
    for action in stage.actions:
        if isinstance(action, InjectEnergy):
            mask = select_atoms(atoms, action.region, action.region_value) & mobile
            groups.append((mask, action.total_energy(stage.duration) / stage.duration))
        elif isinstance(action, GradedInjection):
            groups += graded_groups(atoms, action, stage.duration, mobile)
        elif isinstance(action, RemoveHeat):
            mask = select_atoms(atoms, action.region, action.region_value) & mobile
            groups.append((mask, -removal_rate))
    return groups


# --------------------------------------------------------------------------- generators


def melt_quench(
    *,
    melt_temperature: float = 1200.0,
    melt_duration: float = 30_000.0,
    quench_temperature: float = 300.0,
    quench_rate: float = 10.0,
    heat_from: float | None = 300.0,
    heat_duration: float = 10_000.0,
    anneal_duration: float = 20_000.0,
    timestep: float = 2.0,
    thermostat: str = "langevin",
    name: str = "melt-quench",
) -> Protocol:
    """Melt–quench protocol (NVT): optional heating, melt, linear quench, anneal.

    Parameters
    ----------
    melt_temperature
        Temperature of the melt, K.
    melt_duration
        Time in the melt, fs.
    quench_temperature
        Final temperature, K.
    quench_rate
        Cooling rate, K/ps (10 K/ps = 10¹³ K/s).
    heat_from
        Start of a linear heating to the melt temperature, K; None starts in the melt.
    heat_duration
        Length of the heating, fs.
    anneal_duration
        Time at the final temperature, fs (0 for none).
    timestep
        Timestep, fs.
    thermostat
        ``langevin`` or ``nose-hoover``.
    name
        Protocol name.
    """
    quench_fs = (melt_temperature - quench_temperature) / quench_rate * 1000.0
    quench_fs = round(quench_fs / timestep) * timestep
    common = {"ensemble": "nvt", "timestep": timestep, "thermostat": thermostat}
    stages = []
    if heat_from is not None:
        stages.append(
            Stage(
                name="heat",
                duration=heat_duration,
                tag="heat",
                temperature=Ramp(start=heat_from, end=melt_temperature),
                **common,
            )
        )
    stages.append(
        Stage(name="melt", duration=melt_duration, temperature=melt_temperature, tag="melt", **common)
    )
    stages.append(
        Stage(
            name="quench",
            duration=quench_fs,
            tag="quench",
            temperature=Ramp(start=melt_temperature, end=quench_temperature),
            **common,
        )
    )
    if anneal_duration > 0:
        stages.append(
            Stage(
                name="anneal",
                duration=anneal_duration,
                tag="anneal",
                temperature=quench_temperature,
                **common,
            )
        )
    return Protocol(
        name=name,
        description=f"melt at {melt_temperature:g} K, quench at {quench_rate:g} K/ps to "
        f"{quench_temperature:g} K",
        stages=stages,
    )


def melt_anneal(
    *,
    melt_temperature: float = 1200.0,
    melt_duration: float = 10_000.0,
    quench_duration: float = 2_000.0,
    anneal_temperature: float = 600.0,
    anneal_duration: float = 50_000.0,
    fixed: str | None = "fixed",
    timestep: float = 2.0,
    name: str = "melt-anneal",
) -> Protocol:
    """Crystallisation from a template (NVT): melt the mobile atoms, quench, anneal.

    On a crystallisation cell (:func:`gst_flows.structures.build_crystallisation_cell`) the
    ``fixed`` template bilayers stay crystalline while the middle melts, so every frame holds
    ordered and disordered regions side by side; during the anneal the crystal grows back
    from the template.

    Parameters
    ----------
    melt_temperature
        Temperature of the melt of the mobile atoms, K.
    melt_duration, quench_duration, anneal_duration
        Stage lengths, fs (the quench is a linear ramp to the anneal temperature).
    anneal_temperature
        Temperature of the anneal, K.
    fixed
        Per-atom array of the atoms held during every stage (None: none held).
    timestep
        Timestep, fs.
    name
        Protocol name.
    """
    common = {"ensemble": "nvt", "timestep": timestep, "actions": [FixAtoms(array=fixed)] if fixed else []}
    stages = [
        Stage(name="melt", duration=melt_duration, temperature=melt_temperature, tag="melt", **common),
        Stage(
            name="quench",
            duration=quench_duration,
            tag="quench",
            temperature=Ramp(start=melt_temperature, end=anneal_temperature),
            **common,
        ),
        Stage(
            name="anneal", duration=anneal_duration, temperature=anneal_temperature, tag="anneal", **common
        ),
    ]
    return Protocol(
        name=name,
        initial_temperature=melt_temperature,
        stages=stages,
        description=f"melt the mobile atoms at {melt_temperature:g} K, quench, anneal at "
        f"{anneal_temperature:g} K" + (f" with '{fixed}' atoms held" if fixed else ""),
    )


def partial_melt(
    *,
    start_temperature: float = 600.0,
    end_temperature: float = 1200.0,
    duration: float = 30_000.0,
    fixed: str | None = "fixed",
    timestep: float = 2.0,
    name: str = "partial-melt",
) -> Protocol:
    """Melting of a crystal (NVT): heat the mobile atoms linearly through the melting point.

    With part of the crystal held (``fixed``), the frames run from the crystal through
    coexisting crystal and melt to a melt against the held template.

    Parameters
    ----------
    start_temperature, end_temperature
        Ends of the heating ramp, K.
    duration
        Length of the ramp, fs.
    fixed
        Per-atom array of the atoms held (None: none held).
    timestep
        Timestep, fs.
    name
        Protocol name.
    """
    stage = Stage(
        name="heat",
        ensemble="nvt",
        duration=duration,
        timestep=timestep,
        tag="melt",
        temperature=Ramp(start=start_temperature, end=end_temperature),
        actions=[FixAtoms(array=fixed)] if fixed else [],
    )
    return Protocol(
        name=name,
        initial_temperature=start_temperature,
        stages=[stage],
        description=f"heat from {start_temperature:g} to {end_temperature:g} K"
        + (f" with '{fixed}' atoms held" if fixed else ""),
    )


def pulse_train(
    pulses: Sequence[tuple[float, float]] | Sequence[SetPulse],
    *,
    reset: ResetPulse | None = None,
    repeat: int = 1,
    rest_temperature: float = 300.0,
    rest_duration: float = 0.0,
    fixed: str | None = None,
    timestep: float = 2.0,
    name: str = "cumulative-set",
) -> Protocol:
    """RESET + SET pulse-train protocol.

    Parameters
    ----------
    pulses
        ``(temperature K, duration fs)`` pairs or :class:`SetPulse` objects.
    reset
        The RESET first (default :class:`ResetPulse()`); pass ``ResetPulse`` parameters to
        change it.
    repeat
        How many times the whole pulse sequence is applied.
    rest_temperature, rest_duration
        Optional interval between pulses.
    fixed
        Name of a per-atom array of fixed atoms, if any.
    timestep
        Timestep, fs.
    name
        Protocol name.
    """
    items = [p if isinstance(p, SetPulse) else SetPulse(temperature=p[0], duration=p[1]) for p in pulses]
    train = PulseTrain(
        name="pulse",
        reset=reset if reset is not None else ResetPulse(),
        pulses=items * repeat,
        rest_temperature=rest_temperature,
        rest_duration=rest_duration,
        timestep=timestep,
        actions=[FixAtoms(array=fixed)] if fixed else [],
    )
    return Protocol(name=name, description="RESET then SET pulses", stages=[train])


# --------------------------------------------------------------------------- shipped files


def _protocol_dir() -> Path:
    return Path(str(resources.files("gst_flows") / "data" / "protocols"))


def list_protocols() -> list[str]:
    """Names of the protocols shipped with the package."""
    return sorted(p.stem for p in _protocol_dir().glob("*.yaml"))


def _protocol_file(path: Path) -> Protocol:
    """Load a protocol YAML file; a mistake in it raises one line naming the file and field."""
    from pydantic import ValidationError

    from gst_flows.errors import InputError, validation_message, yaml_message

    where = f"protocol {path}"
    try:
        return Protocol.from_yaml(path)
    except yaml.YAMLError as exc:
        raise InputError(yaml_message(exc), where=where, fix="fix the YAML syntax") from None
    except UnicodeDecodeError:
        raise InputError("not a text file", where=where, fix="give a protocol YAML file") from None
    except ValidationError as exc:
        raise InputError(
            validation_message(exc), where=where, fix="see docs/md.md for the protocol fields"
        ) from None
    except ProtocolError:
        raise
    except ValueError as exc:
        raise InputError(str(exc), where=where, fix="see docs/md.md for the protocol fields") from None


def load_protocol(source: str | Path | Protocol | dict[str, Any]) -> Protocol:
    """Load a protocol from a shipped name, a YAML path, a dictionary or a protocol.

    Parameters
    ----------
    source
        ``"mushroom_reset"`` (see :func:`list_protocols`), a path to a YAML file, a mapping or a
        :class:`Protocol`.

    Raises
    ------
    FileNotFoundError
        When ``source`` is neither a file nor a shipped name.
    gst_flows.errors.InputError
        For a file that is not valid YAML or not a valid protocol (one line naming the file,
        the field and the problem).
    """
    if isinstance(source, Protocol):
        return source
    if isinstance(source, dict):
        return Protocol.from_dict(source)
    path = Path(source)
    if path.is_file():
        return _protocol_file(path)
    shipped = _protocol_dir() / f"{Path(str(source)).stem}.yaml"
    if shipped.is_file() and path.suffix in ("", ".yaml"):
        return _protocol_file(shipped)
    raise FileNotFoundError(
        f"no protocol file {str(source)!r} and no shipped protocol of that name "
        f"(shipped: {', '.join(list_protocols())})"
    )


def iter_actions(protocol: Protocol) -> Iterator[tuple[Stage, Action]]:
    """Every (stage, action) pair in order."""
    for stage in protocol.stages:
        for action in stage.actions:
            yield stage, action
