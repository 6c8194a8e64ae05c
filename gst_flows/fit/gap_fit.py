"""The gap_fit program: its input, how to run it, what it leaves behind.

gap_fit is run with a ``config_file`` (its command-line arguments, one per line) because a
species-resolved descriptor string exceeds the length gap_fit accepts for one argument.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from ase.data import atomic_numbers

from gst_flows.fit.data import CONFIG_TYPE_KEY, ENERGY_KEY, FORCES_KEY, VIRIAL_KEY
from gst_flows.fit.descriptors import DataCounts, DescriptorCount
from gst_flows.fit.exceptions import GapFitError, GapFitTimeoutError
from gst_flows.fit.hyperparameters import GapHyperparameters

__all__ = [
    "GapFitRun",
    "descriptor_string",
    "gap_fit_executable",
    "gap_fit_parameters",
    "parse_gap_fit_log",
    "potential_files",
    "render_config",
    "run_gap_fit",
]


def _fmt(x: float) -> str:
    return repr(float(x)) if isinstance(x, float) else str(x)


def descriptor_string(
    descriptor: DescriptorCount, hyperparameters: GapHyperparameters, species: Sequence[str]
) -> str:
    """gap_fit descriptor string for one species combination.

    Parameters
    ----------
    descriptor
        The species combination, with the number of sparse points to use.
    hyperparameters
        The fit settings.
    species
        All element symbols of the potential (SOAP needs the full list).

    Returns
    -------
    str
        E.g. ``"distance_2b add_species=F Z1=32 Z2=52 cutoff=5.5 ..."``.
    """
    z = [atomic_numbers[s] for s in descriptor.species]
    if descriptor.term in ("two_body", "three_body"):
        t = getattr(hyperparameters, descriptor.term)
        if descriptor.term == "two_body":
            head = f"distance_2b add_species=F Z1={z[0]} Z2={z[1]}"
        else:
            head = f"angle_3b add_species=F Z={z[0]} Z1={z[1]} Z2={z[2]}"
        body = {
            "cutoff": t.cutoff,
            "n_sparse": descriptor.n_sparse,
            "covariance_type": t.covariance_type,
            "delta": t.delta,
            "theta_uniform": t.theta_uniform,
            "sparse_method": t.sparse_method,
        }
    elif descriptor.term == "soap":
        t = hyperparameters.soap
        all_z = " ".join(str(atomic_numbers[s]) for s in species)
        # Doubled braces survive gap_fit's config-file parser as one pair.
        head = f"soap add_species=F n_species={len(species)} species_Z={{{{{all_z}}}}} Z={z[0]}"
        body = {
            "l_max": t.l_max,
            "n_max": t.n_max,
            "atom_sigma": t.atom_sigma,
            "cutoff": t.cutoff,
            "cutoff_transition_width": t.cutoff_transition_width,
            "delta": t.delta,
            "n_sparse": descriptor.n_sparse,
            "covariance_type": t.covariance_type,
            "zeta": t.zeta,
            "sparse_method": t.sparse_method,
        }
    else:  # pragma: no cover - closed set
        raise ValueError(descriptor.term)
    return head + " " + " ".join(f"{k}={_fmt(v)}" for k, v in body.items())


def gap_fit_parameters(
    counts: DataCounts,
    hyperparameters: GapHyperparameters,
    e0: dict[str, float],
    at_file: str,
    gp_file: str,
) -> dict[str, str]:
    """gap_fit parameters (name → value) for a counted training set.

    Parameters
    ----------
    counts
        Species combinations with data and the sparse points each uses.
    hyperparameters
        The fit settings.
    e0
        Isolated-atom energy per element symbol, eV.
    at_file
        Training extxyz file name, as gap_fit will see it.
    gp_file
        Name of the potential XML to write.

    Returns
    -------
    dict
        Ordered parameters; see :func:`render_config`.
    """
    hp = hyperparameters
    gap = " : ".join(descriptor_string(d, hp, counts.species) for d in counts.descriptors)
    sig = hp.default_sigma
    params = {
        "at_file": at_file,
        "gap": gap,
        "e0": ":".join(f"{s}:{e0[s]!r}" for s in counts.species),
        "default_sigma": "{" + " ".join(_fmt(x) for x in sig.as_tuple()) + "}",
        "energy_parameter_name": ENERGY_KEY,
        "force_parameter_name": FORCES_KEY,
        "virial_parameter_name": VIRIAL_KEY,
        "config_type_parameter_name": CONFIG_TYPE_KEY,
        "sparse_jitter": _fmt(hp.sparse_jitter),
        "rnd_seed": str(int(hp.seed)),
        "gp_file": gp_file,
    }
    if hp.config_type_sigma:
        params["config_type_sigma"] = (
            "{"
            + ":".join(
                ":".join([name, *(_fmt(x) for x in s.as_tuple())]) for name, s in hp.config_type_sigma.items()
            )
            + "}"
        )
    return params


def render_config(params: dict[str, str]) -> str:
    """Text of a gap_fit ``config_file``: one ``key=value`` per line."""
    lines = []
    for key, value in params.items():
        text = f'"{value}"' if key in ("gap", "e0") else value
        lines.append(f"{key}={text}")
    return "\n".join(lines) + "\n"


def gap_fit_executable() -> str:
    """Path of the gap_fit binary shipped with quippy-ase.

    The ``gap_fit`` script on ``PATH`` is a Python wrapper that starts the binary as a
    child; running the binary directly keeps the measured peak memory that of gap_fit.
    """
    env = os.environ.get("GST_FLOWS_GAP_FIT")
    if env:
        return env
    try:
        import quippy

        candidate = Path(quippy.__path__[0]) / "gap_fit"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    except ImportError:  # pragma: no cover - quippy is a dependency
        pass
    found = shutil.which("gap_fit")
    if not found:
        raise GapFitError("gap_fit not found: install quippy-ase or set GST_FLOWS_GAP_FIT")
    return found


@dataclass
class GapFitRun:
    """Outcome of one gap_fit process.

    Parameters
    ----------
    command
        The exact argument vector run.
    directory
        Working directory.
    returncode
        Exit code.
    wall_time_s
        Wall time, s.
    peak_memory_bytes
        Peak resident memory of gap_fit (kernel accounting of the child, cross-checked by
        sampling the process tree), bytes.
    log_path
        gap_fit's output, streamed there while it ran.
    version
        gap_fit version string from its log.
    gap_fit_estimate_bytes
        gap_fit's own memory estimate from its log, bytes.
    """

    command: list[str]
    directory: Path
    returncode: int
    wall_time_s: float
    peak_memory_bytes: int
    log_path: Path
    version: str | None = None
    gap_fit_estimate_bytes: int | None = None
    extra: dict = field(default_factory=dict)


_SI = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_gap_fit_log(text: str) -> dict:
    """Version and memory estimate from a gap_fit log.

    Returns
    -------
    dict
        ``version`` (str or None) and ``estimate_bytes`` (int or None).
    """
    version = None
    m = re.search(r"git version\s+(\S+)", text)
    if m:
        version = m.group(1).rsplit(",", 1)[-1]
    estimate = None
    m = re.search(r"^PEAK\s+([\d.]+)\s*([KMGT]?)\s*B\s*$", text, re.M)
    if m:
        estimate = int(float(m.group(1)) * _SI[m.group(2)])
    return {"version": version, "estimate_bytes": estimate}


# A child forked from this (large) Python process would report this process's resident size
# as its own peak: Linux keeps the pre-exec high-water mark in ru_maxrss. A minimal Python
# launcher spawns gap_fit instead and reports the clean peak of its child.
_LAUNCHER = """
import os, sys
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(f"{ru.ru_maxrss} {status}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _children_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        children = proc.children(recursive=True)
    except psutil.Error:
        return 0
    for p in children:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def run_gap_fit(
    command: Sequence[str],
    directory: str | Path,
    *,
    timeout_s: float | None = None,
    log_name: str = "gap_fit.log",
    poll_interval_s: float = 0.2,
    on_line: Callable[[str], None] | None = None,
) -> GapFitRun:
    """Run gap_fit, streaming its log to a file, with a timeout and peak-memory measurement.

    Parameters
    ----------
    command
        Argument vector, e.g. ``[gap_fit_executable(), "config_file=gap_fit.config"]``.
    directory
        Working directory; the log is written there.
    timeout_s
        Wall-time limit, s; gap_fit is killed past it.
    log_name
        File name of the log.
    poll_interval_s
        Sampling interval of the memory monitor and timeout check, s.
    on_line
        Called with each new log line (e.g. to echo it to a logger).

    Returns
    -------
    GapFitRun
        Exit code, wall time, measured peak memory, version.

    Raises
    ------
    GapFitTimeoutError
        If the time limit was reached.
    GapFitError
        If gap_fit exited with an error (the message ends with the log's last lines).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / log_name
    rss_path = directory / f".{log_name}.maxrss"
    rss_path.unlink(missing_ok=True)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    argv = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(rss_path), *command]
    start = time.monotonic()
    sampled_peak = 0
    timed_out = False
    stop_tail = threading.Event()
    tail = None
    with open(log_path, "w", buffering=1) as log:
        proc = subprocess.Popen(
            argv,
            cwd=directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        if on_line is not None:
            tail = threading.Thread(target=_follow, args=(log_path, on_line, stop_tail), daemon=True)
            tail.start()
        try:
            ps = psutil.Process(proc.pid)
            while proc.poll() is None:
                sampled_peak = max(sampled_peak, _children_rss(ps))
                if timeout_s is not None and time.monotonic() - start > timeout_s:
                    timed_out = True
                    _kill_group(proc)
                    break
                time.sleep(poll_interval_s)
        except BaseException:
            _kill_group(proc)
            raise
        finally:
            stop_tail.set()
            if tail is not None:
                tail.join(timeout=2)
    wall = time.monotonic() - start
    returncode = proc.returncode
    peak = sampled_peak
    if rss_path.is_file():
        fields = rss_path.read_text().split()
        rss_path.unlink()
        if fields:
            peak = max(peak, int(fields[0]) * 1024)
    text = log_path.read_text(errors="replace")
    info = parse_gap_fit_log(text)
    run = GapFitRun(
        command=list(command),
        directory=directory,
        returncode=returncode,
        wall_time_s=wall,
        peak_memory_bytes=peak,
        log_path=log_path,
        version=info["version"],
        gap_fit_estimate_bytes=info["estimate_bytes"],
    )
    if timed_out:
        raise GapFitTimeoutError(
            f"gap_fit exceeded its time limit of {timeout_s:.0f} s and was stopped "
            f"(peak memory so far {peak / 1024**2:.0f} MiB); log: {log_path}"
        )
    if returncode != 0 or "SYSTEM ABORT" in text:
        tail_lines = "\n".join(text.strip().splitlines()[-15:])
        raise GapFitError(f"gap_fit failed with exit code {returncode}; log {log_path}:\n{tail_lines}")
    return run


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _follow(path: Path, on_line: Callable[[str], None], stop: threading.Event) -> None:
    with open(path, errors="replace") as fh:
        while True:
            line = fh.readline()
            if line:
                on_line(line.rstrip("\n"))
                continue
            if stop.is_set():
                break
            time.sleep(0.1)


def potential_files(gp_file: str | Path) -> list[Path]:
    """Return the potential XML and the sparseX files it refers to.

    Raises
    ------
    GapFitError
        If the XML or one of its sparseX files is missing.
    """
    gp_file = Path(gp_file)
    if not gp_file.is_file():
        raise GapFitError(f"gap_fit wrote no potential file {gp_file}")
    names = []
    for element in ET.parse(gp_file).iter():
        name = element.attrib.get("sparseX_filename")
        if name:
            names.append(name)
    files = [gp_file]
    for name in dict.fromkeys(names):
        path = gp_file.parent / name
        if not path.is_file():
            raise GapFitError(f"potential {gp_file.name} refers to missing file {name}")
        files.append(path)
    return files
