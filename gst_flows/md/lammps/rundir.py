"""The run directory of the LAMMPS engine: its state and the outputs it shares with ASE.

:class:`LammpsRunDirectory` keeps the state of a run (``lammps/state.json``: seed, frame of
reference, attempts at each stage) and turns the LAMMPS files of the stages (YAML thermo in
the logs, custom dumps, restart files) into the outputs of :mod:`gst_flows.md.results`:
``thermo.csv``, ``frames.extxyz``, ``checkpoint.npz`` and the result; it finds the latest
restart file of a stage and names it in the error of a blow-up. The stage loop that fills it
is :class:`gst_flows.md.lammps.engine.LammpsMDEngine`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from ase import Atoms
from ase.io import write

from gst_flows.md.engine import CHECKPOINT, EngineRun, mobile_temperature
from gst_flows.md.lammps.data import VELOCITY_METAL_PER_ASE, iter_lammps_dump
from gst_flows.md.lammps.inputs import stage_dir_name
from gst_flows.md.lammps.log import halt_reason, parse_thermo_blocks, stage_thermo_rows
from gst_flows.md.lammps.plugin import find_lammps
from gst_flows.md.results import THERMO_COLUMNS, EnergyLedger, MDBlowUpError, MDResult
from gst_flows.md.units import FS

if TYPE_CHECKING:
    from gst_flows.md.lammps.engine import LammpsMDEngine
    from gst_flows.md.protocol import Protocol

__all__ = ["STATE_VERSION", "LammpsRunDirectory"]

#: Version of ``state.json`` (and of the LAMMPS ``checkpoint.npz``).
STATE_VERSION = 1


class LammpsRunDirectory(EngineRun):
    """State and outputs of one call of :meth:`LammpsMDEngine.run` on one run directory.

    Parameters
    ----------
    engine
        The engine.
    atoms
        The structure the run starts from.
    protocol
        The validated protocol.
    max_steps
        Steps this call may run; None for no limit.
    lmpdir
        Directory of the LAMMPS files (default ``workdir/lammps``).
    """

    engine: LammpsMDEngine

    def __init__(
        self,
        engine: LammpsMDEngine,
        atoms: Atoms,
        protocol: Protocol,
        max_steps: int | None,
        lmpdir: Path | None = None,
    ) -> None:
        super().__init__(engine, atoms, protocol, max_steps)
        self.starts = protocol.stage_start_steps()
        self.lmpdir = self.workdir / "lammps" if lmpdir is None else Path(lmpdir)
        self.atoms = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        self.atoms.set_masses(self.masses)
        self.initial_velocities = atoms.get_velocities()
        for name, values in self.roles.items():
            self.atoms.arrays[name] = np.array(values)
        self.species = engine.potential.type_species(atoms)
        self.state: dict[str, Any] = {}
        self.prism_rot: np.ndarray | None = None

    # ------------------------------------------------------------------ state

    def _identity(self) -> dict[str, Any]:
        numbers = hashlib.sha256(np.ascontiguousarray(self.atoms.numbers).tobytes()).hexdigest()
        return {"version": STATE_VERSION, "protocol_hash": self.protocol.hash(), "numbers": numbers}

    def _save_state(self) -> None:
        path = self.lmpdir / "state.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        os.replace(tmp, path)

    # ------------------------------------------------------------------ helpers

    def _prism(self):
        from ase.calculators.lammps import Prism

        prism = Prism(np.asarray(self.atoms.cell), pbc=self.atoms.pbc)
        prism.rot_mat = self.prism_rot
        return prism

    def _frame_atoms(
        self, positions: np.ndarray, v_fs: np.ndarray, cell: np.ndarray, info: dict[str, Any]
    ) -> Atoms:
        frame = Atoms(numbers=self.atoms.numbers, positions=positions, cell=cell, pbc=self.atoms.pbc)
        frame.new_array("velocities", np.asarray(v_fs, dtype=float))
        for name, values in self.roles.items():
            frame.new_array(name, np.asarray(values))
        frame.info.update(info)
        return frame

    def _read_dump_state(self, path: Path) -> tuple[int, Atoms]:
        frame = next(iter_lammps_dump(path, self._prism()))
        atoms = Atoms(
            numbers=self.atoms.numbers, positions=frame.positions, cell=frame.cell, pbc=self.atoms.pbc
        )
        atoms.set_masses(self.masses)
        atoms.set_velocities(frame.velocities)
        for name, values in self.roles.items():
            atoms.arrays[name] = np.array(values)
        return frame.step, atoms

    def _stage_dir(self, index: int) -> Path:
        return self.lmpdir / stage_dir_name(index)

    def _stage_record(self, index: int) -> dict[str, Any]:
        stages = self.state["stages"]
        while len(stages) <= index:
            stages.append({"attempts": [], "complete": False})
        offsets, counts = self.state["frames_offset"], self.state["frames_count"]
        if len(offsets) <= index:
            frames = self.workdir / "frames.extxyz"
            offsets.append(frames.stat().st_size if frames.exists() else 0)
            counts.append(int(self.state.get("n_frames", 1)))
        return stages[index]

    def _read_data_state(self) -> tuple[int, Atoms]:
        """Initial state (with the velocities written to the data file)."""
        data = self.lmpdir / "structure.data"
        text = data.read_text().split("\nVelocities\n", 1)
        atoms = self.atoms.copy()
        atoms.set_masses(self.masses)
        if len(text) == 2:
            vel = np.loadtxt(io.StringIO(text[1]), ndmin=2)
            order = np.argsort(vel[:, 0])
            v_lmp = vel[order, 1:4] / VELOCITY_METAL_PER_ASE
            atoms.set_velocities(v_lmp @ self.prism_rot.T)
        for name, values in self.roles.items():
            atoms.arrays[name] = np.array(values)
        return 0, atoms

    def _latest_checkpoint(self, index: int) -> tuple[Path, int] | None:
        sdir = self._stage_dir(index)
        best = None
        for name in ("stop.restart", "ckpt.a", "ckpt.b"):
            step = self.engine.runner.restart_step(sdir / name)
            if step is not None and step > self.starts[index] and (best is None or step > best[1]):
                best = (sdir / name, step)
        return best

    def _last_good(self, index: int) -> str | None:
        """The restart file a blown-up stage ``index`` can go back to, if any."""
        latest = self._latest_checkpoint(index)
        if latest is not None:
            return str(latest[0])
        if index > 0:
            return str(self._stage_dir(index - 1) / "end.restart")
        return None

    def _blowup(self, index: int, match: re.Match) -> MDBlowUpError:
        fix, step, value = match.group(1), int(match.group(2)), float(match.group(3))
        reason = halt_reason(fix, value, self.settings.safety)
        return MDBlowUpError(step, self.protocol.stages[index].name, reason, self._last_good(index))

    def _blowup_lost(self, index: int, log_path: Path, message: str) -> MDBlowUpError:
        rows = [r for b in parse_thermo_blocks(log_path) for r in b]
        step = int(rows[-1][0]) if rows else self.starts[index]
        return MDBlowUpError(
            step,
            self.protocol.stages[index].name,
            f"atoms left the simulation ({message.strip()})",
            self._last_good(index),
        )

    # ------------------------------------------------------------------ outputs

    def _steps_to_time(self, steps: np.ndarray) -> np.ndarray:
        time_fs = np.zeros(len(steps))
        for stage, start in zip(self.protocol.stages, self.starts, strict=True):
            time_fs += stage.timestep * np.clip(steps - start, 0, stage.n_steps)
        return time_fs

    def _ledger_at(self, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        injected = np.zeros(len(steps))
        removed = np.zeros(len(steps))
        for stage, start, plan in zip(self.protocol.stages, self.starts, self.plan, strict=True):
            done = np.clip(steps - start, 0, stage.n_steps) * stage.timestep
            injected += plan.injection_rate * done
            removed += plan.removal_rate * done
        return injected, removed

    def _stage_rows(self, index: int, base: tuple[float, float]) -> list[list[float]]:
        """Thermo rows of a stage: (step, T, pe, ke, press, vol, density, thermo, field)."""
        attempts = self.state["stages"][index]["attempts"]
        skip = self.starts[index] if index > 0 else None
        return stage_thermo_rows(self._stage_dir(index), attempts, base, skip)

    def _write_thermo(self) -> None:
        table: list[list[float]] = []
        stage_col: list[int] = []
        base = (0.0, 0.0)
        for index in range(len(self.state["stages"])):
            rows = self._stage_rows(index, base)
            if rows:
                base = (rows[-1][7], rows[-1][8])
            table += rows
            stage_col += [index] * len(rows)
        path = self.workdir / "thermo.csv"
        with path.open("w", newline="") as handle:
            handle.write(",".join(THERMO_COLUMNS) + "\n")
            if not table:
                return
            arr = np.array(table, dtype=float)
            steps = np.rint(arr[:, 0]).astype(np.int64)
            injected, removed = self._ledger_at(steps)
            time_fs = self._steps_to_time(steps)
            stages = self.protocol.stages
            targets = []
            for step, index in zip(steps, stage_col, strict=True):
                stage = stages[index]
                target = stage.temperature_at_step(int(step - self.starts[index]))
                targets.append(np.nan if target is None or stage.ensemble == "nve" else target)
            epot, ekin = arr[:, 2], arr[:, 3]
            etot = epot + ekin
            thermo_in, field_work = arr[:, 7], arr[:, 8]
            conserved = etot - injected + removed - field_work - thermo_in
            for k, step in enumerate(steps):
                row = (
                    arr[k, 1],
                    targets[k],
                    epot[k],
                    ekin[k],
                    etot[k],
                    arr[k, 4] * 1e-4,
                    arr[k, 5],
                    arr[k, 6],
                    injected[k],
                    removed[k],
                    field_work[k],
                    thermo_in[k],
                    conserved[k],
                )
                handle.write(
                    f"{step},{time_fs[k]:.12g},{stage_col[k]}," + ",".join(f"{x:.12g}" for x in row) + "\n"
                )

    def _write_frames(self, index: int) -> None:
        """Rewrite the frames of stage ``index`` at the end of ``frames.extxyz``."""
        record = self.state["stages"][index]
        sdir = self._stage_dir(index)
        stage = self.protocol.stages[index]
        start, end = self.starts[index], self.starts[index] + stage.n_steps
        with np.load(sdir / "groups.npz", allow_pickle=False) as data:
            fixed = np.array(data["fixed"])
        prism = self._prism()
        frames: dict[int, Any] = {}
        attempts = record["attempts"]
        for k, attempt in enumerate(attempts):
            limit = attempts[k + 1]["start"] if k + 1 < len(attempts) else end
            path = sdir / attempt["frames"]
            if not path.is_file():
                continue
            for frame in iter_lammps_dump(path, prism):
                if frame.step <= start or frame.step > limit or frame.step in frames:
                    continue
                frames[frame.step] = (frame, False)
        final = sdir / ("end.dump" if record.get("complete") else "stop.dump")
        if record.get("complete") and final.is_file():
            frame = next(iter_lammps_dump(final, prism))
            frames[frame.step] = (frame, True)
        offset = self.state["frames_offset"][index]
        count = self.state["frames_count"][index]
        path = self.workdir / "frames.extxyz"
        with path.open("r+b") as handle:
            handle.truncate(offset)
        steps = np.array(sorted(frames), dtype=np.int64)
        times = self._steps_to_time(steps)
        with path.open("a") as handle:
            for step, time_fs in zip(steps, times, strict=True):
                frame, is_end = frames[int(step)]
                v_fs = frame.velocities * FS
                info = {
                    "step": int(step),
                    "time_fs": float(time_fs),
                    "stage": index,
                    "stage_name": stage.name,
                    "temperature_k": mobile_temperature(self.masses, v_fs, ~fixed),
                    "stage_end": bool(is_end),
                }
                write(handle, self._frame_atoms(frame.positions, v_fs, frame.cell, info), format="extxyz")
        self.state["n_frames"] = count + len(steps)

    def _write_checkpoint(self, index: int, step: int) -> None:
        sdir = self._stage_dir(index)
        complete = self.state["stages"][index].get("complete")
        restart = sdir / ("end.restart" if complete else "stop.restart")
        info = {
            "engine": "lammps",
            "version": STATE_VERSION,
            "protocol_hash": self.protocol.hash(),
            "step": int(step),
            "stage_index": index + 1 if complete else index,
            "restart": str(restart.relative_to(self.workdir)),
        }
        tmp = self.workdir / f".{CHECKPOINT}.tmp.npz"
        np.savez(tmp, state=np.array(json.dumps(info)))
        os.replace(tmp, self.workdir / CHECKPOINT)

    def result(self, completed: bool) -> MDResult:
        """Write and return the result from the latest stage state and ``thermo.csv``."""
        wall = self.state.get("wall_time", 0.0) + time.perf_counter() - self.t0
        self.state["wall_time"] = wall
        self._save_state()
        last = None
        for index in range(len(self.state["stages"]) - 1, -1, -1):
            sdir = self._stage_dir(index)
            for name in ("end.dump", "stop.dump"):
                if (sdir / name).is_file():
                    last = sdir / name
                    break
            if last is not None:
                break
        if last is not None:
            n_steps, final = self._read_dump_state(last)
        else:
            n_steps, final = self._read_data_state()
        thermo = self.read_thermo()
        ledger = EnergyLedger()
        if len(thermo["step"]):
            ledger = EnergyLedger(
                injected=float(thermo["injected_ev"][-1]),
                removed=float(thermo["removed_ev"][-1]),
                field_work=float(thermo["field_work_ev"][-1]),
                thermostat=float(thermo["thermostat_ev"][-1]),
            )
        runner = self.engine.runner
        return self.write_result(
            final_atoms=final,
            thermo=thermo,
            ledger=ledger,
            n_steps=int(n_steps),
            completed=completed,
            n_frames=int(self.state.get("n_frames", 1)),
            seed=self.state["seed"],
            wall_time=wall,
            potential=self.engine.potential_id or self.engine.potential.name,
            metadata={
                "lammps_version": find_lammps().version if runner.command is None else None,
                "nprocs": runner.nprocs,
                "command": runner.argv("in.lammps"),
                "pair_style": self.engine.potential.pair_style,
                "energy_injection": "fix heat (velocity rescaling about the group's centre of "
                "mass; momentum conserved)",
                "settings": self.settings.model_dump(mode="json"),
                "run_directory": str(self.lmpdir),
            },
        )
