"""Running CP2K: under custodian (with its CP2K handlers) or directly, then parsing."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ase import Atoms

from gst_flows.dft.cp2k.inputs import INPUT_FILE, PROJECT, write_cp2k_input
from gst_flows.dft.cp2k.outputs import OUTPUT_FILE, Cp2kError, Cp2kResult, parse_cp2k_output
from gst_flows.dft.cp2k.settings import Cp2kSettings

__all__ = ["label_structure", "run_cp2k"]


def _own_process_job(*args: Any, **kwargs: Any):
    """A custodian ``Cp2kJob`` that stops only its own CP2K when a handler intervenes.

    custodian's ``Cp2kJob.terminate`` runs ``killall cp2k.psmp``, which also ends every other
    CP2K on the node (other jobs, other users' runs). This job starts CP2K in a process group
    of its own and terminates that group only.
    """
    import signal
    import subprocess

    from custodian.cp2k.jobs import Cp2kJob

    class OwnProcessCp2kJob(Cp2kJob):
        def run(self, directory="./"):
            cmd = [*self.cp2k_cmd, "-i", self.input_file]
            with (
                open(os.path.join(directory, self.output_file), "w") as out,
                open(os.path.join(directory, self.stderr_file), "w", buffering=1) as err,
            ):
                self._process = subprocess.Popen(
                    cmd, cwd=directory, stdout=out, stderr=err, start_new_session=True
                )
            return self._process

        def terminate(self, directory="./"):
            process = getattr(self, "_process", None)
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)

    return OwnProcessCp2kJob(*args, **kwargs)


def _custodian_handlers(walltime: float | None):
    from custodian.cp2k.handlers import (
        AbortHandler,
        FrozenJobErrorHandler,
        NumericalPrecisionHandler,
        StdErrHandler,
        UnconvergedScfErrorHandler,
        WalltimeHandler,
    )

    handlers = [
        StdErrHandler(std_err="std_err.txt"),
        UnconvergedScfErrorHandler(input_file=INPUT_FILE, output_file=OUTPUT_FILE),
        AbortHandler(input_file=INPUT_FILE, output_file=OUTPUT_FILE),
        NumericalPrecisionHandler(input_file=INPUT_FILE, output_file=OUTPUT_FILE),
        FrozenJobErrorHandler(input_file=INPUT_FILE, output_file=OUTPUT_FILE, timeout=3600),
    ]
    if walltime:
        handlers.append(WalltimeHandler(output_file=OUTPUT_FILE, enable_checkpointing=False))
    return handlers


def run_cp2k(
    atoms: Atoms,
    settings: Cp2kSettings | None = None,
    directory: str | Path = ".",
    command: list[str] | None = None,
    omp_threads: int = 1,
    use_custodian: bool = True,
    max_errors: int = 5,
    walltime: float | None = None,
) -> Cp2kResult:
    """Run CP2K on ``atoms`` in ``directory`` and return the parsed result.

    Parameters
    ----------
    atoms
        Structure to label.
    settings
        The protocol; defaults when omitted.
    directory
        Run directory (created).
    command
        CP2K command as a list (``-i cp2k.inp`` is appended); default from the settings file.
    omp_threads
        ``OMP_NUM_THREADS`` for the run.
    use_custodian
        Run under custodian with CP2K error handlers (SCF, aborts, frozen jobs).
    max_errors
        Corrections custodian may apply before giving up.
    walltime
        Seconds; enables custodian's walltime handler.

    Raises
    ------
    Cp2kError
        When CP2K fails after all corrections.
    """
    if command is None:
        from gst_flows.settings import get_settings

        command = get_settings().cp2k_command
    directory = Path(directory).resolve()
    write_cp2k_input(atoms, settings, directory)
    env_backup = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(omp_threads)
    corrections: list[dict] = []
    try:
        if use_custodian:
            from custodian import Custodian

            job = _own_process_job(command, input_file=INPUT_FILE, output_file=OUTPUT_FILE, backup=True)
            cust = Custodian(
                _custodian_handlers(walltime),
                [job],
                max_errors=max_errors,
                directory=str(directory),
                checkpoint=False,
                gzipped_output=False,
                polling_time_step=1,
                monitor_freq=5,
            )
            # Some custodian CP2K handlers open files relative to the working directory.
            try:
                with contextlib.chdir(directory):
                    run_log = cust.run()
            except Exception as exc:
                raise Cp2kError(f"CP2K failed after corrections in {directory}: {exc}") from exc
            corrections = [c for step in run_log for c in step.get("corrections", [])]
        else:
            import subprocess

            with open(directory / OUTPUT_FILE, "w") as out, open(directory / "std_err.txt", "w") as err:
                proc = subprocess.run(
                    [*command, "-i", INPUT_FILE], cwd=directory, stdout=out, stderr=err, check=False
                )
            if proc.returncode != 0:
                raise Cp2kError(f"CP2K exited with code {proc.returncode} in {directory}")
    finally:
        if env_backup is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = env_backup
    result = parse_cp2k_output(directory, len(atoms))
    result.corrections = [json.loads(json.dumps(c, default=str)) for c in corrections]
    for leftover in directory.glob(f"{PROJECT}-RESTART*.wfn*"):
        leftover.unlink()
    return result


def label_structure(
    atoms: Atoms,
    settings: Cp2kSettings | None = None,
    directory: str | Path | None = None,
    **run_kwargs: Any,
) -> Cp2kResult:
    """Label one structure with CP2K (energy eV, forces eV/Å, stress GPa).

    A thin convenience over :func:`run_cp2k` for scripts and notebooks: when ``directory`` is
    omitted a temporary directory is used and removed afterwards.
    """
    if directory is not None:
        return run_cp2k(atoms, settings, directory, **run_kwargs)
    import tempfile

    tmp = tempfile.mkdtemp(prefix="gst-cp2k-")
    try:
        return run_cp2k(atoms, settings, tmp, **run_kwargs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
