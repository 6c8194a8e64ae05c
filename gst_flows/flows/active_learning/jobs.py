"""The loop's jobs: fit, decide, explore (MD), select; each adds the next at run time.

Every job takes the maker and the :class:`~gst_flows.schemas.active_learning.LoopState` the
previous one handed on (a plain dict of the same keys, as jobs queued before the state was
typed hold, is read too).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
from jobflow import Flow, Response, job
from jobflow.core.reference import OnMissing
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.fit.exceptions import FitInputError
from gst_flows.fit.metrics import ALL
from gst_flows.flows.active_learning.candidates import (
    _SELECTION_PROVENANCE,
    _candidates,
    _frame_fractions,
    _target_temperature,
    committee_force_spread,
    format_histogram,
    fraction_histogram,
    select_liquid_order,
)
from gst_flows.flows.active_learning.decision import convergence_decision, overall_errors
from gst_flows.flows.active_learning.maker import ActiveLearningMaker
from gst_flows.flows.active_learning.seeds import derive_seed
from gst_flows.makers.fit import GapEvaluateMaker, GapFitMaker, TrainingSelection
from gst_flows.makers.md import GapMDMaker
from gst_flows.schemas.active_learning import HistoryRow, IterationDoc, LoopState, SelectionDoc
from gst_flows.schemas.potential import PotentialRef, as_potential_ref

__all__ = ["al_decide", "al_explore", "al_explored", "al_fit", "al_md", "al_select"]

logger = logging.getLogger(__name__)

_WRONG = "wrong_bond_fraction"


def _held_out_tag(tag: str) -> str:
    return f"{tag}-heldout"


def _steering(step, name: str):
    """Name a light steering job; its dynamic children keep their own FireWorks categories."""
    step.name = name
    step.config.pass_manager_config = False
    return step


def _categorised(flow: Flow) -> Flow:
    """Give every job of a flow created at run time its maker's FireWorks category."""
    from gst_flows.execution import assign_categories

    assign_categories(flow)
    return flow


def _with_gap_seed(fit_maker: GapFitMaker, seed: int, **changes: Any) -> GapFitMaker:
    """The fit maker with gap_fit's ``rnd_seed`` set (and other fields changed)."""
    from gst_flows.fit.hyperparameters import GapHyperparameters

    hyper = fit_maker.hyperparameters
    if isinstance(hyper, dict):
        hyper = GapHyperparameters(**{k: v for k, v in hyper.items() if not k.startswith("@")})
    return replace(fit_maker, hyperparameters=replace(hyper, seed=seed), **changes)


@job
def al_fit(maker: ActiveLearningMaker, state: LoopState | dict[str, Any], waits: list[Any]) -> Response:
    """Fit on every label of the loop so far; the held-out set is the test set."""
    state = LoopState.model_validate(state)
    iteration = state.iteration
    seeds: dict[str, Any] = {
        "flow": maker.seed,
        "gap_fit": derive_seed(maker.seed, iteration, 0, "gap_fit"),
        "split": maker.fit_maker.split_seed,
    }
    fit = _with_gap_seed(maker.fit_maker, seeds["gap_fit"]).make(
        TrainingSelection(tag=maker.tag),
        test_source=TrainingSelection(tag=_held_out_tag(maker.tag)),
    )
    fit.name = f"iter-{iteration} gap fit"
    explored = None
    if iteration > 0 and state.n_new_labels and state.potential_id:
        explored = al_explored(state.potential_ref or state.potential_id, maker.tag, iteration)
        explored.name = f"iter-{iteration} explored frames"
        explored.config.expose_store = True  # fetch the potential from the loop's own store
        explored.update_config({"manager_config": {"_category": GapEvaluateMaker.fworker_category}})
    committee = []
    # The last iteration's committee would weigh a selection that never happens.
    if maker.uncertainty == "committee" and iteration < maker.max_iterations:
        seeds["committee_subsample"] = []
        seeds["committee_gap_fit"] = []
        for k in range(maker.committee_size):
            subsample_seed = derive_seed(maker.seed, iteration, k, "committee")
            gap_seed = derive_seed(maker.seed, iteration, k + 1, "gap_fit")
            member_maker = _with_gap_seed(maker.fit_maker, gap_seed, test_fraction=0.0, evaluate_train=False)
            selection = TrainingSelection(
                tag=maker.tag, subsample=maker.committee_fraction, subsample_seed=subsample_seed
            )
            member = member_maker.make(selection)
            member.name = f"iter-{iteration} committee fit {k + 1}/{maker.committee_size}"
            committee.append(member)
            seeds["committee_subsample"].append(subsample_seed)
            seeds["committee_gap_fit"].append(gap_seed)
    decide = _steering(
        al_decide(
            maker,
            state.model_copy(update={"seeds": {**state.seeds, **seeds}}),
            fit.output.potential_id,
            fit.output.test_errors,
            fit.output.train_errors,
            fit.output.training_set,
            [m.output.potential_id for m in committee],
            potential_ref=fit.output.potential_ref,
            explored=explored.output if explored else None,
        ),
        f"iter-{iteration} decide",
    )
    jobs = [fit, *([explored] if explored else []), *committee, decide]
    return Response(replace=_categorised(Flow(jobs, output=decide.output)))


@job
def al_explored(potential: PotentialRef | str, tag: str, iteration: int) -> dict[str, Any] | None:
    """The exploring potential on the frames it chose, against their new DFT labels.

    Errors (all frames) and the energy against wrong bonds (:func:`chemical_order_check`) of
    the previous iteration's potential on this iteration's labels, before it is refitted on
    them. None (with a warning) when none of them is stored.
    """
    evaluate = GapEvaluateMaker(name=f"iter-{iteration} explored frames", plots=False)
    try:
        doc = evaluate.make.original(evaluate, potential, TrainingSelection(tag=tag, iterations=[iteration]))
    except FitInputError as exc:
        logger.warning("iteration %d: the explored frames could not be evaluated: %s", iteration, exc)
        return None
    order = doc.chemical_order
    return {
        "errors": doc.errors[ALL].model_dump(),
        "chemical_order": order.model_dump() if order is not None else None,
    }


@job(output_schema=IterationDoc)
def al_decide(
    maker: ActiveLearningMaker,
    state: LoopState | dict[str, Any],
    potential_id: str,
    test_errors: dict[str, Any],
    train_errors: dict[str, Any],
    training_set: dict[str, Any],
    committee: list[str] | None = None,
    potential_ref: PotentialRef | dict[str, Any] | None = None,
    explored: dict[str, Any] | None = None,
) -> Response:
    """Record the iteration and decide, at run time, whether another one follows."""
    state = LoopState.model_validate(state)
    ref = as_potential_ref(potential_ref)
    held = overall_errors(test_errors)
    train = overall_errors(train_errors)
    training = training_set if isinstance(training_set, dict) else training_set.model_dump()
    per_type = {k: v["n_structures"] for k, v in training.get("per_config_type", {}).items()}
    n_labels = training.get("n_structures", 0)
    history = [
        *state.history,
        HistoryRow(
            iteration=state.iteration,
            n_labels=n_labels,
            force_rmse=held.get("force_rmse"),
            energy_rmse=held.get("energy_rmse"),
            potential_id=potential_id,
        ),
    ]
    rows = [row.model_dump() for row in history]
    reason = convergence_decision(rows, maker.max_iterations, maker.target_force_rmse, maker.min_improvement)
    if reason is None and state.n_new_labels == 0:
        reason = "the exploration found no new configuration to label"
    selected = state.selected_fractions
    doc = IterationDoc(
        tag=maker.tag,
        iteration=state.iteration,
        potential_id=potential_id,
        potential_ref=ref,
        exploration=maker.exploration(state.iteration) if state.iteration else "builders",
        n_labels=n_labels,
        n_new_labels=state.n_new_labels or n_labels,
        labels_per_config_type=per_type,
        held_out_force_rmse=held.get("force_rmse"),
        held_out_energy_rmse=held.get("energy_rmse"),
        train_force_rmse=train.get("force_rmse"),
        converged=reason is not None,
        stop_reason=reason,
        history=rows,
        committee_potential_ids=list(committee or []),
        seeds=state.seeds,
        selected_crystalline_fractions=list(selected or []),
        selected_fraction_histogram=fraction_histogram(selected) if selected else None,
        explored_errors=(explored or {}).get("errors"),
        explored_chemical_order=(explored or {}).get("chemical_order"),
    )
    rmse = doc.held_out_force_rmse
    logger.info(
        "iteration %d: %d labels, held-out force RMSE %s eV/Å, potential %s%s",
        doc.iteration,
        n_labels,
        f"{rmse:.4f}" if rmse is not None else "n/a",
        potential_id,
        f"; stopping: {reason}" if reason else "",
    )
    if doc.explored_errors is not None:
        logger.info(
            "iteration %d: the iteration-%d potential on the %d frames it explored: "
            "energy RMSE %.1f meV/atom, force RMSE %.3f eV/Å%s",
            doc.iteration,
            doc.iteration - 1,
            doc.explored_errors.n_structures,
            1000 * doc.explored_errors.energy_rmse,
            doc.explored_errors.force_rmse or float("nan"),
            _price(doc.explored_chemical_order),
        )
    if doc.selected_fraction_histogram:
        logger.info(
            "iteration %d: crystalline fraction of the selected frames\n%s",
            doc.iteration,
            format_histogram(doc.selected_fraction_histogram),
        )
    if reason is not None:
        return Response(output=doc)
    following = state.model_copy(
        update={
            "iteration": state.iteration + 1,
            "history": history,
            "potential_id": potential_id,
            "potential_ref": ref,
            "committee": list(committee or []),
            "seeds": {},
            "selected_fractions": None,
        }
    )
    explore = _steering(al_explore(maker, following), f"iter-{following.iteration} explore")
    return Response(output=doc, addition=explore)


def _price(check: Any) -> str:
    if check is None:
        return ""
    return (
        f"; a wrong bond costs {1000 * check.slope_dft:.0f} meV by DFT, "
        f"{1000 * check.slope_predicted:.0f} by the potential"
    )


def _seeded(md_maker: GapMDMaker, seed: int, state: LoopState) -> GapMDMaker:
    """The maker with the loop's potential and its protocol's seed set to ``seed``.

    The potential is the fit's typed reference when the state has one (the MD job then checks
    the fetched files' SHA-256), else its id.
    """
    protocol = md_maker.resolved_protocol().model_copy(update={"seed": seed})
    return replace(md_maker, protocol=protocol, potential=state.potential_ref or state.potential_id)


@job
def al_explore(maker: ActiveLearningMaker, state: LoopState | dict[str, Any]) -> Response:
    """GAP-MD exploration with the current potential, then selection.

    iter-1 (``melt_quench_rounds`` iterations) runs ``explore_maker`` on the exploration
    cells and ``liquid_maker`` on the liquid cells; iter-2 runs every one of ``device_makers``
    on every device cell. Run ``k`` of iteration ``i`` (the liquid runs after the others) has
    the seed ``derive_seed(maker.seed, i, k, "md")``.
    """
    state = LoopState.model_validate(state)
    iteration = state.iteration
    liquid_plan = []
    if maker.exploration(iteration) == "melt-quench":
        plan = [(maker.explore_maker, cell) for cell in state.explore]
        if maker.liquid_maker is not None and maker.n_liquid_select > 0:
            liquid_plan = [(maker.liquid_maker, cell) for cell in state.liquid]
    else:
        plan = [(md_maker, cell) for md_maker in maker.device_makers for cell in state.device]
    runs = []
    seeds = []
    for index, (md_maker, cell) in enumerate(plan + liquid_plan):
        seed = derive_seed(maker.seed, iteration, index, "md")
        # a copy per run: the runs of one cell must not share (and change) one structure
        run = al_md(_seeded(md_maker, seed, state), cell.copy())
        run.name = f"iter-{iteration} md {index}"
        run.update_config({"manager_config": {"_category": md_maker.fworker_category}})
        runs.append(run)
        seeds.append(seed)
    following = state.model_copy(update={"seeds": {**state.seeds, "md": seeds}})
    docs = [r.output for r in runs]
    split = len(plan)
    select = _steering(
        al_select(maker, following, docs[:split], docs[split:] or None), f"iter-{iteration} select"
    )
    # An exploration run that blows up (common with early potentials) must not end the loop:
    # selection proceeds with the runs that finished.
    select.config.on_missing_references = OnMissing.NONE
    return Response(replace=Flow([*runs, select], output=select.output))


@job(data=["frames"])
def al_md(
    md_maker: GapMDMaker,
    structure: Structure,
    restart_from: str | None = None,
    keep_every: int = 1,
    keep_last: int = 0,
) -> Any:
    """Exploration MD that keeps its frames when the potential fails.

    With an early potential an exploration often runs into configurations it cannot describe
    and the engine stops it (blow-up detection). The frames saved until then are exactly the
    ones worth labelling, so they are returned instead of failing the job. A run stopped by
    the maker's ``walltime`` continues in a new job from its checkpoint (this job is replaced).
    Every frame carries its crystalline fraction (k̄) and thermostat temperature.

    Parameters
    ----------
    md_maker
        The MD maker (potential and seeded protocol set).
    structure
        The starting cell.
    restart_from
        Run directory of the job this one continues.
    keep_every, keep_last
        Frames returned: every ``keep_every``-th saved frame (the start cell first) and, from a
        run stopped by its checks, the last ``keep_last`` (a run that saves frames finely to
        catch what leads into a blow-up keeps only those and its regular ones).
    """
    from pathlib import Path

    from gst_flows.md.results import MDBlowUpError, read_frames

    protocol = md_maker.resolved_protocol()
    status = "completed"
    try:
        result = md_maker.make.original(md_maker, structure, restart_from=restart_from)
    except MDBlowUpError as exc:
        status = f"stopped early: {exc}"
        logger.warning("exploration %s", status)
    else:
        if isinstance(result, Response) and result.replace is not None:
            follow = al_md(md_maker, structure, str(Path.cwd()), keep_every, keep_last)
            follow.name = f"{md_maker.name} (continued)"
            follow.update_config({"manager_config": {"_category": md_maker.fworker_category}})
            return Response(replace=follow)
    path = Path.cwd() / "frames.extxyz"
    frames = read_frames(path) if path.exists() else []
    tail = keep_last if status != "completed" else 0
    frames = [a for k, a in enumerate(frames) if k % keep_every == 0 or k >= len(frames) - tail]
    fractions = _frame_fractions(frames)
    return {
        "status": status,
        "protocol": protocol.name,
        "seed": protocol.seed,
        "frames": [
            {
                "structure": AseAtomsAdaptor.get_structure(a).as_dict(),
                "step": a.info.get("step"),
                "stage": a.info.get("stage_name"),
                "temperature": a.info.get("temperature_k"),
                "target_temperature": _target_temperature(protocol, a),
                "crystalline_fraction": fraction,
            }
            for a, fraction in zip(frames, fractions, strict=True)
        ],
    }


@job(output_schema=SelectionDoc, data=["structures"])
def al_select(
    maker: ActiveLearningMaker,
    state: LoopState | dict[str, Any],
    md_docs: list[Any],
    liquid_docs: list[Any] | None = None,
) -> Response:
    """Choose diverse candidates in SOAP space (not already labelled), label them, refit.

    The document records every candidate's crystalline fraction and a histogram of the
    fractions of the chosen frames. Frames of the liquid-order runs (``liquid_docs``) get a
    budget of their own, ``maker.n_liquid_select``, spread over their wrong-bond fraction
    (:func:`select_liquid_order`).
    """
    from gst_flows.analysis.soap import SoapSettings, mean_soap_vectors
    from gst_flows.dataset import label_filter
    from gst_flows.flows.label import label_flow
    from gst_flows.selection import (
        near_duplicates,
        select_across_fractions,
        select_diverse,
        uncertainty_weights,
    )
    from gst_flows.store import current_store

    state = LoopState.model_validate(state)
    iteration = state.iteration
    measured = {"coexistence": tuple(maker.coexistence), "liquid_temperature": maker.liquid_temperature}
    candidates = _candidates(md_docs, iteration, state.potential_id, **measured)
    liquid = _candidates(liquid_docs or [], iteration, state.potential_id, first_run=len(md_docs), **measured)
    store = current_store()
    existing = []
    for doc in store.query(label_filter(tag=maker.tag), properties=["output.structure"], load=True):
        structure = doc["output"].get("structure")
        if structure:
            existing.append(AseAtomsAdaptor.get_atoms(Structure.from_dict(structure)))
    existing = [a for a in existing if len(a) > 1]
    species = sorted({s for a in [*candidates, *liquid, *existing] for s in a.get_chemical_symbols()})
    soap = SoapSettings(**{**maker.soap, "species_resolved": True, "species": tuple(species)})
    x = mean_soap_vectors(candidates, soap) if candidates else np.zeros((0, soap.dimension))
    x_old = mean_soap_vectors(existing, soap) if existing else None
    spread = None
    weights = None
    if state.committee and candidates:
        spread = committee_force_spread(state.committee, candidates, store)
        weights = uncertainty_weights(spread, maker.uncertainty_power)
        logger.info(
            "iteration %d: committee force spread %.3f–%.3f eV/Å (mean %.3f)",
            iteration,
            spread.min(),
            spread.max(),
            spread.mean(),
        )
    window = None
    if not len(x):
        picked = []
    elif (
        maker.exploration(iteration) == "device"
        and maker.transition_share > 0
        and maker.selection_method == "fps"
    ):
        window = tuple(maker.coexistence)
        fractions = [a.info.get("crystalline_fraction") for a in candidates]
        picked = select_across_fractions(
            x, fractions, maker.n_select, window, maker.transition_share, existing=x_old, weights=weights
        )
    else:
        picked = select_diverse(x, maker.n_select, maker.selection_method, existing=x_old, weights=weights)
    chosen = [candidates[i] for i in picked]
    n_dup = int(near_duplicates(x, x_old).sum()) if len(x) else 0
    liquid_picked: list[int] = []
    if liquid:
        x_liquid = mean_soap_vectors(liquid, soap)
        known = [v for v in (x_old, x[picked] if picked else None) if v is not None]
        liquid_picked = select_liquid_order(
            x_liquid,
            liquid,
            maker.n_liquid_select,
            existing=np.vstack(known) if known else None,
            liquid_temperature=maker.liquid_temperature,
        )
        n_dup += int(near_duplicates(x_liquid, x_old).sum())
        logger.info(
            "iteration %d: %d liquid-order frames chosen of %d, wrong-bond fraction %s",
            iteration,
            len(liquid_picked),
            len(liquid),
            ", ".join(f"{liquid[i].info[_WRONG]:.3f}" for i in liquid_picked),
        )
        chosen += [liquid[i] for i in liquid_picked]
        candidates += liquid
    logger.info(
        "iteration %d: selected %d of %d candidate frames (%d near-duplicates)",
        iteration,
        len(chosen),
        len(candidates),
        n_dup,
    )
    candidate_fractions = [a.info.get("crystalline_fraction") for a in candidates]
    selected_fractions = [a.info.get("crystalline_fraction") for a in chosen]
    doc = SelectionDoc(
        tag=maker.tag,
        iteration=iteration,
        method=maker.selection_method,
        exploration=maker.exploration(iteration),
        fraction_window=window,
        transition_share=maker.transition_share if window else None,
        n_candidates=len(candidates),
        n_duplicates=n_dup,
        n_existing=len(existing),
        n_selected=len(chosen),
        budget=maker.n_select + (maker.n_liquid_select if liquid_docs else 0),
        uncertainty="committee" if spread is not None else None,
        mean_candidate_spread=float(spread.mean()) if spread is not None else None,
        selected_spread=[float(spread[i]) for i in picked] if spread is not None else [],
        provenance=[{k: a.info.get(k) for k in _SELECTION_PROVENANCE} for a in chosen],
        candidate_fractions=candidate_fractions,
        candidate_config_types={
            t: sum(a.info["config_type"] == t for a in candidates)
            for t in sorted({a.info["config_type"] for a in candidates})
        },
        candidate_fraction_histogram=fraction_histogram(candidate_fractions),
        selected_fraction_histogram=fraction_histogram(selected_fractions),
        md_seeds=list(state.seeds.get("md", [])),
        n_liquid_candidates=len(liquid),
        n_liquid_selected=len(liquid_picked),
        liquid_wrong_fractions=[a.info[_WRONG] for a in liquid if _WRONG in a.info],
        structures=[AseAtomsAdaptor.get_structure(a) for a in chosen],
    )
    logger.info(
        "iteration %d (%s): crystalline fraction of the %d selected frames\n%s",
        iteration,
        doc.exploration,
        len(chosen),
        format_histogram(doc.selected_fraction_histogram),
    )
    labels = label_flow(
        chosen,
        maker.label_maker,
        name=f"iter-{iteration} labels",
        max_failed_fraction=maker.max_failed_fraction,
        tag=maker.tag,
    )
    following = state.model_copy(
        update={"n_new_labels": len(chosen), "selected_fractions": selected_fractions}
    )
    fit = _steering(al_fit(maker, following, [labels.output]), f"iter-{iteration} fit")
    return Response(output=doc, addition=_categorised(Flow([labels, fit])))
