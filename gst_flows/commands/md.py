"""``gst-flows md PROTOCOL STRUCTURE --potential REF``: run an MD protocol."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gst_flows.commands.common import check_counts, check_database, check_potential, format_table
from gst_flows.errors import InputError

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    """Register the ``md`` sub-command."""
    parser = subparsers.add_parser(
        "md",
        help="run an MD protocol with a GAP (ASE or LAMMPS engine)",
        description="Run an MD protocol (YAML file or shipped name) on a structure. The "
        "protocol is checked against the structure (role arrays, charges, temperature "
        "ceiling) before anything runs. By default the run goes through jobflow into the "
        "database; --submit queues it for an 'md' fworker; --direct runs the engine alone.",
    )
    parser.add_argument("protocol", nargs="?", help="protocol YAML file or shipped name")
    parser.add_argument(
        "structure", nargs="?", help="structure file (extxyz keeps the 'fixed' and 'region' arrays)"
    )
    parser.add_argument(
        "--potential",
        help="GAP XML file, potential id or tag (a POD needs --engine lammps), or module:factory",
    )
    parser.add_argument("--engine", choices=("ase", "lammps"), default="ase", help="MD engine (default: ase)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--local", action="store_true", help="run here through jobflow into the database (the default)"
    )
    mode.add_argument("--submit", action="store_true", help="add to the LaunchPad instead")
    mode.add_argument(
        "--direct", metavar="DIR", help="run the engine here without jobflow or database; outputs in DIR"
    )
    mode.add_argument(
        "--check", action="store_true", help="check protocol and structure, print the plan, run nothing"
    )
    mode.add_argument("--list", action="store_true", help="list the shipped protocols")
    parser.add_argument(
        "--frame", default="-1", help="frame of the structure file to start from (default: the last)"
    )
    parser.add_argument(
        "--scale-energies",
        action="store_true",
        help="scale injected energies to the cell size (protocol reference_atoms)",
    )
    parser.add_argument("--thermo-interval", type=int, default=50, metavar="STEPS")
    parser.add_argument("--frame-interval", type=int, default=500, metavar="STEPS")
    parser.add_argument("--checkpoint-interval", type=int, default=5000, metavar="STEPS")
    parser.add_argument(
        "--walltime",
        type=float,
        metavar="SECONDS",
        help="stop at a checkpoint after this time and continue in a new job",
    )
    parser.add_argument("--seed", type=int, help="random seed when the protocol has none")
    parser.add_argument("--nprocs", type=int, help="MPI ranks (LAMMPS engine)")
    parser.set_defaults(handler=run)


def _list() -> int:
    from gst_flows.md.protocol import list_protocols, load_protocol

    rows = []
    for name in list_protocols():
        protocol = load_protocol(name)
        rows.append(
            [
                name,
                len(protocol.stages),
                f"{protocol.duration / 1000:g}",
                protocol.description.split(".")[0][:70],
            ]
        )
    print(format_table(rows, ("name", "stages", "ps", "description")))
    return 0


def build_maker(args: argparse.Namespace):
    """Read the structure and build a checked maker (no compute yet).

    Returns
    -------
    tuple
        ``(maker, atoms, protocol)``.
    """
    from gst_flows.makers.md import GapMDMaker
    from gst_flows.md.lammps import LammpsRunner
    from gst_flows.md.protocol import load_protocol
    from gst_flows.structures import read_structures

    if not args.protocol or not args.structure:
        raise ValueError("give a PROTOCOL and a STRUCTURE (or --list)")
    check_counts(args, {"thermo_interval": 1, "frame_interval": 1, "checkpoint_interval": 1, "nprocs": 1})
    if args.walltime is not None and not args.walltime > 0:
        raise InputError(f"{args.walltime:g} s", where="--walltime", fix="give a positive time in s")
    index = int(args.frame) if args.frame.lstrip("-").isdigit() else args.frame
    frames = read_structures(args.structure, index=index)
    if not frames:
        raise ValueError(f"no structure in {args.structure}")
    atoms = frames[-1]
    runner = None
    if args.nprocs:
        if args.engine != "lammps":
            raise ValueError("--nprocs applies to the LAMMPS engine")
        runner = LammpsRunner(nprocs=args.nprocs)
    maker = GapMDMaker(
        protocol=load_protocol(args.protocol),
        engine=args.engine,
        potential=args.potential,
        scale_energies=args.scale_energies,
        thermo_interval=args.thermo_interval,
        frame_interval=args.frame_interval,
        checkpoint_interval=args.checkpoint_interval,
        walltime=args.walltime,
        seed=args.seed,
        runner=runner,
    )
    protocol = maker.check(atoms, require_potential=False)
    maker.protocol = protocol
    maker.scale_energies = False  # already applied
    return maker, atoms, protocol


def _print_stages(stages, ledger) -> None:
    rows = [
        [
            s["name"],
            s["ensemble"],
            s["n_steps"],
            _fmt(s.get("mean_temperature")),
            _fmt(s.get("final_temperature")),
            _fmt(s.get("injected"), 3),
            _fmt(s.get("removed"), 3),
            _fmt(s.get("nve_drift"), 6),
        ]
        for s in stages
    ]
    print(
        format_table(
            rows,
            (
                "stage",
                "ensemble",
                "steps",
                "<T> (K)",
                "T end (K)",
                "in (eV)",
                "out (eV)",
                "NVE drift (eV/atom/ps)",
            ),
        )
    )
    print(
        f"energy ledger: injected {ledger['injected']:.4g} eV ({ledger['injected_fj']:.4g} fJ), "
        f"removed {ledger['removed']:.4g} eV, field work {ledger['field_work']:.4g} eV"
    )


def _fmt(value, digits: int = 0) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def run(args: argparse.Namespace) -> int:
    """Run, submit or check the protocol."""
    if args.list:
        return _list()
    maker, atoms, protocol = build_maker(args)
    print(protocol.summary())
    print(f"structure: {atoms.get_chemical_formula()} ({len(atoms)} atoms)")
    if args.check:
        return 0
    check_potential(args.potential, engine=args.engine)
    if args.direct:
        return _direct(maker, atoms, protocol, Path(args.direct))
    from pymatgen.io.ase import AseAtomsAdaptor

    from gst_flows.execution import run_local, submit

    check_database()
    job = maker.make(AseAtomsAdaptor.get_structure(atoms))
    if args.submit:
        ids = submit(job)
        print(f"submitted MD job as firework {ids[0]}")
        return 0
    failures: list[str] = []
    responses = run_local(job, failures=failures)
    outputs = [r[max(r)].output for r in responses.values() if r]
    docs = [o for o in outputs if hasattr(o, "ledger")]
    if not docs:
        print("the MD job did not finish: see the job log", file=sys.stderr)
        for reason in failures:
            print(f"  {reason}", file=sys.stderr)
        return 4
    doc = docs[-1]
    _print_stages([s.model_dump() for s in doc.stages], doc.ledger.model_dump())
    print(f"stored MD document of job {job.uuid} ({doc.n_frames} frames in the data store)")
    return 0


def _direct(maker, atoms, protocol, workdir: Path) -> int:
    from gst_flows.md.results import MDBlowUpError

    try:
        engine, _ = maker.build_engine(workdir)
        result = engine.run(atoms, protocol)
    except MDBlowUpError as err:
        print(f"gst-flows md: {err}", file=sys.stderr)
        return 3
    _print_stages([s.to_dict() for s in result.stages], result.ledger.to_dict())
    state = "finished" if result.completed else "stopped (run again to continue)"
    print(f"{state}: {result.n_steps} steps, outputs in {workdir}")
    return 0
