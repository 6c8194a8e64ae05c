"""Ab initio MD with CP2K (NVT, CSVR thermostat): melt, hold and quench in stages.

Each stage is one CP2K run continuing from the previous stage's positions and velocities.
Stages can be built from an MD protocol (:func:`stages_from_protocol`), the one description
of a melt-quench the GAP-MD engines run too. Frames printed every ``every`` steps carry their
DFT labels (energy, forces, stress), so AIMD snapshots enter the reference database without a
second calculation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.units import Bohr, Hartree

from gst_flows.dft.cp2k import (
    AU_TIME_FS,
    HA_BOHR_TO_EV_ANG,
    INPUT_FILE,
    OUTPUT_FILE,
    PROJECT,
    Cp2kError,
    Cp2kSettings,
    write_cp2k_input,
)

__all__ = [
    "AimdFrame",
    "AimdResult",
    "AimdStage",
    "md_motion",
    "protocol_timecon",
    "run_aimd",
    "stages_from_protocol",
]

BAR_TO_GPA = 1e-4


@dataclass(frozen=True)
class AimdStage:
    """One NVT stage: ``steps`` MD steps at ``temperature`` K."""

    temperature: float
    steps: int

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"stage temperature must be positive, got {self.temperature} K")
        if self.steps < 1:
            raise ValueError(f"a stage needs at least one step, got {self.steps}")


def stages_from_protocol(
    protocol: Any, timestep: float | None = None, ramp_stages: int = 4
) -> list[AimdStage]:
    """AIMD stages running the temperature schedule of an MD protocol.

    The MD protocols (:mod:`gst_flows.md.protocol`, e.g.
    :func:`~gst_flows.md.protocol.melt_quench`) are the one description of a melt-quench;
    this translates one for CP2K. A constant temperature becomes one stage; constant
    sub-intervals (``Steps``) one stage each; a linear ramp becomes ``ramp_stages`` stages of
    equal length, each held at the ramp's temperature at the end of its interval (CP2K's
    thermostat holds one temperature per run: the staircase reaches the ramp's end temperature
    in its last stage, and lies half a stair behind the ramp). Durations are kept in fs.

    CP2K AIMD here is NVT with a CSVR thermostat, whatever thermostat the protocol names; it
    cannot express actions (fixed atoms, energy injection or removal, fields), other ensembles
    (``npt`` barostats, ``nve``), or an initial temperature other than the protocol's start.
    Those are refused here, before any compute.

    Parameters
    ----------
    protocol
        A :class:`~gst_flows.md.protocol.Protocol`, or anything
        :func:`~gst_flows.md.protocol.load_protocol` takes (a shipped name, a path, a mapping).
    timestep
        AIMD timestep, fs; the protocol's (one for all stages) when None. Every duration must
        be a whole number of timesteps.
    ramp_stages
        Stages per linear ramp.

    Returns
    -------
    list[AimdStage]
        The stages in order; their steps times ``timestep`` add up to the protocol's duration.

    Raises
    ------
    gst_flows.md.protocol.ProtocolError
        Naming every stage CP2K AIMD cannot run, and why.
    """
    from gst_flows.md.protocol import ProtocolError, load_protocol

    protocol = load_protocol(protocol)
    if isinstance(ramp_stages, bool) or not isinstance(ramp_stages, int) or ramp_stages < 1:
        raise ValueError(f"ramp_stages must be a positive integer, got {ramp_stages!r}")
    problems = []
    for stage in protocol.stages:
        if stage.ensemble != "nvt":
            what = "a barostat" if stage.ensemble == "npt" else "no thermostat"
            problems.append(f"stage {stage.name!r} is {stage.ensemble} ({what}); CP2K AIMD runs nvt only")
        if stage.actions:
            kinds = ", ".join(sorted({a.kind for a in stage.actions}))
            problems.append(f"stage {stage.name!r} has actions ({kinds}) CP2K AIMD cannot run")
    if timestep is None:
        timesteps = sorted({s.timestep for s in protocol.stages})
        if len(timesteps) > 1:
            problems.append(f"stages use several timesteps ({timesteps} fs); give one AIMD timestep")
        timestep = timesteps[0]
    if timestep <= 0:
        problems.append(f"the timestep must be positive, got {timestep} fs")
    first = protocol.stages[0].start_temperature
    if protocol.initial_temperature is not None and protocol.initial_temperature != first:
        problems.append(
            f"initial_temperature {protocol.initial_temperature:g} K differs from the first "
            f"stage's {first} K; CP2K AIMD draws its velocities at the first stage's temperature"
        )
    if problems:
        raise ProtocolError(f"protocol {protocol.name!r} cannot run as CP2K AIMD: " + "; ".join(problems))

    stages: list[AimdStage] = []
    for stage in protocol.stages:
        for piece in stage.temperature_pieces():
            duration = piece.n_steps * stage.timestep
            n_steps = round(duration / timestep)
            if abs(n_steps * timestep - duration) > 1e-6 * duration:
                raise ProtocolError(
                    f"stage {stage.name!r}: {duration:g} fs is not a whole number of "
                    f"{timestep:g} fs timesteps"
                )
            if piece.start == piece.end:
                holds = [(piece.end, n_steps)]
            else:
                if n_steps < ramp_stages:
                    raise ProtocolError(
                        f"stage {stage.name!r}: a ramp of {n_steps} steps cannot be split into "
                        f"{ramp_stages} stages"
                    )
                bounds = [i * n_steps // ramp_stages for i in range(ramp_stages + 1)]
                temperatures = np.linspace(piece.start, piece.end, ramp_stages + 1)[1:]
                holds = [
                    (float(t), b - a) for t, a, b in zip(temperatures, bounds[:-1], bounds[1:], strict=True)
                ]
            for temperature, steps in holds:
                if temperature <= 0:
                    raise ProtocolError(
                        f"stage {stage.name!r}: CP2K AIMD needs temperatures above 0 K, got {temperature:g} K"
                    )
                stages.append(AimdStage(float(temperature), int(steps)))
    return stages


def protocol_timecon(protocol: Any) -> float:
    """The one thermostat time constant (``tdamp``, fs) of a protocol's stages, for CSVR.

    Raises
    ------
    gst_flows.md.protocol.ProtocolError
        When the stages use several (an AIMD run has one).
    """
    from gst_flows.md.protocol import ProtocolError, load_protocol

    protocol = load_protocol(protocol)
    tdamps = sorted({s.tdamp for s in protocol.stages})
    if len(tdamps) > 1:
        raise ProtocolError(
            f"protocol {protocol.name!r} cannot run as CP2K AIMD: stages use several thermostat "
            f"time constants ({tdamps} fs); give thermostat_timecon"
        )
    return tdamps[0]


@dataclass
class AimdFrame:
    """A labelled MD frame: positions Å, velocities Å/fs, energy eV, forces eV/Å, stress GPa."""

    step: int
    time: float
    temperature: float
    positions: np.ndarray
    velocities: np.ndarray
    energy: float
    forces: np.ndarray
    stress: np.ndarray | None


@dataclass
class AimdResult:
    """All stages of an AIMD run: thermodynamic series per step and labelled frames."""

    steps: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    temperatures: list[float] = field(default_factory=list)
    potential_energies: list[float] = field(default_factory=list)
    conserved: list[float] = field(default_factory=list)
    target_temperatures: list[float] = field(default_factory=list)
    frames: list[AimdFrame] = field(default_factory=list)
    final_positions: np.ndarray | None = None
    final_velocities: np.ndarray | None = None


def md_motion(temperature: float, steps: int, timestep: float, every: int, timecon: float) -> list[str]:
    """Lines of a CP2K ``&MOTION`` section for NVT (CSVR) MD printing every ``every`` steps."""

    def printed(name: str) -> list[str]:
        return [f"&{name}", "  &EACH", f"    MD {every}", "  &END EACH", f"&END {name}"]

    return [
        "&MD",
        "  ENSEMBLE NVT",
        f"  STEPS {steps}",
        f"  TIMESTEP {timestep}",
        f"  TEMPERATURE {temperature}",
        "  &THERMOSTAT",
        "    TYPE CSVR",
        "    REGION GLOBAL",
        "    &CSVR",
        f"      TIMECON {timecon}",
        "    &END CSVR",
        "  &END THERMOSTAT",
        "&END MD",
        "&PRINT",
        *("  " + line for name in ("TRAJECTORY", "VELOCITIES", "FORCES", "STRESS") for line in printed(name)),
        "&END PRINT",
    ]


def _xyz_frames(path: Path, natoms: int) -> list[tuple[int, np.ndarray]]:
    """(step, N×3 array) for each frame of a CP2K xyz file."""
    lines = path.read_text().splitlines()
    frames = []
    for start in range(0, len(lines) - natoms - 1, natoms + 2):
        comment = lines[start + 1]
        step = int(comment.split("i =")[1].split(",")[0])
        block = [row.split()[1:4] for row in lines[start + 2 : start + 2 + natoms]]
        frames.append((step, np.array(block, dtype=float)))
    return frames


def _table(path: Path) -> np.ndarray:
    return np.atleast_2d(np.loadtxt(path, comments="#"))


def _run_stage(atoms, settings, directory, stage, timestep, every, timecon, velocities, command):
    import subprocess

    directory.mkdir(parents=True, exist_ok=True)
    write_cp2k_input(
        atoms,
        settings,
        directory,
        motion=md_motion(stage.temperature, stage.steps, timestep, every, timecon),
        velocities=velocities,
    )
    with open(directory / OUTPUT_FILE, "w") as out, open(directory / "std_err.txt", "w") as err:
        proc = subprocess.run(
            [*command, "-i", INPUT_FILE], cwd=directory, stdout=out, stderr=err, check=False
        )
    text = (directory / OUTPUT_FILE).read_text(errors="replace")
    if proc.returncode != 0 or "PROGRAM ENDED AT" not in text:
        raise Cp2kError(f"CP2K MD failed in {directory} (exit code {proc.returncode})")
    if "SCF run NOT converged" in text:
        raise Cp2kError(f"SCF did not converge during CP2K MD in {directory}")


def run_aimd(
    atoms: Atoms,
    stages: list[AimdStage],
    settings: Cp2kSettings | None = None,
    directory: str | Path = ".",
    timestep: float = 2.0,
    every: int = 5,
    timecon: float = 100.0,
    command: list[str] | None = None,
    omp_threads: int = 1,
    progress=None,
) -> AimdResult:
    """Run NVT AIMD through ``stages`` (e.g. melt, hold, quench) and collect labelled frames.

    Parameters
    ----------
    atoms
        Starting structure.
    stages
        Temperatures (K) and step counts, run in order, each continuing the previous one.
    settings
        The CP2K protocol (the labelling protocol, so frames are consistent labels).
    directory
        Run directory; stage ``i`` runs in ``directory/stage-i``.
    timestep
        MD timestep, fs.
    every
        Print (and keep) a frame every ``every`` steps.
    timecon
        CSVR thermostat time constant, fs.
    command
        CP2K command; the configured one when None.
    omp_threads
        ``OMP_NUM_THREADS`` for CP2K.
    progress
        Optional callable ``progress(stage_index, n_stages, result)`` called after each stage.
    """
    import os

    if not stages:
        raise ValueError("AIMD needs at least one stage")
    if command is None:
        from gst_flows.settings import get_settings

        command = get_settings().cp2k_command
    settings = settings or Cp2kSettings()
    directory = Path(directory).resolve()
    n = len(atoms)
    current = atoms.copy()
    velocities = None
    result = AimdResult()
    offset_step, offset_time = 0, 0.0
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(omp_threads)
    try:
        for index, stage in enumerate(stages):
            stage_dir = directory / f"stage-{index}"
            _run_stage(current, settings, stage_dir, stage, timestep, every, timecon, velocities, command)
            ener = _table(stage_dir / f"{PROJECT}-1.ener")
            positions = _xyz_frames(stage_dir / f"{PROJECT}-pos-1.xyz", n)
            vels = _xyz_frames(stage_dir / f"{PROJECT}-vel-1.xyz", n)
            forces = _xyz_frames(stage_dir / f"{PROJECT}-frc-1.xyz", n)
            stress_path = stage_dir / f"{PROJECT}-1.stress"
            stress = {}
            if stress_path.exists():
                stress = {int(r[0]): r[2:11].reshape(3, 3) for r in _table(stress_path)}
            by_step = {int(row[0]): row for row in ener}
            for row in ener:
                if index > 0 and int(row[0]) == 0:
                    continue  # step 0 of a continuation repeats the previous stage's last frame
                result.steps.append(offset_step + int(row[0]))
                result.times.append(offset_time + float(row[1]))
                result.temperatures.append(float(row[3]))
                result.potential_energies.append(float(row[4]) * Hartree)
                result.conserved.append(float(row[5]) * Hartree)
                result.target_temperatures.append(stage.temperature)
            for (step, pos), (_, vel), (_, frc) in zip(positions, vels, forces, strict=True):
                if index > 0 and step == 0:
                    continue
                row = by_step[step]
                result.frames.append(
                    AimdFrame(
                        step=offset_step + step,
                        time=offset_time + float(row[1]),
                        temperature=float(row[3]),
                        positions=pos,
                        velocities=vel * Bohr / AU_TIME_FS,
                        energy=float(row[4]) * Hartree,
                        forces=frc * HA_BOHR_TO_EV_ANG,
                        # CP2K prints the pressure tensor in bar; store GPa, tensile positive.
                        stress=-stress[step] * BAR_TO_GPA if step in stress else None,
                    )
                )
            last_pos, last_vel = positions[-1][1], vels[-1][1] * Bohr / AU_TIME_FS
            if positions[-1][0] != int(ener[-1][0]):
                raise Cp2kError(
                    f"last MD step of stage {index} was not printed: make steps a multiple of every"
                )
            current = current.copy()
            current.positions = last_pos
            velocities = last_vel
            offset_step += stage.steps
            offset_time += stage.steps * timestep
            if progress is not None:
                progress(index, len(stages), result)
    finally:
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved
    result.final_positions = current.positions.copy()
    result.final_velocities = velocities
    return result
