"""The loop's maker: its settings, iteration 0, and the structures it starts from."""

# Annotations stay evaluated (no ``from __future__ import annotations``): the maker names the
# package as its module, and type hints must resolve without this module's namespace.
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jobflow import Flow, Maker
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.makers.dft import Cp2kAimdMaker, Cp2kLabelMaker
from gst_flows.makers.fit import GapFitMaker
from gst_flows.makers.md import GapMDMaker
from gst_flows.md.protocol import FixAtoms, melt_anneal, partial_melt
from gst_flows.schemas.active_learning import LoopState

__all__ = ["ActiveLearningMaker", "default_device_makers", "structures_from_atoms"]


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
    liquid_maker
        GAP-MD of the ``liquid`` cells given to :meth:`make` in every iter-1 iteration: a
        liquid held for picoseconds (:func:`~gst_flows.md.protocol.liquid_hold`), long and
        large enough for the potential's own chemical order to show (homopolar clusters, or
        demixing where it wrongly favours them). None: no such exploration.
    n_liquid_select
        Labels per iter-1 iteration chosen from the ``liquid_maker`` runs' frames at or above
        ``liquid_temperature``, spread evenly over the range of their wrong-bond fraction
        (homopolar and Ge–Sb bonds among all bonds, least to most; see
        :func:`gst_flows.analysis.homopolar_bond_fraction`), on top of ``n_select``: DFT then
        prices a wrong bond on the potential's own liquid (the iteration's explored-frame
        check) and the refit learns it.
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
    transition_share
        Share of an iter-2 (device) budget spread evenly over the ``coexistence`` window of
        measured crystalline fraction, so the labels sample the phase transition across it
        (see :func:`gst_flows.selection.select_across_fractions`); 0 selects by diversity
        only. Farthest-point sampling only.
    """

    name: str = "active learning"
    tag: str = "gst-al"
    label_maker: Maker = field(default_factory=Cp2kLabelMaker)
    fit_maker: GapFitMaker = field(default_factory=GapFitMaker)
    explore_maker: GapMDMaker = field(default_factory=GapMDMaker)
    device_makers: list[GapMDMaker] = field(default_factory=default_device_makers)
    liquid_maker: GapMDMaker | None = None
    n_liquid_select: int = 3
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
    transition_share: float = 1.0

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
        if self.n_liquid_select < 0:
            raise ValueError(f"n_liquid_select must not be negative, got {self.n_liquid_select}")
        if not self.device_makers:
            raise ValueError("device_makers must hold at least one MD maker for iter-2")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not 0 <= self.transition_share <= 1:
            raise ValueError(f"transition_share must be in [0, 1], got {self.transition_share}")
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
        liquid: Sequence[Structure] = (),
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
        liquid
            Cells of the iter-1 liquid-order exploration (needs ``liquid_maker``), e.g. a
            90-atom random packing of Ge2Sb2Te5: large enough for homopolar clusters to form.
        """
        from gst_flows.flows.active_learning.jobs import _held_out_tag, _steering, al_fit
        from gst_flows.flows.label import isolated_atoms_flow, label_flow

        if self.selection_method not in {"fps", "cur"}:
            raise ValueError(f"unknown selection method {self.selection_method!r}")
        if not initial or not held_out or not explore:
            raise ValueError("the loop needs initial, held-out and exploration structures")
        device = list(device or explore)
        for cell in explore:
            self.explore_maker.check(cell, require_potential=False)
        if liquid and self.liquid_maker is None:
            raise ValueError("liquid cells given but no liquid_maker to run them")
        for cell in liquid:
            self.liquid_maker.check(cell, require_potential=False)
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
        state = LoopState(
            iteration=0,
            explore=[s.as_dict() for s in explore],
            device=[s.as_dict() for s in device],
            liquid=[s.as_dict() for s in liquid],
        )
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
