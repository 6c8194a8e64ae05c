"""Chemical order of the stability runs: does a potential's 1,000 K liquid stay mixed?

A student can meet the drift target (its NVE conserves the total energy) while its liquid
heats itself: potential energy goes into kinetic energy as the structure changes. This reads
the stability runs of a potential stored by ``stability_screen.py`` (MD documents named
``pod liquid nve``, frames from the data store) and prints, per saved frame of each run, the
time, the share of homopolar bonds and the like-element coordination numbers (bonds within
``--cutoff``, by ``gst_flows.analysis``), and with ``--teacher`` the potential energy of the
frame under the teacher and under the potential, relative to the end of the 1,000 K stage (frame
at 6 ps), so that one sees whether the teacher agrees with the energy the student releases:

    python benchmarks/liquid_order.py --potential ID [--teacher GAP_ID] [--runs 3]

A random packing has a homopolar share of about 0.4; liquid Ge2Sb2Te5 is chemically ordered
(Ge and Sb bond mostly to Te), so a share that grows towards 0.7 means the liquid demixes.
"""

from __future__ import annotations

import argparse

import numpy as np


def order(atoms, cutoff: float) -> tuple[float, dict[str, float]]:
    """Share of homopolar bonds within ``cutoff`` and the like-element coordination per element
    (``gst_flows.analysis.homopolar_bond_fraction`` and ``partial_coordination``)."""
    from gst_flows.analysis import homopolar_bond_fraction, partial_coordination

    partial = partial_coordination(atoms, cutoff)
    like = {s: partial[f"{s}-{s}"] for s in sorted(set(atoms.get_chemical_symbols()))}
    return homopolar_bond_fraction(atoms, cutoff)["homopolar"], like


def stability_runs(potential: str):
    """The completed stability runs (with an NVE stage) of a potential id or its first characters,
    as MD documents with their frames loaded from the data store."""
    from gst_flows.makers.md import as_md_doc
    from gst_flows.store import get_store

    store = get_store()
    store.connect()
    query = {"name": "pod liquid nve", "output.potential.id": {"$regex": f"^{potential}"}}
    for found in store.query(query, load=True):
        doc = as_md_doc(found["output"])
        if doc.completed and any(s.name == "nve" for s in doc.stages):
            yield found["uuid"], doc


def nve_start(frames) -> int:
    """Index of the first frame at or after 6 ps (the end of the 1,000 K stage)."""
    return next((k for k, f in enumerate(frames) if f.info.get("time_fs", 0) >= 6000.0), 0)


def main() -> None:
    from gst_flows.potentials import potential_calculator

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--potential", required=True, help="potential id (or its first characters)")
    parser.add_argument("--teacher", help="teacher potential id: energies of the frames under both")
    parser.add_argument("--runs", type=int, default=3, help="completed runs to read")
    parser.add_argument("--cutoff", type=float, default=3.2, help="neighbour cutoff, Å")
    args = parser.parse_args()
    calcs = {}
    if args.teacher:
        calcs = {"teacher": potential_calculator(args.teacher), "potential": None}
    seen = 0
    for uuid, doc in stability_runs(args.potential):
        if seen == args.runs:
            break
        seen += 1
        if calcs:
            calcs["potential"] = calcs["potential"] or potential_calculator(doc.potential.id)
        frames = doc.frames()
        print(f"run {uuid[:8]} ({doc.potential.id[:8]}, {len(frames[0])} atoms)")
        rows, energies = [], []
        for frame in frames:
            share, per = order(frame, args.cutoff)
            row = f"  {frame.info.get('time_fs', 0) / 1000:5.1f} ps  homopolar {share:.2f}  " + "  ".join(
                f"{s}-{s} {n:.2f}" for s, n in per.items()
            )
            rows.append(row)
            if calcs:
                energies.append([energy_per_atom(frame, calc) for calc in calcs.values()])
        anchor = nve_start(frames)
        for k, row in enumerate(rows):
            if energies:
                rel = 1000 * (np.array(energies[k]) - np.array(energies[anchor]))
                row += f"  E teacher {rel[0]:+7.1f}  E potential {rel[1]:+7.1f} meV/atom"
            print(row, flush=True)
    if not seen:
        raise SystemExit(f"no completed stability run of {args.potential}: run stability_screen.py first")


def energy_per_atom(atoms, calc) -> float:
    """Potential energy per atom of a copy of ``atoms`` under ``calc``, eV/atom."""
    atoms = atoms.copy()
    atoms.calc = calc
    return atoms.get_potential_energy() / len(atoms)


if __name__ == "__main__":
    main()
