"""``gst-flows fit`` and ``gst-flows evaluate``: fit a GAP or a POD, and measure any potential's errors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gst_flows.commands.common import check_counts, check_database
from gst_flows.errors import InputError, one_line

__all__ = ["add_parser"]


def add_parser(subparsers) -> None:
    """Register the ``fit`` and ``evaluate`` sub-commands."""
    fit = subparsers.add_parser(
        "fit",
        help="fit a GAP with gap_fit (or a POD with fitpod) on labelled data",
        description="Fit a GAP (or, with --backend pod, a LAMMPS ML-POD) to labelled structures "
        "(an extxyz file or a database tag). Prints the potential id, where it was cached, and "
        "the error table.",
    )
    _add_source_arguments(fit)
    fit.add_argument(
        "--backend",
        choices=("gap", "pod"),
        default="gap",
        help="potential family: gap (gap_fit, default) or pod (LAMMPS fitpod; runs in LAMMPS only)",
    )
    fit.add_argument(
        "--set",
        dest="changes",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a hyperparameter, e.g. soap.n_max=6, soap.n_sparse=200, three_body=on, "
        "sigma.liquid=0.003,0.15,0.15, e0.Ge=-107.4; with --backend pod a PodBasis field "
        "(ridge=1e-6, rcut=5.5, two_body_radial=8), baseline=none / baseline=INNER,OUTER, "
        "solver=lstsq (least squares on compute pod/global) with solver.energy_weight=, solver.ridge=; "
        "repeatable",
    )
    fit.add_argument(
        "--test-fraction",
        type=float,
        default=0.1,
        help="fraction of structures held out for testing (default 0.1)",
    )
    fit.add_argument(
        "--test",
        dest="test_file",
        metavar="FILE",
        help="external test set (extxyz); then all of the data are trained on",
    )
    fit.add_argument(
        "--folds",
        type=int,
        default=0,
        metavar="K",
        help="run K-fold cross-validation instead of a single fit",
    )
    fit.add_argument("--seed", type=int, default=0, help="seed of the train/test split")
    fit.add_argument(
        "--memory-limit",
        type=float,
        default=None,
        metavar="GB",
        help="refuse fits predicted to need more memory (GiB)",
    )
    fit.add_argument("--timeout", type=float, default=None, metavar="S", help="wall-time limit of gap_fit, s")
    fit.add_argument(
        "--potential-tag",
        action="append",
        default=[],
        metavar="TAG",
        help="tag stored with the potential; repeatable",
    )
    fit.add_argument(
        "--dry-run",
        action="store_true",
        help="check the data, print descriptor counts and the memory estimate, stop",
    )
    fit.set_defaults(handler=run_fit)

    evaluate = subparsers.add_parser(
        "evaluate",
        help="error table of a potential on a labelled set",
        description="Evaluate a potential (id, tag or GAP XML file; a stored POD is run by "
        "LAMMPS) on labelled structures (an extxyz file or a database tag) and print the error table.",
    )
    evaluate.add_argument("potential", help="potential id (or unique prefix), tag, or XML file")
    _add_source_arguments(evaluate)
    evaluate.add_argument(
        "--reference",
        action="store_true",
        help="use the shipped quasi-binary reference set (CP2K default protocol; never trained on)",
    )
    evaluate.add_argument("--no-plots", action="store_true", help="skip the parity plots")
    evaluate.set_defaults(handler=run_evaluate)


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help="labelled extxyz file")
    parser.add_argument("--tag", help="use the labels with this tag from the database")
    parser.add_argument(
        "--iteration",
        type=int,
        action="append",
        default=None,
        help="only this active-learning iteration (with --tag); repeatable",
    )
    parser.add_argument(
        "--config-type",
        action="append",
        default=None,
        help="only this config_type (with --tag); repeatable",
    )


def _source(args: argparse.Namespace):
    from gst_flows.makers.fit import TrainingSelection

    if bool(args.file) == bool(args.tag):
        raise ValueError("give either a labelled extxyz FILE or --tag T")
    if args.tag:
        check_database()
        return TrainingSelection(tag=args.tag, iterations=args.iteration, config_types=args.config_type)
    # Jobs run in their own directories: hand them an absolute path.
    return str(Path(args.file).resolve())


def _source_error(args: argparse.Namespace, exc: Exception) -> InputError:
    """The one-line error for data that cannot be fitted or evaluated, naming the source."""
    if args.file:
        where, fix = (
            args.file,
            (
                "give an extxyz file whose frames carry REF_energy and "
                "REF_forces, e.g. from 'gst-flows export labels'"
            ),
        )
    else:
        where, fix = f"--tag {args.tag}", "list the stored labels with 'gst-flows query labels'"
    return InputError(one_line(exc), where=where, fix=fix)


def _parse_changes(items: list[str]) -> dict[str, str]:
    changes = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"expected KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        changes[key.strip()] = value.strip()
    return changes


def _print_tables(doc) -> None:
    from gst_flows.fit import format_error_table

    if doc.train_errors:
        print(format_error_table(doc.train_errors, "train errors"))
    if doc.test_errors:
        print(format_error_table(doc.test_errors, "test errors"))


def _final_output(responses, job):
    response = responses.get(job.uuid, {})
    if not response:
        return None
    return response[max(response)].output


def run_fit(args: argparse.Namespace) -> int:
    """Fit (or cross-validate) here and print the result."""
    if not 0 <= args.test_fraction < 1:
        raise InputError(
            f"{args.test_fraction:g} is not a fraction below 1",
            where="--test-fraction",
            fix="give a number from 0 to 1, e.g. 0.1",
        )
    check_counts(args, {"folds": 0})
    if args.folds == 1:
        raise InputError("1 fold", where="--folds", fix="give 2 or more folds, or 0 for one fit")
    return _run_pod_fit(args) if args.backend == "pod" else _run_gap_fit(args)


def _run_gap_fit(args: argparse.Namespace) -> int:
    from gst_flows.execution import run_local
    from gst_flows.fit import (
        FitMemoryError,
        GapHyperparameters,
        check_memory,
        format_bytes,
        prepare_fit,
        split_by_structure,
    )
    from gst_flows.makers.fit import (
        GapFitMaker,
        _memory_limit,
        load_training_frames,
    )

    source = _source(args)
    hp = GapHyperparameters().updated(_parse_changes(args.changes))
    maker = GapFitMaker(
        hyperparameters=hp,
        test_fraction=0.0 if args.test_file else args.test_fraction,
        split_seed=args.seed,
        memory_limit_gb=args.memory_limit,
        timeout_s=args.timeout,
        tags=list(args.potential_tag),
    )
    # Check data, settings and memory before anything runs or is stored.
    try:
        frames, described = load_training_frames(source)
        train = (
            frames
            if args.test_file or args.folds
            else split_by_structure(frames, maker.test_fraction, maker.split_seed)[0]
        )
        _, counts, estimate = prepare_fit(train, hp)
    except FileNotFoundError:
        raise
    except ValueError as exc:
        raise _source_error(args, exc) from None
    limit = _memory_limit(args.memory_limit)
    if args.dry_run:
        print(f"data: {described}: {len(frames)} frames, {counts.n_atoms} atoms in training")
        for d in counts.descriptors:
            print(
                f"  {d.label:<24} d={d.dimension:<6} descriptors={d.n_descriptors:<8} "
                f"derivatives={d.n_cross:<10} sparse={d.n_sparse}"
            )
        if counts.empty:
            print(f"  without data (left out): {', '.join(counts.empty)}")
        print(
            f"predicted peak memory {format_bytes(estimate.total_bytes)} "
            f"(limit {format_bytes(limit)}); {estimate.dominant} dominate"
        )
        return 0
    try:
        check_memory(estimate, limit)
    except FitMemoryError as exc:
        print(f"gst-flows fit: error: {exc}", file=sys.stderr)
        return 2

    check_database()
    if args.folds:
        return _run_cross_validation(maker, source, args.folds)

    from gst_flows.potentials import fetch_potential

    test_file = str(Path(args.test_file).resolve()) if args.test_file else None
    job = maker.make(source, test_source=test_file)
    responses = run_local(job)
    doc = _final_output(responses, job)
    if doc is None:
        print("gst-flows fit: the fit failed; see the job log above", file=sys.stderr)
        return 1
    xml = fetch_potential(doc.potential_id)
    print(f"potential id: {doc.potential_id}")
    print(f"cached at:    {xml}")
    print(
        f"gap_fit {doc.gap_fit_version}: {doc.wall_time_s:.1f} s, peak memory "
        f"{format_bytes(doc.peak_memory_bytes)} "
        f"(predicted {format_bytes(doc.memory.predicted_bytes)})"
    )
    _print_tables(doc)
    return 0


def _run_cross_validation(maker, source, n_folds: int) -> int:
    """Run a k-fold cross-validation of ``maker``'s fits here and print the table."""
    from gst_flows.execution import run_local
    from gst_flows.makers.fit import CrossValidationMaker

    flow = CrossValidationMaker(
        name=f"{maker.backend} cross-validation", fit_maker=maker, n_folds=n_folds
    ).make(source)
    responses = run_local(flow)
    doc = _final_output(responses, flow.jobs[-1])
    if doc is None:
        print("gst-flows fit: cross-validation failed; see the job logs", file=sys.stderr)
        return 1
    print(
        f"{doc.n_folds}-fold cross-validation ({doc.backend.upper()}), "
        f"folds disjoint by structure: {doc.disjoint}"
    )
    print(f"{'config_type':<18}{'E rmse meV/at':>16}{'F rmse eV/Å':>16}{'V rmse meV/at':>16}")
    for ct, row in doc.summary.items():
        cells = []
        for key, scale in (("energy_rmse", 1e3), ("force_rmse", 1.0), ("virial_rmse", 1e3)):
            s = row[key]
            cells.append("n/a" if s.mean is None else f"{s.mean * scale:.3g}±{s.std * scale:.2g}")
        print(f"{ct:<18}{cells[0]:>16}{cells[1]:>16}{cells[2]:>16}")
    print("potentials: " + " ".join(doc.potential_ids))
    return 0


def _pod_maker(args: argparse.Namespace):
    """The PodFitMaker the options describe (``--set`` changes PodBasis fields and the baseline)."""
    import dataclasses

    from gst_flows.fit.pod import ZblBaseline
    from gst_flows.fit.pod_lstsq import PodLeastSquares
    from gst_flows.makers.pod import DEFAULT_POD_BASELINE, DEFAULT_POD_BASIS, PodFitMaker

    for option, value in (("--memory-limit", args.memory_limit), ("--timeout", args.timeout)):
        if value is not None:
            raise InputError("applies to gap_fit only", where=option, fix="leave it out with --backend pod")
    if args.dry_run:
        raise InputError("not available for POD fits", where="--dry-run", fix="use --backend gap")
    basis, baseline, solver = DEFAULT_POD_BASIS, DEFAULT_POD_BASELINE, None
    fields = {f.name: f.type for f in dataclasses.fields(basis)}
    solver_fields = [f.name for f in dataclasses.fields(PodLeastSquares)]
    changes = _parse_changes(args.changes)
    for key, value in sorted(changes.items(), key=lambda kv: kv[0] != "solver"):  # solver= first
        try:
            if key == "baseline":
                baseline = None if value.lower() == "none" else ZblBaseline(*map(float, value.split(",")))
            elif key == "solver":
                if value.lower() not in ("lstsq", "fitpod"):
                    raise ValueError(f"solver must be lstsq or fitpod, got {value!r}")
                solver = PodLeastSquares() if value.lower() == "lstsq" else None
            elif key.startswith("solver."):
                if key[7:] not in solver_fields:
                    raise ValueError(f"unknown solver setting {key!r} (fields: {', '.join(solver_fields)})")
                if changes.get("solver", "").lower() != "lstsq":
                    raise ValueError(f"{key} needs solver=lstsq")
                solver = dataclasses.replace(solver or PodLeastSquares(), **{key[7:]: float(value)})
            elif key in fields:
                cast = int if fields[key] == "int" else float
                basis = dataclasses.replace(basis, **{key: cast(value)})
            else:
                raise ValueError(f"unknown POD setting {key!r} (PodBasis fields: {', '.join(fields)})")
        except (TypeError, ValueError) as exc:
            raise InputError(one_line(exc), where=f"--set {key}={value}") from None
    return PodFitMaker(
        basis=basis,
        baseline=baseline,
        solver=solver,
        test_fraction=0.0 if args.test_file else args.test_fraction,
        split_seed=args.seed,
        tags=list(args.potential_tag),
    )


def _check_source(args: argparse.Namespace, source) -> None:
    """Refuse a bad data source in one line before anything is stored."""
    from gst_flows.makers.fit import load_training_frames

    try:
        load_training_frames(source)
    except FileNotFoundError:
        raise
    except ValueError as exc:
        raise _source_error(args, exc) from None


def _run_pod_fit(args: argparse.Namespace) -> int:
    """Fit a POD here and print the result."""
    from gst_flows.execution import run_local
    from gst_flows.potentials import fetch_potential

    maker = _pod_maker(args)
    source = _source(args)
    _check_source(args, source)
    check_database()
    if args.folds:
        return _run_cross_validation(maker, source, args.folds)
    test_file = str(Path(args.test_file).resolve()) if args.test_file else None
    job = maker.make(source, test_source=test_file)
    responses = run_local(job)
    doc = _final_output(responses, job)
    if doc is None:
        print("gst-flows fit: the fit failed; see the job log above", file=sys.stderr)
        return 1
    path = fetch_potential(doc.potential_id)
    baseline = f"zbl {doc.baseline['inner']:g}-{doc.baseline['outer']:g} Å" if doc.baseline else "none"
    print(f"potential id: {doc.potential_id}")
    print(f"cached at:    {path.parent}")
    solve = "least squares" if doc.solver else "fitpod"
    print(f"POD ({' '.join(doc.species)}, baseline {baseline}, {solve}): fit {doc.wall_time_s:.1f} s")
    _print_tables(doc)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a potential here and print the error table."""
    from gst_flows.execution import run_local
    from gst_flows.fit import format_error_table
    from gst_flows.fit.chemical_order import format_chemical_order
    from gst_flows.fit.formation import format_formation_table
    from gst_flows.makers.fit import GapEvaluateMaker
    from gst_flows.potentials import find_potential

    if args.reference:
        from gst_flows.fit.reference import REFERENCE_SET

        if args.file or args.tag:
            raise ValueError("give --reference, a labelled extxyz FILE or --tag T, not several")
        args.file = str(REFERENCE_SET)
    source = _source(args)
    _check_source(args, source)
    check_database()
    potential = args.potential
    if Path(potential).is_file():
        potential = str(Path(potential).resolve())
    else:
        try:
            find_potential(potential)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from exc
    job = GapEvaluateMaker(plots=not args.no_plots).make(potential, source)
    responses = run_local(job)
    doc = _final_output(responses, job)
    if doc is None:
        print("gst-flows evaluate: the evaluation failed; see the job log above", file=sys.stderr)
        return 1
    print(format_error_table(doc.errors, f"errors of {args.potential} on {doc.source}"))
    if doc.formation is not None:
        print(format_formation_table(doc.formation, "formation energies from the elements, meV/atom"))
    if doc.chemical_order is not None:
        title = "energy against wrong (homopolar, Ge-Sb) bonds on the disordered frames, meV per bond"
        print(format_chemical_order(doc.chemical_order, title))
    for name, path in doc.figures.items():
        print(f"{name} parity plot: {path}")
    return 0
