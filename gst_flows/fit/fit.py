"""Fit a GAP with gap_fit: checks, memory guard, run, collected files."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ase import Atoms

from gst_flows.fit.data import validate_frames, write_gap_fit_extxyz
from gst_flows.fit.descriptors import DataCounts, count_descriptors
from gst_flows.fit.exceptions import FitInputError
from gst_flows.fit.gap_fit import (
    GapFitRun,
    gap_fit_executable,
    gap_fit_parameters,
    potential_files,
    render_config,
    run_gap_fit,
)
from gst_flows.fit.hyperparameters import GapHyperparameters
from gst_flows.fit.memory import (
    MemoryEstimate,
    check_memory,
    default_memory_limit,
    estimate_from_counts,
)
from gst_flows.md.potential import gap_calculator

__all__ = ["GapFitResult", "fit_gap", "load_gap_calculator", "prepare_fit"]

logger = logging.getLogger(__name__)

TRAIN_FILE = "train.xyz"
CONFIG_FILE = "gap_fit.config"
GP_FILE = "gap.xml"


@dataclass
class GapFitResult:
    """A finished gap_fit run and the files it produced.

    Parameters
    ----------
    directory
        Run directory.
    potential_path
        The potential XML.
    files
        The XML followed by its sparseX files.
    command
        Argument vector that was run.
    config_text
        Content of the gap_fit ``config_file`` (every parameter of the fit).
    e0
        Isolated-atom energy per element symbol, eV.
    counts
        Descriptor and target counts of the training set.
    estimate
        Memory predicted before the run.
    run
        Exit status, wall time, measured peak memory, version.
    """

    directory: Path
    potential_path: Path
    files: list[Path]
    command: list[str]
    config_text: str
    e0: dict[str, float]
    counts: DataCounts
    estimate: MemoryEstimate
    run: GapFitRun


def prepare_fit(
    frames: Sequence[Atoms], hyperparameters: GapHyperparameters
) -> tuple[dict[str, float], DataCounts, MemoryEstimate]:
    """Check data and settings, count descriptors and predict memory, without running.

    Returns
    -------
    tuple
        ``(e0, counts, estimate)``.

    Raises
    ------
    FitInputError
        Bad data or settings, or more sparse points than data while
        ``strict_n_sparse`` is set.
    """
    hyperparameters.validate()
    e0 = validate_frames(frames, hyperparameters.e0)
    counts = count_descriptors(frames, hyperparameters, species=sorted(e0))
    short = counts.short_of_data()
    if hyperparameters.strict_n_sparse and short:
        details = "; ".join(
            f"{d.label} asks for {d.n_sparse_requested} but the data hold {d.n_descriptors}"
            for d in short[:6]
        )
        more = f" (and {len(short) - 6} more)" if len(short) > 6 else ""
        raise FitInputError(
            f"n_sparse is larger than the data: {details}{more}. Lower n_sparse of that "
            "term, add training data, or set strict_n_sparse=false to cap each descriptor "
            "at the data it has"
        )
    return e0, counts, estimate_from_counts(counts)


def fit_gap(
    frames: Sequence[Atoms],
    hyperparameters: GapHyperparameters | None = None,
    directory: str | Path = ".",
    *,
    memory_limit_bytes: int | None = -1,
    timeout_s: float | None = None,
    executable: str | None = None,
    on_line: Callable[[str], None] | None = None,
) -> GapFitResult:
    """Fit a GAP to labelled frames with gap_fit.

    Parameters
    ----------
    frames
        Training frames (see :mod:`gst_flows.fit.data`), isolated atoms included.
    hyperparameters
        Fit settings; defaults to :class:`GapHyperparameters()`.
    directory
        Run directory (created); receives ``train.xyz``, ``gap_fit.config``,
        ``gap_fit.log``, ``gap.xml`` and its sparseX files.
    memory_limit_bytes
        Refuse to run above this predicted peak; ``-1`` means
        :func:`~gst_flows.fit.memory.default_memory_limit`, ``None`` means no limit.
    timeout_s
        Wall-time limit of gap_fit, s.
    executable
        gap_fit binary; defaults to the one shipped with quippy-ase.
    on_line
        Called with each line of gap_fit's log as it is written.

    Returns
    -------
    GapFitResult
        Potential files, command, e0, counts, predicted and measured memory.

    Raises
    ------
    FitInputError
        Bad data or settings.
    FitMemoryError
        Predicted memory above the limit (nothing is run).
    GapFitError
        gap_fit failed or timed out.
    """
    hp = hyperparameters or GapHyperparameters()
    e0, counts, estimate = prepare_fit(frames, hp)
    if memory_limit_bytes == -1:
        memory_limit_bytes = default_memory_limit()
    check_memory(estimate, memory_limit_bytes)
    if counts.empty:
        logger.info("species combinations without data, left out: %s", ", ".join(counts.empty))

    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob(f"{GP_FILE}*"):
        stale.unlink()
    write_gap_fit_extxyz(frames, directory / TRAIN_FILE)
    params = gap_fit_parameters(counts, hp, e0, TRAIN_FILE, GP_FILE)
    config_text = render_config(params)
    (directory / CONFIG_FILE).write_text(config_text)
    command = [executable or gap_fit_executable(), f"config_file={CONFIG_FILE}"]
    run = run_gap_fit(command, directory, timeout_s=timeout_s, on_line=on_line)
    files = potential_files(directory / GP_FILE)
    return GapFitResult(
        directory=directory,
        potential_path=files[0],
        files=files,
        command=command,
        config_text=config_text,
        e0=e0,
        counts=counts,
        estimate=estimate,
        run=run,
    )


#: The GAP loader of the MD layer (:func:`gst_flows.md.potential.gap_calculator`), under the
#: name this package has always exported.
load_gap_calculator = gap_calculator
