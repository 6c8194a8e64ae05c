"""Reading LAMMPS logs: the YAML thermo blocks of a stage and why a run stopped.

The stage scripts (:mod:`gst_flows.md.lammps.script`) write thermo rows as YAML lines with
the columns of :data:`~gst_flows.md.lammps.script.THERMO_KEYWORDS`; a blow-up stops LAMMPS
through ``fix halt`` (fix IDs ``gst_halt_force``, ``gst_halt_temp``, ``gst_halt_dist``) or
with a lost-atoms error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gst_flows.md.protocol import SafetyLimits

__all__ = ["HALT", "LOST_ATOMS", "halt_reason", "parse_thermo_blocks", "stage_thermo_rows"]

#: A ``fix halt ... message yes`` line: fix ID, step and value.
HALT = re.compile(r"Fix halt condition for fix-id (\S+) met on step (\d+) with value (\S+)")
#: LAMMPS errors of atoms that left the box (a blow-up that no ``fix halt`` caught).
LOST_ATOMS = re.compile(r"ERROR: (Lost atoms[^\n]*|Out of range atoms[^\n]*|Non-numeric atom coords[^\n]*)")


def parse_thermo_blocks(log: Path) -> list[list[list[float]]]:
    """Thermo blocks (one per ``run``) of a LAMMPS log written with ``line yaml``.

    Rows cut short (a run killed while writing) are skipped.

    Parameters
    ----------
    log
        The log file; a missing file has no blocks.

    Returns
    -------
    list
        Non-empty blocks, each a list of rows of floats.
    """
    blocks: list[list[list[float]]] = []
    if not log.is_file():
        return blocks
    current: list[list[float]] | None = None
    width = 0
    with log.open(errors="replace") as fd:
        for line in fd:
            if line.startswith("keywords:"):
                width = len([k for k in line.split("[", 1)[-1].split(",") if k.strip(" ]\n")])
                current = []
                blocks.append(current)
            elif current is not None and line.startswith("  - [") and line.rstrip().endswith("]"):
                values = [v.strip() for v in line.strip()[3:].rstrip("]").split(",")]
                values = [v for v in values if v]
                if len(values) != width:
                    continue
                try:
                    current.append([float(v) for v in values])
                except ValueError:
                    continue
            elif line.startswith("..."):
                current = None
    return [b for b in blocks if b]


def stage_thermo_rows(
    stage_dir: Path,
    attempts: Sequence[dict[str, Any]],
    base: tuple[float, float],
    skip_step: int | None = None,
) -> list[list[float]]:
    """Thermo rows of one stage over its attempts, with the thermostat and field work summed.

    An attempt that resumed from a checkpoint replaces the rows of earlier attempts after its
    start. LAMMPS' ``ecouple`` and field potential restart at every ``run``; they are
    accumulated here from the values at the stage start.

    Parameters
    ----------
    stage_dir
        The stage's run directory (holding the attempts' logs).
    attempts
        Attempt records in order: ``start`` (global step) and ``log`` (file name).
    base
        Thermostat energy and field work (eV) at the start of the stage.
    skip_step
        A step to leave out (the start of a later stage, already the last row of the one
        before).

    Returns
    -------
    list
        Rows (step, T, pe, ke, press, vol, density, thermostat energy, field work) sorted by
        step, one per step.
    """
    rows: list[list[float]] = []
    thermo_in, field_work = base
    for attempt in attempts:
        rows = [r for r in rows if r[0] <= attempt["start"]]
        if rows:
            thermo_in, field_work = rows[-1][7], rows[-1][8]
        for block in parse_thermo_blocks(stage_dir / attempt["log"]):
            b_thermo, b_field = thermo_in, field_work
            first = block[0]
            for row in block:
                step, temp, pe, ke, press, vol, dens, ecouple, fieldpot = row[:9]
                thermo_in = b_thermo - (ecouple - first[7])
                field_work = b_field - (fieldpot - first[8])
                rows.append([step, temp, pe, ke, press, vol, dens, thermo_in, field_work])
    seen: set[int] = set()
    unique = []
    for row in rows:
        step = round(row[0])
        if step in seen or step == skip_step:
            continue
        seen.add(step)
        unique.append(row)
    unique.sort(key=lambda r: r[0])
    return unique


def halt_reason(fix: str, value: float, limits: SafetyLimits) -> str:
    """Why a ``fix halt`` of a stage script stopped the run, in words.

    Parameters
    ----------
    fix
        The fix ID from the halt message.
    value
        The value that crossed the limit.
    limits
        The run's safety limits.

    Returns
    -------
    str
        The reason, for :class:`~gst_flows.md.results.MDBlowUpError`.
    """
    if fix == "gst_halt_force":
        return f"force of {value:.1f} eV/Å exceeds max_force {limits.max_force:g} eV/Å"
    if fix == "gst_halt_temp":
        return (
            f"temperature is {value:.0f} K above the limit "
            f"({limits.temperature_factor:g} × the expected temperature)"
        )
    if fix == "gst_halt_dist":
        return f"two atoms are {value:.2f} Å apart, closer than min_distance {limits.min_distance:g} Å"
    return f"{fix} tripped with value {value:g}"
