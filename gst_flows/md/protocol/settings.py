"""How a run is recorded, checkpointed and guarded against blow-ups (the same for every engine)."""

from __future__ import annotations

from pydantic import Field

from gst_flows.md.protocol.quantities import StrictModel

__all__ = ["RunSettings", "SafetyLimits"]


class SafetyLimits(StrictModel):
    """Blow-up detection: a run stops with an error when a limit is crossed.

    Parameters
    ----------
    max_force
        Largest force allowed on any atom, eV/Å (checked every step).
    min_distance
        Smallest interatomic distance allowed, Å (checked every ``check_interval`` steps).
    temperature_factor
        The run stops when the temperature exceeds this factor times the expected temperature
        (under a thermostat the larger of the schedule and the temperature at the stage
        start, since a thermostat cools a hot start gradually; for ``nve`` the start
        temperature plus the injected energy), taking at least 300 K as the expected
        temperature (checked every step, the same on both engines).
    check_interval
        Steps between distance checks (at most 10, so a blow-up is caught within 10 steps).
    """

    max_force: float = Field(50.0, gt=0)
    min_distance: float = Field(1.0, ge=0)
    temperature_factor: float = Field(3.0, gt=1)
    check_interval: int = Field(10, ge=1, le=10)


class RunSettings(StrictModel):
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
