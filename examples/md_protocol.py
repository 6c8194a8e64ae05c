"""Write, check and run an MD protocol: a small mushroom-cell RESET.

A protocol is built in Python (the same could be written in YAML), saved to YAML, checked
against a structure whose per-atom arrays mark fixed atoms and the heated region, and run with
the ASE engine for a few picoseconds. With ``--potential gap.xml`` the run uses a GAP through
quippy; without it a Lennard-Jones stand-in (not a model of GST) shows the mechanics.

    python examples/md_protocol.py [--potential gap.xml] [--out md-example]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.calculators.lj import LennardJones

from gst_flows.md import (
    AseMDEngine,
    FixAtoms,
    InjectEnergy,
    Protocol,
    RunSettings,
    Stage,
    load_protocol,
)
from gst_flows.md.units import ev_to_fj
from gst_flows.structures import build_rocksalt


def small_mushroom_cell(rocksalt: bool = True):
    """A small Ge1Sb2Te4 slab: top layer fixed, a half-cylinder region at the bottom heated.

    The rock-salt cell needs a GST potential; a pair potential collapses it, so the stand-in
    run uses the same species on an fcc packing (3.0 Å nearest neighbours).
    """
    if rocksalt:
        atoms = build_rocksalt("Ge1Sb2Te4", supercell=(3, 2, 3), seed=0)
    else:
        atoms = bulk("Cu", "fcc", a=3.0 * np.sqrt(2), cubic=True).repeat((4, 3, 4))
        rng = np.random.default_rng(0)
        atoms.set_chemical_symbols(rng.choice(["Ge", "Sb", "Te"], len(atoms), p=np.array([1, 2, 4]) / 7))
    z = atoms.positions[:, 2]
    atoms.arrays["fixed"] = z > z.max() - 1.0
    x0 = atoms.cell.lengths()[0] / 2
    r = np.hypot(atoms.positions[:, 0] - x0, z - z.min())
    atoms.arrays["region"] = (r < 6.0).astype(np.int32)  # half-cylinder along y
    return atoms


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--potential", help="GAP XML file")
    parser.add_argument("--out", default="md-example")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(exist_ok=True)

    atoms = small_mushroom_cell(rocksalt=bool(args.potential))
    region = int(atoms.arrays["region"].sum())
    print(f"{len(atoms)} atoms, {int(atoms.arrays['fixed'].sum())} fixed, {region} heated")

    # 1. the published protocol, scaled to this cell (same energy per atom)
    published = load_protocol("mushroom_reset").scaled_to(len(atoms))
    print(published.summary())

    # 2. a short version written here: 1 ps NVT, 2 ps pulse, 2 ps NVE
    fixed = FixAtoms(array="fixed")
    rate = 0.3 * region / 10  # eV/ps: about 300 K of heating in the region over the pulse
    protocol = Protocol(
        name="mini-reset",
        initial_temperature=300,
        stages=[
            Stage(name="equilibrate", ensemble="nvt", temperature=300, duration="1 ps", actions=[fixed]),
            Stage(
                name="pulse",
                ensemble="nve",
                duration="2 ps",
                actions=[fixed, InjectEnergy(region="region", region_value=1, rate=rate)],
            ),
            Stage(name="relax", ensemble="nve", duration="2 ps", actions=[fixed]),
        ],
    )
    protocol.to_yaml(out / "mini-reset.yaml")
    protocol.validate_for(atoms)  # raises with every problem before any compute

    if args.potential:
        from quippy.potential import Potential

        calc = Potential(param_filename=args.potential)
    else:
        calc = LennardJones(sigma=3.0 / 2 ** (1 / 6), epsilon=0.1, rc=5.5, smooth=True)
    engine = AseMDEngine(
        calc, workdir=out / "run", settings=RunSettings(thermo_interval=10, frame_interval=50)
    )
    result = engine.run(atoms, protocol)

    for stage in result.stages:
        drift = f", drift {stage.nve_drift:.2e} eV/atom/ps" if stage.nve_drift is not None else ""
        print(
            f"{stage.name:12s} <T> = {stage.mean_temperature:6.0f} K, "
            f"injected {stage.injected:6.2f} eV{drift}"
        )
    ledger = result.ledger
    print(
        f"injected {ledger.injected:.2f} eV = {ev_to_fj(ledger.injected):.2e} fJ; "
        f"{result.n_frames} frames in {result.frames_file}"
    )


if __name__ == "__main__":
    main()
