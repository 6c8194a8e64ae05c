"""Build every structure kind of gst_flows.structures and write them to a directory.

    python examples/build_cells.py [OUTDIR] [--full]

Without --full the device cells are built at reduced size so the example runs in seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from gst_flows.structures import (
    QUASI_BINARY,
    build,
    density,
    list_crystals,
    minimum_distance,
    write_structure,
)


def describe(name: str, atoms) -> None:
    lengths = " x ".join(f"{x / 10:.2f}" for x in atoms.cell.lengths())
    extra = []
    if atoms.arrays["fixed"].any():
        extra.append(f"fixed {atoms.arrays['fixed'].sum()}")
    if atoms.arrays["region"].any():
        extra.append(f"region {np.bincount(atoms.arrays['region']).tolist()}")
    if (atoms.arrays["seed_id"] >= 0).any():
        extra.append(f"seeds {np.bincount(atoms.arrays['seed_id'][atoms.arrays['seed_id'] >= 0]).tolist()}")
    print(
        f"{name:28s} {len(atoms):>8,d} atoms  {atoms.get_chemical_formula('metal'):>22s}  "
        f"{lengths} nm  {density(atoms):.3f} g/cm3  {'  '.join(extra)}"
    )


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else Path("cells")
    full = "--full" in sys.argv
    out.mkdir(parents=True, exist_ok=True)

    # rock-salt across the quasi-binary line, in the smallest supercell holding exact counts
    for name in QUASI_BINARY:
        for supercell in [(1, 1, 1), (5, 1, 1), (11, 1, 1), (7, 1, 1), (3, 1, 1), (6, 1, 1)]:
            try:
                atoms = build("rocksalt", composition=name, supercell=supercell, seed=0)
                break
            except ValueError:
                continue
        describe(f"rocksalt {name}", atoms)
        write_structure(out / f"rocksalt-{name}.xyz", atoms)

    # off-stoichiometric compositions
    describe("rocksalt Ge2Sb1.8Te5", build("rocksalt", composition="Ge2Sb1.8Te5", supercell=(5, 5, 1)))
    describe(
        "rocksalt Ge2.2Sb2Te5 interst.",
        build("rocksalt", composition="Ge2.2Sb2Te5", supercell=(5, 5, 1), excess="interstitial"),
    )

    for name in ("Sb2Te3", "Ge1Sb2Te4", "Ge2Sb2Te5", "GeTe"):
        atoms = build("layered", composition=name, cell="orthogonal")
        describe(f"layered {name}", atoms)
        write_structure(out / f"layered-{name}.xyz", atoms)
    describe("diamond Ge", build("diamond"))
    for name in list_crystals():
        describe(f"crystal {name}", build("crystal", composition=name))

    cells = {
        "crystallisation-cell": {},
        "heating-cell": {"supercell": (12, 12, 12) if full else (4, 4, 4)},
        "mushroom": {} if full else {"supercell": (11, 2, 8), "focal_radius": 15.0},
        "cross-point": {} if full else {"size": (4.0, 4.0), "n_blocks": 6},
        "seeded": {"seed": 7},
    }
    for kind, params in cells.items():
        atoms = build(kind, **params)
        describe(kind, atoms)
        write_structure(out / f"{kind}.xyz", atoms)
        if kind in ("mushroom", "cross-point"):
            write_structure(out / f"{kind}.data", atoms)
    print(f"minimum distance in the seeded cell: {minimum_distance(atoms):.2f} Å")
    print(f"files in {out}/")


if __name__ == "__main__":
    main()
