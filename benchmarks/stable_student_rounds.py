"""Student rounds whose MD is the stability protocol itself: an accurate POD that is also stable?

Run after ``bash scripts/demo.sh`` and ``benchmarks/fast_potential_targets.py`` (the same
configured database; it reuses that script's teacher labels):

    python benchmarks/stable_student_rounds.py --work /tmp/stable-rounds [--tag demo] [--rounds 6]

One ``IndirectLearningMaker`` flow, every step through the project's makers and the database:

- the teacher (the demo loop's last GAP) melts and quenches the six small cells of
  ``fast_potential_targets.teacher_cells`` and labels 200 rattled and strained copies of every
  DFT training crystal (``CrystalCopies``);
- every student is also fitted on the teacher labels of the earlier flows of that script
  (``synthetic_tags``: the taught, rounds and large-cell rounds students') and on the DFT
  structures x64;
- the student: the 825-coefficient POD (``MID_BASIS``), least squares, energy weight 300,
  ridge 1e-2, no evaluation of its training frames (``evaluate_train=False``);
- each round runs the latest student through the stability protocol (2 ps at 1,500 K, 4 ps
  at 1,000 K under a thermostat, then 20 ps of NVE) on a 1,000-atom Ge2Sb2Te5 and a 200-atom
  GeTe packing, saving a frame every 5 steps; the teacher labels up to 30 frames of each run
  and, of a run its MD checks stopped, the last 12 frames before the stop.

``--fresh N`` runs each round on new packings instead (``FreshPackings``: N 1,000-atom
Ge2Sb2Te5 and one 200-atom GeTe packing per round), and ``--stable-rounds K`` (with
``--until-stable``) makes a student pass K such rounds in a row. ``--after TAG`` runs the
flow again (tag ``TAG-next``) with every student also learning the labels of an earlier run
tagged ``TAG`` (its copies and its rounds), without labelling copies again; repeat it to
learn several earlier runs (the tag follows the last). ``--melt-screen N`` makes each round's
runs the stability protocol's melt alone (2 ps at 1,500 K from the packing, where nearly all
blow-ups happen; 25 s for a student at 1,000 atoms) on N new 1,000-atom Ge2Sb2Te5 packings
(``FreshPackings``), so a round judges a student on many packings; the teacher labels the
frames at 1 and 2 ps and, of a run that blew up, the last 12 frames before the stop.
``--standalone`` learns no labels of earlier flows (for a database holding only the demo's:
no ``fast_potential_targets.py`` run before). ``--reseed`` gives each round's runs
other MD seeds (``student_reseed``). ``--until-stable`` ends the rounds at the first student
whose runs all complete (``IndirectLearningMaker(until_stable=True)``). Then the last student
goes through the stability protocol on an unseen packing (the one of
``fast_potential_targets.stability``), runs the melt of the stability protocol on twelve more
unseen packings (seeds 101-112, ``stability_screen.py``), and its errors against DFT are
measured on the held-out cells (``<tag>-heldout``, and ``<tag>-heldout-extra`` when
labelled), as ratios to the GAP's with paired-bootstrap intervals.
Prints the table of rounds and those figures; each part is cached under ``--work``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_potential_targets import (
    DENSITY,
    LSTSQ_DFT_REPEAT,
    MID_BASIS,
    _cached,
    _indirect,
    accuracy,
    large_cells,
    liquid_nve,
    melt_stage,
    print_ratio_intervals,
    stability,
    teacher_cells,
    teacher_id,
)
from stability_screen import seeds, stop

from gst_flows.fit.pod_lstsq import PodLeastSquares

#: Teacher labels of earlier flows of ``fast_potential_targets.py`` every student also learns.
EARLIER_TAGS = ("taught", "rounds", "large-rounds")


def zbl_suffix(zbl: tuple[float, float] | None) -> str:
    """``-zbl-1-2`` for a baseline other than the default, else nothing (tags and cache names)."""
    return f"-zbl-{zbl[0]:g}-{zbl[1]:g}" if zbl else ""


def stability_rounds(
    teacher: str,
    tag: str,
    rounds: int,
    copies: int,
    until_stable: bool = False,
    after: list[str] | None = None,
    reseed: bool = False,
    fresh: int = 0,
    stable_rounds: int = 1,
    melt_screen: int = 0,
    standalone: bool = False,
    zbl: tuple[float, float] | None = None,
    packing_seed: int = 2026,
) -> dict:
    """The flow's figures. ``after``: tags of earlier runs of this flow whose labels
    (copies and rounds included) every student learns too; no copies are labelled again."""
    from gst_flows.fit.pod import ZblBaseline
    from gst_flows.flows.crystal_copies import CrystalCopies
    from gst_flows.makers.md import GapMDMaker
    from gst_flows.makers.pod import DEFAULT_POD_BASELINE, DEFAULT_POD_BASIS, PodFitMaker

    student = PodFitMaker(
        baseline=ZblBaseline(*zbl) if zbl else DEFAULT_POD_BASELINE,
        name="student pod fit (825 coefficients, stability rounds)",
        basis=replace(DEFAULT_POD_BASIS, **MID_BASIS),
        solver=PodLeastSquares(energy_weight=300.0, ridge=1e-2),
        test_fraction=0.0,
        evaluate_train=False,
    )
    protocol = GapMDMaker(
        name="student md stability",
        engine="lammps",
        thermo_interval=25,
        frame_interval=50,
        protocol=liquid_nve("stability", 5, 2000.0, 4000.0, 20000.0),
    )
    if melt_screen:
        protocol = replace(
            protocol,
            name="student md melt",
            protocol=melt_stage(protocol.protocol, "melt"),
            frame_interval=500,
        )
    kind = "melt-screen" if melt_screen else "stability"
    earlier = [] if standalone else [f"{tag}-{name}-synthetic" for name in EARLIER_TAGS]
    settings = {
        "tag": f"{after[-1]}-next" if after else f"{tag}-{kind}-rounds{zbl_suffix(zbl)}",
        "dft_repeat": LSTSQ_DFT_REPEAT,
        "student_maker": student,
        "student_rounds": rounds,
        "until_stable": until_stable,
        "student_reseed": reseed,
        "stable_rounds": stable_rounds,
        "student_md_makers": [protocol],
        "student_frame_interval": 5,
        "blowup_frames": 12,
        "n_frames": 30,
        "crystal_copies": None
        if after
        else CrystalCopies(n_copies=copies, rattle=0.15, strain=0.03, seed=7000),
        "synthetic_tags": [*earlier, *(f"{a}-synthetic" for a in after or ())],
    }
    cells = large_cells()
    if fresh or melt_screen:
        from gst_flows.flows.fresh_packings import FreshPackings

        gst, gete = ({"Ge": 222, "Sb": 222, "Te": 556}, {"Ge": 100, "Te": 100})
        counts = [gst] * melt_screen if melt_screen else [gst] * fresh + [gete]
        cells = FreshPackings(counts=counts, density=DENSITY, min_distance=2.5, seed=packing_seed)
    return _indirect(teacher, tag, settings, teacher_cells(), student_cells=cells)


def _print_rounds(rounds: list[dict]) -> None:
    print(f"{'student':>7} {'runs':>4} {'stopped':>7} {'labelled':>8}   vs DFT held-out (meV/atom, eV/Å)")
    for r in rounds:
        dft = r.get("errors_vs_dft") or {}
        errors = f"{1000 * dft['energy_rmse']:6.1f} {dft['force_rmse']:6.3f}" if dft else "-"
        print(f"{r['round']:>7} {r['n_runs']:>4} {len(r['stopped_runs']):>7} {r['n_labelled']:>8}   {errors}")
        for name in r["stopped_runs"]:
            print(f"{'':>22}stopped: {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/stable-rounds"))
    parser.add_argument("--tag", default="demo", help="tag of the DFT labels (the demo's)")
    parser.add_argument("--teacher", help="GAP potential id (default: the loop's last)")
    parser.add_argument("--rounds", type=int, default=6, help="student rounds")
    parser.add_argument("--copies", type=int, default=200, help="teacher copies per DFT crystal")
    parser.add_argument(
        "--until-stable",
        action="store_true",
        help="end the rounds at the first student whose runs all complete",
    )
    parser.add_argument("--reseed", action="store_true", help="other MD seeds every round (student_reseed)")
    parser.add_argument("--fresh", type=int, default=0, help="new packings every round: this many Ge2Sb2Te5")
    parser.add_argument(
        "--melt-screen", type=int, default=0, help="each round: the melt alone on N new packings"
    )
    parser.add_argument("--standalone", action="store_true", help="learn no labels of earlier flows")
    parser.add_argument("--packing-seed", type=int, default=2026, help="seed of the fresh packings")
    parser.add_argument("--zbl", help="the student's ZBL baseline INNER,OUTER in Å (default 1.5,2.5)")
    parser.add_argument(
        "--stable-rounds", type=int, default=1, help="clean rounds in a row for --until-stable"
    )
    parser.add_argument(
        "--after",
        action="append",
        help="tag of an earlier run of this flow (its rounds' labels are learnt; run tag <after>-next)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)

    teacher = args.teacher or teacher_id(args.tag)
    stem = f"rounds-{args.rounds}" + ("-until-stable" if args.until_stable else "")
    stem += "".join(f"-after-{a}" for a in args.after or ())
    stem += "-reseed" if args.reseed else ""
    stem += f"-fresh-{args.fresh}" if args.fresh else ""
    stem += f"-stable-{args.stable_rounds}" if args.stable_rounds > 1 else ""
    stem += f"-melt-screen-{args.melt_screen}" if args.melt_screen else ""
    stem += "-standalone" if args.standalone else ""
    zbl = tuple(float(v) for v in args.zbl.split(",")) if args.zbl else None
    stem += zbl_suffix(zbl)
    stem += f"-packings-{args.packing_seed}" if args.packing_seed != 2026 else ""
    run = _cached(
        work / f"{stem}.json",
        lambda: stability_rounds(
            teacher,
            args.tag,
            args.rounds,
            args.copies,
            args.until_stable,
            args.after,
            args.reseed,
            args.fresh,
            args.stable_rounds,
            args.melt_screen,
            args.standalone,
            zbl,
            args.packing_seed,
        ),
    )
    student = run["student"]
    nve = _cached(work / f"nve-{student}.json", lambda: stability(student, work, quick=False))
    screen = {
        seed: _cached(
            work / f"melt-{student}-{seed}.json",
            lambda seed=seed: stability(student, work, False, packing_seed=seed, melt_only=True),
        )
        for seed in seeds("101-112")
    }
    acc = _cached(
        work / f"accuracy-{student}.json",
        lambda: {"table": accuracy({"GAP": teacher, "POD stability rounds": student}, args.tag)},
    )["table"]

    print(f"teacher GAP {teacher}; student rounds on the stability protocol, last student {student}")
    print(f"flow: {run['wall_s'] / 60:.0f} min, {run['n_synthetic']} teacher training labels")
    _print_rounds(run["rounds"])
    print(
        "last student, stability protocol on an unseen 1,000-atom packing: "
        + (
            f"completed, NVE drift {nve['drift_mev_atom_ps']:+.4f} meV/atom/ps"
            if nve.get("completed")
            else f"stopped by the MD checks: {nve.get('failure')}"
        )
    )
    done = sum(bool(r.get("completed")) for r in screen.values())
    print(f"  melt on 12 more unseen packings (seeds 101-112): {done} completed")
    for seed, result in screen.items():
        if not result.get("completed"):
            print(f"    packing {seed}: {stop(result)}")
    for name, row in acc.items():
        parts = "  ".join(
            f"{part} {row[part]['e_rmse_mev']:.1f} meV/atom {row[part]['f_rmse']:.3f} eV/Å"
            for part in ("held", "held+extra", "reference")
            if part in row
        )
        print(f"  {name:<22}{parts}")
    print_ratio_intervals(acc)
    if args.json:
        figures = {"rounds": run, "nve": nve, "melt_screen": screen, "accuracy": acc}
        args.json.write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
