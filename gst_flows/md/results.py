"""What an MD run leaves behind, the same for every engine.

A run directory holds:

``thermo.csv``
    The thermodynamic series, one row every ``thermo_interval`` steps and at each stage end,
    with the columns of :data:`THERMO_COLUMNS`.
``frames.extxyz``
    Saved frames: positions, per-atom ``velocities`` (Å/fs) and role arrays (``fixed``,
    ``region``, ...); ``info`` holds ``step``, ``time_fs``, ``stage``, ``stage_name``,
    ``temperature_k`` and ``stage_end``.
``final.extxyz``
    The last state, with velocities.
``result.json``
    Protocol, stage summaries, energy ledger and run metadata.
``checkpoint.npz``
    The last checkpoint (engine-specific state inside).

:meth:`MDResult.from_directory` reads it back.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.io import read, write
from pydantic import BaseModel, Field, computed_field, field_validator

from gst_flows.md.protocol import Protocol
from gst_flows.md.units import FS, ev_to_fj

__all__ = [
    "THERMO_COLUMNS",
    "EnergyLedger",
    "MDBlowUpError",
    "MDResult",
    "StageResult",
    "read_frames",
    "read_thermo",
    "stage_results",
    "write_frame",
]

#: Columns of ``thermo.csv`` (units in the names; ``stage`` is the stage index; the energy
#: columns ``injected_ev`` ... ``thermostat_ev`` are cumulative from the start of the run).
THERMO_COLUMNS: tuple[str, ...] = (
    "step",
    "time_fs",
    "stage",
    "temperature_k",
    "target_temperature_k",
    "epot_ev",
    "ekin_ev",
    "etot_ev",
    "pressure_gpa",
    "volume_a3",
    "density_g_cm3",
    "injected_ev",
    "removed_ev",
    "field_work_ev",
    "thermostat_ev",
    "conserved_ev",
)


class MDBlowUpError(RuntimeError):
    """The run left physical bounds (huge force, runaway temperature, atoms too close).

    Attributes
    ----------
    step
        Global step at which the problem was seen.
    stage
        Name of the stage.
    reason
        What was exceeded.
    checkpoint
        Path of the last good checkpoint, if any.
    """

    def __init__(self, step: int, stage: str, reason: str, checkpoint: str | None = None):
        self.step, self.stage, self.reason, self.checkpoint = step, stage, reason, checkpoint
        where = f"; last good checkpoint: {checkpoint}" if checkpoint else ""
        super().__init__(f"MD blew up at step {step} (stage {stage!r}): {reason}{where}")


class EnergyLedger(BaseModel):
    """Energy exchanged with the outside world, eV (cumulative).

    The engines add to the four tallies as a run goes; the net energy and the fJ values
    follow from them. The MD and scenario documents store the ledger as it is, the derived
    values included.

    Attributes
    ----------
    injected
        Kinetic energy injected by ``inject_energy`` and ``graded_injection``.
    removed
        Kinetic energy removed by ``remove_heat``.
    field_work
        Work done by electric-field forces.
    thermostat
        Energy the thermostat put in (negative when it took energy out).
    """

    injected: float = Field(0.0, description="Injected kinetic energy, eV.")
    removed: float = Field(0.0, description="Removed kinetic energy, eV.")
    field_work: float = Field(0.0, description="Work of electric-field forces, eV.")
    thermostat: float = Field(0.0, description="Energy put in by thermostats (negative: taken), eV.")

    @computed_field(description="Injected minus removed, eV.")
    @property
    def net(self) -> float:
        """Injected minus removed energy, eV."""
        return self.injected - self.removed

    @computed_field(description="Injected energy, fJ.")
    @property
    def injected_fj(self) -> float:
        """Injected energy, fJ."""
        return ev_to_fj(self.injected)

    @computed_field(description="Removed energy, fJ.")
    @property
    def removed_fj(self) -> float:
        """Removed energy, fJ."""
        return ev_to_fj(self.removed)

    @computed_field(description="Net energy, fJ.")
    @property
    def net_fj(self) -> float:
        """Net energy, fJ."""
        return ev_to_fj(self.net)

    def to_dict(self) -> dict[str, float]:
        """Return the ledger in eV, with the injected, removed and net energies also in fJ."""
        return self.model_dump()

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> EnergyLedger:
        """Build from :meth:`to_dict` output."""
        return cls(
            **{k: float(data.get(k, 0.0)) for k in ("injected", "removed", "field_work", "thermostat")}
        )


_STAGE_STATES = (
    "mean_temperature",
    "final_temperature",
    "final_epot",
    "final_etot",
    "final_pressure",
    "final_density",
    "nve_drift",
)


class StageResult(BaseModel):
    """Summary of one stage (the MD document stores it as it is; ``StageDoc`` is this type).

    A state the run did not measure (no row, no stress) is ``None``, never NaN.
    """

    name: str = Field(description="Stage name.")
    ensemble: str = Field(description="nvt, npt or nve.")
    tag: str | None = Field(None, description="Stage tag (reset, set, ...).")
    start_step: int = Field(description="Global step at the stage start.")
    n_steps: int = Field(description="Steps in the stage.")
    injected: float = Field(0.0, description="Energy injected, eV.")
    removed: float = Field(0.0, description="Energy removed, eV.")
    field_work: float = Field(0.0, description="Work of the electric field, eV.")
    thermostat: float = Field(0.0, description="Energy put in by the thermostat, eV.")
    mean_temperature: float | None = Field(None, description="Mean temperature of the mobile atoms, K.")
    final_temperature: float | None = Field(None, description="Final temperature, K.")
    final_epot: float | None = Field(None, description="Final potential energy, eV.")
    final_etot: float | None = Field(None, description="Final total energy, eV.")
    final_pressure: float | None = Field(None, description="Final pressure, GPa.")
    final_density: float | None = Field(None, description="Final density, g/cm³.")
    nve_drift: float | None = Field(
        None, description="NVE stages: slope of the conserved energy, eV/atom/ps."
    )

    @field_validator(*_STAGE_STATES, mode="before")
    @classmethod
    def _nan_is_none(cls, value: Any) -> Any:
        if isinstance(value, float | np.floating) and not np.isfinite(value):
            return None
        return value

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-compatible dictionary (unmeasured states as None)."""
        return self.model_dump()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageResult:
        """Build from :meth:`to_dict` output (NaN, as older results wrote, read as None)."""
        return cls.model_validate({k: v for k, v in data.items() if not k.startswith("@")})


def stage_results(thermo: dict[str, np.ndarray], protocol: Protocol, n_atoms: int) -> list[StageResult]:
    """Stage summaries computed from a thermodynamic series.

    Parameters
    ----------
    thermo
        Columns of :data:`THERMO_COLUMNS`.
    protocol
        The protocol that was run.
    n_atoms
        Number of atoms (for the drift per atom).

    Returns
    -------
    list of StageResult
        One per stage that has at least one row after its start.
    """
    out = []
    steps = thermo["step"]
    for index, (stage, start) in enumerate(zip(protocol.stages, protocol.stage_start_steps(), strict=True)):
        rows = np.flatnonzero(thermo["stage"] == index)
        if rows.size == 0:
            continue
        # the row just before the stage gives the starting ledger
        before = np.flatnonzero(steps <= start)
        first = before[-1] if before.size else rows[0]
        last = rows[-1]

        def delta(col: str, first: int = first, last: int = last) -> float:
            return float(thermo[col][last] - thermo[col][first])

        result = StageResult(
            name=stage.name,
            ensemble=stage.ensemble,
            tag=stage.tag,
            start_step=start,
            n_steps=stage.n_steps,
            injected=delta("injected_ev"),
            removed=delta("removed_ev"),
            field_work=delta("field_work_ev"),
            thermostat=delta("thermostat_ev"),
            mean_temperature=float(np.mean(thermo["temperature_k"][rows])),
            final_temperature=float(thermo["temperature_k"][last]),
            final_epot=float(thermo["epot_ev"][last]),
            final_etot=float(thermo["etot_ev"][last]),
            final_pressure=float(thermo["pressure_gpa"][last]),
            final_density=float(thermo["density_g_cm3"][last]),
        )
        if stage.ensemble == "nve":
            span = np.r_[first, rows] if first != rows[0] else rows
            t = thermo["time_fs"][span] / 1000.0
            e = thermo["conserved_ev"][span]
            if span.size >= 2 and np.ptp(t) > 0:
                result.nve_drift = float(np.polyfit(t, e, 1)[0] / n_atoms)
        out.append(result)
    return out


# --------------------------------------------------------------------------- files


def read_thermo(path: str | Path) -> dict[str, np.ndarray]:
    """Read ``thermo.csv`` into columns (``step`` and ``stage`` as integers)."""
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        rows = [row for row in reader if row]
    if header is None:
        return {name: np.zeros(0) for name in THERMO_COLUMNS}
    data = np.array(rows, dtype=float).reshape(len(rows), len(header))
    out = {name: data[:, i] for i, name in enumerate(header)}
    for name in ("step", "stage"):
        if name in out:
            out[name] = out[name].astype(np.int64)
    return out


def write_frame(
    handle: Any,
    atoms: Atoms,
    velocities: np.ndarray,
    info: dict[str, Any],
    arrays: dict[str, np.ndarray] | None = None,
) -> None:
    """Append one frame to an open extxyz file.

    Parameters
    ----------
    handle
        Text file open for writing.
    atoms
        Current structure (positions, cell, numbers).
    velocities
        Velocities, Å/fs.
    info
        Per-frame values (step, time_fs, stage, ...).
    arrays
        Extra per-atom arrays (role arrays).
    """
    frame = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    frame.new_array("velocities", np.asarray(velocities, dtype=float))
    for name, values in (arrays or {}).items():
        frame.new_array(name, np.asarray(values))
    frame.info.update(info)
    write(handle, frame, format="extxyz")


def read_frames(path: str | Path, index: str | int | slice = ":") -> list[Atoms]:
    """Read saved frames; velocities are set from the ``velocities`` array (Å/fs).

    Parameters
    ----------
    path
        ``frames.extxyz`` (or ``final.extxyz``).
    index
        ASE index: ``":"`` for all, ``-1`` for the last, ``"::10"``...
    """
    frames = read(path, index=index, format="extxyz")
    if isinstance(frames, Atoms):
        frames = [frames]
    for frame in frames:
        if "velocities" in frame.arrays:
            frame.set_velocities(frame.arrays["velocities"] / FS)
    return frames


@dataclass
class MDResult:
    """The outcome of running a protocol.

    Attributes
    ----------
    engine
        ``ase`` or ``lammps``.
    protocol
        The protocol.
    final_atoms
        Last state, with velocities and role arrays.
    thermo
        The thermodynamic series (:data:`THERMO_COLUMNS`).
    stages
        Per-stage summaries.
    ledger
        Energy exchanged over the whole run.
    n_steps
        Steps done (equals ``protocol.n_steps`` when completed).
    completed
        False when the run stopped at its walltime, to be continued from the checkpoint.
    workdir
        Run directory.
    n_frames
        Number of saved frames.
    seed
        Seed of the random numbers.
    wall_time
        Wall-clock seconds spent (all restarts together).
    potential
        Identifier of the potential.
    metadata
        Anything else the engine reports.
    """

    engine: str
    protocol: Protocol
    final_atoms: Atoms
    thermo: dict[str, np.ndarray]
    stages: list[StageResult]
    ledger: EnergyLedger
    n_steps: int
    completed: bool
    workdir: Path
    n_frames: int = 0
    seed: int | None = None
    wall_time: float = 0.0
    potential: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def frames_file(self) -> Path:
        """Path of the saved frames."""
        return self.workdir / "frames.extxyz"

    def read_frames(self, index: str | int | slice = ":") -> list[Atoms]:
        """Read saved frames (see :func:`read_frames`)."""
        return read_frames(self.frames_file, index)

    def stage_thermo(self, name: str) -> dict[str, np.ndarray]:
        """Rows of the thermodynamic series belonging to stage ``name``."""
        index = [s.name for s in self.protocol.stages].index(name)
        rows = self.thermo["stage"] == index
        return {k: v[rows] for k, v in self.thermo.items()}

    def stage_result(self, name: str) -> StageResult:
        """Summary of stage ``name``."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"no stage {name!r} in this result")

    def to_json_dict(self) -> dict[str, Any]:
        """Metadata written to ``result.json`` (no arrays, no atoms)."""
        return {
            "engine": self.engine,
            "protocol": self.protocol.to_dict(),
            "stages": [s.to_dict() for s in self.stages],
            "ledger": self.ledger.to_dict(),
            "n_steps": self.n_steps,
            "completed": self.completed,
            "n_frames": self.n_frames,
            "seed": self.seed,
            "wall_time": self.wall_time,
            "potential": self.potential,
            "metadata": self.metadata,
        }

    def write(self) -> Path:
        """Write ``result.json`` and ``final.extxyz`` into :attr:`workdir`."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        final = self.final_atoms
        velocities = final.get_velocities() * FS
        arrays = {
            k: v
            for k, v in final.arrays.items()
            if k not in ("numbers", "positions", "momenta", "velocities")
        }
        with open(self.workdir / "final.extxyz", "w") as handle:
            write_frame(handle, final, velocities, {"step": self.n_steps}, arrays)
        path = self.workdir / "result.json"
        path.write_text(json.dumps(self.to_json_dict(), indent=1))
        return path

    @classmethod
    def from_directory(cls, workdir: str | Path) -> MDResult:
        """Read a finished (or stopped) run directory."""
        workdir = Path(workdir)
        meta = json.loads((workdir / "result.json").read_text())
        final = read_frames(workdir / "final.extxyz", -1)[0]
        return cls(
            engine=meta["engine"],
            protocol=Protocol.from_dict(meta["protocol"]),
            final_atoms=final,
            thermo=read_thermo(workdir / "thermo.csv"),
            stages=[StageResult.from_dict(s) for s in meta["stages"]],
            ledger=EnergyLedger.from_dict(meta["ledger"]),
            n_steps=meta["n_steps"],
            completed=meta["completed"],
            workdir=workdir,
            n_frames=meta.get("n_frames", 0),
            seed=meta.get("seed"),
            wall_time=meta.get("wall_time", 0.0),
            potential=meta.get("potential"),
            metadata=meta.get("metadata", {}),
        )
