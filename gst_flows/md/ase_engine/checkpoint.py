"""Checkpoints of the ASE engine: the whole state of a run, restored exactly.

A mixin of the engine's run state: the checkpoint holds positions, velocities, cell, the
thermostat and barostat variables, the energy ledger, the random generator's state and the
byte offsets of ``thermo.csv`` and ``frames.extxyz`` (truncated back to them on resume).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from gst_flows.md.ase_engine.stage import _Group
from gst_flows.md.engine import CHECKPOINT
from gst_flows.md.results import EnergyLedger

log = logging.getLogger(__package__)

_VERSION = 1


class _Checkpoint:
    """Write and restore ``checkpoint.npz``."""

    def resume(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            state = json.loads(str(data["state"]))
            if state.get("version") != _VERSION:
                raise ValueError(f"{path}: checkpoint version {state.get('version')} unsupported")
            if state["protocol_hash"] != self.protocol.hash():
                raise ValueError(
                    f"{path} belongs to a different protocol: use a fresh directory or restart=False"
                )
            if not np.array_equal(data["numbers"], self.atoms.numbers):
                raise ValueError(f"{path} belongs to a different structure (atoms differ)")
            self.atoms.set_cell(data["cell"], scale_atoms=False)
            self.atoms.positions[:] = data["positions"]
            self.v = np.array(data["velocities"])
            group_index = [np.array(data[f"group_{i}"]) for i in range(state["n_groups"])]
        self.step, self.stage_index = state["step"], state["stage_index"]
        self.stage_step = state["stage_step"]
        self.ledger = EnergyLedger.from_dict(state["ledger"])
        self.xi, self.vxi = np.array(state["xi"]), np.array(state["vxi"])
        self.veps = float(state.get("veps", 0.0))
        self.t_ref, self.n_frames = state["t_ref"], state["n_frames"]
        self.wall_before, self.seed = state["wall_time"], state["seed"]
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state["rng"]
        for name, offset in (
            ("thermo.csv", state["thermo_offset"]),
            ("frames.extxyz", state["frames_offset"]),
        ):
            with open(self.workdir / name, "r+b") as handle:
                handle.truncate(offset)
        self.thermo_fh = open(self.workdir / "thermo.csv", "a", newline="")  # noqa: SIM115
        self.frames_fh = open(self.workdir / "frames.extxyz", "a")  # noqa: SIM115
        self.atoms.arrays.pop("momenta", None)
        if self.stage_index < len(self.protocol.stages) and self.stage_step > 0:
            # groups (graded slabs) were fixed at the stage start: restore them
            groups = [_Group(idx, rate) for idx, rate in zip(group_index, state["group_rates"], strict=True)]
            self.ctx = self._context(self.stage_index, groups)
        self.checkpoint_written = True
        log.info("resumed %s at step %d of %d", self.workdir, self.step, self.protocol.n_steps)

    def _checkpoint_path(self) -> str | None:
        path = self.workdir / CHECKPOINT
        return str(path) if path.exists() else None

    def checkpoint(self) -> None:
        """Write the checkpoint atomically (only after the safety checks of this step)."""
        self._flush()
        ctx = self.ctx
        groups = ctx.groups if ctx is not None else []
        state = {
            "version": _VERSION,
            "protocol_hash": self.protocol.hash(),
            "step": self.step,
            "stage_index": self.stage_index,
            "stage_step": self.stage_step,
            "ledger": self.ledger.to_dict(),
            "xi": self.xi.tolist(),
            "vxi": self.vxi.tolist(),
            "veps": self.veps,
            "t_ref": self.t_ref,
            "n_frames": self.n_frames,
            "wall_time": self.wall_before + time.perf_counter() - self.t0,
            "seed": self.seed,
            "rng": self.rng.bit_generator.state,
            "thermo_offset": self.thermo_fh.tell(),
            "frames_offset": self.frames_fh.tell(),
            "n_groups": len(groups),
            "group_rates": [g.rate for g in groups],
        }
        arrays = {f"group_{i}": g.index for i, g in enumerate(groups)}
        tmp = self.workdir / f".{CHECKPOINT}.tmp.npz"
        np.savez(
            tmp,
            positions=self.atoms.positions,
            velocities=self.v,
            cell=np.array(self.atoms.cell),
            numbers=self.atoms.numbers,
            state=np.array(json.dumps(state)),
            **arrays,
        )
        os.replace(tmp, self.workdir / CHECKPOINT)
        self.checkpoint_written = True
