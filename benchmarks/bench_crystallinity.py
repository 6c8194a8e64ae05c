"""Calibration of the SOAP crystallinity k̄ on structures of known phase.

Builds reference sets whose phase is known, computes k̄ with the package defaults and prints,
per set, the crystalline fraction (k̄ above the threshold), the median and the 5th/95th
percentiles of k̄, and whether the set meets its target:

- crystalline (≥ 95 % crystalline): ideal rock-salt Ge1Sb2Te4 and GeTe, rock-salt rattled
  by Gaussian displacements of 0.15 and 0.2 Å per Cartesian component, layered trigonal
  Ge1Sb2Te4 and Sb2Te3 (ideal and rattled);
- disordered (≤ 5 % crystalline): random packings of Ge1Sb2Te4 (no two atoms closer than
  2.6 Å) at amorphous (6.0 g/cm³) and crystal (6.35 g/cm³) density, and frames of a liquid
  and of its melt-quench from MD with a GAP (by default the two-body scenario GAP of the
  tests, ``tests/fixtures/scenario_gap``: a stand-in fitted to a pair potential, not a model
  of GST).

The column ">160°" is an order measure independent of SOAP: the share of bond angles (bonds
up to 3.4 Å) above 160°, near-linear as in an octahedral network. It also prints the window
of thresholds that meets every target (from the largest 95th
percentile of the disordered sets to the smallest 5th percentile of the crystalline ones)
and writes a PNG histogram of the k̄ distributions. ``--legacy`` adds the same table for
the former form of k̄ (σ 0.3 Å with the l = 0 channel, no vector smoothing, ζ = 16,
threshold 0.75, rock-salt reference only).

Usage::

    python benchmarks/bench_crystallinity.py                   # everything, a few minutes
    python benchmarks/bench_crystallinity.py --md-frames tests/fixtures/kbar_liquid.extxyz
    python benchmarks/bench_crystallinity.py --no-md --legacy  # no MD, with the old form
    python benchmarks/bench_crystallinity.py --gap path/to/gap.xml --out bench_out
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

#: Targets: a crystalline set must be at least this crystalline, a disordered one at most.
CRYSTAL_TARGET = 0.95
DISORDER_TARGET = 0.05
#: g/cm³ per (amu/Å³).
GCC_PER_AMU_A3 = 1.66053906660
SCENARIO_GAP = Path(__file__).parents[1] / "tests" / "fixtures" / "scenario_gap" / "gap.xml"


def rattled(atoms: Atoms, sigma: float, seed: int) -> Atoms:
    """Copy with Gaussian displacements of ``sigma`` Å per Cartesian component."""
    out = atoms.copy()
    out.positions += np.random.default_rng(seed).normal(0.0, sigma, out.positions.shape)
    out.wrap()
    return out


def random_packing(
    n_atoms: int,
    density: float,
    min_distance: float = 2.6,
    seed: int = 0,
    formula: tuple[str, ...] = ("Ge", "Sb", "Sb", "Te", "Te", "Te", "Te"),
) -> Atoms:
    """Random sequential packing in a cubic cell: no two atoms closer than ``min_distance`` Å.

    Parameters
    ----------
    n_atoms
        Number of atoms (species cycle through ``formula``, then are shuffled).
    density
        Mass density in g/cm³.
    min_distance
        Smallest allowed distance in Å (periodic images included).
    seed
        Random seed.
    formula
        Species pattern (default Ge1Sb2Te4).
    """
    rng = np.random.default_rng(seed)
    symbols = [formula[i % len(formula)] for i in range(n_atoms)]
    mass = sum(atomic_masses[atomic_numbers[s]] for s in symbols)
    length = (mass * GCC_PER_AMU_A3 / density) ** (1 / 3)
    positions = np.zeros((n_atoms, 3))
    placed, trials = 0, 0
    while placed < n_atoms:
        trial = rng.random(3) * length
        d = positions[:placed] - trial
        d -= length * np.round(d / length)
        if placed == 0 or np.min(np.einsum("ij,ij->i", d, d)) >= min_distance**2:
            positions[placed] = trial
            placed += 1
        trials += 1
        if trials > 1_000_000:
            raise RuntimeError(f"random packing jammed after {placed} atoms")
    return Atoms(rng.permutation(symbols).tolist(), positions=positions, cell=np.eye(3) * length, pbc=True)


def crystal_sets(n_seeds: int = 2) -> dict[str, list[Atoms]]:
    """Crystalline reference sets (about 140-190 atoms per cell)."""
    from gst_flows.structures import build_layered, build_rocksalt

    sets: dict[str, list[Atoms]] = {
        "rock-salt Ge1Sb2Te4, ideal": [
            build_rocksalt("Ge1Sb2Te4", (3, 3, 3), seed=s) for s in range(n_seeds)
        ],
        "rock-salt GeTe, ideal": [build_rocksalt("GeTe", (3, 3, 3))],
    }
    for sigma in (0.15, 0.2):
        sets[f"rock-salt Ge1Sb2Te4, rattled {sigma} Å"] = [
            rattled(build_rocksalt("Ge1Sb2Te4", (3, 3, 3), seed=s), sigma, 100 + s)
            for s in range(2 * n_seeds)
        ]
        sets[f"rock-salt GeTe, rattled {sigma} Å"] = [
            rattled(build_rocksalt("GeTe", (3, 3, 3)), sigma, 200 + s) for s in range(n_seeds)
        ]
    for formula in ("Ge1Sb2Te4", "Sb2Te3"):
        ideal = build_layered(formula, (3, 3, 1))
        sets[f"layered {formula}, ideal"] = [ideal]
        for sigma in (0.15, 0.2):
            sets[f"layered {formula}, rattled {sigma} Å"] = [
                rattled(ideal, sigma, 300 + s) for s in range(n_seeds)
            ]
    return sets


def packing_sets(n_atoms: int = 189, n_seeds: int = 3) -> dict[str, list[Atoms]]:
    """Random packings of Ge1Sb2Te4 at amorphous and crystal density."""
    return {
        f"random packing {rho} g/cm³, ≥ 2.6 Å": [
            random_packing(n_atoms, rho, 2.6, seed=1000 * k + s) for s in range(n_seeds)
        ]
        for k, rho in enumerate((6.0, 6.35))
    }


def md_sets(gap: Path, temperature: float = 3000.0, seed: int = 0) -> dict[str, list[Atoms]]:
    """Liquid and melt-quenched frames of Ge1Sb2Te4 (126 atoms, 6.0 g/cm³) from GAP-MD (NVT).

    The run starts from a random packing, equilibrates the liquid at ``temperature`` for
    0.5 ps, runs 0.6 ps more (the liquid set: its last three saved frames, 0.1–0.2 ps
    apart), then quenches linearly to 300 K in 1.5 ps (1.8 K/fs, far faster than a real
    melt-quench; the quench set: its last three saved frames, the last 0.4 ps, with
    instantaneous temperatures below about 1,100 K).
    """
    from gst_flows.md.ase_engine import AseMDEngine
    from gst_flows.md.potential import gap_calculator
    from gst_flows.md.protocol import Protocol, Ramp, RunSettings, Stage

    start = random_packing(126, 6.0, 2.6, seed=5000 + seed)
    nvt = {"ensemble": "nvt", "tdamp": 50.0}
    stages = [
        Stage(name="equilibrate", temperature=temperature, duration=500, **nvt),
        Stage(name="liquid", temperature=temperature, duration=600, **nvt),
        Stage(name="quench", temperature=Ramp(start=temperature, end=300.0), duration=1500, **nvt),
    ]
    protocol = Protocol(name="liquid", initial_temperature=temperature, seed=seed, stages=stages)
    with tempfile.TemporaryDirectory() as tmp:
        result = AseMDEngine(
            gap_calculator(gap), workdir=tmp, settings=RunSettings(frame_interval=100, thermo_interval=100)
        ).run(start, protocol)
        frames = result.read_frames()
    out: dict[str, list[Atoms]] = {"GAP-MD liquid": [], "GAP-MD quench to 300 K, last 0.4 ps": []}
    for key, stage, frames_kept in (
        ("GAP-MD liquid", "liquid", 3),
        ("GAP-MD quench to 300 K, last 0.4 ps", "quench", 3),
    ):
        for frame in [f for f in frames if f.info.get("stage_name") == stage][-frames_kept:]:
            plain = Atoms(frame.numbers, frame.positions, cell=frame.cell, pbc=frame.pbc)
            plain.info = {
                k: frame.info[k] for k in ("stage_name", "step", "temperature_k") if k in frame.info
            }
            out[key].append(plain)
    return out


def load_md_sets(args: argparse.Namespace) -> dict[str, list[Atoms]]:
    """MD sets from ``--md-frames`` if that file exists, else from a new run (saved there)."""
    from ase.io import read, write

    path = args.md_frames
    if path is not None and path.exists():
        frames = read(path, ":")
        print(f"MD frames read from {path}")
        return {
            "GAP-MD liquid": [f for f in frames if f.info["stage_name"] == "liquid"],
            "GAP-MD quench to 300 K, last 0.4 ps": [f for f in frames if f.info["stage_name"] == "quench"],
        }
    t = time.perf_counter()
    sets = md_sets(args.gap, args.temperature)
    print(f"MD ({args.gap.name}, {args.temperature:.0f} K): {time.perf_counter() - t:.0f} s")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path, [f for frames in sets.values() for f in frames])
    return sets


def linear_share(frames: list[Atoms], bond: float = 3.4, min_angle: float = 160.0) -> float:
    """Share of bond angles above ``min_angle`` degrees (bonds up to ``bond`` Å).

    An order measure independent of SOAP: about a sixth of the angles of an octahedral
    (rock-salt-like) network are near 180°, few of a disordered one.
    """
    from gst_flows.analysis import bond_angles

    angles = np.concatenate([bond_angles(f, bond)[0] for f in frames])
    return float(np.mean(angles > min_angle)) if angles.size else float("nan")


def evaluate(sets: dict[str, list[Atoms]], **kwargs) -> dict[str, np.ndarray]:
    """k̄ of every atom of every set (keyword arguments go to ``crystallinity``)."""
    from gst_flows.analysis import crystallinity

    return {
        name: np.concatenate([crystallinity(f, **kwargs) for f in frames]) for name, frames in sets.items()
    }


def intermediate_sets(n_seeds: int = 2) -> dict[str, list[Atoms]]:
    """Rock-salt Ge1Sb2Te4 rattled by 0.3 and 0.4 Å: no target, they show the crossover."""
    from gst_flows.structures import build_rocksalt

    return {
        f"rock-salt Ge1Sb2Te4, rattled {sigma} Å (no target)": [
            rattled(build_rocksalt("Ge1Sb2Te4", (3, 3, 3), seed=s), sigma, 400 + s) for s in range(n_seeds)
        ]
        for sigma in (0.3, 0.4)
    }


def report(
    kbars: dict[str, np.ndarray],
    crystalline: set[str],
    threshold: float,
    title: str,
    linear: dict[str, float] | None = None,
) -> bool:
    """Print the table; return whether every set with a target meets it."""
    linear = linear or {}
    print(f"\n{title} (threshold {threshold:g})")
    header = (
        f"{'set':50s} {'atoms':>6s} {'crystalline':>11s} {'median k̄':>9s} "
        f"{'P5':>6s} {'P95':>6s} {'>160°':>6s}  target"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for name, k in kbars.items():
        fraction = float(np.mean(k > threshold))
        is_crystal = name in crystalline
        if "no target" in name:
            target = ""
        else:
            met = fraction >= CRYSTAL_TARGET if is_crystal else fraction <= DISORDER_TARGET
            ok &= met
            target = (
                f"{'≥' if is_crystal else '≤'} "
                f"{CRYSTAL_TARGET if is_crystal else DISORDER_TARGET:.2f} "
                f"{'ok' if met else 'MISSED'}"
            )
        print(
            f"{name:50s} {len(k):6d} {fraction:11.3f} {np.median(k):9.3f} "
            f"{np.percentile(k, 5):6.3f} {np.percentile(k, 95):6.3f} "
            f"{linear.get(name, float('nan')):6.3f}  {target}"
        )
    low = max(np.percentile(k, 95) for n, k in kbars.items() if n not in crystalline and "no target" not in n)
    high = min(np.percentile(k, 5) for n, k in kbars.items() if n in crystalline)
    print(
        f"thresholds meeting every target: ({low:.3f}, {high:.3f})"
        if high > low
        else f"no threshold meets every target ({low:.3f} > {high:.3f})"
    )
    return ok


def figure(kbars: dict[str, np.ndarray], crystalline: set[str], threshold: float, path: Path) -> None:
    """Histogram of k̄ per set: crystalline sets in blues, disordered sets in reds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    bins = np.linspace(0.0, 1.0, 51)
    names_c = [n for n in kbars if n in crystalline]
    names_d = [n for n in kbars if n not in crystalline and "no target" not in n]
    names_i = [n for n in kbars if "no target" in n]
    for names, cmap, style in (
        (names_c, plt.cm.Blues, "-"),
        (names_d, plt.cm.Reds, "--"),
        (names_i, plt.cm.Greys, ":"),
    ):
        for i, name in enumerate(names):
            colour = cmap(0.4 + 0.6 * (i + 1) / max(len(names), 1))
            ax.hist(
                kbars[name],
                bins=bins,
                density=True,
                histtype="step",
                color=colour,
                linestyle=style,
                label=name,
            )
    ax.axvline(threshold, color="k", lw=1)
    ax.set_xlabel("k̄")
    ax.set_ylabel("density")
    ax.set_yscale("log")
    ax.set_title(f"k̄ per reference set; crystalline above {threshold:g} (vertical line)", fontsize=9)
    ax.legend(fontsize=6, ncol=2, loc="upper center", framealpha=0.9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench_crystallinity"),
        help="directory for the figure (default ./bench_crystallinity)",
    )
    parser.add_argument("--gap", type=Path, default=SCENARIO_GAP, help="GAP XML for the MD sets")
    parser.add_argument("--temperature", type=float, default=3000.0, help="liquid temperature, K")
    parser.add_argument("--no-md", action="store_true", help="skip the MD sets")
    parser.add_argument(
        "--md-frames",
        type=Path,
        help="extxyz of the MD sets: read if it exists, else run the MD and write it there",
    )
    parser.add_argument("--legacy", action="store_true", help="also evaluate the former k̄")
    args = parser.parse_args()

    from gst_flows.analysis import DEFAULT_THRESHOLD, rocksalt_reference
    from gst_flows.analysis.soap import SoapSettings

    start = time.perf_counter()
    sets = crystal_sets()
    crystalline = set(sets)
    sets.update(packing_sets())
    if not args.no_md:
        sets.update(load_md_sets(args))
    sets.update(intermediate_sets())
    t = time.perf_counter()
    kbars = evaluate(sets)
    print(f"k̄ of {sum(len(k) for k in kbars.values())} atoms: {time.perf_counter() - t:.1f} s")
    linear = {name: linear_share(frames) for name, frames in sets.items()}
    ok = report(kbars, crystalline, DEFAULT_THRESHOLD, "k̄, package defaults", linear)
    figure(kbars, crystalline, DEFAULT_THRESHOLD, args.out / "kbar_distributions.png")
    if args.legacy:
        old = {
            name: np.concatenate(
                [crystallinity_legacy(f, rocksalt_reference(f), SoapSettings()) for f in frames]
            )
            for name, frames in sets.items()
        }
        report(old, crystalline, 0.75, "former k̄ (σ 0.3 Å, with l = 0, ζ 16, no smoothing)", linear)
        figure(old, crystalline, 0.75, args.out / "kbar_distributions_legacy.png")
    print(
        f"\nfigure: {args.out / 'kbar_distributions.png'}; total "
        f"{time.perf_counter() - start:.0f} s; every target met: {ok}"
    )


def crystallinity_legacy(atoms: Atoms, reference: Atoms, settings) -> np.ndarray:
    """The former k̄: rock-salt reference only, single-atom vectors, ζ = 16."""
    from gst_flows.analysis import crystallinity

    return crystallinity(atoms, reference, zeta=16, settings=settings, smoothing_cutoff=0.0)


if __name__ == "__main__":
    main()
