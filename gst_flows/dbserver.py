"""The embedded MongoDB-protocol server: ``secantusd-py`` run as a separate process.

The server (PyPI ``secantusdb``, GPL-2.0) is never imported; it is started as a program, bound to
127.0.0.1 on a free port, with its data under ``<data_dir>/db``. Its pid and port are recorded in
``<data_dir>/db/server.json`` so any later process finds it, and ``stop`` ends only that pid.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DatabaseServerError", "EmbeddedServer"]

HOST = "127.0.0.1"


class DatabaseServerError(RuntimeError):
    """The embedded database server cannot be started, reached or stopped."""


def _server_program() -> str:
    """Locate the ``secantusd-py`` program next to this Python, or on PATH."""
    candidate = Path(sys.executable).parent / "secantusd-py"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("secantusd-py")
    if found is None:
        raise DatabaseServerError(
            "secantusd-py not found: install the 'secantusdb' package (pip install secantusdb) "
            "or set GST_FLOWS_DB_URI to your own MongoDB"
        )
    return found


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Ignore TIME_WAIT left by a server that just stopped: it can rebind too.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0): look at its state.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _is_our_server(pid: int) -> bool:
    """Whether ``pid`` is a secantusd process (guards against a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return _pid_alive(pid)
    return "secantusd" in cmdline


def _ping(port: int, timeout_ms: int = 1000) -> bool:
    import pymongo

    client = pymongo.MongoClient(
        HOST, port, serverSelectionTimeoutMS=timeout_ms, directConnection=True
    )
    try:
        client.admin.command("ping")
    except Exception:
        return False
    finally:
        client.close()
    return True


@dataclass
class EmbeddedServer:
    """Handle on the embedded database server kept under ``data_dir``.

    Parameters
    ----------
    data_dir
        The gst-flows data directory; the server keeps its files in ``data_dir/db``.
    start_timeout
        Seconds to wait for a freshly started server to answer.
    """

    data_dir: Path
    start_timeout: float = 30.0

    @property
    def directory(self) -> Path:
        """Directory holding the server's storage, state file and log."""
        return Path(self.data_dir).expanduser() / "db"

    @property
    def state_file(self) -> Path:
        """JSON file with the pid and port of the running server."""
        return self.directory / "server.json"

    @property
    def log_file(self) -> Path:
        """The server's log."""
        return self.directory / "server.log"

    def _read_state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None

    def status(self) -> dict:
        """Describe the server: ``running``, ``pid``, ``port``, ``uri``, ``storage``."""
        state = self._read_state() or {}
        pid, port = state.get("pid"), state.get("port")
        running = bool(pid and _pid_alive(pid) and _is_our_server(pid) and _ping(port))
        return {
            "running": running,
            "pid": pid if running else None,
            "port": port,
            "uri": f"mongodb://{HOST}:{port}/" if running else None,
            "storage": str(self.directory / "storage"),
        }

    def uri(self) -> str:
        """Return the URI of the running server, starting it first when needed."""
        return self.start()["uri"]

    @contextlib.contextmanager
    def _lock(self):
        self._prepare_directory()
        with open(self.directory / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _prepare_directory(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            probe = self.directory / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise DatabaseServerError(
                f"data directory {self.directory} is not writable ({exc.strerror}); "
                "set GST_FLOWS_DATA_DIR to a writable directory"
            ) from None

    def start(self) -> dict:
        """Start the server unless it is already running; return its status.

        A second call while the server runs does nothing. The port of the last run is reused
        when it is still free, so URIs written into submitted workflows stay valid.
        """
        with self._lock():
            current = self.status()
            if current["running"]:
                return current
            state = self._read_state() or {}
            port = state.get("port")
            if not port or not _port_free(port):
                port = _free_port()
            storage = self.directory / "storage"
            cmd = [
                _server_program(),
                "--host", HOST,
                "--port", str(port),
                "--storage-path", str(storage),
                "--standalone",
                "--log-level", "WARNING",
            ]
            with open(self.log_file, "ab") as log:
                proc = subprocess.Popen(
                    cmd,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise DatabaseServerError(
                        f"embedded database server exited with code {proc.returncode} "
                        f"on port {port}: {self._log_tail()}"
                    )
                if _ping(port, 300):
                    break
                time.sleep(0.2)
            else:
                proc.kill()
                raise DatabaseServerError(
                    f"embedded database server did not answer on {HOST}:{port} within "
                    f"{self.start_timeout:.0f} s: {self._log_tail()}"
                )
            self.state_file.write_text(json.dumps({"pid": proc.pid, "port": port}))
            return self.status()

    def stop(self, timeout: float = 20.0) -> bool:
        """Stop the server this handle started (by its recorded pid).

        Returns
        -------
        bool
            True when a running server was stopped, False when none was running.
        """
        with self._lock():
            state = self._read_state() or {}
            pid = state.get("pid")
            if not pid or not _pid_alive(pid) or not _is_our_server(pid):
                return False
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and _pid_alive(pid):
                time.sleep(0.1)
            if _pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
            # Reap when the server was started by this very process.
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
            state.pop("pid", None)
            self.state_file.write_text(json.dumps(state))
            return True

    def _log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return " | ".join(text[-lines:]) or "empty log"
