"""A one-node SLURM cluster on loopback for tests: munged, slurmctld and slurmd in a temp dir.

Every daemon runs in the foreground as our child process and is stopped by its pid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["SlurmCluster", "slurm_available"]

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel")


def slurm_available() -> bool:
    """Whether the SLURM and munge programs are installed."""
    return all(shutil.which(p) or Path(f"/usr/sbin/{p}").exists() for p in DAEMONS)


def _program(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SlurmCluster:
    """Start and stop a one-node SLURM cluster whose files all live under ``root``."""

    def __init__(self, root: Path, cpus: int = 2, memory_mb: int = 20000) -> None:
        self.root = Path(root)
        self.cpus = cpus
        self.memory_mb = memory_mb
        self.processes: list[subprocess.Popen] = []
        self.conf = self.root / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        """Environment entries that point SLURM clients at this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def _write_files(self) -> None:
        for sub in ("state", "spool", "log", "munge"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root / "munge", 0o700)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        ctld, slurmd = _free_port(), _free_port()
        sock = self.root / "munge" / "munge.socket"
        lines = [
            "ClusterName=gstflows",
            "SlurmctldHost=localhost(127.0.0.1)",
            f"SlurmctldPort={ctld}",
            f"SlurmdPort={slurmd}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={sock}",
            f"StateSaveLocation={self.root / 'state'}",
            f"SlurmdSpoolDir={self.root / 'spool'}",
            f"SlurmctldPidFile={self.root / 'slurmctld.pid'}",
            f"SlurmdPidFile={self.root / 'slurmd.pid'}",
            f"SlurmctldLogFile={self.root / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={self.root / 'log' / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SchedulerType=sched/backfill",
            "ReturnToService=2",
            "MpiDefault=none",
            "JobCompType=jobcomp/filetxt",
            f"JobCompLoc={self.root / 'log' / 'jobcomp.txt'}",
            "AccountingStorageType=accounting_storage/none",
            "SlurmctldTimeout=30",
            "SlurmdTimeout=30",
            "InactiveLimit=0",
            "MinJobAge=300",
            "KillWait=5",
            f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} "
            f"RealMemory={self.memory_mb} State=UNKNOWN",
            "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.root / "log" / f"{name}.out", "wb")  # noqa: SIM115 - kept for the process
        proc = subprocess.Popen(
            [_program(name), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env},
            start_new_session=True,
        )
        self.processes.append(proc)
        return proc

    def start(self, timeout: float = 30.0) -> SlurmCluster:
        """Start munged, slurmctld and slurmd; wait until the node is idle."""
        self._write_files()
        munge = self.root / "munge"
        self._spawn(
            "munged",
            [
                "-F",
                "--force",
                f"--socket={munge / 'munge.socket'}",
                f"--key-file={munge / 'munge.key'}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--log-file={self.root / 'log' / 'munged.log'}",
                f"--seed-file={munge / 'munged.seed'}",
            ],
        )
        deadline = time.monotonic() + timeout
        while not (munge / "munge.socket").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("munged did not start: " + self._logs())
            time.sleep(0.1)
        self._spawn("slurmctld", ["-D", "-i", "-f", str(self.conf)])
        self._spawn("slurmd", ["-D", "-N", "localhost", "-f", str(self.conf)])
        while time.monotonic() < deadline:
            for proc in self.processes:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args[0]} exited: " + self._logs())
            out = subprocess.run(
                [_program("sinfo"), "-h", "-o", "%T"],
                capture_output=True,
                text=True,
                env={**os.environ, **self.env},
                check=False,
            )
            if out.stdout.strip().startswith("idle"):
                return self
            time.sleep(0.3)
        raise RuntimeError("SLURM node did not become idle: " + self._logs())

    def stop(self) -> None:
        """Cancel the jobs, then stop every daemon started here, by pid (slurmd first, munged last).

        A job's ``slurmstepd`` runs in a session of its own, out of reach of the daemons'
        process groups; any that outlives slurmd is found by this cluster's ``SLURM_CONF``
        in its environment and stopped too.
        """
        if self.processes and all(proc.poll() is None for proc in self.processes):
            env = {**os.environ, **self.env}
            subprocess.run(
                [_program("scancel"), "--full", "--user", str(os.getuid())],
                env=env,
                capture_output=True,
                check=False,
                timeout=30,
            )
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                out = subprocess.run(
                    [_program("squeue"), "-h", "-o", "%i"],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=30,
                )
                if out.returncode != 0 or not out.stdout.strip():
                    break
                time.sleep(0.3)
        for proc in reversed(self.processes):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
        self.processes.clear()
        for pid in self.step_daemons():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def step_daemons(self) -> list[int]:
        """Pids of ``slurmstepd`` processes started for this cluster."""
        mine = f"SLURM_CONF={self.conf}".encode()
        pids = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if not (proc / "cmdline").read_bytes().startswith(b"slurmstepd"):
                    continue
                if mine in (proc / "environ").read_bytes().split(b"\0"):
                    pids.append(int(proc.name))
            except OSError:
                continue
        return pids

    def _logs(self) -> str:
        texts = []
        for path in sorted((self.root / "log").glob("*")):
            tail = path.read_text(errors="replace").strip().splitlines()[-3:]
            texts.append(f"{path.name}: {' | '.join(tail)}")
        return "; ".join(texts)

    def __enter__(self) -> SlurmCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
