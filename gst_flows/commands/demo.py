"""``gst-flows demo``: the main job, a small but real active-learning loop on this machine.

Real CP2K labels (reduced k-point density), real ``gap_fit`` fits, GAP-driven melt-quench and
crystallisation and partial-melting MD with ASE and quippy, SOAP selection, three iterations, on
the embedded database.
Running it again continues from the last finished iteration instead of starting over. The final
potential is judged on the shipped quasi-binary reference set (:mod:`gst_flows.fit.reference`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_parser(subparsers) -> None:
    """Register the ``demo`` sub-command."""
    from gst_flows.commands.submit import LIQUID_SELECT_HELP

    parser = subparsers.add_parser(
        "demo", help="a small end-to-end active-learning run (CP2K, gap_fit, GAP-MD, selection)"
    )
    parser.add_argument("--tag", default="demo", help="tag of the demo's labels")
    parser.add_argument("--iterations", type=int, default=2, help="last iteration (0-based)")
    parser.add_argument("--select", type=int, default=6, help="labels added per iteration")
    parser.add_argument("--liquid-select", type=int, metavar="N", help=LIQUID_SELECT_HELP)
    parser.add_argument("--out", type=Path, default=Path("demo-output"), help="figures go here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--committee",
        type=int,
        default=0,
        metavar="N",
        help="weight the selection by the force spread of N sub-sampled fits "
        "per iteration (0: diversity only; each member is one more gap_fit)",
    )
    parser.set_defaults(handler=run)


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
    return IterationDoc.model_validate({k: v for k, v in found["output"].items() if not k.startswith("@")})


def run(args: argparse.Namespace) -> int:
    """Run (or continue) the loop, then write the figures and print the summary."""
    from gst_flows.commands.common import check_counts
    from gst_flows.commands.submit import LOOP_COUNTS
    from gst_flows.errors import mask_uri
    from gst_flows.execution import run_local
    from gst_flows.flows.active_learning import LoopState, al_explore, structures_from_atoms
    from gst_flows.flows.profiles import active_learning_setup
    from gst_flows.settings import get_settings
    from gst_flows.store import database_uri

    check_counts(args, LOOP_COUNTS)
    settings = get_settings()
    kind = "embedded" if settings.embedded else "configured"
    print(f"database: {mask_uri(database_uri(settings))} ({kind})")
    setup = active_learning_setup(
        "small",
        args.tag,
        args.iterations,
        args.select,
        args.seed,
        uncertainty="committee" if args.committee else None,
        committee_size=args.committee or 3,
        n_liquid_select=args.liquid_select,
    )
    maker, held_out, explore = setup.maker, setup.held_out, setup.explore
    last = _latest_iteration(args.tag)
    start = time.perf_counter()
    if last is not None and (last.converged or last.iteration >= args.iterations):
        print(f"the loop tagged {args.tag!r} finished at iteration {last.iteration}: {last.stop_reason}")
    elif last is not None:
        print(f"continuing after iteration {last.iteration} (potential {last.potential_id})")
        state = LoopState(
            iteration=last.iteration + 1,
            history=last.history,
            potential_id=last.potential_id,
            explore=structures_from_atoms(explore),
            device=structures_from_atoms(setup.device or explore),
            liquid=structures_from_atoms(setup.liquid),
        )
        run_local(al_explore(maker, state))
    else:
        print(
            f"iteration 0: labelling {setup.initial_summary()}, {len(held_out)} held-out "
            f"cells and isolated atoms with CP2K, then fitting a GAP ..."
        )
        run_local(setup.flow())
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
    from gst_flows.md.potential import gap_calculator
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
    fractions = _fraction_summary(tag, out)
    potential = fetch_potential(last.potential_id)
    rows = [
        [
            h["iteration"],
            h["n_labels"],
            f"{h['force_rmse']:.4f}" if h.get("force_rmse") is not None else "",
            f"{h['energy_rmse'] * 1000:.1f}" if h.get("energy_rmse") is not None else "",
            h["potential_id"],
        ]
        for h in last.history
    ]
    print(
        format_table(
            rows, ("iteration", "labels", "held-out F RMSE (eV/Å)", "held-out E RMSE (meV/atom)", "potential")
        )
    )
    print(f"stopped: {last.stop_reason}")
    _explored_summary(tag)
    print(f"learning curve: {curve}")
    print(f"SOAP map:       {soap}")
    if fractions is not None:
        print(f"crystallinity:  {fractions}")
    print(f"potential:      {potential}")
    calculator = gap_calculator(potential)
    _reference_summary(calculator, potential, out)
    _formation_summary(calculator, tag, out)
    return 0


def _formation_summary(calculator, tag: str, out: Path) -> None:
    """Formation energies from the elements on the held-out set, DFT against the potential."""
    from gst_flows.fit import predict
    from gst_flows.fit.formation import format_formation_table, formation_energies
    from gst_flows.makers.training import TrainingSelection, load_training_frames

    frames, described = load_training_frames(TrainingSelection(tag=f"{tag}-heldout"))
    result = formation_energies(predict(frames, calculator), required=False)
    if result is None:  # a loop started before the element crystals joined the profile
        print(f"no formation energies: {described} lacks a crystal of Ge, Sb or Te")
        return
    title = f"formation energies from the elements on {described} (lowest per composition, meV/atom)"
    print(format_formation_table(result, title, name="GAP"))
    path = out / "formation_energies.json"
    path.write_text(result.model_dump_json(indent=1))
    print(f"formation energies: {path}")


def _reference_summary(calculator, potential: Path, out: Path) -> None:
    """Errors of the final potential on the shipped reference set (never trained on)."""
    import json

    from gst_flows.fit import format_error_table
    from gst_flows.fit.reference import REFERENCE_SET, reference_errors

    tables = reference_errors(calculator, by=("config_type", "name"))  # one evaluation
    print(
        format_error_table(
            tables["config_type"],
            "errors on the quasi-binary reference set (CP2K default protocol, never trained on)",
        )
    )
    path = out / "reference_errors.json"
    path.write_text(
        json.dumps(
            {
                "reference_set": str(REFERENCE_SET),
                "potential": str(potential),
                **{by: {k: v.as_dict() for k, v in t.items()} for by, t in tables.items()},
            },
            indent=1,
        )
    )
    print(f"per composition and phase: {path}")


def _explored_summary(tag: str) -> None:
    """Each exploring potential's errors on the frames it chose, against their new DFT labels."""
    from gst_flows.commands.common import format_table

    latest = _newest_per_iteration("IterationDoc", tag, {"output.explored_errors": {"$ne": None}})
    rows = []
    for iteration in sorted(latest):
        errors, order = latest[iteration]["explored_errors"], latest[iteration].get("explored_chemical_order")
        price = f"{1000 * order['slope_dft']:.0f} / {1000 * order['slope_predicted']:.0f}" if order else ""
        force = errors.get("force_rmse")
        rows.append(
            [
                iteration,
                errors["n_structures"],
                f"{1000 * errors['energy_rmse']:.1f}",
                f"{force:.4f}" if force is not None else "",
                price,
            ]
        )
    if rows:
        print("each iteration's new labels against the potential that explored them (before the refit):")
        header = ("iteration", "frames", "E RMSE (meV/atom)", "F RMSE (eV/Å)", "wrong bond DFT / GAP (meV)")
        print(format_table(rows, header))


def _fraction_summary(tag: str, out: Path) -> Path | None:
    """Print the crystalline fractions of each iteration's selected frames; plot them."""
    from gst_flows.flows.active_learning import format_histogram
    from gst_flows.plotting.active_learning import crystalline_fraction_figure

    latest = _newest_per_iteration("SelectionDoc", tag)
    docs = [latest[k] for k in sorted(latest)]
    for doc in docs:
        if doc.get("selected_fraction_histogram"):
            print(
                f"iteration {doc['iteration']} ({doc.get('exploration')}): crystalline fraction "
                f"of the {doc['n_selected']} selected frames"
            )
            print(format_histogram(doc["selected_fraction_histogram"]))
        wrong = doc.get("liquid_wrong_fractions") or []
        if wrong:
            chosen = [
                p["wrong_bond_fraction"]
                for p in doc["provenance"]
                if p.get("wrong_bond_fraction") is not None
            ]
            print(
                f"iteration {doc['iteration']}: the held liquid's wrong-bond fraction went through "
                f"{min(wrong):.3f}-{max(wrong):.3f} in {len(wrong)} frames; labelled "
                + ", ".join(f"{w:.3f}" for w in sorted(chosen))
            )
    return crystalline_fraction_figure(docs, out / "crystalline_fraction.png") if docs else None


def _newest_per_iteration(kind: str, tag: str, extra: dict | None = None) -> dict[int, dict]:
    """The newest output document of class ``kind`` of the loop ``tag``, per iteration."""
    from gst_flows.settings import get_settings
    from gst_flows.store import get_database

    settings = get_settings()
    found = get_database(settings)[settings.outputs_collection].find(
        {"output.@class": kind, "output.tag": tag, **(extra or {})}, sort=[("completed_at", 1)]
    )
    return {d["output"]["iteration"]: d["output"] for d in found}
