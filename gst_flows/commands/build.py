"""``gst-flows build KIND``: build a crystal or device cell and write it to a file."""

from __future__ import annotations

import argparse
import time
from typing import Any

from gst_flows.commands.common import parse_value

__all__ = ["add_parser", "parse_params", "run", "summary"]

KINDS = (
    "rocksalt",
    "layered",
    "diamond",
    "crystal",
    "crystallisation-cell",
    "heating-cell",
    "mushroom",
    "cross-point",
    "seeded",
)


def add_parser(subparsers) -> None:
    """Register the ``build`` sub-command.

    Parameters
    ----------
    subparsers
        The object returned by ``ArgumentParser.add_subparsers``.
    """
    parser = subparsers.add_parser(
        "build",
        help="build a GST crystal or device cell and write it to a file",
        description="Build a structure and write it (extxyz, LAMMPS data, CIF, POSCAR, ... "
        "chosen from the file name). Prints the atom count, composition, cell lengths "
        "and density.",
    )
    parser.add_argument("kind", metavar="KIND", help=f"one of: {', '.join(KINDS)}")
    parser.add_argument("--composition", help="formula, e.g. Ge1Sb2Te4 or Ge2Sb1.8Te5")
    parser.add_argument(
        "--supercell", nargs=3, type=int, metavar="N", help="repeats along the three cell axes"
    )
    parser.add_argument("--seed", type=int, help="random seed")
    parser.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="builder parameter, e.g. orientation=111, focal=large, size=20,20; repeatable",
    )
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output file")
    parser.add_argument("--format", help="force an output format (extxyz, lammps-data or an ASE format name)")
    parser.set_defaults(handler=run)


def parse_params(items: list[str]) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` items; values are JSON, comma lists of numbers, or strings.

    Parameters
    ----------
    items
        Strings such as ``"orientation=111"``, ``"size=20,20"``, ``"exact=false"``.

    Returns
    -------
    dict[str, Any]
        Parameter name to value. ``"111"`` stays a string for ``orientation`` and
        ``vacancy_order``; ``true``/``false``/``none`` become bool/None.
    """
    from gst_flows.structures import StructureError

    values: dict[str, Any] = {}
    for item in items:
        key, sep, raw = (part.strip() for part in item.partition("="))
        if not sep or not key:
            raise StructureError(f"--param: expected KEY=VALUE, got {item!r} (e.g. orientation=111)")
        lowered = raw.lower()
        if lowered in ("none", "null"):
            values[key] = None
        elif key in ("orientation", "vacancy_order", "composition"):
            values[key] = raw
        elif lowered in ("true", "false"):
            values[key] = lowered == "true"
        elif "," in raw and raw[:1] not in '[{"':
            try:
                values[key] = [
                    int(v) if v.strip().lstrip("-").isdigit() else float(v) for v in raw.split(",")
                ]
            except ValueError:
                values[key] = raw
        else:
            values[key] = parse_value(raw, where=f"--param {key}")
    return values


def summary(atoms) -> list[str]:
    """Lines describing a built structure.

    Parameters
    ----------
    atoms
        The structure.

    Returns
    -------
    list[str]
        Atom count, composition, cell lengths (Å) and angles, density (g/cm³) and
        role counts.
    """
    import numpy as np

    from gst_flows.structures import density

    lengths = atoms.cell.lengths()
    angles = atoms.cell.angles()
    lines = [
        f"atoms        {len(atoms):,}",
        f"composition  {atoms.get_chemical_formula(mode='metal')}"
        + (f" (target {atoms.info['composition']})" if "composition" in atoms.info else ""),
        "cell         "
        + " x ".join(f"{x:.3f}" for x in lengths)
        + " Å"
        + ("" if np.allclose(angles, 90) else "  angles " + " ".join(f"{x:.2f}" for x in angles)),
        f"density      {density(atoms):.4f} g/cm³",
    ]
    roles = []
    if "fixed" in atoms.arrays and atoms.arrays["fixed"].any():
        roles.append(f"fixed {int(atoms.arrays['fixed'].sum()):,}")
    if "region" in atoms.arrays and atoms.arrays["region"].any():
        labels, counts = np.unique(atoms.arrays["region"], return_counts=True)
        roles.append("region " + ", ".join(f"{k}: {c:,}" for k, c in zip(labels, counts, strict=True)))
    if "seed_id" in atoms.arrays and (atoms.arrays["seed_id"] >= 0).any():
        ids, counts = np.unique(atoms.arrays["seed_id"], return_counts=True)
        roles.append("seeds " + ", ".join(f"{k}: {c}" for k, c in zip(ids, counts, strict=True) if k >= 0))
    if roles:
        lines.append("roles        " + "; ".join(roles))
    return lines


def run(args: argparse.Namespace) -> int:
    """Build the structure and write it.

    Parameters
    ----------
    args
        Parsed arguments of the ``build`` sub-command.

    Returns
    -------
    int
        Exit code 0; bad input raises ``StructureError`` (a ``ValueError``).
    """
    from gst_flows.structures import build, write_structure

    params = parse_params(args.params)
    for name in ("composition", "supercell", "seed"):
        value = getattr(args, name)
        if value is not None:
            if name in params:
                from gst_flows.structures import StructureError

                raise StructureError(f"{name} given both as --{name} and --param")
            params[name] = value
    start = time.perf_counter()
    atoms = build(args.kind, **params)
    built = time.perf_counter() - start
    path = write_structure(args.output, atoms, format=args.format)
    written = time.perf_counter() - start - built
    for line in summary(atoms):
        print(line)
    print(f"written      {path} (built in {built:.2f} s, written in {written:.2f} s)")
    return 0
