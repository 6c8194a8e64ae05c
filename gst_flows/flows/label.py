"""Flows that label sets of structures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ase import Atoms
from jobflow import Flow, Maker, job
from jobflow.core.reference import OnMissing
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.schemas.label import LabelBatchDoc

__all__ = [
    "LabellingFailedError",
    "isolated_atoms_flow",
    "label_flow",
    "provenance_from_info",
    "summarise_labels",
]

_PROVENANCE_KEYS = (
    "tag",
    "iteration",
    "generator",
    "config_type",
    "potential_id",
    "temperature",
    "md_step",
    "md_seed",
    "wrong_bond_fraction",
    "crystalline_fraction",
    "source",
)


class LabellingFailedError(RuntimeError):
    """More labels of a batch failed than the batch tolerates."""


def provenance_from_info(atoms: Atoms, **defaults: Any) -> dict[str, Any]:
    """Provenance of a frame: ``defaults`` overridden by matching keys of ``atoms.info``."""
    prov = {k: v for k, v in defaults.items() if v is not None}
    prov.update({k: atoms.info[k] for k in _PROVENANCE_KEYS if k in atoms.info})
    return prov


@job(output_schema=LabelBatchDoc)
def summarise_labels(
    batch: str,
    states: list[str | None],
    errors: list[str | None],
    reused: list[str | None],
    hashes: list[str | None],
    max_failed_fraction: float | None = None,
) -> LabelBatchDoc:
    """Count the labels of a batch; stop the flow when too many failed.

    A label job that died without a document (``None`` state) counts as failed.

    Raises
    ------
    LabellingFailedError
        When the failed fraction exceeds ``max_failed_fraction``.
    """
    failures = [
        {"index": i, "structure_hash": h, "error": e or "job ended without a document"}
        for i, (s, e, h) in enumerate(zip(states, errors, hashes, strict=True))
        if s != "successful"
    ]
    total = len(states)
    doc = LabelBatchDoc(
        batch=batch,
        n_total=total,
        n_successful=total - len(failures),
        n_failed=len(failures),
        n_reused=sum(r is not None for r in reused),
        failed_fraction=len(failures) / total if total else 0.0,
        max_failed_fraction=max_failed_fraction,
        failures=failures,
    )
    if max_failed_fraction is not None and doc.failed_fraction > max_failed_fraction:
        first = failures[0]["error"]
        raise LabellingFailedError(
            f"{doc.n_failed} of {total} labels failed ({doc.failed_fraction:.0%} > "
            f"{max_failed_fraction:.0%} allowed); first error: {first}"
        )
    return doc


def label_flow(
    structures: Sequence[Atoms],
    maker: Maker | None = None,
    name: str = "label",
    max_failed_fraction: float | None = None,
    **provenance: Any,
) -> Flow:
    """One labelling job per structure, gathered in a flow with a batch summary.

    Parameters
    ----------
    structures
        Structures to label (``info`` keys such as ``config_type`` become provenance).
    maker
        The labelling maker; :class:`~gst_flows.makers.dft.Cp2kLabelMaker` by default.
    name
        Flow name.
    max_failed_fraction
        Stop the flow (the summary job fails with a clear message) when a larger fraction of
        labels failed; None tolerates any number of failures.
    **provenance
        Provenance shared by every structure (tag, iteration, generator, config_type, ...).

    Returns
    -------
    Flow
        Its output is the :class:`LabelBatchDoc` of the summary job. On FireWorks, submit with
        ``pack_size`` to run several labels per queue allocation.
    """
    if maker is None:
        from gst_flows.makers.dft import Cp2kLabelMaker

        maker = Cp2kLabelMaker()
    jobs = []
    flow = Flow([], name=name)
    for index, atoms in enumerate(structures):
        prov = provenance_from_info(atoms, **provenance)
        label = maker.make(AseAtomsAdaptor.get_structure(atoms), provenance=prov)
        label.name = f"{maker.name} {index}"
        label.config.expose_store = True  # lets the job find an identical earlier label
        label.metadata.update({"batch": flow.uuid, "batch_index": index, "batch_size": len(structures)})
        jobs.append(label)
    summary = summarise_labels(
        flow.uuid,
        [j.output.state for j in jobs],
        [j.output.error for j in jobs],
        [j.output.reused_from for j in jobs],
        [j.output.structure_hash for j in jobs],
        max_failed_fraction,
    )
    summary.name = f"{name} summary"
    summary.config.on_missing_references = OnMissing.NONE
    summary.metadata.update({"batch": flow.uuid})
    flow.add_jobs([*jobs, summary])
    flow.output = summary.output
    return flow


def isolated_atoms_flow(
    elements: Sequence[str] = ("Ge", "Sb", "Te"),
    settings: dict[str, Any] | None = None,
    box: tuple[float, float, float] = (10.0, 10.5, 11.0),
    **provenance: Any,
) -> Flow:
    """Isolated-atom reference energies (the fit's e0) for ``elements`` with one protocol.

    Parameters
    ----------
    elements
        Chemical symbols.
    settings
        Overrides of the bulk CP2K protocol (the same as the labels the e0 serve).
    box
        Orthorhombic box, Å; slightly asymmetric so the atom's p shell is not degenerate by
        symmetry of the box.
    """
    from ase import Atoms

    from gst_flows.makers.dft import Cp2kIsolatedAtomMaker

    centre = [length / 2 for length in box]
    atoms = [Atoms(el, positions=[centre], cell=list(box), pbc=True) for el in elements]
    return label_flow(
        atoms,
        Cp2kIsolatedAtomMaker(settings=dict(settings or {})),
        name="isolated atoms",
        **provenance,
    )
