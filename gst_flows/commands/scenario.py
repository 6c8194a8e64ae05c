"""``gst-flows scenario NAME --size small --potential REF``: run a device scenario."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from gst_flows.commands.common import (
    check_database,
    check_potential,
    format_table,
    parse_key_values,
)

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register the ``scenario`` sub-command."""
    from gst_flows.flows.scenarios import SCENARIOS

    parser = subparsers.add_parser(
        "scenario",
        help="run a device scenario (SET, RESET, heating, electromigration)",
        description="Build a device scenario's cells, check its protocols against them, and "
        "run it: MD then analyses, documents in the database, figures and k̄ extxyz files in "
        "the job directories. 'small' runs here in minutes on the ASE engine; 'full' is the "
        "published cell for a cluster (LAMMPS engine; use --submit).",
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help=f"scenario: {', '.join(SCENARIOS)}")
    parser.add_argument("--size", default="small", help="size preset: small (default) or full")
    parser.add_argument("--potential", help="GAP XML file, potential id, or module:factory")
    parser.add_argument("--engine", choices=("ase", "lammps"), help="MD engine (default: the size preset's)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help='scenario parameter (JSON value), e.g. --set pulse="large" '
        "--set 'supercell=[6,2,4]' (repeatable)",
    )
    parser.add_argument(
        "--md",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="MD job setting, e.g. --md frame_interval=100 --md walltime=80000 "
        "--md 'runner={\"nprocs\": 64}' (repeatable)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--local", action="store_true", help="run here through jobflow into the database (the default)"
    )
    mode.add_argument(
        "--submit", action="store_true", help="add to the LaunchPad ('md' and 'analysis' fworker categories)"
    )
    mode.add_argument(
        "--check",
        action="store_true",
        help="build the cells, check the protocols, print the plan (with --potential: its "
        "measured force cost and the core-hours of the plan); run nothing",
    )
    mode.add_argument(
        "--lammps-inputs", metavar="DIR", help="write the LAMMPS inputs of every run into DIR; run nothing"
    )
    mode.add_argument("--list", action="store_true", help="list the scenarios and their size presets")
    parser.set_defaults(handler=run)


def _maker(args: argparse.Namespace):
    from gst_flows.flows.scenarios import scenario_maker

    if not args.name:
        raise ValueError("give a scenario NAME (or --list)")
    kwargs: dict[str, Any] = parse_key_values(args.set, option="--set")
    for key, value in list(kwargs.items()):
        if isinstance(value, list) and key not in ("charges",):
            kwargs[key] = _tuple(value)
    md = parse_key_values(args.md, option="--md")
    return scenario_maker(
        args.name,
        size=args.size,
        potential=args.potential,
        engine=args.engine,
        seed=args.seed,
        md=md,
        **kwargs,
    )


def _tuple(value: Any) -> Any:
    return tuple(_tuple(v) for v in value) if isinstance(value, list) else value


def _list() -> int:
    from gst_flows.flows.scenarios import SCENARIOS

    rows = []
    for name, cls in SCENARIOS.items():
        doc = (cls.__doc__ or "").strip().split("\n")[0].replace("``", "")
        rows.append([name, ", ".join(cls.SIZES), doc[:80]])
    print(format_table(rows, ("scenario", "sizes", "description")))
    return 0


#: Largest cell whose forces the cost estimate times directly; larger plans are timed on a
#: 448-atom rock-salt Ge1Sb2Te4 cell (the cost per atom of a GAP barely depends on the cell).
COST_PROBE_MAX_ATOMS = 1500


def _lammps_potential(maker, run, workdir: str | Path):
    """The scenario's potential as LAMMPS runs it (``pair_style quip`` or ``pod``) and its info.

    A GAP given by id is fetched into ``workdir``.
    """
    import dataclasses

    from gst_flows.md.lammps import LammpsPotential
    from gst_flows.md.potential import potential_file

    lammps = dataclasses.replace(maker.resolved(), engine="lammps")
    potential, recorded = lammps.md_maker(run).resolved_potential()
    if isinstance(potential, LammpsPotential):
        return potential, recorded
    path, info = potential_file(potential, workdir)
    return LammpsPotential.gap(path), recorded or info


def _cost(maker, runs: list) -> None:
    """Print the plan's atom-steps and core-hours from the potential's measured force cost.

    The cost is measured on the scenario's engine: LAMMPS' own loop time with the potential's
    pair style (``pair_style quip`` for a GAP, ``pair_style pod`` for a POD), or the ASE
    calculator's force calls.
    """
    import tempfile

    from gst_flows.md.cost import measure_force_cost, measure_lammps_cost, plan_core_hours
    from gst_flows.md.potential import resolve_potential

    resolved = maker.resolved()
    atom_steps = float(sum(len(run.atoms) * run.protocol.n_steps for run in runs))
    probe = runs[0].atoms if runs and len(runs[0].atoms) <= COST_PROBE_MAX_ATOMS else None
    if probe is None:
        from gst_flows.structures import build_rocksalt

        probe = build_rocksalt("Ge1Sb2Te4", supercell=(4, 4, 4), seed=0)
    with tempfile.TemporaryDirectory() as work:
        if resolved.engine == "lammps":
            potential, info = _lammps_potential(maker, runs[0], work)
            cost = measure_lammps_cost(potential, probe, steps=3, seconds=2.0)
            timed = f"LAMMPS, {potential.pair_style.split()[0]}"
        else:
            potential, recorded = resolved.md_maker(runs[0]).resolved_potential()
            calculator, info = resolve_potential(potential, work)
            info = recorded or info
            cost = measure_force_cost(calculator, probe)
            timed = "ASE calculator"
    hours = plan_core_hours(atom_steps, cost)
    load = os.getloadavg()[0]
    print(
        f"cost: {cost.seconds_per_atom_step * 1e6:,.1f} µs per atom-step on one core "
        f"(potential {info.id}, {timed}, timed on {cost.n_atoms:,} atoms here, "
        f"load average {load:.1f} on {os.cpu_count()} cores)"
    )
    shown = f"{hours:,.0f}" if hours >= 10 else f"{hours:.2g}"
    print(
        f"plan: {atom_steps:,.0f} atom-steps ≈ {shown} core-hours "
        "(perfect parallel scaling assumed: a lower bound)"
    )


def _plan(maker) -> list:
    runs = maker.prepare()
    resolved = maker.resolved()
    print(f"{maker.scenario} ({maker.size}): engine {resolved.engine}, {len(runs)} MD run(s)")
    params = {k: v for k, v in maker.parameters().items() if v is not None}
    print("parameters: " + json.dumps(params, default=str))
    for run in runs:
        print(f"- {run.label}: {run.atoms.get_chemical_formula()} ({len(run.atoms):,} atoms)")
        print("  " + run.protocol.summary().replace("\n", "\n  "))
    return runs


def run(args: argparse.Namespace) -> int:
    """Run, submit, check or write the LAMMPS inputs of a scenario."""
    if args.list:
        return _list()
    maker = _maker(args)
    if args.check:
        runs = _plan(maker)
        if args.potential is not None:
            check_potential(args.potential, engine=maker.resolved().engine)
            _cost(maker, runs)
        return 0
    if args.lammps_inputs:
        from gst_flows.md.lammps import LammpsPotential, write_lammps_inputs

        runs = _plan(maker)
        if args.potential is None:
            potential = LammpsPotential.lennard_jones()
        else:
            check_potential(args.potential, engine="lammps")
            potential, _ = _lammps_potential(maker, runs[0], Path(args.lammps_inputs))
        for k, run_ in enumerate(runs):
            out = Path(args.lammps_inputs) / f"run-{k:02d}"
            inputs = write_lammps_inputs(run_.atoms, run_.protocol, potential, out, seed=maker.seed)
            print(
                f"wrote {len(inputs.scripts)} stage inputs and {inputs.data_file.name} "
                f"({inputs.bytes / 1e6:.1f} MB) to {out}"
            )
        if args.potential is None:
            print("(no --potential: the inputs use the Lennard-Jones stand-in pair style)")
        return 0
    check_potential(args.potential, engine=maker.resolved().engine)
    check_database()
    from gst_flows.execution import run_local, submit

    flow = maker.make()
    if args.submit:
        ids = submit(flow)
        print(f"submitted {maker.scenario} ({maker.size}) as fireworks {ids}")
        return 0
    failures: list[str] = []
    responses = run_local(flow, failures=failures)
    last = flow.jobs[-1].uuid
    outputs = responses.get(last, {})
    if not outputs:
        print("the scenario did not finish: see the job logs", file=sys.stderr)
        for reason in failures:
            print(f"  {reason}", file=sys.stderr)
        return 4
    doc = outputs[max(outputs)].output
    rows = [[k, f"{v:.4g}" if isinstance(v, float) else v] for k, v in doc.key_figures().items()]
    print(format_table(rows, ("key figure", "value")))
    for figure in doc.figures:
        print(f"figure {figure.name}: {', '.join(figure.files)}")
    for path in doc.kbar_files:
        print(f"k̄ frames: {path}")
    print(f"stored {doc.scenario} document of job {last}")
    return 0
