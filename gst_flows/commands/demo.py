"""``gst-flows demo``: the main job, a small but real active-learning loop on this machine.

Real CP2K labels (reduced k-point density), real ``gap_fit`` fits, GAP-driven melt-quench and
heating MD with ASE and quippy, SOAP selection, three iterations, on the embedded database.
Running it again continues from the last finished iteration instead of starting over.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DEMO_DFT = {"kpoint_spacing": 0.5}
DEMO_ATOM_BOX = (8.0, 8.5, 9.0)


def add_parser(subparsers) -> None:
    """Register the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo", help="a small end-to-end active-learning run (CP2K, gap_fit, GAP-MD, selection)"
    )
    parser.add_argument("--tag", default="demo", help="tag of the demo's labels")
    parser.add_argument("--iterations", type=int, default=2, help="last iteration (0-based)")
    parser.add_argument("--select", type=int, default=4, help="labels added per iteration")
    parser.add_argument("--out", type=Path, default=Path("demo-output"), help="figures go here")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(handler=run)


def demo_structures(seed: int = 0):
    """iter-0, held-out and exploration cells of the demo (7-16 atoms)."""
    from gst_flows.structures import build_diamond, build_rocksalt, perturbed_copies

    crystals = [build_rocksalt("Ge1Sb2Te4", seed=seed), build_rocksalt("GeTe", seed=seed),
                build_diamond()]
    initial, held_out = [], []
    for index, crystal in enumerate(crystals):
        crystal.info.update({"config_type": "crystal", "generator": crystal.info.get("builder")})
        initial.append(crystal)
        for copy in perturbed_copies(crystal, 2, rattle=0.08, strain=0.03, seed=seed + index):
            copy.info["config_type"] = "crystal"
            initial.append(copy)
        (test,) = perturbed_copies(crystal, 1, rattle=0.15, strain=0.02, seed=100 + seed + index)
        test.info["config_type"] = "crystal"
        held_out.append(test)
    explore = [build_rocksalt("Ge1Sb2Te4", supercell=(2, 1, 1), seed=seed),
               build_rocksalt("GeTe", supercell=(2, 1, 1), seed=seed)]
    return initial, held_out, explore


def demo_maker(tag: str, iterations: int, n_select: int):
    """The loop's settings, sized for a 2-core machine."""
    from gst_flows.fit.hyperparameters import GapHyperparameters, SoapParams, TwoBodyParams
    from gst_flows.flows.active_learning import ActiveLearningMaker
    from gst_flows.makers.dft import Cp2kLabelMaker
    from gst_flows.makers.fit import GapFitMaker
    from gst_flows.makers.md import GapMDMaker
    from gst_flows.md.protocol import melt_quench

    hyper = GapHyperparameters(
        two_body=TwoBodyParams(cutoff=5.0, n_sparse=15),
        soap=SoapParams(cutoff=5.0, n_max=4, l_max=3, n_sparse=60, atom_sigma=0.5),
        strict_n_sparse=False,
    )
    melt = melt_quench(melt_temperature=1200.0, melt_duration=1000.0, quench_temperature=300.0,
                       quench_rate=500.0, heat_from=None, anneal_duration=0.0)
    heat = melt_quench(melt_temperature=900.0, melt_duration=1000.0, quench_temperature=600.0,
                       quench_rate=500.0, heat_from=300.0, heat_duration=1200.0,
                       anneal_duration=0.0, name="heat-anneal")
    md = {"frame_interval": 50, "thermo_interval": 25, "checkpoint_interval": 500}
    return ActiveLearningMaker(
        tag=tag,
        label_maker=Cp2kLabelMaker(settings=DEMO_DFT),
        fit_maker=GapFitMaker(hyperparameters=hyper, test_fraction=0.0, tags=[tag]),
        explore_maker=GapMDMaker(protocol=melt, **md),
        device_maker=GapMDMaker(protocol=heat, **md),
        n_select=n_select,
        max_iterations=iterations,
        isolated_box=DEMO_ATOM_BOX,
    )


def _latest_iteration(tag: str):
    from gst_flows.schemas.active_learning import IterationDoc
    from gst_flows.settings import get_settings
    from gst_flows.store import get_database

    settings = get_settings()
    found = get_database(settings)[settings.outputs_collection].find_one(
        {"output.@class": "IterationDoc", "output.tag": tag}, sort=[("output.iteration", -1)]
    )
    if not found:
        return None
    return IterationDoc.model_validate({k: v for k, v in found["output"].items()
                                        if not k.startswith("@")})


def run(args: argparse.Namespace) -> int:
    """Run (or continue) the loop, then write the figures and print the summary."""
    from gst_flows.execution import run_local
    from gst_flows.flows.active_learning import al_explore, structures_from_atoms
    from gst_flows.settings import get_settings
    from gst_flows.store import database_uri

    settings = get_settings()
    print(f"database: {database_uri(settings)} ({'embedded' if settings.embedded else 'configured'})")
    initial, held_out, explore = demo_structures(args.seed)
    maker = demo_maker(args.tag, args.iterations, args.select)
    last = _latest_iteration(args.tag)
    start = time.perf_counter()
    if last is not None and (last.converged or last.iteration >= args.iterations):
        print(f"the loop tagged {args.tag!r} finished at iteration {last.iteration}: {last.stop_reason}")
    elif last is not None:
        print(f"continuing after iteration {last.iteration} (potential {last.potential_id})")
        cells = [s.as_dict() for s in structures_from_atoms(explore)]
        state = {"iteration": last.iteration + 1, "history": last.history, "n_new_labels": None,
                 "potential_id": last.potential_id, "explore": cells, "device": cells}
        run_local(al_explore(maker, state))
    else:
        print(f"iteration 0: labelling {len(initial)} crystal cells, {len(held_out)} held-out "
              f"cells and isolated atoms with CP2K, then fitting a GAP ...")
        flow = maker.make(structures_from_atoms(initial), structures_from_atoms(held_out),
                          structures_from_atoms(explore))
        run_local(flow)
    last = _latest_iteration(args.tag)
    if last is None:
        print("the loop stopped before its first fit; see the messages above")
        return 4
    print(f"loop time {time.perf_counter() - start:.0f} s")
    return summarise(args.tag, last, args.out)


def summarise(tag: str, last, out: Path) -> int:
    """Learning curve, SOAP map of the database, potential location and a table."""
    from gst_flows.commands.common import format_table
    from gst_flows.dataset import find_labels
    from gst_flows.plotting.active_learning import learning_curve_figure, soap_map_figure
    from gst_flows.potentials import fetch_potential

    out.mkdir(parents=True, exist_ok=True)
    curve = learning_curve_figure(last.history, out / "learning_curve.png")
    frames = []
    for set_tag in (tag, f"{tag}-heldout"):
        for label in find_labels(tag=set_tag, forces=False, include_reused=True):
            if label.doc.natoms > 1:
                atoms = label.doc.to_atoms()
                if set_tag != tag:
                    atoms.info["config_type"] = "held-out"
                atoms.info["iteration"] = label.doc.provenance.iteration
                frames.append(atoms)
    soap = soap_map_figure(frames, out / "soap_map.png")
    potential = fetch_potential(last.potential_id)
    rows = [[h["iteration"], h["n_labels"],
             f"{h['force_rmse']:.4f}" if h.get("force_rmse") is not None else "",
             f"{h['energy_rmse'] * 1000:.1f}" if h.get("energy_rmse") is not None else "",
             h["potential_id"]] for h in last.history]
    print(format_table(rows, ("iteration", "labels", "held-out F RMSE (eV/Å)",
                              "held-out E RMSE (meV/atom)", "potential")))
    print(f"stopped: {last.stop_reason}")
    print(f"learning curve: {curve}")
    print(f"SOAP map:       {soap}")
    print(f"potential:      {potential}")
    return 0
