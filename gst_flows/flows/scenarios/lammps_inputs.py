"""LAMMPS inputs of a whole scenario protocol, and the full-size plumbing run.

:func:`write_lammps_inputs` writes, without running anything, the data file and one input
script per stage that the LAMMPS engine would run for a protocol (the same
:func:`~gst_flows.md.lammps_input.stage_script`, groups from the same helpers); each stage
starts from the restart file the previous one writes, so the scripts run in order as they
are. :func:`run_lammps_plumbing` proves a full-size scenario cell at scale: it builds the cell,
writes the inputs of the whole protocol, then runs the first few steps of every stage through
:class:`~gst_flows.md.lammps_engine.LammpsMDEngine` with a cheap stand-in pair style (not a
GAP) and reports times and peak memory.
"""

from __future__ import annotations

import re
import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from gst_flows.md.protocol import (
    GradedInjection,
    InjectEnergy,
    Protocol,
    RemoveHeat,
    RunSettings,
    Steps,
    fixed_mask,
)
from gst_flows.md.units import FS, KB

__all__ = ["LammpsInputs", "PlumbingResult", "run_lammps_plumbing", "shortened", "write_lammps_inputs"]

_MEMORY = re.compile(r"Per MPI rank memory allocation \(min/avg/max\) = \S+ \| \S+ \| (\S+) Mbytes")


@dataclass
class LammpsInputs:
    """Files written by :func:`write_lammps_inputs`.

    Attributes
    ----------
    directory
        Where they are.
    data_file
        The starting structure (metal units, velocities).
    scripts
        One input script per stage, in order (``stage-NNN/in.lammps``).
    n_atoms
        Atoms.
    species
        Symbols of atom types 1, 2, ...
    n_steps
        Steps of the whole protocol.
    bytes
        Total size of the files, bytes.
    """

    directory: Path
    data_file: Path
    scripts: list[Path]
    n_atoms: int
    species: list[str]
    n_steps: int
    bytes: int


def _velocities(atoms: Atoms, temperature: float | None, mobile: np.ndarray, seed: int) -> np.ndarray:
    """Maxwell–Boltzmann velocities (Å/fs) of the mobile atoms, zero total momentum."""
    v = np.zeros((len(atoms), 3))
    if not temperature:
        return v
    rng = np.random.default_rng(seed)
    masses = atoms.get_masses()
    v = rng.standard_normal((len(atoms), 3)) * np.sqrt(KB * temperature / masses)[:, None] * FS
    v[~mobile] = 0.0
    m = masses[mobile, None]
    v[mobile] -= (m * v[mobile]).sum(axis=0) / m.sum()
    return v


def write_lammps_inputs(
    atoms: Atoms,
    protocol: Protocol,
    potential: Any,
    directory: str | Path,
    settings: RunSettings | None = None,
    seed: int = 0,
    skin: float = 1.0,
) -> LammpsInputs:
    """Write the LAMMPS inputs of every stage of ``protocol`` on ``atoms`` (nothing runs).

    Atom groups that the engine fixes at the start of each stage (graded slabs, regions) are
    taken from ``atoms`` here; the engine takes them from the state at the stage start, which
    differs only by the motion during the earlier stages.

    Parameters
    ----------
    atoms
        Starting structure with its role arrays (periodic, or a slab open along z).
    protocol
        The protocol; checked against ``atoms`` first.
    potential
        A :class:`~gst_flows.md.lammps_engine.LammpsPotential`, or a GAP XML path.
    directory
        Output directory (created).
    settings
        Output, checkpoint and safety settings.
    seed
        Seed of the initial velocities and of the thermostats.
    skin
        Neighbour-list skin, Å.

    Returns
    -------
    LammpsInputs
        The files written.
    """
    from gst_flows.md.lammps_engine import LammpsPotential
    from gst_flows.md.lammps_input import StagePlan, stage_groups, stage_script
    from gst_flows.md.lammps_io import lammps_boundary, lammps_species, write_lammps_data

    protocol.validate_for(atoms)
    if not isinstance(potential, LammpsPotential):
        potential = LammpsPotential.gap(potential)
    settings = settings or RunSettings()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    species = lammps_species(atoms)
    first = protocol.stages[0]
    mobile0 = ~fixed_mask(atoms, first)
    start = atoms.copy()
    v = _velocities(atoms, protocol.start_temperature(), mobile0, seed)
    start.set_velocities(v / FS)
    data_file = directory / "structure.data"
    prism = write_lammps_data(data_file, start, species)
    rot = np.asarray(prism.rot_mat)
    plan = protocol.energy_plan()
    scripts = []
    for index, (stage, begin) in enumerate(zip(protocol.stages, protocol.stage_start_steps(), strict=True)):
        sdir = directory / f"stage-{index:03d}"
        sdir.mkdir(exist_ok=True)
        groups = stage_groups(atoms, stage, species, rot, plan[index].removal_rate, v)
        source = (
            "read_data ../structure.data"
            if index == 0
            else f"read_restart ../stage-{index - 1:03d}/final.restart"
        )
        script = stage_script(
            StagePlan(
                index=index,
                stage=stage,
                start_step=begin,
                end_step=begin + stage.n_steps,
                from_step=begin,
                stop_step=begin + stage.n_steps,
                source=source,
                potential=potential.commands(species),
                fixed=groups.fixed,
                heat=groups.heat,
                field_forces=groups.field,
                seed=(seed * 1_000_003 + 7 * index) % 900_000_000 + 1,
                t_ref=groups.t_ref,
                injected=plan[index].injected,
                skin=skin,
                group_dir=sdir,
                boundary=lammps_boundary(atoms.pbc),
            ),
            settings,
        )
        path = sdir / "in.lammps"
        path.write_text(script)
        scripts.append(path)
    size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
    return LammpsInputs(directory, data_file, scripts, len(atoms), species, protocol.n_steps, size)


def shortened(protocol: Protocol, steps: int) -> Protocol:
    """The first ``steps`` steps of every stage, at the protocol's own rates.

    Injected and removed energies are cut in proportion to the stage length (the same power),
    temperature ramps are compressed, and stepped schedules keep their first value.

    Parameters
    ----------
    protocol
        The full protocol.
    steps
        Steps per stage (stages shorter than that are kept whole).

    Returns
    -------
    Protocol
        The short protocol (same stage names and actions).
    """
    data = protocol.to_dict()
    plan = {p.stage: p for p in protocol.energy_plan()}
    for stage, model in zip(data["stages"], protocol.stages, strict=True):
        n = min(steps, model.n_steps)
        share = n / model.n_steps
        stage["duration"] = n * model.timestep
        if isinstance(model.temperature, Steps):
            stage["temperature"] = model.temperature.values[0]
        for action, original in zip(stage["actions"], model.actions, strict=True):
            if isinstance(original, InjectEnergy | GradedInjection):
                action["energy"] = original.total_energy(model.duration) * share
                action["rate"] = None
            elif isinstance(original, RemoveHeat):
                action["energy"] = plan[model.name].removed * share
    data["name"] = f"{protocol.name} (first {steps} steps per stage)"
    return Protocol.from_dict(data)


class _ChildMemory:
    """Peak resident memory of this process's LAMMPS children, sampled in a thread.

    ``getrusage(RUSAGE_CHILDREN)`` is useless here: a child counts the parent's pages it
    shares between fork and exec, so it reports the Python process's size.
    """

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak_single = 0.0
        self.peak_total = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            sizes = []
            for child in me.children(recursive=True):
                try:
                    if "lmp" in child.name() or "lmp" in " ".join(child.cmdline()[:1]):
                        sizes.append(child.memory_info().rss / 2**20)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            if sizes:
                self.peak_single = max(self.peak_single, *sizes)
                self.peak_total = max(self.peak_total, sum(sizes))
            self._stop.wait(self.interval)

    def __enter__(self) -> _ChildMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class PlumbingResult:
    """Figures of a plumbing run.

    Attributes
    ----------
    n_atoms
        Atoms of the cell.
    inputs
        The inputs of the whole protocol.
    steps_per_stage
        Steps run per stage.
    build_seconds, inputs_seconds, run_seconds
        Wall times: building and checking the cell, writing the inputs, the short run.
    python_peak_mb
        Peak resident memory of this Python process, MB.
    lammps_peak_mb
        Peak resident memory of the LAMMPS processes together (all ranks), sampled every
        0.1 s, MB.
    lammps_reported_mb
        LAMMPS' own estimate of its memory per rank (largest over stages), MB.
    ledger
        Energy ledger of the short run (eV).
    requested
        Energy the short protocol injects, eV.
    completed
        Whether every stage of the short run finished.
    extra
        Anything else (potential, ranks, paths).
    """

    n_atoms: int
    inputs: LammpsInputs
    steps_per_stage: int
    build_seconds: float
    inputs_seconds: float
    run_seconds: float
    python_peak_mb: float
    lammps_peak_mb: float
    lammps_reported_mb: float | None
    ledger: dict[str, float]
    requested: float
    completed: bool
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """A few lines for reports."""
        rel = abs(self.ledger["injected"] - self.requested) / self.requested if self.requested else 0.0
        return "\n".join(
            [
                f"cell: {self.n_atoms:,} atoms, built and checked in {self.build_seconds:.1f} s",
                f"inputs of the whole protocol ({self.inputs.n_steps:,} steps, "
                f"{len(self.inputs.scripts)} stages): {self.inputs.bytes / 1e6:.0f} MB in "
                f"{self.inputs_seconds:.1f} s",
                f"run: {self.steps_per_stage} steps per stage in {self.run_seconds:.1f} s, "
                f"completed={self.completed}",
                f"peak memory: LAMMPS {self.lammps_peak_mb:.0f} MB (its own estimate "
                f"{self.lammps_reported_mb or float('nan'):.0f} MB per rank), Python "
                f"{self.python_peak_mb:.0f} MB",
                f"ledger: injected {self.ledger['injected']:.6g} eV, removed "
                f"{self.ledger['removed']:.6g} eV (requested {self.requested:.6g} eV, error "
                f"{rel:.2e})",
            ]
        )


def run_lammps_plumbing(
    maker: Any,
    directory: str | Path,
    *,
    steps_per_stage: int = 3,
    potential: Any = None,
    nprocs: int = 1,
    settings: RunSettings | None = None,
) -> PlumbingResult:
    """Build a scenario's cell, write the inputs of its whole protocol, run a few steps.

    Parameters
    ----------
    maker
        A scenario flow maker (e.g. ``CrossPointMaker(size="full")``); its first run is used.
    directory
        Work directory: ``inputs/`` (the whole protocol) and ``run/`` (the short run).
    steps_per_stage
        Steps run of every stage (at the protocol's rates, see :func:`shortened`).
    potential
        A :class:`~gst_flows.md.lammps_engine.LammpsPotential`; default the Lennard-Jones
        stand-in (not a model of GST: plumbing and memory only).
    nprocs
        MPI ranks.
    settings
        Run settings of the short run (default: thermo every step, frames only at stage
        ends, no safety distance check beyond LAMMPS' own).

    Returns
    -------
    PlumbingResult
        Times, memory and ledger.
    """
    from gst_flows.md.lammps_engine import LammpsMDEngine, LammpsPotential, LammpsRunner

    directory = Path(directory)
    potential = potential or LammpsPotential.lennard_jones()
    t0 = time.perf_counter()
    run = maker.prepare()[0]
    atoms, protocol = run.atoms, run.protocol
    t1 = time.perf_counter()
    inputs = write_lammps_inputs(
        atoms,
        protocol,
        potential,
        directory / "inputs",
        RunSettings(thermo_interval=50, frame_interval=1250, checkpoint_interval=5000),
        seed=maker.seed,
    )
    t2 = time.perf_counter()
    short = shortened(protocol, steps_per_stage)
    settings = settings or RunSettings(thermo_interval=1, frame_interval=0, checkpoint_interval=0)
    engine = LammpsMDEngine(
        potential,
        workdir=directory / "run",
        settings=settings,
        seed=maker.seed,
        runner=LammpsRunner(nprocs=nprocs),
        potential_id=potential.name,
    )
    with _ChildMemory() as memory:
        result = engine.run(atoms, short, restart=False)
    t3 = time.perf_counter()
    reported = []
    for log in sorted((directory / "run" / "lammps").rglob("log.*.lammps")):
        reported += [float(m) for m in _MEMORY.findall(log.read_text(errors="replace"))]
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return PlumbingResult(
        n_atoms=len(atoms),
        inputs=inputs,
        steps_per_stage=steps_per_stage,
        build_seconds=t1 - t0,
        inputs_seconds=t2 - t1,
        run_seconds=t3 - t2,
        python_peak_mb=own,
        lammps_peak_mb=memory.peak_total,
        lammps_reported_mb=max(reported) if reported else None,
        ledger=result.ledger.to_dict(),
        requested=sum(p.injected for p in short.energy_plan()),
        completed=result.completed,
        extra={
            "potential": potential.name,
            "nprocs": nprocs,
            "run_directory": str(directory / "run"),
            "protocol": short.name,
            "stages": [s.to_dict() for s in result.stages],
        },
    )
