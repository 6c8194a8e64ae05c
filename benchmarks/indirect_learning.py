"""A stable fast potential: POD with a ZBL wall, and POD taught by a GAP (indirect learning).

Follows ``benchmarks/fast_potentials.py`` (same DFT frames, POD basis, error code and NVE
cell), in two parts:

1. **Short-range repulsion.** The POD fitted to the 25 DFT frames has no repulsive wall
   below the training data's shortest distance (2.28 Å) and loses atoms in hot NVE. Two
   remedies, both with ``gst_flows.fit.pod.ZblBaseline``: ``pair_style hybrid/overlay pod
   zbl 1.0 2.0`` (the ZBL is switched off below 2.28 Å, so the labels and the POD fit are
   unchanged), and a POD fitted to DFT minus ``zbl 1.5 2.5`` (the baseline reaches into the
   data; the sum reproduces DFT).
2. **Indirect learning.** A demo GAP (the teacher) runs Langevin MD of small cells (random
   packings at 0.031 atoms/Å³ quenched from 1,500 K to 300 K, rock-salt cells heated from
   300 K to 1,500 K); frames sampled along the way are labelled by the GAP itself (energy,
   forces, virial) and tagged ``info["teacher"]`` (the potential id),
   ``info["synthetic"] = True`` and a ``gap_md_*`` config_type. Trajectories are split
   into training and held-out ones. PODs (with the ZBL baseline) are fitted on the GAP
   labels alone and on GAP labels plus the DFT frames (repeated ``DFT_REPEAT`` times, as
   fitpod has no per-frame weights), and compared with the DFT-only POD on the DFT
   held-out frames, the shipped reference set, the held-out teacher-labelled frames and
   NVE stability.

    python benchmarks/indirect_learning.py --teacher GAP_ID --work /tmp/indirect [--quick] [--json out.json]

Everything is cached under ``--work``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.io import write
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.neighborlist import neighbor_list

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_potentials import SPECIES, dimer_curves, errors, nve_drift, training_data

from gst_flows.fit.data import is_isolated_atom, make_labelled_frame, read_labelled_frames
from gst_flows.fit.pod import PodBasis, ZblBaseline, fit_pod
from gst_flows.fit.reference import load_reference_set
from gst_flows.md.lammps import LammpsPotential
from gst_flows.md.potential import gap_calculator
from gst_flows.structures import build_rocksalt, random_packing

POTENTIALS = Path()  # the potential cache of the configured data directory, set in main()
TEACHER = ""  # the teacher GAP's potential id (--teacher), e.g. a demo loop's last GAP
BASIS = PodBasis(ridge=1e-4)  # the basis of fast_potentials.py, ridge chosen there by CV on the DFT set
OVERLAY = ZblBaseline(1.0, 2.0)  # zero beyond 2.0 Å: DFT labels untouched
BASELINE = ZblBaseline(1.5, 2.5)  # reaches into the data: POD fitted to DFT - ZBL
DFT_REPEAT = 5
TEACHER_NVE_PS = 0.2
DENSITY = 0.031  # atoms/Å³

# (name, kind, composition counts or formula, seed, split)
TRAJECTORIES = [
    ("pack-GeTe", "packing", {"Ge": 16, "Te": 16}, 1, "train"),
    ("pack-GST225", "packing", {"Ge": 6, "Sb": 6, "Te": 15}, 1, "train"),
    ("pack-Sb2Te3", "packing", {"Sb": 12, "Te": 18}, 1, "train"),
    ("pack-GST124", "packing", {"Ge": 4, "Sb": 8, "Te": 16}, 1, "train"),
    ("rs-GeTe", "rocksalt", "GeTe", 1, "train"),
    ("rs-GST124", "rocksalt", "Ge1Sb2Te4", 1, "train"),
    ("pack-GST225-b", "packing", {"Ge": 6, "Sb": 6, "Te": 15}, 7, "held"),
    ("rs-GST225-b", "rocksalt", "Ge2Sb2Te5", 7, "held"),
]


def start_cell(kind: str, what, seed: int) -> Atoms:
    if kind == "packing":
        n = sum(what.values())
        box = [(n / DENSITY) ** (1 / 3)] * 3
        return random_packing(box, what, min_distance=2.2, seed=seed)
    atoms = build_rocksalt(what, supercell=(2, 2, 1), seed=seed, exact=False)  # nearest counts
    atoms.rattle(0.05, seed=seed)
    return atoms


def run_teacher_md(
    name: str, kind: str, what, seed: int, xml: Path, stage_steps: int, every: int
) -> list[Atoms]:
    """Langevin MD with the teacher through a temperature ladder; frames labelled by the teacher."""
    calc = gap_calculator(xml)
    atoms = start_cell(kind, what, seed)
    atoms.calc = calc
    ladder = (1500, 1200, 900, 600, 300) if kind == "packing" else (300, 600, 900, 1200, 1500)
    MaxwellBoltzmannDistribution(atoms, temperature_K=ladder[0], rng=np.random.default_rng(seed))
    frames = []
    for temperature in ladder:
        dyn = Langevin(
            atoms, 2 * units.fs, temperature_K=temperature, friction=0.02, rng=np.random.default_rng(seed)
        )
        for block in range(stage_steps // every):
            dyn.run(every)
            if block == 0:
                continue  # let the new temperature settle
            frames.append(
                make_labelled_frame(
                    atoms,
                    energy=atoms.get_potential_energy(),
                    forces=atoms.get_forces(),
                    stress=atoms.get_stress(),
                    config_type=f"gap_md_{kind}",
                    teacher=TEACHER,
                    synthetic=True,
                    trajectory=name,
                    md_temperature=float(temperature),
                )
            )
    return frames


def teacher_frames(work: Path, quick: bool) -> tuple[list[Atoms], list[Atoms], float]:
    """Training and held-out teacher-labelled frames (cached as extxyz)."""
    d = work / "synthetic"
    train_file, held_file, meta = d / "train.extxyz", d / "held.extxyz", d / "meta.json"
    if not meta.is_file():
        d.mkdir(parents=True, exist_ok=True)
        xml = POTENTIALS / TEACHER / "gap.xml"
        stage_steps, every = (20, 5) if quick else (80, 8)
        start = time.perf_counter()
        split: dict[str, list[Atoms]] = {"train": [], "held": []}
        for name, kind, what, seed, part in TRAJECTORIES:
            split[part] += run_teacher_md(name, kind, what, seed, xml, stage_steps, every)
            print(f"  teacher MD {name}: {len(split[part])} {part} frames so far", flush=True)
        calc = gap_calculator(xml)
        for symbol in SPECIES:  # the teacher's isolated atoms pin the POD's one-body terms
            atom = Atoms(symbol, positions=[[5, 5, 5]], cell=[10.0] * 3, pbc=True)
            atom.calc = calc
            split["train"].append(
                make_labelled_frame(
                    atom,
                    energy=atom.get_potential_energy(),
                    forces=np.zeros((1, 3)),
                    config_type="isolated_atom",
                    teacher=TEACHER,
                    synthetic=True,
                )
            )
        write(train_file, split["train"], format="extxyz")
        write(held_file, split["held"], format="extxyz")
        meta.write_text(json.dumps({"teacher": TEACHER, "seconds": time.perf_counter() - start}))
    seconds = json.loads(meta.read_text())["seconds"]
    return read_labelled_frames(train_file), read_labelled_frames(held_file), seconds


def min_distance(frames: list[Atoms]) -> float:
    return min(neighbor_list("d", a, 4.0).min() for a in frames if len(a) > 1 and not is_isolated_atom(a))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/indirect-learning"), help="cache directory")
    parser.add_argument("--quick", action="store_true", help="short teacher MD and 0.5 ps NVE")
    parser.add_argument("--nve-ps", type=float, help="NVE length in ps (default 2, quick 0.5)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--train", type=Path, help="DFT labelled extxyz (default: CP2K fixture split)")
    parser.add_argument("--held", type=Path, help="held-out DFT labelled extxyz (with --train)")
    parser.add_argument("--teacher", required=True, help="potential id of the teacher GAP (in the database)")
    args = parser.parse_args()
    global TEACHER, POTENTIALS  # noqa: PLW0603 - the script's functions read them
    from gst_flows.potentials import fetch_potential

    TEACHER = args.teacher
    POTENTIALS = fetch_potential(TEACHER).parent.parent  # <cache>/<id>/gap.xml
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    ps = args.nve_ps or (0.5 if args.quick else 2.0)

    dft_train, dft_held = training_data(args.train, args.held)
    reference = load_reference_set()
    syn_train, syn_held, md_seconds = teacher_frames(work, args.quick)
    n_syn = sum(not is_isolated_atom(a) for a in syn_train)
    print(
        f"teacher {TEACHER}: {n_syn} training + {len(syn_held)} held-out frames"
        f" ({sum(len(a) for a in syn_train + syn_held)} atoms) in {md_seconds:.0f} s of GAP MD;"
        f" shortest distance: DFT set {min_distance(dft_train):.2f} Å,"
        f" teacher frames {min_distance(syn_train + syn_held):.2f} Å"
    )

    dft_only = list(dft_train)
    mixed = syn_train + [a for a in dft_train if not is_isolated_atom(a)] * DFT_REPEAT
    variants = {  # name: (training frames, baseline)
        "POD dft": (dft_only, None),
        "POD dft +zbl1-2": (dft_only, OVERLAY),
        "POD dft-zbl1.5-2.5": (dft_only, BASELINE),
        "POD gap-zbl1.5-2.5": (syn_train, BASELINE),
        "POD gap+dft-zbl1.5-2.5": (mixed, BASELINE),
    }
    potentials: dict[str, LammpsPotential] = {
        "GAP teacher": LammpsPotential.gap(POTENTIALS / TEACHER / "gap.xml")
    }
    fit_errors = {}
    for name, (frames, baseline) in variants.items():
        key = name.replace(" ", "_").replace("+", "p")
        result = fit_pod(frames, work / "fits" / key, BASIS, species=SPECIES, baseline=baseline)
        potentials[name] = result.lammps_potential()
        fit_errors[name] = result.train_errors

    sets = {"dft_held": dft_held, "reference": reference, "gap_held": syn_held}
    err = {}
    for name, pot in potentials.items():
        key = name.replace(" ", "_").replace("+", "p")
        err[name] = {s: errors(pot, frames, work, f"{key}-{s}") for s, frames in sets.items()}
        print(f"  errors done: {name}", flush=True)

    dimers = {
        name: dimer_curves(pot, distances=(1.5, 1.8, 2.0, 2.2, 2.4, 2.8)) for name, pot in potentials.items()
    }
    nve: dict[str, list[dict]] = {}
    for name, pot in potentials.items():
        if name == "GAP teacher" and args.quick:
            continue
        key = name.replace(" ", "_").replace("+", "p")
        runs = []
        # the teacher costs ~100x more per step: a short control at the lower temperature only
        plan = [(300.0, TEACHER_NVE_PS)] if name == "GAP teacher" else [(300.0, ps), (900.0, ps)]
        for t, length in plan:
            d = work / "nve" / f"{key}-{t:.0f}K-{length:g}ps"
            cache = d / "result.json"
            if not cache.is_file():
                start = time.perf_counter()
                out = nve_drift(pot, d, length, t)
                out["wall_s"] = time.perf_counter() - start
                out["load"] = os.getloadavg()[0]
                cache.write_text(json.dumps(out))
            runs.append(json.loads(cache.read_text()))
        nve[name] = runs
        print(f"  NVE done: {name}", flush=True)

    # ------------------------------------------------------------------ table
    print()
    print(
        f"DFT training set {len(dft_train)} frames; held-out DFT {len(dft_held)};"
        f" reference set {len(reference)}; held-out teacher frames {len(syn_held)}"
        " (errors against the teacher)"
    )
    print(
        f"NVE: {nve_atoms(nve)} atoms Ge1Sb2Te4 rock salt, dt 2 fs, {ps:g} ps"
        f" (teacher {TEACHER_NVE_PS:g} ps), velocities at 600 / 1800 K"
    )
    head = (
        f"{'potential':<24} | {'E held':>6} {'E ref':>6} {'E gap':>6}"
        f" | {'F held':>6} {'F ref':>6} {'F gap':>6}"
        f" | {'NVE 300K: ps  drift':>19} | {'NVE 900K: ps  drift':>19}"
    )
    print(head)
    print(
        " " * 25
        + "| energies meV/atom, forces eV/Å (RMSE)"
        + " " * 8
        + "| drift meV/atom/ps (or the failure time)"
    )
    for name in potentials:
        e = err[name]
        line = (
            f"{name:<24} | {e['dft_held']['e_rmse_mev']:6.1f} {e['reference']['e_rmse_mev']:6.1f}"
            f" {e['gap_held']['e_rmse_mev']:6.1f} | {e['dft_held']['f_rmse']:6.3f}"
            f" {e['reference']['f_rmse']:6.3f} {e['gap_held']['f_rmse']:6.3f}"
        )
        for run in nve.get(name, []):
            if "failed" in run:
                line += f" | {'lost at ' + format(run['ps'], '.2f'):>10} ps    "
            else:
                line += f" | {run['ps']:6.2f} {run['drift_mev_atom_ps']:+9.3f}   "
        print(line)
    print("NVE details (mean T over the second half, max T, E_tot span, wall time, load average at the end):")
    for name, runs in nve.items():
        for run in runs:
            head = f"  {name:<24} {2 * run['target_T']:.0f} K start:"
            load = "not recorded" if run.get("load") is None else f"{run['load']:.1f}"
            if "failed" in run:
                print(f"{head} {run['failed']} after {run['ps']:.2f} ps")
            else:
                print(
                    f"{head} mean T {run['mean_T_second_half']:.0f} K,"
                    f" max {run['max_T']:.0f} K, span {run['etot_span_mev_atom']:.2f} meV/atom,"
                    f" {run['wall_s']:.0f} s wall, load {load}"
                )
    print("dimer energies against 4.9 Å (eV):")
    for name, curves in dimers.items():
        for pair, curve in curves.items():
            cells = "  ".join(f"{r} {e:+7.2f}" for r, e in curve.items())
            print(f"  {name:<24} {pair:<6} {cells}")
    print("reference set by config_type (energy meV/atom / force eV/Å RMSE):")
    for ct in err["GAP teacher"]["reference"]["by_type"]:
        for name in potentials:
            row = err[name]["reference"]["by_type"][ct]
            print(f"  {ct:<9} {name:<24} {row['e_rmse_mev']:7.1f} / {row['f_rmse']:.3f}")
    if args.json:
        args.json.write_text(
            json.dumps({"errors": err, "nve": nve, "dimers": dimers, "fit_errors": fit_errors}, indent=1)
        )


def nve_atoms(nve: dict) -> int:
    return next((run["atoms"] for runs in nve.values() for run in runs), 0)


if __name__ == "__main__":
    main()
