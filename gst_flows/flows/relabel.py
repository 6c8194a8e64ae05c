"""Relabelling: the structures of a stored set labelled again with another protocol or code.

The published GST potential was refitted with PBE labels of the structures first labelled with
PBEsol; :func:`relabel_flow` does that for any stored selection and any labelling maker. The
new labels are ordinary label documents of the same structures (same ``structure_hash``,
another ``settings_hash``) with the original provenance; each job's metadata records the
document it relabels (``relabel_of``, the original job's uuid), so both labels stay linked::

    from gst_flows.flows.relabel import relabel_flow
    from gst_flows.makers.dft import Cp2kLabelMaker

    flow = relabel_flow(Cp2kLabelMaker(settings={"functional": "PBE"}), tag="gst-db")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ase import Atoms
from jobflow import Flow, Maker
from pymatgen.io.ase import AseAtomsAdaptor

if TYPE_CHECKING:
    from jobflow import JobStore

    from gst_flows.dataset import StoredLabel

__all__ = ["relabel_flow", "relabel_labels"]

ISOLATED_ATOM = "isolated_atom"


def _is_isolated_atom(label: StoredLabel) -> bool:
    return label.doc.reference_settings_hash is not None or label.doc.provenance.config_type == ISOLATED_ATOM


def relabel_labels(
    labels: list[StoredLabel],
    maker: Maker,
    *,
    tag: str | None = None,
    name: str = "relabel",
    max_failed_fraction: float | None = None,
) -> Flow:
    """A labelling flow for the structures of ``labels``, linked to the labels they relabel.

    Parameters
    ----------
    labels
        Stored labels (from :func:`gst_flows.dataset.find_labels` with ``load=True``); a
        structure that occurs several times is relabelled once (its first label is the link).
    maker
        The labelling maker of the new protocol.
    tag
        Tag of the new labels; the original tag when None.
    name
        Flow name.
    max_failed_fraction
        As in :func:`gst_flows.flows.label.label_flow`.

    Returns
    -------
    Flow
        :func:`~gst_flows.flows.label.label_flow`'s flow; each label job's metadata holds
        ``relabel_of`` (uuid of the original label's job), ``relabel_from_settings_hash`` and
        ``relabel_from_code``.
    """
    from gst_flows.flows.label import label_flow

    unique: dict[str, StoredLabel] = {}
    for label in labels:
        if label.doc.structure is None:
            raise ValueError(f"label {label.uuid} has no structure (load it from the data store)")
        unique.setdefault(label.doc.structure_hash, label)
    frames = []
    for label in unique.values():
        atoms: Atoms = AseAtomsAdaptor.get_atoms(label.doc.structure)
        atoms.info.clear()
        atoms.arrays.pop("magmoms", None)
        atoms.info.update(label.doc.provenance.model_dump(exclude_none=True))
        if tag is not None:
            atoms.info["tag"] = tag
        frames.append(atoms)
    flow = label_flow(frames, maker, name=name, max_failed_fraction=max_failed_fraction)
    originals = list(unique.values())
    for job in flow.jobs:
        index = job.metadata.get("batch_index")
        if index is None:
            continue
        original = originals[index]
        job.metadata.update(
            {
                "relabel_of": original.uuid,
                "relabel_from_settings_hash": original.doc.settings_hash,
                "relabel_from_code": original.doc.code,
            }
        )
    return flow


def relabel_flow(
    maker: Maker,
    *,
    tag: str | None = None,
    iteration: int | list[int] | None = None,
    config_type: str | list[str] | None = None,
    composition: str | list[str] | None = None,
    settings_hash: str | None = None,
    code: str | None = None,
    query: dict[str, Any] | None = None,
    new_tag: str | None = None,
    include_isolated_atoms: bool = False,
    name: str = "relabel",
    max_failed_fraction: float | None = None,
    store: JobStore | None = None,
) -> Flow:
    """Relabel every structure of a stored selection with ``maker``'s protocol.

    The selection is read from the database when the flow is built (successful labels only;
    see :func:`gst_flows.dataset.label_filter` for the filters). Structures that already have
    a label with the new protocol are not computed again: their jobs reuse it.

    Parameters
    ----------
    maker
        The labelling maker of the new protocol (e.g. ``Cp2kLabelMaker`` with
        ``settings={"functional": "PBE"}``, ``VaspLabelMaker``, ``CastepLabelMaker``).
    tag, iteration, config_type, composition, settings_hash, code, query
        Which stored labels to relabel. Give ``settings_hash`` (the old protocol) when the tag
        already holds labels of several protocols.
    new_tag
        Tag of the new labels; they keep the original tag when None.
    include_isolated_atoms
        Relabel isolated-atom references too. Off by default: an isolated atom needs its own
        protocol (spin-polarised, Γ-only); compute it with
        :func:`gst_flows.flows.label.isolated_atoms_flow` and the new settings instead.
    name
        Flow name.
    max_failed_fraction
        Stop the flow when a larger fraction of the new labels failed.
    store
        The job store to read the selection from; the configured one when omitted.

    Returns
    -------
    Flow
        See :func:`relabel_labels`.

    Raises
    ------
    ValueError
        When the selection is empty.
    """
    from gst_flows.dataset import find_labels

    labels = find_labels(
        store=store,
        forces=False,
        tag=tag,
        iteration=iteration,
        config_type=config_type,
        composition=composition,
        settings_hash=settings_hash,
        code=code,
        query=query,
    )
    if not include_isolated_atoms:
        labels = [label for label in labels if not _is_isolated_atom(label)]
    if not labels:
        raise ValueError(
            "no successful labels to relabel match the selection" + (f" (tag {tag!r})" if tag else "")
        )
    return relabel_labels(labels, maker, tag=new_tag, name=name, max_failed_fraction=max_failed_fraction)
