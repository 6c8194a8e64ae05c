"""Makers that fit, cross-validate and evaluate GAP potentials with gap_fit."""

from __future__ import annotations

import base64
import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar

from ase import Atoms
from jobflow import Flow, Maker, job

from gst_flows.fit import (
    FitInputError,
    GapHyperparameters,
    error_table,
    fit_gap,
    kfold_by_structure,
    parity_plots,
    predict,
    split_by_structure,
    summarise_frames,
)
from gst_flows.fit.chemical_order import chemical_order_check
from gst_flows.fit.data import group_label, is_isolated_atom
from gst_flows.fit.formation import formation_energies
from gst_flows.fit.metrics import ALL
from gst_flows.makers.training import Source, TrainingSelection, load_training_frames
from gst_flows.md.potential import gap_calculator
from gst_flows.schemas.fit import (
    CrossValidationDoc,
    ErrorMetrics,
    GapEvaluationDoc,
    GapFitDoc,
    GapPotentialFiles,
    MemoryReport,
    MetricSpread,
    TrainingSetSummary,
)
from gst_flows.schemas.potential import PotentialRef, as_potential_ref
from gst_flows.store import current_store

__all__ = [
    "CrossValidationMaker",
    "GapCrossValidationMaker",
    "GapEvaluateMaker",
    "GapFitMaker",
    "PotentialFitMaker",
    "TrainingSelection",
    "load_training_frames",
    "summarise_cross_validation",
]

logger = logging.getLogger(__name__)

GiB = 1024**3


def _summary(frames: Sequence[Atoms]) -> TrainingSetSummary:
    return TrainingSetSummary(**summarise_frames(frames))


def _metrics(table: dict) -> dict[str, ErrorMetrics]:
    return {k: ErrorMetrics(**v.as_dict()) for k, v in table.items()}


def _plain(hp: GapHyperparameters | dict) -> dict:
    """Hyperparameters as a plain dict (no class markers that a decoder would revive)."""
    d = hp.as_dict() if hasattr(hp, "as_dict") else dict(hp)
    return {k: v for k, v in d.items() if not k.startswith("@")}


def _quippy_version() -> str | None:
    try:
        return version("quippy-ase")
    except PackageNotFoundError:  # pragma: no cover
        return None


def _memory_limit(limit_gb: float | None) -> int:
    if limit_gb is not None:
        return int(limit_gb * GiB)
    from gst_flows.fit import default_memory_limit
    from gst_flows.settings import get_settings

    configured = get_settings().fit_memory_limit_gb
    return int(configured * GiB) if configured else default_memory_limit()


@dataclass
class PotentialFitMaker(Maker):
    """Base of the fit makers: the data, and their split into training and test frames.

    Every potential family (:class:`GapFitMaker`, :class:`~gst_flows.makers.pod.PodFitMaker`)
    splits the same way: by structure (no structure on both sides), against an external test
    set (checked for shared structures), or into cross-validation folds.

    Parameters
    ----------
    name
        Job name.
    test_fraction
        Fraction of structures held out (per config_type) when no test set is given.
    split_seed
        Seed of the train/test split and of the cross-validation folds.
    group_key
        ``info`` key whose value keeps frames together when splitting (e.g. a trajectory
        id); frames without it are grouped by structure hash.
    tags
        Tags stored with the potential (fetch it later by tag).
    evaluate_train
        Compute errors on the training set as well as on the test set.
    """

    name: str = "potential fit"
    test_fraction: float = 0.1
    split_seed: int = 0
    group_key: str | None = None
    tags: list[str] = field(default_factory=list)
    evaluate_train: bool = True

    fworker_category: ClassVar[str] = "fit"
    #: Potential family of the fits (``PotentialRef.backend``).
    backend: ClassVar[str] = ""

    def fit_settings(self) -> dict:
        """The settings that define a fit of this maker (recorded with cross-validation)."""
        raise NotImplementedError

    def split(
        self,
        source: Source,
        test_source: Source | None = None,
        fold: int | None = None,
        n_folds: int | None = None,
    ) -> tuple[list[Atoms], list[Atoms], str]:
        """Load ``source`` and split it into training and test frames.

        Parameters are those of :meth:`GapFitMaker.make`. Returns ``(train, test,
        description of the source)``, isolated atoms left out of ``test``; raises
        :class:`FitInputError` when an external test set shares a structure with ``source``.
        """
        frames, described = load_training_frames(source)
        if fold is not None:
            train, test = kfold_by_structure(frames, n_folds or 5, self.split_seed, self.group_key)[fold]
        elif test_source is not None:
            train = frames
            test, _ = load_training_frames(test_source)
            seen = {group_label(f, self.group_key) for f in train if not is_isolated_atom(f)}
            shared = sum(group_label(f, self.group_key) in seen for f in test if not is_isolated_atom(f))
            if shared:
                raise FitInputError(
                    f"the external test set shares {shared} structure(s) with the training data"
                )
        elif self.test_fraction > 0:
            train, test = split_by_structure(frames, self.test_fraction, self.split_seed, self.group_key)
        else:
            train, test = frames, []
        return train, [f for f in test if not is_isolated_atom(f)], described

    def split_record(
        self,
        train: Sequence[Atoms],
        test: Sequence[Atoms],
        fold: int | None,
        n_folds: int | None,
        external: bool,
    ) -> dict[str, Any]:
        """Fields every fit document shares: the split and the data on each side of it."""
        return {
            "fold": fold,
            "n_folds": n_folds if fold is not None else None,
            "split_seed": self.split_seed,
            "test_fraction": self.test_fraction if fold is None and not external else None,
            "training_set": _summary(train),
            "test_set": _summary(test) if test else None,
            "train_structure_hashes": [
                group_label(f, self.group_key) for f in train if not is_isolated_atom(f)
            ],
            "test_structure_hashes": [group_label(f, self.group_key) for f in test],
        }


@dataclass
class GapFitMaker(PotentialFitMaker):
    """Fit a GAP with gap_fit and document it as a :class:`GapFitDoc`.

    The training data are split by structure (no structure on both sides); the potential
    files go to the ``data`` store under a new ``potential_id``. The document's
    ``potential_ref`` (a :class:`~gst_flows.schemas.potential.PotentialRef`: id, file names,
    SHA-256 of each file) is what MD makers take to run the potential.

    Parameters
    ----------
    name
        Job name.
    hyperparameters
        Descriptors, sparse points, regularisation, e0, seed.
    test_fraction, split_seed, group_key, tags, evaluate_train
        As for :class:`PotentialFitMaker`.
    memory_limit_gb
        Refuse fits predicted to need more, GiB; None uses ``fit_memory_limit_gb`` from the
        configuration, else 90 % of the memory of the node running the job.
    timeout_s
        Wall-time limit of gap_fit, s.
    """

    name: str = "gap fit"
    hyperparameters: GapHyperparameters = field(default_factory=GapHyperparameters)
    memory_limit_gb: float | None = None
    timeout_s: float | None = None

    backend: ClassVar[str] = "gap"

    def fit_settings(self) -> dict:
        """The hyperparameters as plain values."""
        return _plain(self.hyperparameters)

    @job(
        output_schema=GapFitDoc,
        data=["potential", "train_structure_hashes", "test_structure_hashes"],
    )
    def make(
        self,
        source: Source,
        test_source: Source | None = None,
        fold: int | None = None,
        n_folds: int | None = None,
    ) -> GapFitDoc:
        """Fit a potential.

        Parameters
        ----------
        source
            Training data: an extxyz file (an absolute path the worker can read; jobs run in
            their own directories) or a :class:`TrainingSelection`.
        test_source
            External test set; when given, all of ``source`` is used for training.
        fold, n_folds
            Train on all folds but ``fold`` of an ``n_folds`` split by structure and test on
            ``fold`` (cross-validation).
        """
        hp = self.hyperparameters
        if isinstance(hp, dict):
            hp = GapHyperparameters.from_dict(hp)
        train, test, described = self.split(source, test_source, fold, n_folds)

        result = fit_gap(
            train,
            hp,
            directory=Path.cwd(),
            memory_limit_bytes=_memory_limit(self.memory_limit_gb),
            timeout_s=self.timeout_s,
        )
        train_errors: dict = {}
        test_errors: dict = {}
        if self.evaluate_train or test:
            calc = gap_calculator(result.potential_path)
            if self.evaluate_train:
                train_errors = error_table(predict(train, calc))
            if test:
                test_errors = error_table(predict(test, calc))
        measured = result.run.peak_memory_bytes
        predicted = result.estimate.total_bytes
        potential_id = str(uuid.uuid4())
        return GapFitDoc(
            potential_id=potential_id,
            name=self.name,
            tags=list(self.tags),
            hyperparameters=_plain(hp),
            e0=result.e0,
            command=result.command,
            gap_fit_config=result.config_text,
            gap_fit_version=result.run.version,
            quippy_version=_quippy_version(),
            source=described,
            **self.split_record(train, test, fold, n_folds, test_source is not None),
            descriptors=[
                {
                    "label": d.label,
                    "dimension": d.dimension,
                    "n_descriptors": d.n_descriptors,
                    "n_cross": d.n_cross,
                    "n_sparse": d.n_sparse,
                    "n_sparse_requested": d.n_sparse_requested,
                }
                for d in result.counts.descriptors
            ],
            empty_descriptors=list(result.counts.empty),
            train_errors=_metrics(train_errors),
            test_errors=_metrics(test_errors),
            wall_time_s=result.run.wall_time_s,
            peak_memory_bytes=measured,
            memory=MemoryReport(
                predicted_bytes=predicted,
                measured_bytes=measured,
                gap_fit_estimate_bytes=result.run.gap_fit_estimate_bytes,
                limit_bytes=_memory_limit(self.memory_limit_gb),
                relative_error=(predicted - measured) / measured if measured else None,
                breakdown=result.estimate.as_dict(),
            ),
            dir_name=str(result.directory),
            potential=GapPotentialFiles.from_paths(result.files),
            potential_ref=PotentialRef.from_paths(potential_id, result.files),
        )


METRICS = (
    "energy_rmse",
    "energy_mae",
    "force_rmse",
    "force_mae",
    "virial_rmse",
    "virial_mae",
)


@job(output_schema=CrossValidationDoc)
def summarise_cross_validation(
    *,
    potential_ids: list[str],
    fold_test_errors: list[dict],
    fold_test_hashes: list[list[str]],
    wall_times: list[float],
    peak_memories: list[int] | None,
    hyperparameters: dict,
    seed: int,
    source: str | None = None,
    backend: str = "gap",
) -> CrossValidationDoc:
    """Mean and spread of the held-out errors over folds, per config_type.

    Parameters
    ----------
    potential_ids
        Potential of each fold.
    fold_test_errors
        Held-out errors of each fold (``GapFitDoc.test_errors``).
    fold_test_hashes
        Grouping hashes of each fold's test frames.
    wall_times
        gap_fit wall time of each fold, s.
    peak_memories
        Measured peak memory of each fold, bytes (None: not measured, as for POD fits).
    hyperparameters
        Settings shared by the folds.
    seed
        Seed of the fold assignment.
    source
        Description of the data.
    backend
        Potential family of the folds' fits.
    """
    folds = [
        {k: ErrorMetrics.model_validate(v) if isinstance(v, dict) else v for k, v in errs.items()}
        for errs in fold_test_errors
    ]
    config_types = sorted({ct for errs in folds for ct in errs}, key=lambda c: (c == ALL, c))
    summary = {
        ct: {
            m: MetricSpread.from_values([getattr(errs[ct], m) if ct in errs else None for errs in folds])
            for m in METRICS
        }
        for ct in config_types
    }
    seen: set[str] = set()
    disjoint = True
    for hashes in fold_test_hashes:
        current = set(hashes)
        if current & seen:
            disjoint = False
        seen |= current
    return CrossValidationDoc(
        n_folds=len(potential_ids),
        seed=seed,
        source=source,
        hyperparameters=hyperparameters,
        potential_ids=list(potential_ids),
        fold_test_errors=folds,
        summary=summary,
        disjoint=disjoint,
        wall_time_s=float(sum(wall_times)),
        peak_memory_bytes=int(max(peak_memories)) if peak_memories else None,
        backend=backend,
    )


@dataclass
class CrossValidationMaker(Maker):
    """k-fold cross-validation of any potential family: one fit per fold and a summary.

    Parameters
    ----------
    name
        Flow name.
    fit_maker
        Maker of each fold's fit, a :class:`PotentialFitMaker` (:class:`GapFitMaker`,
        :class:`~gst_flows.makers.pod.PodFitMaker`); its ``split_seed`` sets the folds, so a
        GAP and a POD with the same seed are validated on the same folds.
    n_folds
        Number of folds.
    """

    name: str = "cross-validation"
    fit_maker: PotentialFitMaker = field(default_factory=GapFitMaker)
    n_folds: int = 5

    fworker_category: ClassVar[str] = "fit"

    def make(self, source: Source) -> Flow:
        """Build the flow: ``n_folds`` fit jobs that can run in parallel, then the summary.

        Parameters
        ----------
        source
            An extxyz file (reachable from every worker) or a :class:`TrainingSelection`.
        """
        if self.n_folds < 2:
            raise FitInputError(f"n_folds must be >= 2, got {self.n_folds}")
        if isinstance(source, str | os.PathLike):
            # Fold jobs run in their own directories: hand them an absolute path.
            source = str(Path(source).resolve())
        fits = []
        for k in range(self.n_folds):
            fit = self.fit_maker.make(source, fold=k, n_folds=self.n_folds)
            fit.name = f"{self.fit_maker.name} fold {k + 1}/{self.n_folds}"
            fit.config.expose_store = True
            fits.append(fit)
        measured = isinstance(self.fit_maker, GapFitMaker)  # gap_fit's peak memory is measured
        summary = summarise_cross_validation(
            potential_ids=[f.output.potential_id for f in fits],
            fold_test_errors=[f.output.test_errors for f in fits],
            fold_test_hashes=[f.output.test_structure_hashes for f in fits],
            wall_times=[f.output.wall_time_s for f in fits],
            peak_memories=[f.output.peak_memory_bytes for f in fits] if measured else None,
            hyperparameters=self.fit_maker.fit_settings(),
            seed=self.fit_maker.split_seed,
            source=source.describe() if isinstance(source, TrainingSelection) else str(source),
            backend=self.fit_maker.backend,
        )
        summary.name = f"{self.name} summary"
        return Flow([*fits, summary], output=summary.output, name=self.name)


@dataclass
class GapCrossValidationMaker(CrossValidationMaker):
    """k-fold cross-validation of a GAP fit (:class:`CrossValidationMaker` with its name)."""

    name: str = "gap cross-validation"


@dataclass
class GapEvaluateMaker(Maker):
    """Errors of any potential on any labelled set, with parity plots.

    Parameters
    ----------
    name
        Job name.
    plots
        Write energy and force parity plots (PNG) to the job directory.
    """

    name: str = "gap evaluate"
    plots: bool = True

    fworker_category: ClassVar[str] = "fit"

    @job(output_schema=GapEvaluationDoc, data=["figure_data"])
    def make(self, potential: Any, source: Source) -> GapEvaluationDoc:
        """Evaluate ``potential`` on ``source``.

        Parameters
        ----------
        potential
            A :class:`GapPotentialFiles` (e.g. ``fit_job.output.potential``), a potential id
            or tag in the store, a :class:`~gst_flows.schemas.potential.PotentialRef` (GAP or
            POD; a POD is evaluated by LAMMPS), or the path of a GAP XML file.
        source
            Labelled set: an extxyz file or a :class:`TrainingSelection`.
        """
        from gst_flows.potentials import potential_calculator

        ref = as_potential_ref(potential)  # GAP or POD, checked against its SHA-256
        potential_id = ref.potential_id if ref else None
        if isinstance(potential, dict) and ref is None:
            potential = GapPotentialFiles.model_validate(
                {k: v for k, v in potential.items() if not k.startswith("@")}
            )
        if ref is not None:
            calc = potential_calculator(ref, store=current_store())
        elif isinstance(potential, GapPotentialFiles):
            calc = gap_calculator(potential.write(Path.cwd() / "potential"))
        elif Path(str(potential)).suffix == ".xml" and Path(str(potential)).is_file():
            calc = gap_calculator(Path(str(potential)).resolve())
        else:
            potential_id = str(potential)
            calc = potential_calculator(potential_id, store=current_store())
        frames, described = load_training_frames(source)
        frames = [f for f in frames if not is_isolated_atom(f)]
        if not frames:
            raise FitInputError(f"no configurations to evaluate in {described}")
        predictions = predict(frames, calc)
        figures: dict[str, str] = {}
        figure_data: dict[str, str] = {}
        if self.plots:
            for key, path in parity_plots(predictions, Path.cwd(), title=self.name).items():
                figures[key] = str(path)
                figure_data[key] = base64.b64encode(path.read_bytes()).decode()
        return GapEvaluationDoc(
            potential_id=potential_id,
            source=described,
            data_set=_summary(frames),
            errors=_metrics(error_table(predictions)),
            formation=formation_energies(predictions, required=False),
            chemical_order=chemical_order_check(frames, predictions, required=False),
            figures=figures,
            figure_data=figure_data,
            dir_name=str(Path.cwd()),
        )
