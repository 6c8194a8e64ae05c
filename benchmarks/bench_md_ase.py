"""ASE MD engine: overhead over bare force evaluation, and cost per atom-step.

The engine's own cost per step (integration, actions, safety checks, records, checkpoints)
does not depend on the potential, so it is measured over many steps with a harmonic
(Einstein) calculator whose own time is taken out, at each size, for NVE and Langevin NVT
with the default recording (a thermodynamic row every 50 steps, frames every 500, checkpoints
every 5000, distance checks every 10). The GAP is timed on bare energy+force evaluations of
the same cell, interleaved with evaluations that also compute the stress (the pressure rows),
so that load changes on a shared machine hit both alike. Then

- engine % = engine time per step / GAP force time (target <= 2 % at about 1,000 atoms);
- rows % = stress surcharge / ``thermo_interval`` (the GAP's extra cost of the pressure rows);
- µs/atom-step = GAP force time × (1 + engine % + rows %) / atoms;
- a short end-to-end GAP run checks the sum (wall clock, noisy on a loaded machine).

Usage::

    python benchmarks/bench_md_ase.py [--potential gap.xml] [--sizes 1008 8064]

Without ``--potential`` the small test GAP of ``tests/md/gap_fixture.py`` is fitted (about
30 s) into ``--cache`` and reused.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from gst_flows.md.ase_engine import AseMDEngine
from gst_flows.md.protocol import Protocol, RunSettings, Stage
from gst_flows.structures import build_rocksalt

SUPERCELLS = {1008: (4, 6, 6), 8064: (8, 12, 12)}


class Einstein(Calculator):
    """Atoms tied to their starting sites by springs (k in eV/Å²); records its own time."""

    implemented_properties = ("energy", "forces", "stress")

    def __init__(self, reference: np.ndarray, k: float = 2.0) -> None:
        super().__init__()
        self.reference, self.k, self.seconds = reference.copy(), k, 0.0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        start = time.perf_counter()
        super().calculate(atoms, properties, system_changes)
        d = self.atoms.positions - self.reference
        self.results = {
            "energy": 0.5 * self.k * float(np.sum(d * d)),
            "forces": -self.k * d,
            "stress": np.zeros(6),
        }
        self.seconds += time.perf_counter() - start


def small_gap(cache: Path) -> Path:
    xml = cache / "gap.xml"
    if xml.exists():
        return xml
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "md"))
    from gap_fixture import fit_small_gap

    print(f"fitting the small test GAP into {cache} ...", flush=True)
    return fit_small_gap(cache)


def _protocol(ensemble: str, steps: int) -> Protocol:
    stage = Stage(
        name="bench", ensemble=ensemble, duration=2.0 * steps, temperature=300 if ensemble == "nvt" else None
    )
    return Protocol(initial_temperature=300, seed=1, stages=[stage])


def engine_cost(atoms, ensemble: str, steps: int) -> float:
    """Seconds per step spent by the engine outside the potential (steady state)."""
    walls = []
    for n in (steps, 2 * steps):
        calc = Einstein(atoms.positions)
        with tempfile.TemporaryDirectory() as tmp:
            engine = AseMDEngine(calc, workdir=tmp, settings=RunSettings())
            start = time.perf_counter()
            engine.run(atoms, _protocol(ensemble, n))
            walls.append(time.perf_counter() - start - calc.seconds)
    return (walls[1] - walls[0]) / steps  # the difference drops one-off costs


def bare(calc: Calculator, atoms, repeats: int) -> tuple[float, float]:
    """Median seconds of a GAP energy+force evaluation, and the relative extra for stress."""
    work = atoms.copy()
    plain, stressed = [], []
    for _ in range(repeats):
        for props, times in ((["energy", "forces"], plain), (["energy", "forces", "stress"], stressed)):
            work.positions += 1e-4
            start = time.perf_counter()
            calc.reset()
            calc.calculate(work, props, ["positions"])
            times.append(time.perf_counter() - start)
    return float(np.median(plain)), float(np.median(stressed) / np.median(plain) - 1.0)


def end_to_end(calc: Calculator, atoms, steps: int) -> float:
    """Wall seconds per step of a short GAP run (set-up evaluation excluded)."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = AseMDEngine(calc, workdir=tmp, settings=RunSettings())
        start = time.perf_counter()
        engine.run(atoms, _protocol("nvt", steps))
        wall = time.perf_counter() - start
    return wall / (steps + 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--potential", help="GAP XML (default: the small test GAP)")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "gst-flows-bench-gap"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[1008, 8064], choices=sorted(SUPERCELLS))
    parser.add_argument(
        "--engine-steps", type=int, default=400, help="steps of the engine-cost runs at the smallest size"
    )
    parser.add_argument("--repeats", type=int, default=5, help="GAP evaluations per kind")
    args = parser.parse_args(argv)

    from quippy.potential import Potential

    xml = Path(args.potential) if args.potential else small_gap(Path(args.cache))
    gap = Potential(param_filename=str(xml))
    interval = RunSettings().thermo_interval
    print(f"potential: {xml}")
    print(
        f"{'atoms':>6} {'ensemble':>8} {'GAP ms':>8} {'engine ms':>9} {'engine %':>8} "
        f"{'stress %':>8} {'rows %':>6} {'us/atom-step':>12} {'run ms/step':>11}"
    )
    for size in args.sizes:
        atoms = build_rocksalt("Ge1Sb2Te4", supercell=SUPERCELLS[size], seed=0)
        t_force, stress = bare(gap, atoms, max(2, args.repeats * min(args.sizes) // size))
        t_run = end_to_end(gap, atoms, 3)
        rows = stress / interval
        for ensemble in ("nve", "nvt"):
            steps = max(50, args.engine_steps * min(args.sizes) // size)
            t_engine = engine_cost(atoms, ensemble, steps)
            overhead = t_engine / t_force
            per_step = t_force * (1 + overhead + rows)
            print(
                f"{len(atoms):>6} {ensemble:>8} {1e3 * t_force:>8.1f} {1e3 * t_engine:>9.3f} "
                f"{100 * overhead:>8.3f} {100 * stress:>8.1f} {100 * rows:>6.2f} "
                f"{1e6 * per_step / len(atoms):>12.1f} "
                f"{1e3 * t_run if ensemble == 'nvt' else float('nan'):>11.1f}",
                flush=True,
            )
    print(
        f"GAP ms: median bare energy+force evaluation; engine ms: engine time per step outside\n"
        f"the potential; stress %: extra GAP cost of an evaluation with stress; rows %: that\n"
        f"over the default {interval}-step row interval; run ms/step: a 3-step GAP NVT run,\n"
        "wall clock, one set-up evaluation with stress included."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
