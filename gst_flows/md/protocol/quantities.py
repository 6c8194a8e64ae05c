"""Quantities of protocol fields (with units in YAML), the shared model base and the step check.

Units: eV, Å, fs, K, GPa, charges in e and fields in V/Å (= eV/Å per e); injection rates in
eV/ps. YAML files may write quantities with units (``"30 ps"``, ``"0.264 fJ"``), converted by
:func:`gst_flows.md.units.parse_quantity`.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from gst_flows.md.units import parse_quantity

__all__ = [
    "AXES",
    "AxisName",
    "Duration",
    "Energy",
    "FieldStrength",
    "NonNegativeDuration",
    "Power",
    "Pressure",
    "ProtocolError",
    "StrictModel",
    "Temperature",
    "whole_steps",
]


class ProtocolError(ValueError):
    """A protocol that cannot run on a given structure (raised before any compute)."""


def _quantity(dimension: str):
    return BeforeValidator(partial(parse_quantity, dimension=dimension))


Duration = Annotated[float, _quantity("time"), Field(gt=0)]
"""Time in fs (or a string with a unit)."""
NonNegativeDuration = Annotated[float, _quantity("time"), Field(ge=0)]
"""Time in fs that may be 0 (an optional interval)."""
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
AXES = {"x": 0, "y": 1, "z": 2}
"""Index of each Cartesian axis name."""


class StrictModel(BaseModel):
    """Base of the protocol models: unknown fields are refused, assignments validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def whole_steps(length: float, timestep: float, what: str) -> int:
    """Number of timesteps in a time span that must hold a whole number of them (at least one).

    Parameters
    ----------
    length
        The span, fs.
    timestep
        Timestep, fs.
    what
        Start of the error message, naming the span (``"stage 'melt': duration"``).

    Returns
    -------
    int
        ``length / timestep``, rounded.

    Raises
    ------
    ValueError
        ``"<what> <length> fs is not a whole number of <timestep> fs timesteps"``.
    """
    steps = length / timestep
    if abs(steps - round(steps)) > 1e-6 * max(1.0, steps) or round(steps) < 1:
        raise ValueError(f"{what} {length:g} fs is not a whole number of {timestep:g} fs timesteps")
    return round(steps)
