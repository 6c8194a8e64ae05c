"""Stability of stored potentials on many fresh packings: how often does the MD blow up?

Two completed runs prove little: a student that completed the stability protocol on its
own cells and on one unseen packing blew up within 100 steps on another. This screen runs
each potential from a series of fresh 1,000-atom Ge2Sb2Te5 random packings (packing seeds
``--seeds``) through the 1,500 K melt of the stability protocol (``--melt-only``, where the
blow-ups of the students measured so far happened) or the whole protocol (2 ps at 1,500 K,
4 ps at 1,000 K, 20 ps NVE), and prints, per potential, how many packings completed and the
step and stage of every stop. Run it after ``bash scripts/demo.sh`` (the same configured
database):

    python benchmarks/stability_screen.py --potential ID [--potential ID ...] --seeds 101-120 --melt-only

``--fresh-seed S`` screens the packings a flow's student rounds run on instead: the first cell
of each round ``--seeds`` of ``FreshPackings(seed=S)``, through the same MD as the others.

Each packing's result is cached under ``--work``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_potential_targets import _cached, stability, teacher_id


def seeds(text: str) -> list[int]:
    """``"101-105,7"`` -> ``[101, 102, 103, 104, 105, 7]``."""
    out: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        out += list(range(int(first), int(last or first) + 1))
    return out


def stop(result: dict) -> str:
    """``"step 93 (melt)"`` from a stopped run's failure message, else its status."""
    if result.get("completed"):
        return "completed"
    found = re.search(r"step (\d+) \(stage '([^']+)'\)", str(result.get("failure", "")))
    return f"step {found[1]} ({found[2]})" if found else str(result.get("failure", "stopped"))[:60]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/stability-screen"))
    parser.add_argument("--potential", action="append", help="potential id (repeatable; default: the GAP)")
    parser.add_argument("--seeds", default="101-110", help="packing seeds, e.g. 101-120,7")
    parser.add_argument("--melt-only", action="store_true", help="the 2 ps melt only")
    parser.add_argument("--velocity-seed", type=int, default=11, help="seed of velocities and thermostat")
    parser.add_argument("--fresh-seed", type=int, help="FreshPackings(seed=S) cells; --seeds are its rounds")
    args = parser.parse_args()
    work = args.work.resolve()
    potentials = args.potential or [teacher_id("demo")]
    packing_seeds = seeds(args.seeds)
    part = ("melt" if args.melt_only else "full") + (
        f"-v{args.velocity_seed}" if args.velocity_seed != 11 else ""
    )
    part += f"-fresh{args.fresh_seed}" if args.fresh_seed is not None else ""
    for pid in potentials:
        results = {}
        for seed in packing_seeds:
            path = work / pid[:8] / f"{part}-{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            results[seed] = _cached(
                path,
                lambda s=seed, p=path, i=pid: stability(
                    i, p.parent, False, s, args.melt_only, args.velocity_seed, args.fresh_seed
                ),
            )
            print(f"{pid[:8]} packing {seed:>4}: {stop(results[seed])}", flush=True)
        done = sum(bool(r.get("completed")) for r in results.values())
        drifts = [r["drift_mev_atom_ps"] for r in results.values() if r.get("drift_mev_atom_ps") is not None]
        worst = f", worst NVE drift {max(drifts, key=abs):+.4f} meV/atom/ps" if drifts else ""
        print(f"{pid}: {done} of {len(results)} packings completed the {part} protocol{worst}")


if __name__ == "__main__":
    main()
