"""Stages of a protocol, and pulse trains that expand into stages.

A :class:`Stage` has an ensemble (``nvt``, ``npt`` or ``nve``), a thermostat (Langevin or
Nosé–Hoover chain), a timestep, a duration, a temperature schedule and actions lasting the
whole stage. A :class:`PulseTrain` in a protocol's stage list expands into stages (a RESET
melt–quench followed by SET annealing pulses) when the protocol is loaded, so engines only
ever see stages.
"""

# Annotations are evaluated when the classes are defined (no ``from __future__ import
# annotations``): the classes name the package as their module (see ``__init__``), where
# ``typing.get_type_hints`` could not resolve string annotations.
from typing import Any, Literal

from pydantic import Field, model_validator

from gst_flows.md.protocol.actions import Action
from gst_flows.md.protocol.quantities import (
    Duration,
    NonNegativeDuration,
    Pressure,
    StrictModel,
    Temperature,
    whole_steps,
)
from gst_flows.md.protocol.schedules import Ramp, Steps, TemperaturePiece, TemperatureSchedule

__all__ = ["PulseTrain", "ResetPulse", "SetPulse", "Stage", "expand_pulse_trains"]


class Stage(StrictModel):
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
    def _consistent(self) -> "Stage":
        whole_steps(self.duration, self.timestep, f"stage {self.name!r}: duration")
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
                steps = whole_steps(
                    length, self.timestep, f"stage {self.name!r}: temperature sub-interval of"
                )
                pieces.append(TemperaturePiece(start, steps, value, value))
                start += steps
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


# -- pulse trains


class ResetPulse(StrictModel):
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
    hold_duration: NonNegativeDuration = 0.0


class SetPulse(StrictModel):
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


class PulseTrain(StrictModel):
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
    rest_duration: NonNegativeDuration = 0.0
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


def expand_pulse_trains(value: Any) -> Any:
    """Replace the :class:`PulseTrain` entries of a stage list by their stages.

    ``{pulse_train: {...}}`` mappings (YAML) are expanded too; anything else is left as is.
    """
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
