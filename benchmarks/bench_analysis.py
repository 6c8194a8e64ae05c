"""Benchmarks of the structural analyses at device scale.

Prints wall time and peak memory (resident set size) of each analysis; every
benchmark runs in its own process so that peaks do not mix.

Targets on a 2-core machine:

- k̄ of the 532,980-atom cross-point cell: ≤ 120 s, ≤ 4 GB
- RDF to 8 Å of 532,980 atoms: ≤ 10 s
- rings up to size 12 of 100,000 atoms: ≤ 120 s, ≤ 2 GB
- temperature map of 532,980 atoms per frame: ≤ 2 s

Usage::

    python benchmarks/bench_analysis.py                 # all, full size
    python benchmarks/bench_analysis.py rdf temperature # a selection
    python benchmarks/bench_analysis.py --scale 0.1     # 10 % of the atoms
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time

import numpy as np
from ase import Atoms
from ase.units import kB

FULL_ATOMS = 532_980
RING_ATOMS = 100_000


def peak_mb() -> float:
    """Peak resident memory of this process plus the largest of its worker processes, MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + workers) / 1024.0


def cross_point(scale: float) -> Atoms:
    """The layered cross-point cell (532,980 atoms), or a thinner stack of blocks."""
    from gst_flows.structures import build_cross_point

    # The A-B-C stacking closes every 3 septuple-layer blocks.
    return build_cross_point(n_blocks=3 * max(1, round(10 * scale)))


def amorphous_like(n_atoms: int, seed: int = 1) -> Atoms:
    """Rock-salt Ge1Sb2Te4 with 0.3 Å random displacements: broken bonds, mixed rings."""
    from gst_flows.structures import build_rocksalt

    side = max(1, round((n_atoms / 7) ** (1 / 3)))
    last = max(1, round(n_atoms / (7 * side * side)))
    atoms = build_rocksalt("Ge1Sb2Te4", (side, side, last), seed=seed)
    atoms.positions += np.random.default_rng(seed).normal(0.0, 0.3, atoms.positions.shape)
    atoms.wrap()
    return atoms


def bench_kbar(scale: float) -> dict:
    from gst_flows.analysis import crystalline_fraction, crystallinity

    atoms = cross_point(scale)
    start = time.perf_counter()
    kbar = crystallinity(atoms)
    elapsed = time.perf_counter() - start
    return {
        "atoms": len(atoms),
        "seconds": elapsed,
        "note": f"mean k̄ {kbar.mean():.3f}, crystalline {crystalline_fraction(kbar):.3f}",
    }


def bench_rdf(scale: float) -> dict:
    from gst_flows.analysis import radial_distribution
    from gst_flows.analysis.rdf import _workers
    from gst_flows.analysis.run import first_peak

    atoms = cross_point(scale)
    times = {}
    for workers in (1, None):
        start = time.perf_counter()
        radial_distribution(atoms, r_max=8.0, bin_width=0.02, partial=False, workers=workers)
        t_total = time.perf_counter() - start
        start = time.perf_counter()
        rdf = radial_distribution(atoms, r_max=8.0, bin_width=0.02, partial=True, workers=workers)
        times[workers] = (t_total, time.perf_counter() - start)
    n = _workers(None, atoms, 8.0)
    return {
        "atoms": len(atoms),
        "seconds": times[None][1],
        "note": f"with partials, {n} process(es); total only {times[None][0]:.1f} s; one process: "
        f"partials {times[1][1]:.1f} s, total {times[1][0]:.1f} s; first peak "
        f"{first_peak(rdf.r, rdf.total):.2f} Å",
    }


def bench_rings(scale: float) -> dict:
    from gst_flows.analysis import coordination_numbers, ring_statistics

    atoms = amorphous_like(max(1000, round(RING_ATOMS * scale)))
    cn = coordination_numbers(atoms).mean()
    start = time.perf_counter()
    stats = ring_statistics(atoms, max_size=12)
    elapsed = time.perf_counter() - start
    per_atom = ", ".join(f"{s}:{v:.2f}" for s, v in zip(stats.sizes, stats.per_atom, strict=True))
    return {"atoms": len(atoms), "seconds": elapsed, "note": f"CN {cn:.2f}; rings/atom {per_atom}"}


def bench_temperature(scale: float) -> dict:
    from gst_flows.analysis import temperature_map

    atoms = cross_point(scale)
    rng = np.random.default_rng(0)
    masses = atoms.get_masses()[:, None]
    atoms.set_momenta(rng.normal(0.0, 1.0, (len(atoms), 3)) * np.sqrt(masses * kB * 600.0))
    start = time.perf_counter()
    tmap = temperature_map(atoms, "xz", bin_size=5.0, sigma=10.0)
    elapsed = time.perf_counter() - start
    return {
        "atoms": len(atoms),
        "seconds": elapsed,
        "note": f"grid {tmap.temperature.shape}, mean {np.nanmean(tmap.temperature):.0f} K",
    }


BENCHMARKS = {
    "kbar": (bench_kbar, 120.0, 4096.0),
    "rdf": (bench_rdf, 10.0, None),
    "rings": (bench_rings, 120.0, 2048.0),
    "temperature": (bench_temperature, 2.0, None),
}


def _child(name: str, scale: float, queue: mp.Queue) -> None:
    try:
        result = BENCHMARKS[name][0](scale)
        result["peak_mb"] = peak_mb()
    except Exception as err:  # report instead of leaving the parent waiting
        result = {"atoms": 0, "seconds": float("nan"), "peak_mb": peak_mb(), "note": repr(err)}
    queue.put(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="benchmarks to run")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size")
    args = parser.parse_args()
    names = args.names or list(BENCHMARKS)
    ctx = mp.get_context("spawn")
    print(f"{'benchmark':12s} {'atoms':>9s} {'time/s':>8s} {'target':>7s} {'peak/MB':>8s}  note")
    for name in names:
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(name, args.scale, queue))
        proc.start()
        result = queue.get()
        proc.join()
        _, t_target, m_target = BENCHMARKS[name]
        target = f"{t_target:g}s" + (f"/{m_target / 1024:g}GB" if m_target else "")
        print(
            f"{name:12s} {result['atoms']:9d} {result['seconds']:8.2f} {target:>7s} "
            f"{result['peak_mb']:8.0f}  {result['note']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
