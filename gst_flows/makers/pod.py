"""Maker that fits a POD (LAMMPS ML-POD) and documents it like a GAP fit."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

from jobflow import job

from gst_flows.fit import error_table, predict
from gst_flows.fit.pod import PodBasis, ZblBaseline, fit_pod
from gst_flows.fit.pod_lstsq import PodLeastSquares
from gst_flows.makers.fit import PotentialFitMaker, Source, _metrics
from gst_flows.md.lammps import LammpsRunner
from gst_flows.schemas.fit import GapPotentialFiles
from gst_flows.schemas.pod import PodFitDoc
from gst_flows.schemas.potential import PotentialRef

__all__ = ["DEFAULT_POD_BASELINE", "DEFAULT_POD_BASIS", "PodFitMaker"]

#: 2- and 3-body basis, ridge 1e-4 (chosen by 5-fold CV in ``benchmarks/fast_potentials.py``).
DEFAULT_POD_BASIS = PodBasis(ridge=1e-4)
#: ZBL reaching into the data, POD fitted to labels minus ZBL: the variant that ran NVE longest
#: among the DFT-only fits of ``benchmarks/indirect_learning.py``.
DEFAULT_POD_BASELINE = ZblBaseline(1.5, 2.5)


def _as(cls, value):
    if value is None or isinstance(value, cls):
        return value
    return cls(**{k: v for k, v in dict(value).items() if not k.startswith("@")})


@dataclass
class PodFitMaker(PotentialFitMaker):
    """Fit a POD with ``fitpod`` and document it as a :class:`~gst_flows.schemas.pod.PodFitDoc`.

    Data, split and tags as for :class:`~gst_flows.makers.fit.GapFitMaker` (both split through
    :class:`~gst_flows.makers.fit.PotentialFitMaker`). Errors are computed with the fitted
    potential as LAMMPS runs it; the parameter and coefficient files go to the ``data`` store
    and the document's ``potential_ref`` (backend ``pod``, species, baseline) is what
    :class:`~gst_flows.makers.md.GapMDMaker` takes with ``engine="lammps"``.

    Parameters
    ----------
    name
        Job name.
    basis
        POD descriptors, weights and ridge parameter (a :class:`~gst_flows.fit.pod.PodBasis`
        or its dict).
    baseline
        ZBL baseline the POD is fitted on top of (its dict, or None for a bare POD).
    solver
        A :class:`~gst_flows.fit.pod_lstsq.PodLeastSquares` (or its dict) to solve for the
        coefficients by column-scaled least squares instead of ``fitpod``'s normal
        equations (whose ``energy_weight`` and ``ridge`` then do not apply); None: ``fitpod``.
    species
        Species in LAMMPS type order (default: those of the training data by atomic number).
    runner
        How LAMMPS is started for the fit and the error tables (default: one rank).
    test_fraction, split_seed, group_key, tags
        As for :class:`~gst_flows.makers.fit.PotentialFitMaker`.
    evaluate_train
        Evaluate the fitted potential on every training frame with LAMMPS (energies, forces,
        virials per config_type). Without it a least-squares fit still records the training
        errors, from the design rows it solved (the same figures, no virials), at no cost;
        a ``fitpod`` fit records none.
    """

    name: str = "pod fit"
    basis: PodBasis = field(default_factory=lambda: DEFAULT_POD_BASIS)
    baseline: ZblBaseline | None = field(default_factory=lambda: DEFAULT_POD_BASELINE)
    species: list[str] | None = None
    runner: LammpsRunner | None = None
    solver: PodLeastSquares | None = None

    backend: ClassVar[str] = "pod"

    def fit_settings(self) -> dict:
        """The basis and the baseline as plain values."""
        baseline = _as(ZblBaseline, self.baseline)
        solver = _as(PodLeastSquares, self.solver)
        return {
            "basis": asdict(_as(PodBasis, self.basis)),
            "baseline": asdict(baseline) if baseline else None,
            "solver": asdict(solver) if solver else None,
        }

    @job(
        output_schema=PodFitDoc,
        data=["potential", "train_structure_hashes", "test_structure_hashes"],
    )
    def make(
        self,
        source: Source,
        test_source: Source | None = None,
        fold: int | None = None,
        n_folds: int | None = None,
    ) -> PodFitDoc:
        """Fit a POD.

        Parameters
        ----------
        source
            Training data: an extxyz file (an absolute path) or a
            :class:`~gst_flows.makers.fit.TrainingSelection`.
        test_source
            External test set; when given, all of ``source`` is used for training.
        fold, n_folds
            Train on all folds but ``fold`` of an ``n_folds`` split by structure and test on
            ``fold``.
        """
        from gst_flows.md.lammps import LammpsCalculator

        basis = _as(PodBasis, self.basis)
        baseline = _as(ZblBaseline, self.baseline)
        runner = _as(LammpsRunner, self.runner)
        solver = _as(PodLeastSquares, self.solver)
        train, test, described = self.split(source, test_source, fold, n_folds)
        start = time.perf_counter()
        result = fit_pod(train, Path.cwd() / "pod", basis, self.species, runner, baseline, solver)
        wall = time.perf_counter() - start
        potential = result.lammps_potential()
        calc = LammpsCalculator(potential, runner)
        if self.evaluate_train:
            train_errors = error_table(predict(train, calc))
        else:  # a least-squares fit knows its training predictions from the rows it solved
            predictions = result.train_predictions
            train_errors = error_table(predictions) if predictions is not None else {}
        test_errors = error_table(predict(test, calc)) if test else {}
        potential_id = str(uuid.uuid4())
        files = [result.coefficient_file, result.param_file]
        return PodFitDoc(
            potential_id=potential_id,
            name=self.name,
            tags=list(self.tags),
            basis=asdict(basis),
            baseline=asdict(baseline) if baseline else None,
            solver=asdict(solver) if solver else None,
            species=list(result.species),
            lammps_potential=potential.commands(result.species),
            fitpod_train_errors=result.train_errors,
            source=described,
            **self.split_record(train, test, fold, n_folds, test_source is not None),
            train_errors=_metrics(train_errors),
            test_errors=_metrics(test_errors),
            wall_time_s=wall,
            dir_name=str(result.directory),
            potential=GapPotentialFiles.from_paths(files),
            potential_ref=PotentialRef.from_paths(
                potential_id,
                files,
                backend="pod",
                param_name=result.param_file.name,
                species=list(result.species),
                baseline=asdict(baseline) if baseline else None,
            ),
        )
