"""MD engine layer: protocols (schedules, pulses, energy injection, fields) run on ASE or LAMMPS.

Pure layer: no jobflow, no database. :mod:`gst_flows.makers.md` wraps it into jobs.

- :mod:`gst_flows.md.protocol`: the engine-independent protocol model and shipped protocols;
- :mod:`gst_flows.md.ase_engine`: runs a protocol with any ASE calculator (quippy GAP);
- :mod:`gst_flows.md.lammps`: runs the same protocol in LAMMPS (``pair_style quip``);
- :mod:`gst_flows.md.results`: the run directory and result shared by both engines;
- :mod:`gst_flows.md.engine`: the run set-up, restarts, progress reports and result writing
  both engines share;
- :mod:`gst_flows.md.potential`: potential references (GAP file, id, calculator factory).
"""

from gst_flows.md.ase_engine import AseMDEngine, MDProgress, run_protocol
from gst_flows.md.protocol import (
    ElectricField,
    FixAtoms,
    GradedInjection,
    InjectEnergy,
    Protocol,
    ProtocolError,
    PulseTrain,
    Ramp,
    RemoveHeat,
    ResetPulse,
    RunSettings,
    SafetyLimits,
    SetPulse,
    Stage,
    Steps,
    list_protocols,
    load_protocol,
    melt_quench,
    pulse_train,
)
from gst_flows.md.results import EnergyLedger, MDBlowUpError, MDResult, StageResult

__all__ = [
    "AseMDEngine",
    "ElectricField",
    "EnergyLedger",
    "FixAtoms",
    "GradedInjection",
    "InjectEnergy",
    "MDBlowUpError",
    "MDProgress",
    "MDResult",
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
    "StageResult",
    "Steps",
    "list_protocols",
    "load_protocol",
    "melt_quench",
    "pulse_train",
    "run_protocol",
]
