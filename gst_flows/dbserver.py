"""The embedded MongoDB-protocol server: ``secantusd-py`` run as a separate process.

The server (PyPI ``secantusdb``, GPL-2.0) is never imported; it is started as a program, bound to
127.0.0.1 on a free port, with its data under ``<data_dir>/db``. Its pid and port are recorded in
``<data_dir>/db/server.json`` so any later process finds it, and ``stop`` ends only that pid.

The database belongs to the account that created it: the server requires authentication
(SCRAM) with a credential generated on first start and kept in ``<data_dir>/db/credentials.json``
(mode 0600); the data directory is 0700 and every file in it 0600. On first start the server is
run once without authentication, on a private port, only to create that one user (and to drop
any other user it finds), then restarted with ``--auth``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
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
#: The one user of the embedded server.
USER = "gst-flows"
#: Mode of the data directories (owner only) and of every file in them.
DIR_MODE = 0o700
FILE_MODE = 0o600


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


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (atomic replace)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)


def _restrict(directory: Path) -> None:
    """Make ``directory`` and everything below it private to its owner (0700/0600)."""
    for root, dirs, files in os.walk(directory):
        os.chmod(root, DIR_MODE)
        for name in dirs:
            os.chmod(os.path.join(root, name), DIR_MODE)
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                os.chmod(os.path.join(root, name), FILE_MODE)


def _ping(port: int, timeout_ms: int = 1000, credentials: dict | None = None) -> bool:
    import pymongo

    auth = {}
    if credentials:
        auth = {
            "username": credentials["username"],
            "password": credentials["password"],
            "authSource": "admin",
        }
    client = pymongo.MongoClient(
        HOST, port, serverSelectionTimeoutMS=timeout_ms, directConnection=True, **auth
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

    @property
    def credentials_file(self) -> Path:
        """JSON file with the server's user name and password (mode 0600)."""
        return self.directory / "credentials.json"

    def credentials(self) -> dict | None:
        """The server's user name and password, None before its first start."""
        try:
            return json.loads(self.credentials_file.read_text())
        except (OSError, ValueError):
            return None

    def _uri(self, port: int) -> str:
        cred = self.credentials()
        if not cred:
            return f"mongodb://{HOST}:{port}/"
        return f"mongodb://{cred['username']}:{cred['password']}@{HOST}:{port}/?authSource=admin"

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
            "uri": self._uri(port) if running else None,
            "masked_uri": f"mongodb://{USER}:***@{HOST}:{port}/" if running else None,
            "storage": str(self.directory / "storage"),
            "credentials": str(self.credentials_file),
        }

    def uri(self) -> str:
        """Return the URI of the running server, starting it first when needed."""
        return self.start()["uri"]

    @contextlib.contextmanager
    def _lock(self):
        self._prepare_directory()
        fd = os.open(self.directory / ".lock", os.O_WRONLY | os.O_CREAT, FILE_MODE)
        with os.fdopen(fd, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _prepare_directory(self) -> None:
        try:
            base = Path(self.data_dir).expanduser()
            base.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            self.directory.mkdir(mode=DIR_MODE, exist_ok=True)
            for directory in (base, self.directory):
                if directory.stat().st_uid == os.getuid():
                    os.chmod(directory, DIR_MODE)
            probe = self.directory / ".write-test"
            _write_private(probe, "ok")
            probe.unlink()
        except OSError as exc:
            raise DatabaseServerError(
                f"data directory {self.directory} is not writable ({exc.strerror}); "
                "set GST_FLOWS_DATA_DIR to a writable directory"
            ) from None

    def start(self) -> dict:
        """Start the server unless it is already running; return its status.

        A second call while the server runs does nothing. The port of the last run is reused
        when it is still free, so launcher files stay valid; when it is taken the server moves
        to a free port (submitted work still runs: jobs find the store from the configuration
        at run time, see :class:`gst_flows.db.jobstore.ConfiguredJobStore`; regenerate the
        launcher files with ``gst-flows launchers``).
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
            if storage.exists():
                _restrict(storage)
            if self.credentials() is None:
                self._provision(storage)
            proc = self._spawn(storage, port, auth=True)
            self._await(proc, port, self.credentials())
            _write_private(self.state_file, json.dumps({"pid": proc.pid, "port": port}))
            return self.status()

    def _spawn(self, storage: Path, port: int, auth: bool) -> subprocess.Popen:
        cmd = [
            _server_program(),
            "--host",
            HOST,
            "--port",
            str(port),
            "--storage-path",
            str(storage),
            "--standalone",
            "--log-level",
            "WARNING",
        ]
        if auth:
            cmd.append("--auth")
        fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        with os.fdopen(fd, "ab") as log:
            return subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                umask=0o077,  # storage files readable by their owner only
            )

    def _await(self, proc: subprocess.Popen, port: int, credentials: dict | None) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DatabaseServerError(
                    f"embedded database server exited with code {proc.returncode} "
                    f"on port {port}: {self._log_tail()}"
                )
            if _ping(port, 300, credentials):
                return
            time.sleep(0.2)
        proc.kill()
        raise DatabaseServerError(
            f"embedded database server did not answer on {HOST}:{port} within "
            f"{self.start_timeout:.0f} s: {self._log_tail()}"
        )

    def _provision(self, storage: Path) -> None:
        """Create the server's one user and its credential file (first start only).

        The server runs without authentication for this only, on a fresh private port; any
        other user found (one created by someone else meanwhile, or left in an older data
        directory) is dropped.
        """
        import pymongo

        port = _free_port()
        proc = self._spawn(storage, port, auth=False)
        try:
            self._await(proc, port, None)
            password = secrets.token_urlsafe(24)
            client = pymongo.MongoClient(HOST, port, directConnection=True, serverSelectionTimeoutMS=5000)
            try:
                admin = client.admin
                for user in admin.command("usersInfo").get("users", []):
                    admin.command("dropUser", user["user"])
                admin.command("createUser", USER, pwd=password, roles=[{"role": "root", "db": "admin"}])
                others = [u["user"] for u in admin.command("usersInfo").get("users", []) if u["user"] != USER]
                for user in others:
                    admin.command("dropUser", user)
            finally:
                client.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _write_private(self.credentials_file, json.dumps({"username": USER, "password": password}))
        _restrict(storage)

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
            _write_private(self.state_file, json.dumps(state))
            return True

    def _log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return " | ".join(text[-lines:]) or "empty log"
