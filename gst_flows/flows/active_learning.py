"""The active-learning loop: label, fit, explore with the potential, select, label, refit.

iter-0 labels crystals (rattled and strained copies), optional CP2K AIMD snapshots, isolated
atoms and a held-out set; every later iteration explores with GAP-driven MD (iter-1, repeated
``melt_quench_rounds`` times: melt-quench; then iter-2: crystallisation from a template after
melting the middle of a crystallisation cell, and partial melting of crystals, so ordered and
disordered regions coexist), selects diverse frames in SOAP space, labels them and refits. The
loop decides at run time, with jobflow's dynamic responses, whether to continue: it stops at a
target held-out force RMSE, when the improvement falls below a threshold, or after
``max_iterations``.

Every explored frame is classified by what it is: its SOAP crystalline fraction (k̄,
:mod:`gst_flows.analysis.crystallinity`) makes it ``crystal``, ``phase_transition`` (crystal
and non-crystal both substantial), or ``liquid``/``amorphous`` (by the thermostat temperature).

Every random choice of the loop (MD velocities and thermostat noise, committee subsamples,
gap_fit's seed) takes a seed derived from the maker's ``seed``, the iteration and the run or
member index (:func:`derive_seed`), recorded in the documents and the labels' provenance; the
training set is read in a content-defined order. Two runs with the same seed on the same
machine and thread count give the same labels, selections and potentials.

The held-out set carries its own tag (``<tag>-heldout``) and never enters training.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from jobflow import Flow, Maker, Response, job
from jobflow.core.reference import OnMissing
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.makers.dft import Cp2kAimdMaker, Cp2kLabelMaker
from gst_flows.makers.fit import GapFitMaker, TrainingSelection
from gst_flows.makers.md import GapMDMaker
from gst_flows.md.protocol import FixAtoms, melt_anneal, partial_melt
from gst_flows.schemas.active_learning import IterationDoc, SelectionDoc

__all__ = [
    "ActiveLearningMaker",
    "al_decide",
    "al_explore",
    "al_fit",
    "al_md",
    "al_select",
    "convergence_decision",
    "derive_seed",
    "format_histogram",
    "fraction_histogram",
    "measured_config_type",
    "overall_errors",
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
                return f"improvement {gain:.1%} of the held-out force RMSE is below {min_improvement:.0%}"
    if last["iteration"] >= max_iterations:
        return f"reached the maximum of {max_iterations} iterations"
    return None


def derive_seed(seed: int, iteration: int, index: int, purpose: str) -> int:
    """Seed of one random choice of the loop, from the flow's seed; never from time or ids.

    Parameters
    ----------
    seed
        The flow's seed (non-negative).
    iteration
        Loop iteration.
    index
        Run, structure or committee-member index within the iteration.
    purpose
        What the seed is for (``"md"``, ``"committee"``, ``"gap_fit"``): distinct streams.

    Returns
    -------
    int
        A seed in [0, 2**31).
    """
    code = int.from_bytes(hashlib.sha256(purpose.encode()).digest()[:4], "little")
    state = np.random.SeedSequence([seed, iteration, index, code]).generate_state(1)
    return int(state[0] % (2**31))


def measured_config_type(
    fraction: float | None,
    temperature: float | None,
    coexistence: tuple[float, float] = (0.2, 0.8),
    liquid_temperature: float = 900.0,
) -> str:
    """config_type of an explored frame from its measured crystalline fraction.

    Parameters
    ----------
    fraction
        Crystalline fraction of the frame (k̄ above the crystallinity threshold), or None
        when it could not be measured.
    temperature
        Thermostat (or, without one, instantaneous) temperature of the frame, K.
    coexistence
        ``(low, high)``: above ``high`` the frame is ``crystal``; between the two both
        crystalline and non-crystalline atoms are substantial (``phase_transition``); below
        ``low`` it is ``liquid`` at or above ``liquid_temperature`` and ``amorphous`` under it.
    liquid_temperature
        Temperature from which a non-crystalline frame counts as liquid, K.

    Returns
    -------
    str
        ``crystal``, ``phase_transition``, ``liquid``, ``amorphous``, or ``default`` when the
        fraction is unknown.
    """
    if fraction is None:
        return "default"
    low, high = coexistence
    if fraction > high:
        return "crystal"
    if fraction >= low:
        return "phase_transition"
    return "liquid" if (temperature or 0.0) >= liquid_temperature else "amorphous"


def fraction_histogram(fractions: Sequence[float | None], bins: int = 10) -> dict[str, list]:
    """Histogram of crystalline fractions on [0, 1] (unmeasured values left out).

    Returns
    -------
    dict
        ``edges`` (``bins + 1`` values) and ``counts`` (``bins`` values).
    """
    values = np.asarray([f for f in fractions if f is not None], dtype=float)
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    return {"edges": [round(float(e), 6) for e in edges], "counts": counts.tolist()}


def format_histogram(histogram: dict[str, list], width: int = 30) -> str:
    """Text rendering of :func:`fraction_histogram`, one line per bin."""
    counts, edges = histogram["counts"], histogram["edges"]
    top = max(counts) if counts and max(counts) > 0 else 1
    return "\n".join(
        f"{lo:4.2f}-{hi:4.2f} {'#' * round(width * c / top):<{width}} {c}"
        for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)
    )


def overall_errors(errors: dict[str, Any] | None) -> dict[str, Any]:
    """The pooled error row of a fit's error table.

    Parameters
    ----------
    errors
        Errors per config_type with the pooled row ``"all"`` (older documents:
        ``"overall"``); empty or None when the fit had no such set.

    Returns
    -------
    dict
        The pooled row; empty when there are no errors at all.

    Raises
    ------
    ValueError
        When there are errors but no pooled row: one config_type's errors must not stand in
        for the whole set.
    """
    from gst_flows.fit.metrics import ALL

    if not errors:
        return {}
    entry = errors.get(ALL) or errors.get("overall")
    if entry is None:
        raise ValueError(
            f"the error table has rows for {', '.join(sorted(errors))} but no pooled row "
            f"'{ALL}': the loop judges convergence on the whole held-out set only"
        )
    return entry if isinstance(entry, dict) else entry.model_dump()


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


def default_device_makers() -> list[GapMDMaker]:
    """iter-2 explorations: crystallisation after melting the middle, and partial melting.

    Both hold the ``fixed`` template of a crystallisation cell
    (:func:`gst_flows.structures.build_crystallisation_cell`).
    """
    return [
        GapMDMaker(protocol=melt_anneal(), frame_interval=500),
        GapMDMaker(protocol=partial_melt(), frame_interval=500),
    ]


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
        GAP-MD exploration of iter-1 (melt-quench); the potential is set per iteration.
    device_makers
        GAP-MD explorations of iter-2, each run on every device cell: by default
        crystallisation after melting the middle of a crystallisation cell
        (:func:`~gst_flows.md.protocol.melt_anneal`) and partial melting of the crystal
        (:func:`~gst_flows.md.protocol.partial_melt`), both with the ``fixed`` template held.
    melt_quench_rounds
        Iterations of iter-1 (melt-quench) before iter-2 starts (the published method
        repeated iter-1).
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
    seed
        Seed of the whole loop: every MD run, committee subsample and gap_fit seed is derived
        from it, the iteration and the run or member index (:func:`derive_seed`).
    coexistence
        Crystalline fractions ``(low, high)`` that classify explored frames (see
        :func:`measured_config_type`).
    liquid_temperature
        Temperature from which a non-crystalline explored frame is ``liquid``, K.
    """

    name: str = "active learning"
    tag: str = "gst-al"
    label_maker: Maker = field(default_factory=Cp2kLabelMaker)
    fit_maker: GapFitMaker = field(default_factory=GapFitMaker)
    explore_maker: GapMDMaker = field(default_factory=GapMDMaker)
    device_makers: list[GapMDMaker] = field(default_factory=default_device_makers)
    melt_quench_rounds: int = 1
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
    seed: int = 0
    coexistence: tuple[float, float] = (0.2, 0.8)
    liquid_temperature: float = 900.0

    def __post_init__(self) -> None:
        if self.uncertainty not in (None, "committee"):
            raise ValueError(f"unknown uncertainty {self.uncertainty!r}: None or 'committee'")
        if self.uncertainty == "committee":
            if self.committee_size < 2:
                raise ValueError(f"a committee needs at least 2 members, got {self.committee_size}")
            if not 0 < self.committee_fraction < 1:
                raise ValueError(f"committee_fraction must be in (0, 1), got {self.committee_fraction}")
            if self.selection_method != "fps":
                raise ValueError("uncertainty weights apply to farthest-point sampling (fps) only")
        if self.melt_quench_rounds < 1:
            raise ValueError(f"melt_quench_rounds must be at least 1, got {self.melt_quench_rounds}")
        if not self.device_makers:
            raise ValueError("device_makers must hold at least one MD maker for iter-2")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        low, high = self.coexistence
        if not 0 <= low < high <= 1:
            raise ValueError(
                f"coexistence must be (low, high) with 0 <= low < high <= 1, got {self.coexistence}"
            )

    def exploration(self, iteration: int) -> str:
        """``melt-quench`` (iter-1) or ``device`` (iter-2) for a loop iteration >= 1."""
        return "melt-quench" if iteration <= self.melt_quench_rounds else "device"

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
            Starting cells of the iter-1 (melt-quench) GAP-MD exploration.
        device
            Starting cells of iter-2: crystallisation cells with their ``fixed`` template
            (:func:`gst_flows.structures.build_crystallisation_cell`) for the default
            ``device_makers``; default ``explore`` (then the device makers must hold no atoms).
        aimd
            Cells for the optional iter-0 AIMD (needs ``aimd_maker``).
        """
        from gst_flows.flows.label import isolated_atoms_flow, label_flow

        if self.selection_method not in {"fps", "cur"}:
            raise ValueError(f"unknown selection method {self.selection_method!r}")
        if not initial or not held_out or not explore:
            raise ValueError("the loop needs initial, held-out and exploration structures")
        device = list(device or explore)
        for cell in explore:
            self.explore_maker.check(cell, require_potential=False)
        if self.max_iterations > self.melt_quench_rounds:
            for md_maker in self.device_makers:
                for cell in device:
                    _check_device_cell(md_maker, cell)
        to_atoms = _structure_atoms
        train = label_flow(
            [to_atoms(s) for s in initial],
            self.label_maker,
            name="iter-0 labels",
            max_failed_fraction=self.max_failed_fraction,
            tag=self.tag,
            iteration=0,
            generator="iter-0 builders",
        )
        test = label_flow(
            [to_atoms(s) for s in held_out],
            self.label_maker,
            name="held-out labels",
            max_failed_fraction=self.max_failed_fraction,
            tag=_held_out_tag(self.tag),
            iteration=0,
            generator="held-out set",
        )
        jobs: list[Any] = [train, test]
        waits = [train.output, test.output]
        if self.isolated_box is not None:
            species = sorted({el.symbol for s in [*initial, *held_out] for el in s.composition})
            settings = getattr(self.label_maker, "settings", {})
            atoms = isolated_atoms_flow(
                species, settings=settings, box=self.isolated_box, tag=self.tag, iteration=0
            )
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
            "device": [s.as_dict() for s in device],
        }
        fit = _steering(al_fit(self, state, waits), "iter-0 fit")
        jobs.append(fit)
        return Flow(jobs, output=fit.output, name=self.name)


def _check_device_cell(md_maker: GapMDMaker, cell: Structure) -> None:
    """Refuse an iter-2 cell its protocol cannot run on, or whose template holds no atom."""
    from gst_flows.makers.md import structure_to_atoms
    from gst_flows.md.protocol import fixed_mask

    name = md_maker.resolved_protocol().name
    hint = "give crystallisation cells (build_crystallisation_cell) as device cells"
    try:
        protocol = md_maker.check(cell, require_potential=False)
    except ValueError as exc:
        raise ValueError(
            f"iter-2 protocol {name!r} cannot run on device cell "
            f"{cell.composition.reduced_formula}: {exc}; {hint}"
        ) from None
    atoms = structure_to_atoms(cell)
    for stage in protocol.stages:
        if stage.actions_of(FixAtoms) and not fixed_mask(atoms, stage).any():
            raise ValueError(
                f"iter-2 protocol {name!r} holds a crystal template, but device cell "
                f"{cell.composition.reduced_formula} has no fixed atom; {hint}"
            )


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
        structure.properties = {k: atoms.info[k] for k in ("config_type", "generator") if k in atoms.info}
        out.append(structure)
    return out


def _with_gap_seed(fit_maker: GapFitMaker, seed: int, **changes: Any) -> GapFitMaker:
    """The fit maker with gap_fit's ``rnd_seed`` set (and other fields changed)."""
    from gst_flows.fit.hyperparameters import GapHyperparameters

    hyper = fit_maker.hyperparameters
    if isinstance(hyper, dict):
        hyper = GapHyperparameters(**{k: v for k, v in hyper.items() if not k.startswith("@")})
    return replace(fit_maker, hyperparameters=replace(hyper, seed=seed), **changes)


@job
def al_fit(maker: ActiveLearningMaker, state: dict[str, Any], waits: list[Any]) -> Response:
    """Fit on every label of the loop so far; the held-out set is the test set."""
    iteration = state["iteration"]
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
            {**state, "seeds": {**state.get("seeds", {}), **seeds}},
            fit.output.potential_id,
            fit.output.test_errors,
            fit.output.train_errors,
            fit.output.training_set,
            [m.output.potential_id for m in committee],
        ),
        f"iter-{iteration} decide",
    )
    return Response(replace=_categorised(Flow([fit, *committee, decide], output=decide.output)))


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
    held = overall_errors(test_errors)
    train = overall_errors(train_errors)
    training = training_set if isinstance(training_set, dict) else training_set.model_dump()
    per_type = {k: v["n_structures"] for k, v in training.get("per_config_type", {}).items()}
    n_labels = training.get("n_structures", 0)
    history = [
        *state["history"],
        {
            "iteration": state["iteration"],
            "n_labels": n_labels,
            "force_rmse": held.get("force_rmse"),
            "energy_rmse": held.get("energy_rmse"),
            "potential_id": potential_id,
        },
    ]
    reason = convergence_decision(
        history, maker.max_iterations, maker.target_force_rmse, maker.min_improvement
    )
    if reason is None and state.get("n_new_labels") == 0:
        reason = "the exploration found no new configuration to label"
    selected = state.get("selected_fractions")
    doc = IterationDoc(
        tag=maker.tag,
        iteration=state["iteration"],
        potential_id=potential_id,
        exploration=maker.exploration(state["iteration"]) if state["iteration"] else "builders",
        n_labels=n_labels,
        n_new_labels=state.get("n_new_labels") or n_labels,
        labels_per_config_type=per_type,
        held_out_force_rmse=held.get("force_rmse"),
        held_out_energy_rmse=held.get("energy_rmse"),
        train_force_rmse=train.get("force_rmse"),
        converged=reason is not None,
        stop_reason=reason,
        history=history,
        committee_potential_ids=list(committee or []),
        seeds=state.get("seeds", {}),
        selected_crystalline_fractions=list(selected or []),
        selected_fraction_histogram=fraction_histogram(selected) if selected else None,
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
    if doc.selected_fraction_histogram:
        logger.info(
            "iteration %d: crystalline fraction of the selected frames\n%s",
            doc.iteration,
            format_histogram(doc.selected_fraction_histogram),
        )
    if reason is not None:
        return Response(output=doc)
    carried = {k: v for k, v in state.items() if k not in ("seeds", "selected_fractions")}
    following = {
        **carried,
        "iteration": state["iteration"] + 1,
        "history": history,
        "potential_id": potential_id,
        "committee": list(committee or []),
    }
    explore = _steering(al_explore(maker, following), f"iter-{following['iteration']} explore")
    return Response(output=doc, addition=explore)


def _seeded(md_maker: GapMDMaker, seed: int, potential_id: str) -> GapMDMaker:
    """The maker with the loop's potential and its protocol's seed set to ``seed``."""
    protocol = md_maker.resolved_protocol().model_copy(update={"seed": seed})
    return replace(md_maker, protocol=protocol, potential=potential_id)


@job
def al_explore(maker: ActiveLearningMaker, state: dict[str, Any]) -> Response:
    """GAP-MD exploration with the current potential, then selection.

    iter-1 (``melt_quench_rounds`` iterations) runs ``explore_maker`` on the exploration
    cells; iter-2 runs every one of ``device_makers`` on every device cell. Run ``k`` of
    iteration ``i`` has the seed ``derive_seed(maker.seed, i, k, "md")``.
    """
    iteration = state["iteration"]
    if maker.exploration(iteration) == "melt-quench":
        plan = [(maker.explore_maker, cell) for cell in state["explore"]]
    else:
        plan = [(md_maker, cell) for md_maker in maker.device_makers for cell in state["device"]]
    runs = []
    seeds = []
    for index, (md_maker, cell) in enumerate(plan):
        structure = cell if isinstance(cell, Structure) else Structure.from_dict(cell)
        seed = derive_seed(maker.seed, iteration, index, "md")
        run = al_md(_seeded(md_maker, seed, state["potential_id"]), structure)
        run.name = f"iter-{iteration} md {index}"
        run.update_config({"manager_config": {"_category": md_maker.fworker_category}})
        runs.append(run)
        seeds.append(seed)
    following = {**state, "seeds": {**state.get("seeds", {}), "md": seeds}}
    select = _steering(al_select(maker, following, [r.output for r in runs]), f"iter-{iteration} select")
    # An exploration run that blows up (common with early potentials) must not end the loop:
    # selection proceeds with the runs that finished.
    select.config.on_missing_references = OnMissing.NONE
    return Response(replace=Flow([*runs, select], output=select.output))


def _frame_fractions(frames: Sequence[Any]) -> list[float | None]:
    """Crystalline fraction (k̄, the module's default threshold) of every frame of one run."""
    from gst_flows.analysis.crystallinity import crystallinity_series

    if not frames:
        return []
    try:
        fractions = crystallinity_series(list(frames))["crystalline_fraction"]
    except ValueError as exc:  # e.g. no anion: no rock-salt reference for the composition
        logger.warning("crystalline fraction not measured: %s", exc)
        return [None] * len(frames)
    return [float(f) for f in fractions]


def _target_temperature(protocol, frame) -> float | None:
    """Thermostat target of a saved frame, K (None in NVE stages)."""
    name = frame.info.get("stage_name")
    step = frame.info.get("step")
    if name is None or step is None:
        return None
    index = [s.name for s in protocol.stages].index(name)
    stage = protocol.stages[index]
    if stage.ensemble == "nve":
        return None
    within = int(step) - protocol.stage_start_steps()[index]
    return stage.temperature_at_step(min(max(within, 0), stage.n_steps))


@job(data=["frames"])
def al_md(md_maker: GapMDMaker, structure: Structure, restart_from: str | None = None) -> Any:
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
            follow = al_md(md_maker, structure, restart_from=str(Path.cwd()))
            follow.name = f"{md_maker.name} (continued)"
            follow.update_config({"manager_config": {"_category": md_maker.fworker_category}})
            return Response(replace=follow)
    path = Path.cwd() / "frames.extxyz"
    frames = read_frames(path) if path.exists() else []
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


def _candidates(
    md_runs: list[Any],
    iteration: int,
    potential_id: str,
    min_distance: float = 1.8,
    coexistence: tuple[float, float] = (0.2, 0.8),
    liquid_temperature: float = 900.0,
):
    """Frames of the exploration runs with their provenance in ``info``.

    ``config_type`` comes from each frame's measured crystalline fraction
    (:func:`measured_config_type`). Frames with atoms closer than ``min_distance`` Å (debris of
    a failed run) are dropped.
    """
    from gst_flows.structures import minimum_distance

    frames = []
    for run_index, run in enumerate(md_runs):
        if run is None:
            logger.warning(
                "iteration %d: exploration run %d failed; its frames are skipped", iteration, run_index
            )
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
            temperature = frame.get("target_temperature")
            if temperature is None:
                temperature = frame.get("temperature")
            fraction = frame.get("crystalline_fraction")
            atoms.info.update(
                {
                    "generator": f"gap md run {run_index} ({run['protocol']}, stage {frame['stage']})",
                    "potential_id": potential_id,
                    "md_step": frame.get("step"),
                    "md_seed": run.get("seed"),
                    "temperature": temperature,
                    "iteration": iteration,
                    "crystalline_fraction": fraction,
                    "config_type": measured_config_type(
                        fraction, temperature, coexistence, liquid_temperature
                    ),
                }
            )
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


#: Per-frame provenance kept in the selection document.
_SELECTION_PROVENANCE = (
    "generator",
    "potential_id",
    "temperature",
    "md_step",
    "md_seed",
    "crystalline_fraction",
    "config_type",
)


@job(output_schema=SelectionDoc, data=["structures"])
def al_select(maker: ActiveLearningMaker, state: dict[str, Any], md_docs: list[Any]) -> Response:
    """Choose diverse candidates in SOAP space (not already labelled), label them, refit.

    The document records every candidate's crystalline fraction and a histogram of the
    fractions of the chosen frames.
    """
    from gst_flows.analysis.soap import SoapSettings, mean_soap_vectors
    from gst_flows.dataset import label_filter
    from gst_flows.flows.label import label_flow
    from gst_flows.selection import near_duplicates, select_diverse, uncertainty_weights
    from gst_flows.store import current_store

    iteration = state["iteration"]
    candidates = _candidates(
        md_docs,
        iteration,
        state["potential_id"],
        coexistence=tuple(maker.coexistence),
        liquid_temperature=maker.liquid_temperature,
    )
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
        logger.info(
            "iteration %d: committee force spread %.3f–%.3f eV/Å (mean %.3f)",
            iteration,
            spread.min(),
            spread.max(),
            spread.mean(),
        )
    picked = (
        select_diverse(x, maker.n_select, maker.selection_method, existing=x_old, weights=weights)
        if len(x)
        else []
    )
    chosen = [candidates[i] for i in picked]
    n_dup = int(near_duplicates(x, x_old).sum()) if len(x) else 0
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
        n_candidates=len(candidates),
        n_duplicates=n_dup,
        n_existing=len(existing),
        n_selected=len(chosen),
        budget=maker.n_select,
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
        md_seeds=list(state.get("seeds", {}).get("md", [])),
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
    following = {**state, "n_new_labels": len(chosen), "selected_fractions": selected_fractions}
    fit = _steering(al_fit(maker, following, [labels.output]), f"iter-{iteration} fit")
    return Response(output=doc, addition=_categorised(Flow([labels, fit])))
