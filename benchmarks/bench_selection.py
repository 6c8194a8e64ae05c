"""Does the selection pay for itself? SOAP farthest-point sampling against random selection.

Side by side in one run: the same candidate pool, the same labeller, the same fit settings.
For each labelling budget both strategies pick that many configurations, a GAP is fitted with
gap_fit, and its force RMSE is measured on a held-out set drawn from the same pool. The pool
mimics what MD exploration offers: many near-identical frames of a few common environments and
a few rare ones (strongly distorted or strained cells, vacancy-rich compositions).

The labeller is a STAND-IN for DFT: matscipy's species-aware Lennard-Jones pair potential (so the
benchmark runs here in minutes); it is the same for both strategies. Prints the RMSE per budget
and the number of labels random selection needs to reach the RMSE that FPS reaches.

A third strategy, FPS weighted by committee uncertainty, picks in batches as the loop does: the
first batch by FPS alone, then before each further batch a committee of ``--committee`` fits
(each on a random 75 % of the labels so far) predicts forces on every candidate and the SOAP
distances are weighted by their spread (:func:`gst_flows.selection.committee_spread`).

    python benchmarks/bench_selection.py [--budgets 4,8,16,32] [--repeats 3] [--committee 3]
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np


def _labeller():
    from matscipy.calculators.pair_potential import LennardJonesCut, PairPotential

    pairs = {}
    for i, a in enumerate((32, 51, 52)):
        for b in (32, 51, 52)[i:]:
            pairs[(a, b)] = LennardJonesCut(epsilon=0.08, sigma=2.7, cutoff=5.5)
    return PairPotential(pairs)


def _pool(seed: int):
    from gst_flows.structures import build_rocksalt, perturbed_copies

    rng = np.random.default_rng(seed)
    frames = []
    # Common environments: many small rattles of two crystals.
    for comp in ("GeTe", "Ge1Sb2Te4"):
        base = build_rocksalt(comp, seed=int(rng.integers(1000)))
        frames += perturbed_copies(base, 60, rattle=0.03, strain=0.005, seed=int(rng.integers(1000)))
    # Rare environments: strong distortions, strain, other compositions.
    for comp, rattle, strain in (
        ("GeTe", 0.25, 0.06),
        ("Ge1Sb2Te4", 0.25, 0.06),
        ("Ge2Sb2Te5", 0.15, 0.04),
        ("Sb2Te3", 0.15, 0.04),
    ):
        cell = (5, 1, 1) if comp == "Ge2Sb2Te5" else (3, 1, 1) if comp == "Sb2Te3" else (1, 1, 1)
        base = build_rocksalt(comp, supercell=cell, seed=int(rng.integers(1000)))
        frames += perturbed_copies(
            base, 6, rattle=rattle, strain=strain, min_distance=1.9, seed=int(rng.integers(1000))
        )
    return frames


def _label(frames, calc):
    from gst_flows.fit import make_labelled_frame

    out = []
    for atoms in frames:
        probe = atoms.copy()
        probe.calc = calc
        out.append(
            make_labelled_frame(
                atoms, probe.get_potential_energy(), forces=probe.get_forces(), config_type="pool"
            )
        )
    return out


def _fit(train, workdir):
    from gst_flows.fit import GapHyperparameters, SoapParams, TwoBodyParams, fit_gap
    from gst_flows.md.potential import gap_calculator

    hyper = GapHyperparameters(
        two_body=TwoBodyParams(cutoff=5.0, n_sparse=10),
        soap=SoapParams(cutoff=5.0, n_max=4, l_max=3, n_sparse=40),
        e0={"Ge": 0.0, "Sb": 0.0, "Te": 0.0},
        strict_n_sparse=False,
    )
    result = fit_gap(train, hyper, workdir)
    return gap_calculator(result.potential_path)


def _committee_picks(x, candidates, budget, calc, size, workdir, batch=4, seed=0):
    """FPS in batches, each batch after the first weighted by a committee's force spread."""
    from gst_flows.flows.active_learning import calculator_spread
    from gst_flows.selection import select_diverse, uncertainty_weights

    rng = np.random.default_rng(seed)
    picked = select_diverse(x, min(batch, budget), "fps")
    step = 0
    while len(picked) < budget:
        train = _label([candidates[i] for i in picked], calc)
        members = []
        for m in range(size):
            keep = rng.choice(len(train), size=max(2, round(0.75 * len(train))), replace=False)
            members.append(_fit([train[i] for i in keep], f"{workdir}/c{step}-{m}"))
        weights = uncertainty_weights(calculator_spread(members, candidates))
        rest = [i for i in range(len(candidates)) if i not in set(picked)]
        more = select_diverse(
            x[rest], min(batch, budget - len(picked)), "fps", existing=x[picked], weights=weights[rest]
        )
        picked += [rest[i] for i in more]
        step += 1
    return picked


def _force_rmse(train, test, workdir):
    calc = _fit(train, workdir)
    diffs = []
    for frame in test:
        probe = frame.copy()
        probe.calc = calc
        diffs.append(probe.get_forces() - frame.arrays["REF_forces"])
    return float(np.sqrt(np.mean(np.concatenate(diffs) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="4,8,16,32")
    parser.add_argument("--repeats", type=int, default=3, help="random draws per budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--committee",
        type=int,
        default=3,
        help="committee size of the uncertainty-weighted strategy (0: skip it)",
    )
    args = parser.parse_args()

    from gst_flows.analysis.soap import SoapSettings, mean_soap_vectors
    from gst_flows.selection import select_diverse

    calc = _labeller()
    pool = _pool(args.seed)
    rng = np.random.default_rng(args.seed + 1)
    test_idx = rng.choice(len(pool), size=max(20, len(pool) // 6), replace=False)
    test = _label([pool[i] for i in test_idx], calc)
    candidates = [a for i, a in enumerate(pool) if i not in set(test_idx)]
    soap = SoapSettings(r_cut=5.0, n_max=4, l_max=4, species_resolved=True, species=("Ge", "Sb", "Te"))
    x = mean_soap_vectors(candidates, soap)
    budgets = [int(b) for b in args.budgets.split(",")]
    results = {"fps": {}, "random": {}, "committee": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for budget in budgets:
            picked = select_diverse(x, budget, "fps")
            train = _label([candidates[i] for i in picked], calc)
            results["fps"][budget] = _force_rmse(train, test, f"{tmp}/fps-{budget}")
            values = []
            for r in range(args.repeats):
                idx = rng.choice(len(candidates), size=budget, replace=False)
                train = _label([candidates[i] for i in idx], calc)
                values.append(_force_rmse(train, test, f"{tmp}/rnd-{budget}-{r}"))
            results["random"][budget] = float(np.mean(values))
            line = (
                f"budget {budget:3d}: FPS force RMSE {results['fps'][budget]:.4f} eV/Å, "
                f"random {results['random'][budget]:.4f} eV/Å (mean of {args.repeats})"
            )
            if args.committee >= 2:
                picked = _committee_picks(
                    x, candidates, budget, calc, args.committee, f"{tmp}/com-{budget}", seed=args.seed
                )
                train = _label([candidates[i] for i in picked], calc)
                results["committee"][budget] = _force_rmse(train, test, f"{tmp}/com-{budget}/fit")
                line += f", FPS + committee {results['committee'][budget]:.4f} eV/Å"
            print(line, flush=True)
    print(f"pool {len(candidates)} candidates, held-out {len(test)}; labeller: Lennard-Jones stand-in")
    for budget in budgets:
        target = results["fps"][budget]
        reached = [b for b in budgets if results["random"][b] <= target]
        need = f"{reached[0]}" if reached else f"more than {budgets[-1]}"
        print(f"FPS with {budget:3d} labels reaches {target:.4f} eV/Å; random needs {need} labels")
    for budget in results["committee"]:
        target = results["committee"][budget]
        reached = [b for b in budgets if results["random"][b] <= target]
        need = f"{reached[0]}" if reached else f"more than {budgets[-1]}"
        print(
            f"FPS + committee with {budget:3d} labels reaches {target:.4f} eV/Å; random needs {need} labels"
        )


if __name__ == "__main__":
    main()
