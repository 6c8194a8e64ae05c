"""Formation energies from the elements: does a potential know that Ge-Sb-Te mixes?

    python benchmarks/formation_energies.py [--tag demo] [--potential ID ...]

A liquid that demixes in MD (``liquid_order.py``) releases energy only if the potential puts
the elements' own environments too low against the compounds'. This labels diamond Ge,
A7 Sb and trigonal Te with the demo's CP2K protocol (``<tag>-elements``, through the label
flow: labels already stored are reused) together with the demo's seven crystals
(``gst_flows.flows.profiles.small_crystals``), and prints the formation energy per atom of
each compound from the three elements, ``E(compound)/N - sum_i x_i E(element i)/N_i``, from
DFT and from each potential (default: the demo loop's last GAP), on the same unrelaxed
structures, after each cell's energy error against DFT. The demo's labels hold diamond Ge and
the compounds, neither Sb nor Te crystals.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_potential_targets import teacher_id
from liquid_order import energy_per_atom


def structures() -> dict[str, object]:
    """Name -> structure: the three elements and the demo's crystals."""
    from gst_flows.flows.profiles import small_crystals
    from gst_flows.structures import build_diamond
    from gst_flows.structures.crystals import build_element

    out = {"Ge diamond": build_diamond(), "Sb A7": build_element("Sb"), "Te trigonal": build_element("Te")}
    for atoms in small_crystals(0):
        if len(set(atoms.get_chemical_symbols())) == 1:  # diamond Ge, already in
            continue
        name = f"{atoms.get_chemical_formula(mode='metal')} {atoms.info.get('builder', '')}"
        out[name] = atoms
    return out


def formation(energies: dict[str, float], cells: dict[str, object]) -> dict[str, float]:
    """Formation energy per atom (eV/atom) of every cell from the three element crystals."""
    from gst_flows.fit.formation import formation_per_atom

    formulas = [atoms.get_chemical_formula() for atoms in cells.values()]
    values, _ = formation_per_atom(formulas, [energies[name] for name in cells])
    return dict(zip(cells, values, strict=True))


def dft_energies(tag: str, cells: dict[str, object]) -> dict[str, float]:
    """DFT energy per atom of every cell from its label under ``tag`` (matched by structure hash)."""
    from gst_flows.db import find_labels
    from gst_flows.hashing import structure_hash

    by_hash = {lab.doc.structure_hash: lab.doc for lab in find_labels(tag=tag)}
    out = {}
    for name, atoms in cells.items():
        doc = by_hash.get(structure_hash(atoms))
        if doc is None or doc.energy_per_atom is None:
            raise SystemExit(f"no DFT energy for {name} under {tag}: run formation_energies.py")
        out[name] = doc.energy_per_atom
    return out


def main() -> None:
    from gst_flows.execution import run_local
    from gst_flows.flows.label import label_flow
    from gst_flows.flows.profiles import SMALL_DFT
    from gst_flows.makers.dft import Cp2kLabelMaker
    from gst_flows.potentials import potential_calculator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", default="demo")
    parser.add_argument("--potential", action="append", help="potential id (repeatable; default: the GAP)")
    args = parser.parse_args()
    if os.geteuid() == 0:  # OpenMPI refuses root unless told (as scripts/demo.sh does)
        os.environ.setdefault("GST_FLOWS_CP2K_CMD", "mpirun --allow-run-as-root -np 2 cp2k.psmp")
    cells = structures()
    tag = f"{args.tag}-elements"
    failures: list[str] = []
    maker = Cp2kLabelMaker(settings=SMALL_DFT)
    run_local(label_flow(list(cells.values()), maker, name="elements", tag=tag), failures=failures)
    if failures:
        print(f"labelling failures: {failures}")
    dft = dft_energies(tag, cells)
    table, errors = {"DFT": formation(dft, cells)}, {}
    for pid in args.potential or [teacher_id(args.tag)]:
        calc = potential_calculator(pid)
        energies = {}
        for name, atoms in cells.items():
            energies[name] = energy_per_atom(atoms, calc)
        table[pid[:8]] = formation(energies, cells)
        errors[pid[:8]] = {name: energies[name] - dft[name] for name in cells}
    print("energy minus the DFT energy, meV/atom")
    print(f"{'cell':<34}" + "".join(f"{name:>10}" for name in errors))
    for name in cells:
        print(f"{name:<34}" + "".join(f"{1000 * col[name]:10.1f}" for col in errors.values()))
    print("formation energy from diamond Ge, A7 Sb and trigonal Te, meV/atom (same unrelaxed cells)")
    print(f"{'cell':<34}" + "".join(f"{name:>10}" for name in table))
    for name in cells:
        if len(set(cells[name].get_chemical_symbols())) == 1:
            continue
        print(f"{name:<34}" + "".join(f"{1000 * col[name]:10.1f}" for col in table.values()))


if __name__ == "__main__":
    main()
