"""The small device scenarios with the GAP and with a POD: the same picture? One figure each.

    python benchmarks/fast_potential_scenarios.py --gap GAP_ID --pod POD_ID --work /tmp/scen

Runs ``mushroom-reset``, ``cross-point`` and ``set-crystallisation`` at their ``small`` size
on the LAMMPS engine (the POD's only engine; the GAP through ``pair_style quip``), the same
seed and cell for both potentials, through the scenario flows into the configured database.
The SET anneal is lengthened to ``--anneal-ps`` (default 2 ps) so that the crystalline
fraction has time to move, and its quench to ``--quench-fs`` (default 400 fs; the small
preset's 40 fs from 4,000 to 600 K leaves the cell three times hotter than the target, which
the MD temperature check stops on the LAMMPS engine). For each scenario it prints the
document's key figures (peak temperature, injected energy, crystalline fractions, ...) for
both potentials side by side with the MD wall time, and writes one figure: the temperature
of the mobile atoms against time for both, from each run's ``thermo.csv``.

Results are cached in ``--work/<scenario>-<potential>.json``; delete one to rerun it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

SCENARIOS = ("mushroom-reset", "cross-point", "set-crystallisation")


def run_scenario(name: str, potential: str, anneal_ps: float, quench_fs: float, removal: float) -> dict:
    from gst_flows.execution import run_local
    from gst_flows.flows.scenarios import scenario_maker
    from gst_flows.md.results import read_thermo

    extra = (
        {"anneal_duration": 1000.0 * anneal_ps, "quench_duration": quench_fs}
        if name == "set-crystallisation"
        else {"removal_share": removal}
        if name == "cross-point"
        else {}
    )
    maker = scenario_maker(name, size="small", potential=potential, engine="lammps", seed=0, **extra)
    flow = maker.make()
    start = time.perf_counter()
    failures: list[str] = []
    responses = run_local(flow, failures=failures)
    wall = time.perf_counter() - start
    outputs = responses.get(flow.jobs[-1].uuid, {})
    if not outputs:
        return {"failed": True, "wall_s": wall, "reasons": failures}
    doc = outputs[max(outputs)].output
    thermo = read_thermo(Path(doc.md_dirs[0]) / "thermo.csv")
    return {
        "failed": False,
        "wall_s": wall,
        "atoms": doc.n_atoms,
        "formula": doc.formula,
        "key_figures": doc.key_figures(),
        "time_ps": (thermo["time_fs"] / 1000).tolist(),
        "temperature_k": thermo["temperature_k"].tolist(),
        "etot_ev": thermo["etot_ev"].tolist(),
    }


def figure(name: str, results: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for label, res in results.items():
        if not res.get("failed"):
            ax.plot(res["time_ps"], res["temperature_k"], label=label, lw=1.2)
    ax.set_xlabel("time (ps)")
    ax.set_ylabel("temperature (K)")
    first = next((r for r in results.values() if not r.get("failed")), None)
    ax.set_title(f"{name} (small, {first['formula']}, {first['atoms']} atoms)" if first else name)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gap", required=True, help="potential id of the GAP")
    parser.add_argument("--pod", required=True, help="potential id of the POD")
    parser.add_argument("--work", type=Path, default=Path("/tmp/fast-potential-scenarios"))
    parser.add_argument("--anneal-ps", type=float, default=2.0, help="SET anneal, ps (small preset: 0.2)")
    parser.add_argument(
        "--quench-fs",
        type=float,
        default=400.0,
        help="SET quench 4,000 -> 600 K, fs (small preset: 40, which trips the MD temperature check)",
    )
    parser.add_argument(
        "--removal-share",
        type=float,
        default=0.5,
        help="cross-point quench: share of the pulse energy removed (small preset: 0.75, which "
        "drives LAMMPS' fix heat below zero kinetic energy in the 252-atom cell with the demo GAP)",
    )
    parser.add_argument("--only", choices=SCENARIOS, action="append", help="run only these scenarios")
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    for name in args.only or SCENARIOS:
        results = {}
        for label, pid in (("GAP", args.gap), ("POD", args.pod)):
            cache = work / f"{name}-{label}.json"
            if cache.is_file():
                results[label] = json.loads(cache.read_text())
                continue
            results[label] = run_scenario(name, pid, args.anneal_ps, args.quench_fs, args.removal_share)
            cache.write_text(json.dumps(results[label], default=str))
        figure(name, results, work / f"{name}.png")
        print(f"\n{name}: figure {work / f'{name}.png'}")
        keys = next((r["key_figures"] for r in results.values() if not r.get("failed")), {})
        print(f"  {'':<52}{'GAP':>20}{'POD':>20}")
        for key in keys:
            cells = []
            for label in ("GAP", "POD"):
                value = results[label].get("key_figures", {}).get(key)
                cells.append(f"{value:>20.4g}" if isinstance(value, int | float) else f"{value!s:>20}")
            print(f"  {key:<52}{''.join(cells)}")
        print(
            f"  {'MD + analysis wall time (s)':<52}"
            + "".join(f"{results[k]['wall_s']:>20.0f}" for k in ("GAP", "POD"))
        )


if __name__ == "__main__":
    main()
