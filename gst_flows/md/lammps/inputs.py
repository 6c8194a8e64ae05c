"""What the stage runs of a protocol are given, shared by the engine and its dry run.

A run directory (``workdir/lammps`` of an engine run, or the directory of a dry run) holds
``structure.data`` and one ``stage-NNN`` directory per stage, where each stage's input reads
the data file (first stage) or the previous stage's ``end.restart``. LAMMPS writes
``final.restart`` and ``final.dump``; the engine renames them ``end.*`` when the stage is
complete (``stop.*`` when it stopped early), and the driver script of a dry run does the same.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gst_flows.md.lammps.script import HeatGroup, StageGroups

__all__ = [
    "LammpsInputs",
    "load_stage_groups",
    "save_stage_groups",
    "stage_dir_name",
    "stage_seed",
    "stage_source",
    "write_driver",
]


@dataclass
class LammpsInputs:
    """Files written by a dry run (:func:`~gst_flows.md.lammps.engine.write_lammps_inputs`).

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
    driver
        Shell script that runs the stages in order (``run.sh``).
    """

    directory: Path
    data_file: Path
    scripts: list[Path]
    n_atoms: int
    species: list[str]
    n_steps: int
    bytes: int
    driver: Path | None = None


def stage_dir_name(index: int) -> str:
    """Name of the run directory of stage ``index`` (``stage-NNN``)."""
    return f"stage-{index:03d}"


def stage_source(index: int) -> str:
    """The command a stage starts from when it is not resuming a checkpoint.

    Parameters
    ----------
    index
        Stage index.

    Returns
    -------
    str
        ``read_data`` of the run's data file for the first stage, else ``read_restart`` of
        the previous stage's ``end.restart``.
    """
    if index == 0:
        return "read_data ../structure.data"
    return f"read_restart ../{stage_dir_name(index - 1)}/end.restart"


def stage_seed(seed: int, index: int, attempt: int = 0) -> int:
    """Seed of the random numbers (Langevin) of one attempt at one stage.

    Parameters
    ----------
    seed
        The run's seed.
    index
        Stage index.
    attempt
        Attempt at the stage (0 for the first; a resumed stage draws new numbers).

    Returns
    -------
    int
        A LAMMPS seed, 1 to 900,000,000.
    """
    return (seed * 1_000_003 + 7 * index + 131 * attempt) % 900_000_000 + 1


def save_stage_groups(path: Path, groups: StageGroups) -> None:
    """Save the groups of a stage (``groups.npz``), so a resumed stage uses the same ones."""
    arrays = {f"heat{j}": g.mask for j, g in enumerate(groups.heat)}
    arrays.update({f"field{j}": m for j, (m, _) in enumerate(groups.field)})
    meta = {
        "heat_rates": [g.rate for g in groups.heat],
        "field_forces": [f.tolist() for _, f in groups.field],
        "t_ref": groups.t_ref,
    }
    np.savez_compressed(path, fixed=groups.fixed, meta=np.array(json.dumps(meta)), **arrays)


def load_stage_groups(path: Path) -> StageGroups:
    """The groups of a stage saved by :func:`save_stage_groups`."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        return StageGroups(
            fixed=np.array(data["fixed"]),
            heat=[HeatGroup(np.array(data[f"heat{j}"]), r) for j, r in enumerate(meta["heat_rates"])],
            field=[(np.array(data[f"field{j}"]), np.array(f)) for j, f in enumerate(meta["field_forces"])],
            t_ref=meta["t_ref"],
        )


_DRIVER = """#!/bin/sh
# Runs the stages in order as the gst-flows LAMMPS engine does: each stage in its own
# directory, then its final state renamed end.restart and end.dump, which the next stage reads.
# LAMMPS is started as $LAMMPS (default lmp), e.g. LAMMPS="srun lmp" or "mpirun -np 64 lmp".
set -e
cd "$(dirname "$0")"
for stage in {stages}; do
    (cd "$stage" && ${{LAMMPS:-lmp}} -in in.lammps -log log.lammps -nocite \\
        && mv final.restart end.restart && mv final.dump end.dump)
done
"""


def write_driver(directory: Path, scripts: list[Path]) -> Path:
    """Write ``run.sh``, which runs the stage scripts in order (as the engine does).

    Parameters
    ----------
    directory
        The dry run's directory.
    scripts
        The stage scripts, in order (``stage-NNN/in.lammps``).

    Returns
    -------
    Path
        The executable script.
    """
    path = directory / "run.sh"
    stages = " ".join(os.path.relpath(script.parent, directory) for script in scripts)
    path.write_text(_DRIVER.format(stages=stages))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
