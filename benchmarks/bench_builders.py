"""Time and peak memory of the device-cell builders.

Each case runs in a fresh Python process so peak memory is its own:

    python benchmarks/bench_builders.py            # cross-point and mushroom cells
    python benchmarks/bench_builders.py --write    # also time the extxyz / LAMMPS writers

Targets: the 532,980-atom cross-point cell in <= 10 s and <= 2 GB peak; the
23,100-atom mushroom cell in <= 2 s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CASES = {
    "cross-point": {"target_s": 10.0, "target_gb": 2.0, "atoms": 532_980},
    "mushroom": {"target_s": 2.0, "target_gb": None, "atoms": 23_100},
}

CHILD = r"""
import json, resource, sys, time, tracemalloc, os
from gst_flows.structures import build, write_extxyz, write_lammps_data

kind, write, tmp = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
build("rocksalt")  # warm imports so only the build is timed
base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
tracemalloc.start()
t0 = time.perf_counter()
atoms = build(kind)
t1 = time.perf_counter()
_, peak_traced = tracemalloc.get_traced_memory()
tracemalloc.stop()
result = {
    "kind": kind,
    "atoms": len(atoms),
    "build_s": t1 - t0,
    "peak_alloc_gb": peak_traced / 1024**3,
    "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    "base_rss_gb": base_rss,
}
if write:
    t = time.perf_counter()
    write_extxyz(os.path.join(tmp, "cell.xyz"), atoms)
    result["extxyz_s"] = time.perf_counter() - t
    result["extxyz_mb"] = os.path.getsize(os.path.join(tmp, "cell.xyz")) / 1024**2
    t = time.perf_counter()
    write_lammps_data(os.path.join(tmp, "cell.data"), atoms)
    result["lammps_s"] = time.perf_counter() - t
    result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
print(json.dumps(result))
"""


def run_case(kind: str, write: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, kind, "1" if write else "0", tmp],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="also time the file writers")
    parser.add_argument("cases", nargs="*", default=list(CASES), help="cases to run")
    args = parser.parse_args()
    ok = True
    for kind in args.cases:
        r = run_case(kind, args.write)
        target = CASES[kind]
        line = (
            f"{kind:12s} {r['atoms']:>9,d} atoms  build {r['build_s']:6.2f} s "
            f"(target {target['target_s']:.0f} s)  peak allocations {r['peak_alloc_gb']:.3f} GB  "
            f"peak RSS {r['peak_rss_gb']:.3f} GB (after imports {r['base_rss_gb']:.3f} GB)"
        )
        if args.write:
            line += (
                f"  extxyz {r['extxyz_s']:.2f} s ({r['extxyz_mb']:.0f} MB)  LAMMPS data {r['lammps_s']:.2f} s"
            )
        print(line)
        ok &= r["atoms"] == target["atoms"] and r["build_s"] <= target["target_s"]
        if target["target_gb"] is not None:
            ok &= r["peak_rss_gb"] <= target["target_gb"]
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
