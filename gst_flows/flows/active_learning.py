"""The active-learning loop: label, fit, explore with the potential, select, label, refit.

iter-0 labels crystals (rattled and strained copies), optional CP2K AIMD snapshots, isolated
atoms and a held-out set; every later iteration explores with GAP-driven MD (iter-1: melt-quench;
iter-2 on: device-like processes where ordered and disordered regions coexist), selects diverse
frames in SOAP space, labels them and refits. The loop decides at run time, with jobflow's
dynamic responses, whether to continue: it stops at a target held-out force RMSE, when the
improvement falls below a threshold, or after ``max_iterations``.

The held-out set carries its own tag (``<tag>-heldout``) and never enters training.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jobflow import Flow, Maker, Response, job
from jobflow.core.reference import OnMissing
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.makers.dft import Cp2kAimdMaker, Cp2kLabelMaker
from gst_flows.makers.fit import GapFitMaker, TrainingSelection
from gst_flows.makers.md import GapMDMaker
from gst_flows.schemas.active_learning import IterationDoc, SelectionDoc

__all__ = [
    "ActiveLearningMaker",
    "al_decide",
    "al_explore",
    "al_fit",
    "al_select",
    "convergence_decision",
]

logger = logging.getLogger(__name__)


def convergence_decision(
    history: Sequence[dict[str, Any]],
    max_iterations: int,
    target_force_rmse: float | None,
    min_improvement: float | None,
) -> str | None:
    """Why the loop should stop after the last entry of ``history``, or None to continue.

    Parameters
    ----------
    history
        One entry per finished iteration with ``iteration`` and ``force_rmse`` (eV/Å).
    max_iterations
        Last iteration to run (iterations count from 0).
    target_force_rmse
        Stop once the held-out force RMSE is at or below this, eV/Å.
    min_improvement
        Stop when the relative improvement over the previous iteration is smaller.
    """
    last = history[-1]
    rmse = last.get("force_rmse")
    if target_force_rmse is not None and rmse is not None and rmse <= target_force_rmse:
        return f"held-out force RMSE {rmse:.4f} eV/Å reached the target {target_force_rmse} eV/Å"
    if min_improvement is not None and len(history) >= 2 and rmse is not None:
        before = history[-2].get("force_rmse")
        if before:
            gain = (before - rmse) / before
            if gain < min_improvement:
                return (f"improvement {gain:.1%} of the held-out force RMSE is below "
                        f"{min_improvement:.0%}")
    if last["iteration"] >= max_iterations:
        return f"reached the maximum of {max_iterations} iterations"
    return None


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


@dataclass
class ActiveLearningMaker(Maker):
    """The iterative GST reference database and GAP, as one self-steering flow.

    Parameters
    ----------
    name
        Flow name.
    tag
        Tag of every label of the loop (the held-out set uses ``<tag>-heldout``).
    label_maker
        DFT labeller (CP2K by default).
    fit_maker
        The GAP fit (its test set is the held-out set).
    explore_maker
        GAP-MD exploration for iteration 1 (melt-quench); the potential is set per iteration.
    device_maker
        GAP-MD exploration from iteration 2 on (crystallisation and melting); defaults to
        ``explore_maker``.
    aimd_maker
        Optional CP2K AIMD for iter-0 liquid and amorphous snapshots.
    n_select
        Labelling budget per iteration.
    selection_method
        ``fps`` (farthest-point sampling) or ``cur``.
    max_iterations
        Last iteration (0-based).
    target_force_rmse
        Stop when the held-out force RMSE reaches this, eV/Å.
    min_improvement
        Stop when the held-out force RMSE improves by less than this fraction.
    max_failed_fraction
        Failed labels tolerated per batch.
    isolated_box
        Box of the isolated-atom calculations, Å (None: no isolated atoms; give ``e0``
        in the fit's hyperparameters instead).
    soap
        Keyword arguments of :class:`gst_flows.analysis.soap.SoapSettings` for selection.
    uncertainty
        ``"committee"``: weight farthest-point sampling by the disagreement of a committee of
        ``committee_size`` extra fits, each on a random ``committee_fraction`` of the
        training structures (force spread on each candidate; see
        :func:`gst_flows.selection.committee_spread`). None: diversity only.
    committee_size, committee_fraction
        Members of the committee and the fraction of structures each is fitted on.
    uncertainty_power
        Exponent of the uncertainty weights (0 ignores them, larger trusts them more).
    """

    name: str = "active learning"
    tag: str = "gst-al"
    label_maker: Maker = field(default_factory=Cp2kLabelMaker)
    fit_maker: GapFitMaker = field(default_factory=GapFitMaker)
    explore_maker: GapMDMaker = field(default_factory=GapMDMaker)
    device_maker: GapMDMaker | None = None
    aimd_maker: Cp2kAimdMaker | None = None
    n_select: int = 8
    selection_method: str = "fps"
    max_iterations: int = 2
    target_force_rmse: float | None = None
    min_improvement: float | None = None
    max_failed_fraction: float = 0.5
    isolated_box: tuple[float, float, float] | None = (10.0, 10.5, 11.0)
    soap: dict[str, Any] = field(default_factory=lambda: {"r_cut": 5.0, "n_max": 4, "l_max": 4})
    uncertainty: str | None = None
    committee_size: int = 3
    committee_fraction: float = 0.75
    uncertainty_power: float = 1.0

    def __post_init__(self) -> None:
        if self.uncertainty not in (None, "committee"):
            raise ValueError(f"unknown uncertainty {self.uncertainty!r}: None or 'committee'")
        if self.uncertainty == "committee":
            if self.committee_size < 2:
                raise ValueError(f"a committee needs at least 2 members, got {self.committee_size}")
            if not 0 < self.committee_fraction < 1:
                raise ValueError(
                    f"committee_fraction must be in (0, 1), got {self.committee_fraction}")
            if self.selection_method != "fps":
                raise ValueError("uncertainty weights apply to farthest-point sampling (fps) only")

    def make(
        self,
        initial: Sequence[Structure],
        held_out: Sequence[Structure],
        explore: Sequence[Structure],
        device: Sequence[Structure] | None = None,
        aimd: Sequence[Structure] = (),
    ) -> Flow:
        """Build iteration 0; later iterations are created at run time.

        Parameters
        ----------
        initial
            iter-0 structures to label (crystals and perturbed copies; ``config_type`` in
            their site or structure properties is not read: give it with the builders' info
            through :func:`structures_from_atoms`).
        held_out
            Structures labelled once and used only to measure the potential.
        explore
            Starting cells of the iteration-1 GAP-MD exploration.
        device
            Starting cells from iteration 2 on (default: ``explore``).
        aimd
            Cells for the optional iter-0 AIMD (needs ``aimd_maker``).
        """
        from gst_flows.flows.label import isolated_atoms_flow, label_flow

        if self.selection_method not in {"fps", "cur"}:
            raise ValueError(f"unknown selection method {self.selection_method!r}")
        if not initial or not held_out or not explore:
            raise ValueError("the loop needs initial, held-out and exploration structures")
        to_atoms = _structure_atoms
        train = label_flow([to_atoms(s) for s in initial], self.label_maker, name="iter-0 labels",
                           max_failed_fraction=self.max_failed_fraction, tag=self.tag,
                           iteration=0, generator="iter-0 builders")
        test = label_flow([to_atoms(s) for s in held_out], self.label_maker, name="held-out labels",
                          max_failed_fraction=self.max_failed_fraction,
                          tag=_held_out_tag(self.tag), iteration=0, generator="held-out set")
        jobs: list[Any] = [train, test]
        waits = [train.output, test.output]
        if self.isolated_box is not None:
            species = sorted({el.symbol for s in [*initial, *held_out] for el in s.composition})
            settings = getattr(self.label_maker, "settings", {})
            atoms = isolated_atoms_flow(species, settings=settings, box=self.isolated_box,
                                        tag=self.tag, iteration=0)
            jobs.append(atoms)
            waits.append(atoms.output)
        if aimd:
            if self.aimd_maker is None:
                raise ValueError("AIMD cells given but no aimd_maker")
            for cell in aimd:
                md = self.aimd_maker.make(cell, provenance={"tag": self.tag, "iteration": 0})
                jobs.append(md)
                waits.append(md.output.n_snapshots)
        state = {
            "iteration": 0,
            "n_new_labels": None,
            "history": [],
            "explore": [s.as_dict() for s in explore],
            "device": [s.as_dict() for s in (device or explore)],
        }
        fit = _steering(al_fit(self, state, waits), "iter-0 fit")
        jobs.append(fit)
        return Flow(jobs, output=fit.output, name=self.name)


def _structure_atoms(structure: Structure):
    atoms = AseAtomsAdaptor.get_atoms(structure)
    props = dict(structure.properties or {})
    atoms.info.update({k: v for k, v in props.items() if isinstance(v, str | int | float)})
    return atoms


def structures_from_atoms(frames) -> list[Structure]:
    """Pymatgen structures carrying each frame's ``config_type`` and ``generator``."""
    out = []
    for atoms in frames:
        structure = AseAtomsAdaptor.get_structure(atoms)
        structure.properties = {
            k: atoms.info[k] for k in ("config_type", "generator") if k in atoms.info
        }
        out.append(structure)
    return out


@job
def al_fit(maker: ActiveLearningMaker, state: dict[str, Any], waits: list[Any]) -> Response:
    """Fit on every label of the loop so far; the held-out set is the test set."""
    fit = maker.fit_maker.make(
        TrainingSelection(tag=maker.tag),
        test_source=TrainingSelection(tag=_held_out_tag(maker.tag)),
    )
    fit.name = f"iter-{state['iteration']} gap fit"
    committee = []
    # The last iteration's committee would weigh a selection that never happens.
    if maker.uncertainty == "committee" and state["iteration"] < maker.max_iterations:
        from dataclasses import replace

        member_maker = replace(maker.fit_maker, test_fraction=0.0, evaluate_train=False)
        for k in range(maker.committee_size):
            selection = TrainingSelection(tag=maker.tag, subsample=maker.committee_fraction,
                                          subsample_seed=1000 * state["iteration"] + k)
            member = member_maker.make(selection)
            member.name = f"iter-{state['iteration']} committee fit {k + 1}/{maker.committee_size}"
            committee.append(member)
    decide = _steering(al_decide(maker, state, fit.output.potential_id, fit.output.test_errors,
                                 fit.output.train_errors, fit.output.training_set,
                                 [m.output.potential_id for m in committee]),
                       f"iter-{state['iteration']} decide")
    return Response(replace=_categorised(Flow([fit, *committee, decide], output=decide.output)))


def _overall(errors: dict[str, Any] | None) -> dict[str, Any]:
    if not errors:
        return {}
    entry = errors.get("all") or errors.get("overall") or next(iter(errors.values()))
    return entry if isinstance(entry, dict) else entry.model_dump()


@job(output_schema=IterationDoc)
def al_decide(
    maker: ActiveLearningMaker,
    state: dict[str, Any],
    potential_id: str,
    test_errors: dict[str, Any],
    train_errors: dict[str, Any],
    training_set: dict[str, Any],
    committee: list[str] | None = None,
) -> Response:
    """Record the iteration and decide, at run time, whether another one follows."""
    held = _overall(test_errors)
    train = _overall(train_errors)
    training = training_set if isinstance(training_set, dict) else training_set.model_dump()
    per_type = {k: v["n_structures"] for k, v in training.get("per_config_type", {}).items()}
    n_labels = training.get("n_structures", 0)
    history = [*state["history"], {
        "iteration": state["iteration"], "n_labels": n_labels,
        "force_rmse": held.get("force_rmse"), "energy_rmse": held.get("energy_rmse"),
        "potential_id": potential_id,
    }]
    reason = convergence_decision(
        history, maker.max_iterations, maker.target_force_rmse, maker.min_improvement
    )
    if reason is None and state.get("n_new_labels") == 0:
        reason = "the exploration found no new configuration to label"
    doc = IterationDoc(
        tag=maker.tag, iteration=state["iteration"], potential_id=potential_id,
        n_labels=n_labels, n_new_labels=state.get("n_new_labels") or n_labels,
        labels_per_config_type=per_type,
        held_out_force_rmse=held.get("force_rmse"), held_out_energy_rmse=held.get("energy_rmse"),
        train_force_rmse=train.get("force_rmse"), converged=reason is not None,
        stop_reason=reason, history=history, committee_potential_ids=list(committee or []),
    )
    rmse = doc.held_out_force_rmse
    logger.info("iteration %d: %d labels, held-out force RMSE %s eV/Å, potential %s%s",
                doc.iteration, n_labels, f"{rmse:.4f}" if rmse is not None else "n/a",
                potential_id, f"; stopping: {reason}" if reason else "")
    if reason is not None:
        return Response(output=doc)
    following = {**state, "iteration": state["iteration"] + 1, "history": history,
                 "potential_id": potential_id, "committee": list(committee or [])}
    explore = _steering(al_explore(maker, following), f"iter-{following['iteration']} explore")
    return Response(output=doc, addition=explore)


@job
def al_explore(maker: ActiveLearningMaker, state: dict[str, Any]) -> Response:
    """GAP-MD exploration with the current potential, then selection."""
    from dataclasses import replace

    iteration = state["iteration"]
    md_maker = maker.explore_maker if iteration == 1 else (maker.device_maker or maker.explore_maker)
    md_maker = replace(md_maker, potential=state["potential_id"])
    cells = state["explore"] if iteration == 1 else state["device"]
    runs = []
    for index, cell in enumerate(cells):
        structure = cell if isinstance(cell, Structure) else Structure.from_dict(cell)
        run = al_md(md_maker, structure)
        run.name = f"iter-{iteration} md {index}"
        run.update_config({"manager_config": {"_category": md_maker.fworker_category}})
        runs.append(run)
    select = _steering(al_select(maker, state, [r.output for r in runs]),
                       f"iter-{iteration} select")
    # An exploration run that blows up (common with early potentials) must not end the loop:
    # selection proceeds with the runs that finished.
    select.config.on_missing_references = OnMissing.NONE
    return Response(replace=Flow([*runs, select], output=select.output))


@job(data=["frames"])
def al_md(md_maker: GapMDMaker, structure: Structure) -> dict[str, Any]:
    """Exploration MD that keeps its frames when the potential fails.

    With an early potential an exploration often runs into configurations it cannot describe
    and the engine stops it (blow-up detection). The frames saved until then are exactly the
    ones worth labelling, so they are returned instead of failing the job.
    """
    from pathlib import Path

    from gst_flows.md.results import MDBlowUpError, read_frames

    status = "completed"
    try:
        md_maker.make.original(md_maker, structure)
    except MDBlowUpError as exc:
        status = f"stopped early: {exc}"
        logger.warning("exploration %s", status)
    path = Path.cwd() / "frames.extxyz"
    frames = read_frames(path) if path.exists() else []
    return {
        "status": status,
        "protocol": md_maker.resolved_protocol().name,
        "frames": [
            {"structure": AseAtomsAdaptor.get_structure(a).as_dict(),
             "step": a.info.get("step"), "stage": a.info.get("stage_name"),
             "temperature": a.info.get("temperature_k")}
            for a in frames
        ],
    }


def _candidates(md_runs: list[Any], iteration: int, potential_id: str, min_distance: float = 1.8):
    """Frames of the exploration runs with their provenance in ``info``.

    Frames with atoms closer than ``min_distance`` Å (debris of a failed run) are dropped.
    """
    from gst_flows.structures import minimum_distance

    frames = []
    for run_index, run in enumerate(md_runs):
        if run is None:
            logger.warning("iteration %d: exploration run %d failed; its frames are skipped",
                           iteration, run_index)
            continue
        for frame in run["frames"]:
            structure = frame["structure"]
            if not isinstance(structure, Structure):
                structure = Structure.from_dict(structure)
            atoms = AseAtomsAdaptor.get_atoms(structure)
            atoms.info.clear()
            atoms.arrays = {k: v for k, v in atoms.arrays.items() if k in ("numbers", "positions")}
            if minimum_distance(atoms) < min_distance:
                continue
            temperature = frame.get("temperature")
            liquid = (temperature or 0) >= 900
            atoms.info.update({
                "generator": f"gap md run {run_index} ({run['protocol']}, stage {frame['stage']})",
                "potential_id": potential_id,
                "md_step": frame.get("step"),
                "temperature": temperature,
                "iteration": iteration,
                "config_type": ("liquid" if liquid else "amorphous") if iteration == 1
                else "phase_transition",
            })
            frames.append(atoms)
    return frames


def committee_force_spread(potential_ids: Sequence[str], frames: Sequence[Any], store=None) -> np.ndarray:
    """Force spread (eV/Å) of a committee of stored potentials on each frame.

    See :func:`gst_flows.selection.committee_spread`.
    """
    from gst_flows.potentials import load_potential

    return calculator_spread([load_potential(p, store=store) for p in potential_ids], frames)


def calculator_spread(calculators: Sequence[Any], frames: Sequence[Any]) -> np.ndarray:
    """Force spread (eV/Å) of a committee of ASE calculators on each frame."""
    from gst_flows.selection import committee_spread

    forces = []
    for calculator in calculators:
        member = []
        for frame in frames:
            atoms = frame.copy()
            atoms.calc = calculator
            member.append(atoms.get_forces())
        forces.append(member)
    return committee_spread(forces)


@job(output_schema=SelectionDoc, data=["structures"])
def al_select(maker: ActiveLearningMaker, state: dict[str, Any], md_docs: list[Any]) -> Response:
    """Choose diverse candidates in SOAP space (not already labelled), label them, refit."""
    from gst_flows.analysis.soap import SoapSettings, mean_soap_vectors
    from gst_flows.dataset import label_filter
    from gst_flows.flows.label import label_flow
    from gst_flows.selection import near_duplicates, select_diverse, uncertainty_weights
    from gst_flows.store import current_store

    iteration = state["iteration"]
    candidates = _candidates(md_docs, iteration, state["potential_id"])
    store = current_store()
    existing = []
    for doc in store.query(label_filter(tag=maker.tag), properties=["output.structure"], load=True):
        structure = doc["output"].get("structure")
        if structure:
            existing.append(AseAtomsAdaptor.get_atoms(Structure.from_dict(structure)))
    existing = [a for a in existing if len(a) > 1]
    species = sorted({s for a in [*candidates, *existing] for s in a.get_chemical_symbols()})
    soap = SoapSettings(**{**maker.soap, "species_resolved": True, "species": tuple(species)})
    x = mean_soap_vectors(candidates, soap) if candidates else np.zeros((0, soap.dimension))
    x_old = mean_soap_vectors(existing, soap) if existing else None
    spread = None
    weights = None
    if state.get("committee") and candidates:
        spread = committee_force_spread(state["committee"], candidates, store)
        weights = uncertainty_weights(spread, maker.uncertainty_power)
        logger.info("iteration %d: committee force spread %.3f–%.3f eV/Å (mean %.3f)", iteration,
                    spread.min(), spread.max(), spread.mean())
    picked = select_diverse(x, maker.n_select, maker.selection_method, existing=x_old,
                            weights=weights) if len(x) else []
    chosen = [candidates[i] for i in picked]
    n_dup = int(near_duplicates(x, x_old).sum()) if len(x) else 0
    logger.info("iteration %d: selected %d of %d candidate frames (%d near-duplicates)",
                iteration, len(chosen), len(candidates), n_dup)
    doc = SelectionDoc(
        tag=maker.tag, iteration=iteration, method=maker.selection_method,
        n_candidates=len(candidates), n_duplicates=n_dup, n_existing=len(existing),
        n_selected=len(chosen), budget=maker.n_select,
        uncertainty="committee" if spread is not None else None,
        mean_candidate_spread=float(spread.mean()) if spread is not None else None,
        selected_spread=[float(spread[i]) for i in picked] if spread is not None else [],
        provenance=[{k: a.info.get(k) for k in ("generator", "potential_id", "temperature",
                                               "md_step", "config_type")} for a in chosen],
        structures=[AseAtomsAdaptor.get_structure(a) for a in chosen],
    )
    labels = label_flow(chosen, maker.label_maker, name=f"iter-{iteration} labels",
                        max_failed_fraction=maker.max_failed_fraction, tag=maker.tag)
    fit = _steering(al_fit(maker, {**state, "n_new_labels": len(chosen)}, [labels.output]),
                    f"iter-{iteration} fit")
    return Response(output=doc, addition=_categorised(Flow([labels, fit])))
