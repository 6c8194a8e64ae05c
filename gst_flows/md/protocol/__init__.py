"""MD protocols: what to run, independent of the engine that runs it.

A :class:`Protocol` is an ordered list of :class:`Stage` objects. A stage has an ensemble
(``nvt``, ``npt`` or ``nve``), a thermostat (Langevin or Nosé–Hoover chain), a timestep, a
duration, a temperature schedule (constant, linear ramp or values per sub-interval) and
actions that last the whole stage: fixed atoms (:class:`FixAtoms`), kinetic energy injected
into a region (:class:`InjectEnergy`) or in slabs along an axis (:class:`GradedInjection`),
injected energy taken out again (:class:`RemoveHeat`) and a constant force q·E
(:class:`ElectricField`).

A :class:`PulseTrain` in the stage list expands into stages (a RESET melt–quench followed by
SET annealing pulses) when the protocol is loaded, so engines only ever see stages.

Units: eV, Å, fs, K, GPa, charges in e and fields in V/Å (= eV/Å per e); injection rates in
eV/ps. YAML files may write quantities with units (``"30 ps"``, ``"0.264 fJ"``).

Engines (ASE, LAMMPS) translate a validated protocol; the helpers :func:`select_atoms`,
:func:`graded_groups`, :func:`heat_groups` and :meth:`Protocol.energy_plan` give both the same
atom groups and energies.

Modules: :mod:`~gst_flows.md.protocol.quantities` (field quantities and units),
:mod:`~gst_flows.md.protocol.schedules` (temperature schedules),
:mod:`~gst_flows.md.protocol.actions`, :mod:`~gst_flows.md.protocol.stages` (stages and pulse
trains), :mod:`~gst_flows.md.protocol.settings` (run settings),
:mod:`~gst_flows.md.protocol.model` (the protocol), :mod:`~gst_flows.md.protocol.groups` (atom
groups) and :mod:`~gst_flows.md.protocol.library` (shipped protocols). Import from this package:
its objects name it as their module, so serialised documents (``@module``) do not depend on
where in the package a class is defined.
"""

from inspect import isclass as _isclass
from inspect import isfunction as _isfunction

from gst_flows.md.protocol.actions import (
    Action,
    ElectricField,
    FixAtoms,
    GradedInjection,
    InjectEnergy,
    RemoveHeat,
)
from gst_flows.md.protocol.groups import fixed_mask, graded_groups, heat_groups, select_atoms
from gst_flows.md.protocol.library import (
    liquid_hold,
    list_protocols,
    load_protocol,
    melt_anneal,
    melt_quench,
    partial_melt,
    pulse_train,
)
from gst_flows.md.protocol.model import Protocol, StageEnergy, iter_actions
from gst_flows.md.protocol.quantities import AxisName as AxisName
from gst_flows.md.protocol.quantities import Duration as Duration
from gst_flows.md.protocol.quantities import Energy as Energy
from gst_flows.md.protocol.quantities import FieldStrength as FieldStrength
from gst_flows.md.protocol.quantities import Power as Power
from gst_flows.md.protocol.quantities import Pressure as Pressure
from gst_flows.md.protocol.quantities import ProtocolError
from gst_flows.md.protocol.quantities import Temperature as Temperature
from gst_flows.md.protocol.schedules import Ramp, Steps, TemperaturePiece
from gst_flows.md.protocol.schedules import TemperatureSchedule as TemperatureSchedule
from gst_flows.md.protocol.settings import RunSettings, SafetyLimits
from gst_flows.md.protocol.stages import PulseTrain, ResetPulse, SetPulse, Stage

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
    "liquid_hold",
    "list_protocols",
    "load_protocol",
    "melt_anneal",
    "melt_quench",
    "partial_melt",
    "pulse_train",
    "select_atoms",
]

# Stored documents and jobflow records name a class by its module (``@module``), and documents
# written before this package was split name ``gst_flows.md.protocol``: keep that the module of
# every public class and function, wherever in the package it is defined.
for _obj in [globals()[_name] for _name in __all__]:
    if _isclass(_obj) or _isfunction(_obj):
        _obj.__module__ = __name__
del _obj
