"""The fast-potential targets of the POD backend, measured on the demo database in one run.

Run after ``bash scripts/demo.sh`` (the same configured database):

    python benchmarks/fast_potential_targets.py --work /tmp/targets [--tag demo] [--json out.json]

What it does, every step through the project's own makers and the database:

1. **Teacher**: the demo loop's last GAP (``--teacher`` overrides), fitted to the DFT labels of
   ``--tag`` (held-out set: ``<tag>-heldout``).
2. **Students**: a POD fitted to the same DFT labels alone (``PodFitMaker``, the default basis
   and ZBL baseline), and a POD taught by the GAP (``IndirectLearningMaker``: the teacher's
   1,500 K melt and quench to 300 K of 30-atom random packings of GeTe, Ge1Sb2Te4, Ge2Sb2Te5
   and Sb2Te3 and of rock-salt GeTe and Ge1Sb2Te4, teacher labels plus the DFT labels five
   times); least-squares variants of both, a student improved over rounds of its own MD
   (``student_rounds``), a 4-body least-squares POD on every teacher label of those, and two
   students whose rounds run on large cells (``large_cell_rounds``: a 1,000-atom Ge2Sb2Te5
   and a 200-atom GeTe packing, melt-quench plus a long liquid run; 2+3-body and 4-body).
3. **Accuracy**: energy and force RMSE of the GAP and both PODs against DFT on the held-out
   labels of the loop and on the shipped reference set (neither is trained on), and their
   ratios to the GAP's.
4. **Cost**: LAMMPS loop time per atom-step of the GAP (``pair_style quip``) and the taught POD
   (``pair_style pod``) on a rattled 8,000-atom rock-salt GeTe cell, 1 and 2 MPI ranks, one
   after the other in this run; the ratio is the figure.
5. **Stability**: every fast student on a 1,000-atom Ge2Sb2Te5 liquid (random packing melted at
   1,500 K for 2 ps, 1,000 K for 4 ps under a thermostat), then 20 ps of NVE; the total-energy
   drift from the MD document (``GapMDMaker``, LAMMPS engine, blow-up checks on).

Each step's result is cached under ``--work`` (delete a file there to redo that step).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

from gst_flows.execution import run_local
from gst_flows.fit import error_table, predict, rmse_ratio
from gst_flows.fit.data import is_isolated_atom
from gst_flows.fit.pod_lstsq import PodLeastSquares
from gst_flows.fit.reference import load_reference_set
from gst_flows.makers.fit import TrainingSelection
from gst_flows.structures import build_rocksalt
from gst_flows.structures.devices.common import random_packing

PACKINGS = {"GeTe": {"Ge": 15, "Te": 15}, "Ge1Sb2Te4": {"Ge": 4, "Sb": 8, "Te": 16},
            "Ge2Sb2Te5": {"Ge": 6, "Sb": 6, "Te": 15}, "Sb2Te3": {"Sb": 12, "Te": 18}}  # fmt: skip
DENSITY = 0.031  # atoms/Å³, amorphous/liquid GST


def _cached(path: Path, compute):
    if path.is_file():
        return json.loads(path.read_text())
    start = time.perf_counter()
    out = compute()
    out["wall_s"] = time.perf_counter() - start
    path.write_text(json.dumps(out, indent=1, default=str))
    return out


def _last_output(responses, flow):
    outputs = responses.get(flow.jobs[-1].uuid if hasattr(flow, "jobs") else flow.uuid, {})
    return outputs[max(outputs)].output


def teacher_id(tag: str) -> str:
    from gst_flows.settings import get_settings
    from gst_flows.store import get_database

    settings = get_settings()
    found = get_database(settings)[settings.outputs_collection].find_one(
        {"output.@class": "IterationDoc", "output.tag": tag}, sort=[("output.iteration", -1)]
    )
    if found is None:
        raise SystemExit(f"no active-learning iteration tagged {tag!r}: run bash scripts/demo.sh first")
    return found["output"]["potential_id"]


def packing(formula: str, seed: int):
    counts = PACKINGS[formula]
    side = (sum(counts.values()) / DENSITY) ** (1 / 3)
    return random_packing((side, side, side), counts, min_distance=2.5, seed=seed)


def teacher_cells() -> list:
    """The six 27-32-atom cells of the teacher's melt-quench runs."""
    cells = [packing(f, seed=k) for k, f in enumerate(PACKINGS)]
    return [*cells, build_rocksalt("GeTe", (2, 2, 1), seed=0), build_rocksalt("Ge1Sb2Te4", (2, 2, 1), seed=0)]


def _indirect(teacher: str, tag: str, settings: dict, cells, **make_kwargs) -> dict:
    """Run an ``IndirectLearningMaker`` flow whose teacher melts and quenches ``cells``; the
    figures of its last document. Melt-quench only: heating an unrelaxed random packing from
    300 K trips the MD temperature check within a few steps (the packing heats itself to
    ~1,000 K); the flow would skip such runs (``IndirectLearningDoc.failed_runs``), but they
    would teach nothing."""
    from gst_flows.flows.indirect import IndirectLearningMaker, default_teacher_md_makers

    maker = IndirectLearningMaker(
        teacher=teacher,
        md_makers=default_teacher_md_makers()[:1],
        dft_tag=tag,
        dft_test_tag=f"{tag}-heldout",
        seed=0,
        **settings,
    )
    flow = maker.make(cells, **make_kwargs)
    docs = [r.output for resp in run_local(flow).values() for r in resp.values()]
    # the last document: most rounds, then the one that records the last student's runs
    doc = max(
        (d for d in docs if type(d).__name__ == "IndirectLearningDoc"),
        key=lambda d: (
            len(d.student_rounds),
            bool(d.stable),
            d.student_rounds[-1].n_runs if d.student_rounds else 0,
        ),
    )
    return {
        "student": doc.student_potential_id,
        "stable": doc.stable,
        "n_synthetic": doc.n_synthetic,
        "n_synthetic_heldout": doc.n_synthetic_heldout,
        "cells": [c.get_chemical_formula() for c in cells],
        "vs_teacher": {k: v.model_dump() for k, v in doc.errors_vs_teacher.items()},
        "rounds": [r.model_dump(mode="json") for r in doc.student_rounds],
    }


def teach(teacher: str, tag: str, work: Path, rounds: int = 0) -> dict:
    """The taught POD (``fitpod``) or, with ``rounds``, the least-squares one with student rounds."""
    from gst_flows.makers.pod import PodFitMaker

    settings = {"tag": f"{tag}-taught", "dft_repeat": 5}
    if rounds:
        student = PodFitMaker(
            name="student pod fit (least squares)", solver=PodLeastSquares(), test_fraction=0.0
        )
        settings = {
            "tag": f"{tag}-rounds",
            "dft_repeat": LSTSQ_DFT_REPEAT,
            "student_maker": student,
            "student_rounds": rounds,
        }
    return _indirect(teacher, tag, settings, teacher_cells())


def liquid_nve(name: str, seed: int, melt_fs: float, liquid_fs: float, nve_fs: float):
    """Melt at 1,500 K, hold the liquid at 1,000 K (Langevin), then NVE; time step 2 fs."""
    from gst_flows.md.protocol import Protocol, Stage

    return Protocol(
        name=name,
        seed=seed,
        initial_temperature=1500.0,
        stages=[
            Stage(name="melt", ensemble="nvt", timestep=2.0, duration=melt_fs, temperature=1500.0),
            Stage(name="liquid", ensemble="nvt", timestep=2.0, duration=liquid_fs, temperature=1000.0),
            Stage(name="nve", ensemble="nve", timestep=2.0, duration=nve_fs),
        ],
    )


def melt_stage(protocol, name: str):
    """``protocol`` cut to its first stage (the melt from the packing, where most blow-ups happen)."""
    return protocol.model_copy(update={"name": name, "stages": protocol.stages[:1]})


def large_cells() -> list:
    """The student's cells of the large-cell rounds: 1,000-atom Ge2Sb2Te5, 200-atom GeTe packings."""
    cells = []
    for counts, seed in (({"Ge": 222, "Sb": 222, "Te": 556}, 21), ({"Ge": 100, "Te": 100}, 22)):
        side = (sum(counts.values()) / DENSITY) ** (1 / 3)
        cells.append(random_packing((side, side, side), counts, min_distance=2.5, seed=seed))
    return cells


def large_cell_rounds(teacher: str, tag: str, work: Path, variant: str = "2+3-body") -> dict:
    """Student rounds whose MD is a melt-quench and a long liquid run of :func:`large_cells`.

    The teacher melts and quenches :func:`teacher_cells`; each of :data:`STUDENT_ROUNDS`
    rounds runs the latest student's melt-quench (a frame every 10 steps) and a long liquid
    run (1 ps at 1,500 K, 2 ps at 1,000 K, 8 ps NVE; a frame every 50 steps) on both large
    cells, and the teacher labels up to 30 frames of each run (the last 5 before a stop
    included). Least squares, DFT structures x :data:`LSTSQ_DFT_REPEAT`. ``variant``:
    ``2+3-body`` (the default basis and solver), ``4-body`` (the basis and solver of
    :func:`four_body_lstsq`) or ``copies``: the :data:`MID_BASIS` student (energy weight 30,
    ridge 1e-2), the teacher's copies of the DFT crystals (those of :func:`crystal_copies_lstsq`,
    so their labels are reused) and the 2+3-body rounds' teacher labels
    (``synthetic_tags``): with them a prototype of this student got through the 1,500 K melt.
    """
    from dataclasses import replace

    from gst_flows.flows.crystal_copies import CrystalCopies
    from gst_flows.flows.indirect import default_teacher_md_makers
    from gst_flows.makers.md import GapMDMaker
    from gst_flows.makers.pod import DEFAULT_POD_BASIS, PodFitMaker

    label, basis, solver = {
        "2+3-body": ("least squares", {}, PodLeastSquares()),
        "4-body": ("4-body, least squares", FOUR_BODY, PodLeastSquares(energy_weight=100.0, ridge=1e-2)),
        "copies": (
            "825 coefficients, least squares",
            MID_BASIS,
            PodLeastSquares(energy_weight=30.0, ridge=1e-2),
        ),
    }[variant]
    student = PodFitMaker(
        name=f"student pod fit ({label})",
        basis=replace(DEFAULT_POD_BASIS, **basis),
        solver=solver,
        test_fraction=0.0,
    )
    extra = (
        {
            "crystal_copies": CrystalCopies(n_copies=CRYSTAL_COPIES, rattle=0.15, strain=0.03, seed=7000),
            "synthetic_tags": [f"{tag}-large-rounds-synthetic"],
        }
        if variant == "copies"
        else {}
    )
    melt_quench = default_teacher_md_makers()[:1]
    long_liquid = GapMDMaker(
        name="student md long liquid",
        engine="lammps",
        thermo_interval=25,
        frame_interval=50,
        protocol=liquid_nve("long-liquid", 5, 1000.0, 2000.0, 8000.0),
    )
    student_md = [replace(melt_quench[0], name="student md melt-quench", engine="lammps", frame_interval=10)]
    suffix = {"2+3-body": "", "4-body": "-4body", "copies": "-copies"}[variant]
    settings = {
        **extra,
        "tag": f"{tag}-large-rounds{suffix}",
        "dft_repeat": LSTSQ_DFT_REPEAT,
        "student_maker": student,
        "student_rounds": STUDENT_ROUNDS,
        "student_md_makers": [*student_md, long_liquid],
        "student_frame_interval": None,
        "n_frames": 30,
    }
    return _indirect(teacher, tag, settings, teacher_cells(), student_cells=large_cells())


def dft_only_pod(tag: str, work: Path, solver=None) -> dict:
    from gst_flows.makers.pod import PodFitMaker

    suffix = "-lstsq" if solver else ""
    job = PodFitMaker(tags=[f"{tag}-pod-dft{suffix}"], solver=solver).make(
        TrainingSelection(tag=tag), test_source=TrainingSelection(tag=f"{tag}-heldout")
    )
    job.config.expose_store = True
    doc = _last_output(run_local(job), job)
    return {"pod": doc.potential_id, "fit_s": doc.wall_time_s}


#: DFT weight of the least-squares student: each DFT structure 64 times (weight 8 against a
#: teacher frame), the lowest 5-fold cross-validated DFT force error among 1, 4, 16 and 64
#: repeats (folds over the DFT training structures, teacher frames always in).
LSTSQ_DFT_REPEAT = 64

#: Rounds of the least-squares student's own MD, labelled by the teacher (``student_rounds``).
STUDENT_ROUNDS = 3


def taught_lstsq(tag: str, work: Path) -> dict:
    """The taught POD refitted by least squares on the same teacher and DFT labels."""
    from gst_flows.fit.pod_lstsq import PodLeastSquares
    from gst_flows.makers.pod import PodFitMaker

    maker = PodFitMaker(
        name="student pod fit (least squares)",
        solver=PodLeastSquares(),
        test_fraction=0.0,
        evaluate_train=False,
        tags=[f"{tag}-taught-lstsq"],
    )
    sources = [
        TrainingSelection(tag=f"{tag}-taught-synthetic", synthetic=True),
        TrainingSelection(tag=tag, repeat=LSTSQ_DFT_REPEAT),
    ]
    job = maker.make(sources, test_source=TrainingSelection(tag=f"{tag}-heldout"))
    job.config.expose_store = True
    doc = _last_output(run_local(job), job)
    return {"pod": doc.potential_id, "fit_s": doc.wall_time_s, "dft_repeat": LSTSQ_DFT_REPEAT}


#: 4-body student: radial 3, angular 2 on top of the default 2- and 3-body terms; energy
#: weight 100 and ridge 1e-2 (the least-squares prototype's best held-out energies with
#: teacher labels, docs/fast-potentials.md).
FOUR_BODY = {"four_body_radial": 3, "four_body_angular": 2}


def _taught_lstsq_student(tag: str, name: str, basis: dict, fit_tag: str, extra_sources=()) -> dict:
    """A least-squares POD (energy weight 100, ridge 1e-2) on every teacher label of the taught
    and rounds students, the DFT structures x :data:`LSTSQ_DFT_REPEAT` and ``extra_sources``."""
    from dataclasses import replace

    from gst_flows.makers.pod import DEFAULT_POD_BASIS, PodFitMaker

    maker = PodFitMaker(
        name=name,
        basis=replace(DEFAULT_POD_BASIS, **basis),
        solver=PodLeastSquares(energy_weight=100.0, ridge=1e-2),
        test_fraction=0.0,
        evaluate_train=False,
        tags=[fit_tag],
    )
    sources = [
        *extra_sources,
        TrainingSelection(tag=f"{tag}-taught-synthetic", synthetic=True),
        TrainingSelection(tag=f"{tag}-rounds-synthetic", synthetic=True),
        TrainingSelection(tag=tag, repeat=LSTSQ_DFT_REPEAT),
    ]
    job = maker.make(sources, test_source=TrainingSelection(tag=f"{tag}-heldout"))
    job.config.expose_store = True
    doc = _last_output(run_local(job), job)
    return {"pod": doc.potential_id, "fit_s": doc.wall_time_s, "n_structures": doc.training_set.n_structures}


def four_body_lstsq(tag: str, work: Path) -> dict:
    """A 4-body POD by least squares on every teacher label of the taught and rounds students."""
    return _taught_lstsq_student(
        tag, "student pod fit (4-body, least squares)", FOUR_BODY, f"{tag}-4body-lstsq"
    )


#: Larger basis of the crystal-copies student: 3-body 4 x 3 and 4-body 4 x 3 (1,185 coefficients).
LARGE_BASIS = {"three_body_radial": 4, "three_body_angular": 3, "four_body_radial": 4, "four_body_angular": 3}
#: Basis of the copies-and-rounds student: 3-body 4 x 3, 4-body 4 x 2 (825 coefficients). At 8,000
#: atoms it cost 1.6x the 2+3-body POD per atom-step, :data:`LARGE_BASIS` 2.7x (same run).
MID_BASIS = {"three_body_radial": 4, "three_body_angular": 3, "four_body_radial": 4, "four_body_angular": 2}
#: Teacher copies per DFT training crystal (rattle 0.15 Å, strain 0.03: the held-out crystals' kind);
#: each is one label job (1-8 s of job and database overhead here against milliseconds of teacher).
CRYSTAL_COPIES = 50


def crystal_copies_lstsq(teacher: str, tag: str, work: Path) -> dict:
    """The larger-basis POD on the teacher's labels of crystal copies plus every stored teacher frame.

    The teacher labels :data:`CRYSTAL_COPIES` copies of each DFT training crystal of ``tag``
    (``crystal_copies_job``, the job ``IndirectLearningMaker(crystal_copies=...)`` adds); the
    student (:data:`LARGE_BASIS`, least squares, energy weight 100, ridge 1e-2) is fitted on
    them, the teacher frames of the taught and rounds students and the DFT structures
    x :data:`LSTSQ_DFT_REPEAT`.
    """
    from gst_flows.flows.crystal_copies import CrystalCopies, crystal_copies_job
    from gst_flows.makers.teacher import TeacherLabelMaker, teacher_ref

    ref = teacher_ref(teacher)
    copies_tag = f"{tag}-copies-synthetic"
    settings = CrystalCopies(n_copies=CRYSTAL_COPIES, rattle=0.15, strain=0.03, seed=7000)
    start = time.perf_counter()
    run_local(crystal_copies_job(settings, tag, TeacherLabelMaker(teacher=ref), copies_tag, ref))
    label_s = time.perf_counter() - start
    out = _taught_lstsq_student(
        tag,
        "student pod fit (large basis, crystal copies, least squares)",
        LARGE_BASIS,
        f"{tag}-copies-lstsq",
        [TrainingSelection(tag=copies_tag, synthetic=True)],
    )
    return {**out, "label_s": label_s}


def _print_rounds(run: dict) -> None:
    for r in run["rounds"]:
        t, d = r["errors_vs_teacher"] or {}, r["errors_vs_dft"] or {}
        stops = "; ".join(r["stopped_runs"])
        print(
            f"  student {r['round']} {r['student_potential_id'][:8]}: runs {r['n_runs']}, "
            f"stopped {len(r['stopped_runs'])}, frames labelled {r['n_labelled']}; "
            f"vs teacher {_pair(t)}; vs DFT held-out {_pair(d)}" + (f"\n    stops: {stops}" if stops else "")
        )


def _pair(row: dict) -> str:
    if not row:
        return "-"
    return f"{1000 * row['energy_rmse']:.1f} meV/atom, {row['force_rmse']:.3f} eV/Å"


def _row(table) -> dict:
    row = table["all"]
    return {"frames": row.n_structures, "e_rmse_mev": 1000 * row.energy_rmse, "f_rmse": row.force_rmse}


def accuracy(potentials: dict[str, str], tag: str) -> dict:
    from gst_flows.db import find_labels
    from gst_flows.potentials import potential_calculator

    def cells(t: str) -> list:
        return [f for f in (lab.doc.to_atoms() for lab in find_labels(tag=t)) if not is_isolated_atom(f)]

    held, extra = cells(f"{tag}-heldout"), cells(f"{tag}-heldout-extra")  # extra: label_extra_heldout.py
    sets = {"held": held, "reference": load_reference_set()}
    if extra:
        sets["held+extra"] = held + extra
    out, predictions = {}, {}
    for name, pid in potentials.items():
        calc = potential_calculator(pid)
        predictions[name] = {part: predict(frames, calc) for part, frames in sets.items()}
        tables = {part: error_table(p) for part, p in predictions[name].items()}
        out[name] = {part: _row(table) for part, table in tables.items()}
        out[name]["reference_by_config_type"] = {
            ct: {"e_rmse_mev": 1000 * r.energy_rmse, "f_rmse": r.force_rmse}
            for ct, r in tables["reference"].items()
            if ct != "all"
        }
    base = predictions.get("GAP")
    for name, row in out.items():
        if base is not None and name != "GAP":  # ratios to the GAP with their bootstrap intervals
            pairs = {part: (predictions[name][part], base[part]) for part in sets}
            row["vs_gap"] = {
                part: {q: asdict(rmse_ratio(*pair, q)) for q in ("energy", "forces")}
                for part, pair in pairs.items()
            }
    return out


def print_ratio_intervals(acc: dict) -> None:
    """The ratios to the GAP with 90 % paired-bootstrap intervals over the structures."""
    print("ratio to the GAP, 90 % interval of a paired bootstrap over structures (E energy, F forces):")
    for name, row in acc.items():
        if "vs_gap" in row:
            cells = "  ".join(
                f"{part} {q[0].upper()} {r['ratio']:.2f} ({r['low']:.2f}-{r['high']:.2f})"
                for part, by in row["vs_gap"].items()
                for q, r in by.items()
            )
            print(f"  {name:<18}{cells}")


def lammps_potential(pid: str, work: Path):
    from gst_flows.makers.md import GapMDMaker
    from gst_flows.md.lammps import LammpsPotential
    from gst_flows.md.potential import potential_file

    potential, _ = GapMDMaker(potential=pid, engine="lammps").resolved_potential()
    if isinstance(potential, LammpsPotential):
        return potential
    return LammpsPotential.gap(potential_file(potential, work)[0])


def cost(potentials: dict[str, str], work: Path, quick: bool) -> dict:
    from gst_flows.md.cost import measure_lammps_cost
    from gst_flows.md.lammps import LammpsRunner

    cell = build_rocksalt("GeTe", supercell=(5, 5, 5) if quick else (10, 10, 10), seed=1)
    cell.rattle(0.02, seed=3)
    out = {"atoms": len(cell)}
    for ranks in (1, 2):
        for name, pid in potentials.items():
            pot = lammps_potential(pid, work)
            load = os.getloadavg()[0]
            steps = 2 if name == "GAP" else 50
            c = measure_lammps_cost(
                pot,
                cell,
                steps=steps,
                runner=LammpsRunner(nprocs=ranks),
                workdir=work / f"cost-{name}-{ranks}",
                seconds=20.0,
            )
            out[f"{name}-{ranks}"] = {
                "us_per_atom_step": 1e6 * c.seconds_per_atom_step,
                "steps": c.evaluations,
                "load_before": load,
                "load_after": os.getloadavg()[0],
            }
    return out


def stability(
    pid: str,
    work: Path,
    quick: bool,
    packing_seed: int = 7,
    melt_only: bool = False,
    velocity_seed: int = 11,
    fresh_seed: int | None = None,
) -> dict:
    """The stability protocol on a fresh 1,000-atom Ge2Sb2Te5 packing (200 atoms and 2 ps of
    NVE with ``quick``): its NVE drift, or the MD check that stopped it. ``melt_only``: the
    first stage alone (2 ps at 1,500 K from the packing), where most blow-ups happen.
    ``velocity_seed``: the protocol's seed (velocities and thermostat noise). ``fresh_seed``:
    the packing is the first cell of round ``packing_seed`` of ``FreshPackings(seed=fresh_seed)``
    (the packings a flow's student rounds run on) instead of ``random_packing(seed=packing_seed)``."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from gst_flows.flows.fresh_packings import FreshPackings
    from gst_flows.makers.md import GapMDMaker

    counts = {"Ge": 222, "Sb": 222, "Te": 556} if not quick else {"Ge": 44, "Sb": 44, "Te": 112}
    side = (sum(counts.values()) / DENSITY) ** (1 / 3)
    if fresh_seed is None:
        atoms = random_packing((side, side, side), counts, min_distance=2.5, seed=packing_seed)
    else:
        fresh = FreshPackings(counts=[counts], density=DENSITY, min_distance=2.5, seed=fresh_seed)
        atoms = AseAtomsAdaptor.get_atoms(fresh.cells(packing_seed)[0])
    nve_ps = 2.0 if quick else 20.0
    protocol = liquid_nve("pod-liquid-nve", velocity_seed, 2000.0, 4000.0, 1000.0 * nve_ps)
    if melt_only:
        nve_ps = 0.0
        protocol = melt_stage(protocol, "pod-melt")
    maker = GapMDMaker(
        name="pod liquid nve",
        potential=pid,
        engine="lammps",
        protocol=protocol,
        thermo_interval=25,
        frame_interval=2500,
    )
    job = maker.make(AseAtomsAdaptor.get_structure(atoms))
    job.config.expose_store = True
    failures = []
    responses = run_local(job, failures=failures)
    if not responses.get(job.uuid):  # stopped by a blow-up check: the reason is the figure
        return {"atoms": len(atoms), "nve_ps": nve_ps, "completed": False, "failure": failures[-1]}
    doc = _last_output(responses, job)
    if melt_only:
        return {"atoms": len(atoms), "nve_ps": 0.0, "completed": doc.completed}
    nve = next(s for s in doc.stages if s.name == "nve")
    return {
        "atoms": len(atoms),
        "nve_ps": nve_ps,
        "completed": doc.completed,
        "drift_mev_atom_ps": 1000 * nve.nve_drift if nve.nve_drift is not None else None,
        "mean_T": nve.mean_temperature,
        "stage": nve.model_dump(exclude_none=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/fast-potential-targets"))
    parser.add_argument("--tag", default="demo", help="tag of the DFT labels (the demo's)")
    parser.add_argument("--teacher", help="GAP potential id (default: the loop's last)")
    parser.add_argument("--quick", action="store_true", help="1,000-atom cost cell, 200-atom 2 ps NVE")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)

    teacher = args.teacher or teacher_id(args.tag)
    taught = _cached(work / "teach.json", lambda: teach(teacher, args.tag, work))
    dft = _cached(work / "pod-dft.json", lambda: dft_only_pod(args.tag, work))
    dft_ls = _cached(work / "pod-dft-lstsq.json", lambda: dft_only_pod(args.tag, work, PodLeastSquares()))
    taught_ls = _cached(work / "taught-lstsq.json", lambda: taught_lstsq(args.tag, work))
    rounds = _cached(work / "rounds.json", lambda: teach(teacher, args.tag, work, rounds=STUDENT_ROUNDS))
    four = _cached(work / "four-body-lstsq.json", lambda: four_body_lstsq(args.tag, work))
    large = {
        name: _cached(
            work / f"{stem}.json", lambda v=v: large_cell_rounds(teacher, args.tag, work, variant=v)
        )
        for name, stem, v in (
            ("POD large LS", "large-rounds", "2+3-body"),
            ("POD large 4b", "large-rounds-4body", "4-body"),
        )
    }
    copies = _cached(work / "copies-lstsq.json", lambda: crystal_copies_lstsq(teacher, args.tag, work))
    # after both: it reuses the copies' labels and learns the 2+3-body rounds' labels too
    large["POD copies rounds"] = _cached(
        work / "large-rounds-copies.json",
        lambda: large_cell_rounds(teacher, args.tag, work, variant="copies"),
    )
    potentials = {"GAP": teacher, "POD dft": dft["pod"], "POD taught": taught["student"],
                  "POD dft LS": dft_ls["pod"], "POD taught LS": taught_ls["pod"],
                  "POD rounds LS": rounds["student"], "POD 4-body LS": four["pod"],
                  **{name: run["student"] for name, run in large.items()},
                  "POD copies LS": copies["pod"]}  # fmt: skip
    acc = _cached(work / "accuracy-v6.json", lambda: {"table": accuracy(potentials, args.tag)})["table"]
    fast = {"GAP": teacher, "POD taught": taught["student"], "POD taught LS": taught_ls["pod"],
            "POD rounds LS": rounds["student"], "POD 4-body LS": four["pod"],
            **{name: run["student"] for name, run in large.items()},
            "POD copies LS": copies["pod"]}  # fmt: skip
    quick = "-quick" if args.quick else ""
    md = _cached(work / f"cost-v4{quick}.json", lambda: cost(fast, work, args.quick))
    nve = {name: _cached(work / f"nve{quick}-{name.replace(' ', '-')}.json",
                         lambda pid=fast[name]: stability(pid, work, args.quick))
           for name in fast if name != "GAP"}  # fmt: skip

    print(f"teacher GAP {teacher}; DFT labels '{args.tag}', held-out '{args.tag}-heldout'")
    print(
        f"taught POD {taught['student']}: {taught['n_synthetic']} teacher frames "
        f"(+{taught['n_synthetic_heldout']} held out) from {', '.join(taught['cells'])}"
    )
    print(f"DFT-only POD {dft['pod']}; least squares (LS): DFT-only {dft_ls['pod']}, taught "
          f"{taught_ls['pod']} (same teacher frames, DFT structures x{taught_ls['dft_repeat']})")  # fmt: skip
    print(f"4-body POD {four['pod']} (least squares, every teacher label above, DFT x{LSTSQ_DFT_REPEAT})")
    print(f"copies POD {copies['pod']} (larger basis {LARGE_BASIS}; {CRYSTAL_COPIES} teacher copies per DFT "
          f"crystal, labelled in {copies['label_s']:.0f} s, plus the teacher labels above; "
          f"{copies['n_structures']} structures)")  # fmt: skip
    print(f"student rounds (least squares, {STUDENT_ROUNDS} rounds of the student's own melt-quench):")
    _print_rounds(rounds)
    big = ", ".join(c.get_chemical_formula() for c in large_cells())  # packed once, for the names
    for name, run in large.items():
        print(f"{name}: student rounds on {big} "
              "(melt-quench and a long liquid run; 'large 4b': the 4-body basis; "
              "'copies rounds': MID_BASIS with crystal copies):")  # fmt: skip
        _print_rounds(run)
    print("\naccuracy against DFT (energy meV/atom, force eV/Å RMSE; ratio to the GAP)")
    print(f"{'potential':<14}{'held E':>9}{'held F':>9}{'ref E':>9}{'ref F':>9}{'F/F_GAP held':>14}{'ref':>7}"
          f"{'E/E_GAP held':>14}{'ref':>7}")  # fmt: skip
    base = acc["GAP"]
    for name, row in acc.items():
        h, r = row["held"], row["reference"]
        print(
            f"{name:<14}{h['e_rmse_mev']:>9.1f}{h['f_rmse']:>9.3f}{r['e_rmse_mev']:>9.1f}{r['f_rmse']:>9.3f}"
            f"{h['f_rmse'] / base['held']['f_rmse']:>14.2f}{r['f_rmse'] / base['reference']['f_rmse']:>7.2f}"
            f"{h['e_rmse_mev'] / base['held']['e_rmse_mev']:>14.2f}"
            f"{r['e_rmse_mev'] / base['reference']['e_rmse_mev']:>7.2f}"
        )
    print_ratio_intervals(acc)
    print("reference set by config_type (E meV/atom / F eV/Å):")
    for ct in base["reference_by_config_type"]:
        cells = "  ".join(
            f"{name} {row['reference_by_config_type'][ct]['e_rmse_mev']:6.1f} / "
            f"{row['reference_by_config_type'][ct]['f_rmse']:.3f}"
            for name, row in acc.items()
        )
        print(f"  {ct:<10}{cells}")
    print(f"\nMD cost, LAMMPS loop time, {md['atoms']} atoms (µs per atom-step, core-seconds):")
    for ranks in (1, 2):
        g = md[f"GAP-{ranks}"]
        for name in fast:
            if name == "GAP":
                continue
            p = md[f"{name}-{ranks}"]
            print(
                f"  {ranks} rank(s): GAP {g['us_per_atom_step']:.1f} ({g['steps']} steps), {name} "
                f"{p['us_per_atom_step']:.2f} ({p['steps']} steps): "
                f"GAP/POD {g['us_per_atom_step'] / p['us_per_atom_step']:.0f}x"
                f" (load {g['load_before']:.1f}-{p['load_after']:.1f} on {os.cpu_count()} cores)"
            )
    for name, run in nve.items():
        drift = run.get("drift_mev_atom_ps")
        print(
            f"\nNVE of {name}: {run['atoms']} atoms Ge2Sb2Te5 liquid, {run['nve_ps']:g} ps after melting "
            f"at 1,500 K and 4 ps at 1,000 K: completed {run['completed']}, mean T {run['mean_T']:.0f} K, "
            f"|drift| {drift:.3f} meV/atom/ps (target < 1)"
            if drift is not None
            else f"\nNVE of {name}: not completed: {run.get('failure', run)}"
        )
    if args.json:
        out = {"teacher": teacher, "taught": taught, "dft": dft, "dft_lstsq": dft_ls,
               "taught_lstsq": taught_ls, "rounds": rounds, "four_body_lstsq": four,
               "large_rounds": large, "copies_lstsq": copies}  # fmt: skip
        out.update(accuracy=acc, cost=md, nve=nve)
        args.json.write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
