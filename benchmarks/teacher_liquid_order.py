"""Does a potential's own liquid stay chemically ordered? GAP-MD of liquid Ge2Sb2Te5 at 1,000 K.

    python benchmarks/teacher_liquid_order.py [--potential ID ...] [--tag demo] [--atoms 200]
                                              [--liquid-ps 12] [--packing-seed 7] [--seed 11]
                                              [--label N] [--refit]

``liquid_order.py`` found a student's liquid demixing in NVE and its teacher agreeing that the
separated frames are lower in energy; this runs each potential (default: the demo loop's last
GAP) itself, through ``GapMDMaker`` on the LAMMPS engine (one rank): a random Ge2Sb2Te5 packing
melted for 2 ps at 1,500 K, then ``--liquid-ps`` at 1,000 K (Langevin; time step 2 fs, a frame
every 0.5 ps), and prints per frame the share of homopolar bonds and the like-element
coordination numbers (neighbours within ``--cutoff``, by ``gst_flows.analysis``) and the mean
potential energy per atom over the last 2 ps of each half of the 1,000 K stage. The run is stored
in the configured database like any MD job. Compare a potential fitted without the elements'
crystals with one fitted with them (run in each database, ``GST_FLOWS_DATA_DIR``).

``--label N`` asks DFT: N frames of the first potential's 1,000 K stage, from the least to the
most homopolar (evenly spread in homopolar share), are labelled with the demo's CP2K protocol
through the project's label flow into ``<tag>-liquid-order`` (labels already stored are reused;
about 10-20 min per 90-atom frame on two cores), and for every potential the script prints each
frame's energy relative to the least homopolar one, DFT against the potential, and the price of
a wrong bond (``gst_flows.fit.chemical_order``): whether the potential's chemical order is DFT's.

``--judge ID`` prices the run's own chemical order by another potential (e.g. a student's run
by its teacher): every frame of the 1,000 K stage under both potentials, the difference of
their energies relative to the stage's first frame every 2 ps, and each one's price of a wrong
bond (the slope of energy per atom against wrong bonds per atom over those frames,
``gst_flows.fit.chemical_order``). The frames share one temperature, so their thermal energy
cancels in the slope, and the potential and the judge see the same frames.

``--refit`` (after ``--label``) fits a GAP with the demo loop's own fit maker on ``<tag>`` and
``<tag>-liquid-order`` (``element_refit.fit``), runs its liquid with the same packing and seeds
instead of the given potentials', and compares both on the labelled frames.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_potential_targets import DENSITY, _last_output, liquid_nve, teacher_id
from liquid_order import energy_per_atom, order

COUNTS = {"Ge": 2, "Sb": 2, "Te": 5}


def protocol(liquid_ps: float, seed: int):
    """2 ps at 1,500 K from the packing, then ``liquid_ps`` at 1,000 K; Langevin, 2 fs: the
    stability protocol's first two stages (``fast_potential_targets.liquid_nve``), no NVE."""
    whole = liquid_nve("liquid-order", seed, 2000.0, 1000.0 * liquid_ps, 2.0)
    return whole.model_copy(update={"stages": whole.stages[:2]})


def run(pid: str, atoms: int, liquid_ps: float, packing_seed: int, seed: int):
    """The MD document of one potential's run (frames in the data store)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from gst_flows.execution import run_local
    from gst_flows.makers.md import GapMDMaker
    from gst_flows.structures.devices.common import random_packing

    units = max(1, round(atoms / sum(COUNTS.values())))
    counts = {el: n * units for el, n in COUNTS.items()}
    side = (sum(counts.values()) / DENSITY) ** (1 / 3)
    packing = random_packing((side, side, side), counts, min_distance=2.5, seed=packing_seed)
    maker = GapMDMaker(
        name="liquid order",
        potential=pid,
        engine="lammps",
        protocol=protocol(liquid_ps, seed),
        thermo_interval=25,
        frame_interval=250,
    )
    job = maker.make(AseAtomsAdaptor.get_structure(packing))
    job.config.expose_store = True
    failures: list = []
    responses = run_local(job, failures=failures)
    if not responses.get(job.uuid):
        raise SystemExit(f"{pid}: the run stopped: {failures[-1] if failures else 'see the log'}")
    return _last_output(responses, job)


def label(frames, n: int, tag: str, cutoff: float) -> None:
    """Label ``n`` frames spread in homopolar share with DFT into ``<tag>-liquid-order``."""
    import os

    from gst_flows.execution import run_local
    from gst_flows.flows.label import label_flow
    from gst_flows.flows.profiles import SMALL_DFT
    from gst_flows.makers.dft import Cp2kLabelMaker

    if os.geteuid() == 0:  # OpenMPI refuses root unless told (as scripts/demo.sh does)
        os.environ.setdefault("GST_FLOWS_CP2K_CMD", "mpirun --allow-run-as-root -np 2 cp2k.psmp")
    shares = np.array([order(frame, cutoff)[0] for frame in frames])
    targets = np.linspace(shares.min(), shares.max(), n)
    chosen = sorted({int(np.argmin(np.abs(shares - target))) for target in targets})
    picked = []
    for k in chosen:
        frame = frames[k].copy()
        when = f"{frame.info.get('time_fs', 0):.0f} fs"
        frame.info = {"config_type": "liquid", "generator": f"teacher_liquid_order.py frame at {when}"}
        picked.append(frame)
    failures: list = []
    labeller = Cp2kLabelMaker(settings=SMALL_DFT)
    flow = label_flow(picked, labeller, name="liquid order", tag=f"{tag}-liquid-order")
    run_local(flow, failures=failures)
    print(f"DFT labels of {len(picked)} frames; failures: {failures or 'none'}")


def compare(pids: list[str], tag: str, cutoff: float) -> None:
    """Each labelled frame's energy relative to the least homopolar one, DFT against each potential."""
    from gst_flows.fit import predict
    from gst_flows.fit.chemical_order import chemical_order_check, format_chemical_order
    from gst_flows.fit.data import is_isolated_atom
    from gst_flows.makers.training import TrainingSelection, load_training_frames
    from gst_flows.potentials import potential_calculator

    labelled, described = load_training_frames(TrainingSelection(tag=f"{tag}-liquid-order"))
    labelled = sorted((f for f in labelled if not is_isolated_atom(f)), key=lambda f: order(f, cutoff)[0])
    print(f"{len(labelled)} DFT-labelled liquid frames ({described})")
    for pid in pids:
        predictions = predict(labelled, potential_calculator(pid))
        n_atoms = np.asarray(predictions.n_atoms, dtype=float)
        dft = np.asarray(predictions.energy_ref) / n_atoms
        pot = np.asarray(predictions.energy_pred) / n_atoms
        print(f"{pid[:8]}: energy relative to the least homopolar labelled frame, meV/atom")
        for frame, d, e in zip(labelled, dft - dft[0], pot - pot[0], strict=True):
            share = order(frame, cutoff)[0]
            print(f"  homopolar {share:.2f}  DFT {1000 * d:8.1f}  potential {1000 * e:8.1f}")
        check = chemical_order_check(labelled, predictions, config_types=None, min_frames=2, required=False)
        if check is not None:
            print(format_chemical_order(check, name=pid[:8]))


def judge(frames, pid: str, judge_id: str) -> None:
    """``pid``'s energies on its own liquid frames against ``judge_id``'s, and both prices of a
    wrong bond (the judge's energies stand in for the labels of the chemical-order check)."""
    from gst_flows.fit import predict
    from gst_flows.fit.chemical_order import chemical_order_check, format_chemical_order
    from gst_flows.potentials import potential_calculator

    calc = potential_calculator(judge_id)
    marked = []
    for frame in frames:
        copy = frame.copy()
        energy = len(frame) * energy_per_atom(frame, calc)
        copy.info = {"REF_energy": energy, "time_fs": frame.info.get("time_fs", 0), "config_type": "liquid"}
        marked.append(copy)
    predictions = predict(marked, potential_calculator(pid))
    n_atoms = len(frames[0])
    mine = np.asarray(predictions.energy_pred) / n_atoms
    theirs = np.asarray(predictions.energy_ref) / n_atoms
    print(f"{pid[:8]} against {judge_id[:8]} on {pid[:8]}'s frames at 1,000 K, meV/atom from the first")
    for k, frame in enumerate(marked):
        if k % 4 == 0 or k == len(marked) - 1:
            own, other = 1000 * (mine[k] - mine[0]), 1000 * (theirs[k] - theirs[0])
            print(
                f"  {frame.info['time_fs'] / 1000:5.1f} ps  {pid[:8]} {own:+7.1f}  "
                f"{judge_id[:8]} {other:+7.1f}  difference {own - other:+7.1f}"
            )
    check = chemical_order_check(marked, predictions, config_types=None, min_frames=3, required=False)
    if check is not None:
        print(format_chemical_order(check, name=pid[:8], reference=judge_id[:8]))


def report(pid: str, args) -> list:
    """Run one potential's liquid; print its chemical order per frame and its energy windows."""
    doc = run(pid, args.atoms, args.liquid_ps, args.packing_seed, args.seed)
    frames = doc.frames()
    print(f"{pid[:8]}: {len(frames[0])} atoms, {doc.wall_time_s or 0:.0f} s")
    for frame in frames:
        share, like = order(frame, args.cutoff)
        print(
            f"  {frame.info.get('time_fs', 0) / 1000:5.1f} ps  homopolar {share:.2f}  "
            + "  ".join(f"{s}-{s} {n:.2f}" for s, n in like.items()),
            flush=True,
        )
    liquid = next(s for s in doc.stages if s.name == "liquid")
    print(f"  1,000 K stage: mean T {liquid.mean_temperature:.0f} K")
    thermo = doc.thermo_series()
    t, e = np.asarray(thermo["time_fs"]), np.asarray(thermo["epot_ev"]) / len(frames[0])
    start, end = 2000.0, 2000.0 + 1000.0 * args.liquid_ps
    middle = (start + end) / 2
    for lo, hi in ((middle - 2000.0, middle), (end - 2000.0, end)):
        window = (t > lo) & (t <= hi)
        print(f"  mean potential energy {lo / 1000:.0f}-{hi / 1000:.0f} ps: {e[window].mean():.4f} eV/atom")
    return [f for f in frames if f.info.get("time_fs", 0) > start]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--potential", action="append", help="potential id (repeatable; default: the GAP)")
    parser.add_argument("--tag", default="demo", help="the loop whose last GAP is the default")
    parser.add_argument("--atoms", type=int, default=200)
    parser.add_argument("--liquid-ps", type=float, default=12.0)
    parser.add_argument("--packing-seed", type=int, default=7)
    parser.add_argument("--seed", type=int, default=11, help="velocities and thermostat noise")
    parser.add_argument("--cutoff", type=float, default=3.2, help="neighbour cutoff, Å")
    parser.add_argument("--label", type=int, default=0, help="frames of the first run to label with DFT")
    parser.add_argument("--judge", help="potential id that prices each run's own frames (e.g. the teacher)")
    parser.add_argument(
        "--refit",
        action="store_true",
        help="fit a GAP on <tag> and <tag>-liquid-order (labelled before) and run its liquid instead",
    )
    args = parser.parse_args()
    pids = args.potential or [teacher_id(args.tag)]
    if args.refit:
        from element_refit import fit

        from gst_flows.makers.training import TrainingSelection

        sources = [TrainingSelection(tag=args.tag), TrainingSelection(tag=f"{args.tag}-liquid-order")]
        refit = fit(sources, args.tag)
        print(f"refitted on {args.tag} and {args.tag}-liquid-order: {refit}")
        report(refit, args)
        compare([*pids, refit], args.tag, args.cutoff)
        return
    first = None
    for pid in pids:
        frames = report(pid, args)
        first = first or frames
        if args.judge:
            judge(frames, pid, args.judge)
    if args.label:
        label(first, args.label, args.tag, args.cutoff)
        compare(pids, args.tag, args.cutoff)


if __name__ == "__main__":
    main()
