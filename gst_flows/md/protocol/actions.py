"""Actions lasting a whole stage: fixed atoms, energy injection and removal, electric fields.

- :class:`FixAtoms`: atoms flagged in a per-atom array (``fixed``) do not move and are left out
  of thermostats and temperatures;
- :class:`InjectEnergy`: kinetic energy added to a region (``region`` array) at a constant rate,
  conserving the region's momentum;
- :class:`GradedInjection`: the same in slabs along an axis, with more energy at one end;
- :class:`RemoveHeat`: energy injected earlier taken out of every mobile atom at a constant rate;
- :class:`ElectricField`: a constant force q·E on every atom from per-species charges.
"""

# Annotations are evaluated when the classes are defined (no ``from __future__ import
# annotations``): the classes name the package as their module (see ``__init__``), where
# ``typing.get_type_hints`` could not resolve string annotations.
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field, model_validator

from gst_flows.md.protocol.quantities import AXES, AxisName, Energy, FieldStrength, Power, StrictModel

__all__ = ["Action", "ElectricField", "FixAtoms", "GradedInjection", "InjectEnergy", "RemoveHeat"]


class FixAtoms(StrictModel):
    """Hold atoms fixed: no motion, left out of thermostats, temperatures and injections.

    Parameters
    ----------
    array
        Name of a per-atom array; atoms with a non-zero (True) value are fixed.
    """

    kind: Literal["fix_atoms"] = "fix_atoms"
    array: str = "fixed"


class _Injection(StrictModel):
    """An injection of a constant power, given as a rate or as a total energy over the stage.

    Subclasses declare ``kind``, ``rate`` and ``energy`` themselves (keeping their field order).
    """

    @model_validator(mode="after")
    def _one_amount(self) -> "_Injection":
        if (self.rate is None) == (self.energy is None):
            raise ValueError(f"{self.kind}: give exactly one of 'rate' (eV/ps) or 'energy' (eV)")
        amount = self.rate if self.rate is not None else self.energy
        if amount <= 0:
            raise ValueError(f"{self.kind}: the rate or energy must be positive")
        return self

    def total_energy(self, duration: float) -> float:
        """Energy injected over ``duration`` fs, eV."""
        return self.energy if self.energy is not None else self.rate * duration / 1000.0


class InjectEnergy(_Injection):
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


class GradedInjection(_Injection):
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


class RemoveHeat(StrictModel):
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


class ElectricField(StrictModel):
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
    def _direction(self) -> "ElectricField":
        if not isinstance(self.direction, str) and np.linalg.norm(self.direction) == 0:
            raise ValueError("electric_field: the direction vector is zero")
        return self

    def unit_vector(self) -> np.ndarray:
        """Return the unit vector of the field direction."""
        if isinstance(self.direction, str):
            vec = np.zeros(3)
            vec[AXES[self.direction[-1]]] = -1.0 if self.direction.startswith("-") else 1.0
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
