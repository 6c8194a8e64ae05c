"""Outputs of the ASE engine: thermo rows, trajectory frames and progress reports.

A mixin of the engine's run state (see :mod:`gst_flows.md.results` for the file formats).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from gst_flows.md.results import write_frame
from gst_flows.md.units import AMU_PER_A3_TO_G_PER_CM3

if TYPE_CHECKING:
    from gst_flows.md.ase_engine.stage import _StageContext


class _Output:
    """Write ``thermo.csv`` rows and ``frames.extxyz`` frames; report progress."""

    def thermo_row(self, ctx: _StageContext, ke: float, temperature: float) -> None:
        volume = self.atoms.get_volume()
        etot = self.epot + ke
        led = self.ledger
        conserved = etot - led.injected + led.removed - led.field_work - led.thermostat
        target = ctx.stage.temperature_at_step(self.stage_step)
        row = (
            self.step,
            self.time(),
            ctx.index,
            temperature,
            target if target is not None else float("nan"),
            self.epot,
            ke,
            etot,
            self.pressure(),
            volume,
            self.total_mass / volume * AMU_PER_A3_TO_G_PER_CM3,
            led.injected,
            led.removed,
            led.field_work,
            led.thermostat,
            conserved,
        )
        self.thermo_fh.write(",".join(str(x) if isinstance(x, int) else f"{x:.12g}" for x in row) + "\n")

    def frame(self, ctx: _StageContext, temperature: float, stage_end: bool) -> None:
        info = {
            "step": self.step,
            "time_fs": self.time(),
            "stage": ctx.index,
            "stage_name": ctx.stage.name,
            "temperature_k": float(temperature),
            "stage_end": bool(stage_end),
        }
        write_frame(self.frames_fh, self.atoms, self.v, info, self.roles)
        self.n_frames += 1

    def time(self) -> float:
        """Return the simulated time, fs."""
        stages = self.protocol.stages
        before = sum(s.duration for s in stages[: self.stage_index])
        if self.stage_index >= len(stages):
            return float(before)
        return float(before + self.stage_step * stages[self.stage_index].timestep)

    def _flush(self) -> None:
        for handle in (self.thermo_fh, self.frames_fh):
            if handle is not None:
                handle.flush()

    def progress(self, ctx: _StageContext, temperature: float, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.last_report < self.settings.progress_interval:
            return
        self.last_report = now
        self.report(self.step, ctx.stage.name, temperature, now)

    def close(self) -> None:
        for handle in (self.thermo_fh, self.frames_fh):
            if handle is not None:
                handle.close()
