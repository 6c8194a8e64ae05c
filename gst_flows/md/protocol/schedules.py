"""Temperature schedules of a stage: constant, linear ramp or constant per sub-interval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from gst_flows.md.protocol.quantities import Duration, StrictModel, Temperature

__all__ = ["Ramp", "Steps", "TemperaturePiece", "TemperatureSchedule"]


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


class Ramp(StrictModel):
    """Linear temperature ramp over the stage: ``start`` at t = 0, ``end`` at the stage end (K)."""

    start: Temperature
    end: Temperature


class Steps(StrictModel):
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
    Temperature | Ramp | Steps | None,
    BeforeValidator(_schedule_shorthand),
]
"""Schedule of a stage's thermostat target: K (constant), :class:`Ramp`, :class:`Steps`, a list
of temperatures (equal sub-intervals) or None."""
