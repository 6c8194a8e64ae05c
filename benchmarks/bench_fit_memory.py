"""Predicted against measured peak memory of gap_fit on several fit sizes.

The training sets are rattled, strained rock-salt Ge–Sb–Te supercells. Memory depends on the
number of atoms, neighbours, descriptor length and sparse points, not on label values, so the
labels here come from a cheap species-dependent Lennard-Jones stand-in (not DFT).

Usage::

    python benchmarks/bench_fit_memory.py [--sizes small,medium,large] [--out results.json]

Each case prints the predicted peak (gst_flows.fit.memory), gap_fit's own estimate from its
log, the measured peak (kernel accounting of the child process) and the relative error of
the prediction. The goal is |error| <= 25 %.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from matscipy.calculators.pair_potential import LennardJonesQuadratic, PairPotential

from gst_flows.fit import (
    GapHyperparameters,
    SoapParams,
    TwoBodyParams,
    fit_gap,
    format_bytes,
    make_labelled_frame,
)

# name: (structures, supercell repeats of the 8-site cubic cell, soap n_max, l_max, n_sparse)
CASES = {
    "tiny": (10, 1, 4, 3, 20),
    "small": (12, 2, 4, 3, 50),
    "medium": (20, 2, 6, 4, 100),
    "large": (24, 2, 8, 5, 200),
    "xlarge": (40, 2, 8, 6, 300),
    "sparse_heavy": (30, 2, 2, 2, 1500),
}

Z = {"Ge": 32, "Sb": 51, "Te": 52}


def standin_calculator() -> PairPotential:
    """Species-dependent Lennard-Jones pairs: a cheap stand-in labeller, not DFT."""
    size = {"Ge": 2.45, "Sb": 2.6, "Te": 2.7}
    pairs = {}
    for a, za in Z.items():
        for b, zb in Z.items():
            sigma = 0.5 * (size[a] + size[b])
            pairs[(za, zb)] = LennardJonesQuadratic(0.1 + 0.05 * (a != b), sigma, 5.5)
    return PairPotential(pairs)


def rocksalt_gst(cations: dict[str, float], a: float, repeat: int, rng) -> Atoms:
    """Rock-salt cell: Te on the anion sites, cations and vacancies at random."""
    fcc = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    shifts = np.array([[i, j, k] for i in range(repeat) for j in range(repeat) for k in range(repeat)])
    anions = (fcc[None] + shifts[:, None]).reshape(-1, 3) * a
    sites = (fcc[None] + [0.5, 0, 0] + shifts[:, None]).reshape(-1, 3) * a
    occupants: list[str] = []
    for symbol, fraction in cations.items():
        occupants += [symbol] * round(fraction * len(sites))
    occupants += [""] * (len(sites) - len(occupants))
    rng.shuffle(occupants)
    keep = [i for i, s in enumerate(occupants) if s]
    symbols = ["Te"] * len(anions) + [occupants[i] for i in keep]
    positions = np.vstack([anions, sites[keep]])
    return Atoms(symbols, positions=positions, cell=[a * repeat] * 3, pbc=True)


def standin_frames(n: int, repeat: int, seed: int = 0) -> list[Atoms]:
    """Labelled rock-salt GeTe and Ge1Sb2Te4 frames plus isolated atoms."""
    rng = np.random.default_rng(seed)
    calc = standin_calculator()
    frames = []
    for i in range(n):
        cations = {"Ge": 0.25, "Sb": 0.5} if i % 2 else {"Ge": 1.0}
        atoms = rocksalt_gst(cations, 6.0 * (1 + rng.uniform(-0.03, 0.03)), repeat, rng)
        atoms.rattle(0.1, seed=int(rng.integers(1 << 30)))
        atoms.calc = calc
        frames.append(
            make_labelled_frame(
                atoms,
                atoms.get_potential_energy(),
                forces=atoms.get_forces(),
                stress=atoms.get_stress(),
                config_type="crystal" if i % 3 else "liquid",
            )
        )
    for symbol in Z:
        frames.append(make_labelled_frame(Atoms(symbol, cell=[20] * 3), 0.0, config_type="isolated_atom"))
    return frames


def run_case(name: str, workdir: Path) -> dict:
    n, repeat, n_max, l_max, n_sparse = CASES[name]
    frames = standin_frames(n, repeat)
    hp = GapHyperparameters(
        two_body=TwoBodyParams(cutoff=5.0, n_sparse=15),
        soap=SoapParams(n_max=n_max, l_max=l_max, n_sparse=n_sparse),
        strict_n_sparse=False,
    )
    t0 = time.time()
    result = fit_gap(frames, hp, workdir / name, memory_limit_bytes=None)
    predicted = result.estimate.total_bytes
    measured = result.run.peak_memory_bytes
    row = {
        "case": name,
        "structures": n,
        "atoms": sum(len(f) for f in frames),
        "soap": f"n_max={n_max} l_max={l_max} n_sparse={n_sparse}",
        "n_sparse_total": result.estimate.n_sparse_total,
        "n_targets": result.estimate.n_targets,
        "dominant": result.estimate.dominant,
        "predicted_bytes": predicted,
        "gap_fit_estimate_bytes": result.run.gap_fit_estimate_bytes,
        "measured_bytes": measured,
        "relative_error": (predicted - measured) / measured,
        "fit_wall_s": result.run.wall_time_s,
        "total_s": time.time() - t0,
    }
    own = format_bytes(row["gap_fit_estimate_bytes"] or 0)
    print(
        f"{name:<13} atoms={row['atoms']:>5} {row['soap']:<32} dominant={row['dominant']:<11} "
        f"predicted={format_bytes(predicted):>10} gap_fit={own:>10} "
        f"measured={format_bytes(measured):>10} error={100 * row['relative_error']:+6.1f}% "
        f"wall={row['fit_wall_s']:.0f}s",
        flush=True,
    )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small,medium,large,sparse_heavy")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        for name in args.sizes.split(","):
            rows.append(run_case(name.strip(), workdir))
    worst = max(abs(r["relative_error"]) for r in rows)
    print(f"worst |error| = {100 * worst:.1f}% (goal <= 25%)")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))
    return 0 if worst <= 0.25 else 1


if __name__ == "__main__":
    sys.exit(main())
