"""LAMMPS inputs of a whole scenario protocol, and the full-size plumbing run.

:func:`~gst_flows.md.lammps.engine.write_lammps_inputs` (re-exported here) is the LAMMPS
engine's dry run: the data file and one input script per stage, as the engine would run them,
and a ``run.sh`` that runs them in order. :func:`run_lammps_plumbing` proves a full-size
scenario cell at scale: it builds the cell, writes the inputs of the whole protocol, then runs
the first few steps of every stage through :class:`~gst_flows.md.lammps.engine.LammpsMDEngine`
with a cheap stand-in pair style (not a GAP) and reports times and peak memory.
"""

from __future__ import annotations

import re
import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gst_flows.md.lammps import (
    LammpsInputs,
    LammpsMDEngine,
    LammpsPotential,
    LammpsRunner,
    write_lammps_inputs,
)
from gst_flows.md.protocol import GradedInjection, InjectEnergy, Protocol, RemoveHeat, RunSettings, Steps

__all__ = ["LammpsInputs", "PlumbingResult", "run_lammps_plumbing", "shortened", "write_lammps_inputs"]

_MEMORY = re.compile(r"Per MPI rank memory allocation \(min/avg/max\) = \S+ \| \S+ \| (\S+) Mbytes")


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
        A :class:`~gst_flows.md.lammps.potential.LammpsPotential`; default the Lennard-Jones
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
