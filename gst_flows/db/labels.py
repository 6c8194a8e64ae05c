"""The one label query: every command and flow that reads stored labels builds it here.

A selection (tag, iteration, config_type, composition, protocol, code) matches the label
documents computed in that context *and* those that reuse an identical earlier label there
(``reused_from``: the same structure and protocol labelled before, maybe under another tag).
:func:`find_labels` then keeps each structure once per protocol, so ``query``, ``export``, a
fit and the active-learning selection all see the same set, exactly once each.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ase import Atoms

from gst_flows.schemas.label import LabelDoc

if TYPE_CHECKING:
    from jobflow import JobStore

__all__ = ["LABEL_CLASS", "DatasetError", "StoredLabel", "find_labels", "label_filter"]

#: ``output.@class`` of label documents in the job store.
LABEL_CLASS = "LabelDoc"
#: Label fields kept in the ``data`` store (they grow with the number of atoms).
DATA_FIELDS = ("forces", "structure")


class DatasetError(ValueError):
    """A selection or data set is unusable; the message says which frame or filter and why."""


@dataclass
class StoredLabel:
    """A label document as stored: the job's uuid, the document, the job's metadata."""

    uuid: str
    doc: LabelDoc
    metadata: dict[str, Any] = field(default_factory=dict)


def _normalise_formula(composition: str) -> str:
    try:
        return Atoms(composition).get_chemical_formula(mode="metal", empirical=True)
    except (ValueError, KeyError) as exc:
        raise DatasetError(f"not a chemical composition: {composition!r}") from exc


def _as_list(value: Any) -> list:
    return [value] if isinstance(value, (str, int)) else list(value)


def label_filter(
    tag: str | None = None,
    iteration: int | Sequence[int] | None = None,
    config_type: str | Sequence[str] | None = None,
    composition: str | Sequence[str] | None = None,
    settings_hash: str | None = None,
    code: str | None = None,
    state: str | None = "successful",
    query: dict[str, Any] | None = None,
    include_reused: bool = True,
    structure_hash: str | None = None,
    synthetic: bool | None = False,
) -> dict[str, Any]:
    """MongoDB filter selecting label documents in the outputs collection.

    Parameters
    ----------
    tag, iteration, config_type
        Provenance to match (``iteration`` and ``config_type`` may be lists).
    composition
        Chemical composition(s), in any formula form (``Ge1Sb2Te4``, ``GeSb2Te4``); matched
        on the reduced formula.
    settings_hash
        A protocol's settings hash, or a unique prefix of at least 6 characters. Isolated-atom
        labels computed for that protocol (``reference_settings_hash``) match too.
    code
        The labelling code: ``cp2k``, ``vasp``, ``castep``, ``imported``.
    state
        ``"successful"`` (default), ``"failed"``, or None for both.
    query
        Any further MongoDB filter on the job documents (``output.*`` fields).
    include_reused
        Also match documents that reuse an identical earlier label in this context (default):
        a label reused under a new tag belongs to that tag. False matches only the documents
        that computed (or imported) a label.
    structure_hash
        Only labels of this structure.
    synthetic
        False (default): leave out synthetic labels (a teacher potential's, see
        :class:`~gst_flows.makers.teacher.TeacherLabelMaker`), so they never mix with DFT
        labels unasked; labels stored without the field count as not synthetic. True: only
        synthetic labels. None: both.
    """
    criteria: dict[str, Any] = {"output.@class": LABEL_CLASS}
    if not include_reused:
        criteria["output.reused_from"] = None
    if state:
        criteria["output.state"] = state
    if tag:
        criteria["output.provenance.tag"] = tag
    if iteration is not None:
        criteria["output.provenance.iteration"] = {"$in": [int(i) for i in _as_list(iteration)]}
    if config_type:
        criteria["output.provenance.config_type"] = {"$in": [str(c) for c in _as_list(config_type)]}
    if composition:
        criteria["output.formula"] = {"$in": [_normalise_formula(f) for f in _as_list(composition)]}
    if code:
        criteria["output.code"] = code
    if structure_hash:
        criteria["output.structure_hash"] = structure_hash
    if synthetic is not None:
        criteria["output.provenance.synthetic"] = True if synthetic else {"$ne": True}
    clauses: list[dict[str, Any]] = [criteria]
    if settings_hash:
        if len(settings_hash) < 6 or not all(c in "0123456789abcdef" for c in settings_hash):
            raise DatasetError(
                f"settings hash {settings_hash!r}: give the hexadecimal hash or a prefix of at "
                "least 6 characters"
            )
        match: Any = settings_hash if len(settings_hash) == 40 else {"$regex": f"^{settings_hash}"}
        clauses.append({"$or": [{"output.settings_hash": match}, {"output.reference_settings_hash": match}]})
    if query:
        clauses.append(query)
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _fill_reused_arrays(store: JobStore, labels: list[StoredLabel], skip: set[str]) -> None:
    """Give reuse documents stored without arrays (imports) the arrays of their original."""
    wanted = [name for name in DATA_FIELDS if name not in skip]
    missing = [lab for lab in labels if lab.doc.reused_from and lab.doc.structure is None]
    if not wanted or not missing:
        return
    originals = {
        entry["uuid"]: entry["output"]
        for entry in store.query(
            {"uuid": {"$in": sorted({lab.doc.reused_from for lab in missing})}, "output.@class": LABEL_CLASS},
            properties=["uuid", *(f"output.{name}" for name in wanted)],
            load=True,
        )
    }
    for lab in missing:
        original = originals.get(lab.doc.reused_from)
        if original is None:
            raise DatasetError(f"label {lab.uuid} reuses {lab.doc.reused_from}, which is not in the store")
        filled = LabelDoc.model_validate({**lab.doc.model_dump(), **{k: original.get(k) for k in wanted}})
        lab.doc = filled


def find_labels(
    *,
    store: JobStore | None = None,
    load: bool = True,
    forces: bool = True,
    unique: bool = True,
    **filters: Any,
) -> list[StoredLabel]:
    """Stored labels matching ``filters`` (see :func:`label_filter`), oldest first.

    Parameters
    ----------
    store
        The job store; the configured one (:func:`gst_flows.store.get_store`) when omitted.
    load
        Load the arrays kept in the ``data`` store (structure, forces), as export, fits and
        relabelling need; a label reused from another context gets its original's arrays.
    forces
        Include the forces (leave them out when only structures are needed).
    unique
        Keep each structure once per protocol (the oldest document of the selection): a label
        computed under one tag and reused under it again counts once. False lists every
        document.
    **filters
        Keyword arguments of :func:`label_filter`.
    """
    if store is None:
        from gst_flows.store import get_store

        store = get_store()
    store.connect()
    skip = set() if load else set(DATA_FIELDS)
    if not forces:
        skip.add("forces")
    fields = [f"output.{name}" for name in LabelDoc.model_fields if name not in skip]
    criteria = label_filter(**filters)
    for attempt in range(50):
        try:
            found = list(
                store.query(
                    criteria, properties=["uuid", "metadata", *fields], sort={"completed_at": 1}, load=load
                )
            )
            break
        except KeyError:  # a job's document is written before its arrays: read again
            if attempt == 49:
                raise
            time.sleep(0.2)
    labels: list[StoredLabel] = []
    seen: set[tuple[str, str]] = set()
    for entry in found:
        output = {k: v for k, v in entry["output"].items() if k not in skip and not k.startswith("@")}
        key = (output.get("structure_hash"), output.get("settings_hash"))
        if unique and key in seen:
            continue
        seen.add(key)
        labels.append(
            StoredLabel(entry["uuid"], LabelDoc.model_validate(output), entry.get("metadata") or {})
        )
    if load:
        _fill_reused_arrays(store, labels, skip)
    return labels
