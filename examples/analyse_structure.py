"""Structural analysis of a Ge–Sb–Te model, from a notebook or a script.

Builds rock-salt Ge1Sb2Te4, melts half of it crudely (random displacements),
gives it Maxwell–Boltzmann velocities, then runs every analysis of
``gst_flows.analysis`` and writes figures and a k̄-coloured extxyz file.

Run from the repository root::

    python examples/analyse_structure.py [OUTPUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from ase.units import kB

from gst_flows import analysis as an
from gst_flows import plotting as pl
from gst_flows.structures import build_rocksalt


def main(out: Path) -> None:
    rng = np.random.default_rng(0)
    atoms = build_rocksalt("Ge1Sb2Te4", (4, 4, 4), seed=1)
    # Displace the upper half strongly: a crude stand-in for a molten region.
    upper = atoms.positions[:, 2] > atoms.cell[2, 2] / 2
    atoms.positions[upper] += rng.normal(0.0, 0.6, (upper.sum(), 3))
    atoms.positions[~upper] += rng.normal(0.0, 0.1, ((~upper).sum(), 3))
    atoms.wrap()
    masses = atoms.get_masses()[:, None]
    atoms.set_momenta(rng.normal(0.0, 1.0, (len(atoms), 3)) * np.sqrt(masses * kB * 600.0))

    print(f"{len(atoms)} atoms, density {an.mass_density(atoms):.2f} g/cm3")

    rdf = an.radial_distribution(atoms, r_max=8.0)
    adf = an.bond_angle_distribution(atoms)
    print("coordination:", {k: round(v, 2) for k, v in an.partial_coordination(atoms).items()})
    print("homopolar / wrong bonds:", an.homopolar_bond_fraction(atoms))
    rings = an.ring_statistics(atoms, max_size=10)
    per_atom = zip(rings.sizes.tolist(), rings.per_atom.round(3).tolist(), strict=True)
    print("rings per atom:", dict(per_atom))
    peierls = an.altbc(atoms)

    kbar = an.crystallinity(atoms)
    print(
        f"k̄: crystal half {kbar[~upper].mean():.2f}, molten half {kbar[upper].mean():.2f}, "
        f"crystalline fraction {an.crystalline_fraction(kbar):.2f}"
    )
    antisites = an.find_antisites(atoms, kbar)
    an.write_kbar_extxyz(out / "kbar.extxyz", atoms, kbar, extra={"antisite": antisites})

    tmap = an.temperature_map(atoms, "xz", bin_size=3.0, sigma=5.0)
    profile = an.temperature_profile(atoms, "z", bin_size=3.0, sigma=5.0)
    print(f"temperature: {an.kinetic_temperature(atoms):.0f} K")

    for name, figure in {
        "rdf": pl.plot_rdf(rdf),
        "adf": pl.plot_angles(adf),
        "rings": pl.plot_rings(rings),
        "altbc": pl.plot_altbc(peierls),
        "temperature_map": pl.plot_temperature_map(tmap),
        "temperature_profile": pl.plot_temperature_profile(profile),
    }.items():
        pl.save_figure(figure, out / name)
    print(f"figures and kbar.extxyz in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "analysis-example"))
