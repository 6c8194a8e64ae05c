"""Labelled data sets in and out of the database: extended XYZ for gap_fit, and imports.

:func:`export_labels` writes a selection of stored labels (by tag, iteration, config_type,
composition, protocol or code) as extended XYZ in the dialect ``gap_fit`` reads:
``REF_energy`` (eV), ``REF_forces`` (eV/Å), ``REF_virial`` (eV, 9 numbers flattened; QUIP
cannot read ASE's 3×3 JSON form), ``config_type``, and the provenance in ``info``.

:func:`import_dataset` stores an existing extended-XYZ data set (a user's own, or a published
one) as label documents with ``code="imported"``, recording where they came from and which keys
held the labels. Frames without the needed labels are refused, by name, before anything is
stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from ase import Atoms
from ase.units import GPa

from gst_flows.db.labels import DATA_FIELDS, DatasetError, StoredLabel, find_labels, label_filter
from gst_flows.fit.data import CONFIG_TYPE_KEY, ENERGY_KEY, FORCES_KEY, VIRIAL_KEY
from gst_flows.schemas.label import LabelDoc, Provenance

if TYPE_CHECKING:
    from jobflow import JobStore

__all__ = [
    "DatasetError",
    "ExportSummary",
    "ImportSummary",
    "StoredLabel",
    "export_labels",
    "find_labels",
    "import_dataset",
    "label_filter",
]

logger = logging.getLogger(__name__)

IMPORTED = "imported"


# --------------------------------------------------------------------------- export
@dataclass
class ExportSummary:
    """What :func:`export_labels` wrote."""

    path: Path
    n_frames: int
    n_duplicates: int
    n_atoms: int
    config_types: dict[str, int]
    protocols: dict[str, dict[str, Any]]

    def describe(self) -> str:
        """A few lines for people: frames, config types, protocols."""
        lines = [
            f"wrote {self.n_frames} frame(s), {self.n_atoms} atoms, to {self.path}"
            + (f" ({self.n_duplicates} duplicate label(s) left out)" if self.n_duplicates else "")
        ]
        if self.config_types:
            counts = sorted(self.config_types.items())
            lines.append("config_type: " + ", ".join(f"{k} {v}" for k, v in counts))
        for settings_hash, info in self.protocols.items():
            lines.append(f"protocol {settings_hash[:10]} ({info['code']}): {info['count']} frame(s)")
        return "\n".join(lines)


def _frame(label: StoredLabel) -> Atoms:
    atoms = label.doc.to_atoms()
    atoms.info["code"] = label.doc.code
    atoms.info["label_uuid"] = label.uuid
    if label.doc.reference_settings_hash:
        atoms.info["reference_settings_hash"] = label.doc.reference_settings_hash
    if label.metadata.get("relabel_of"):
        atoms.info["relabel_of"] = label.metadata["relabel_of"]
    if VIRIAL_KEY in atoms.info:
        atoms.info[VIRIAL_KEY] = np.asarray(atoms.info[VIRIAL_KEY], dtype=float).reshape(9)
    return atoms


def export_labels(
    path: str | Path,
    *,
    tag: str | None = None,
    iteration: int | Sequence[int] | None = None,
    config_type: str | Sequence[str] | None = None,
    composition: str | Sequence[str] | None = None,
    settings_hash: str | None = None,
    code: str | None = None,
    query: dict[str, Any] | None = None,
    store: JobStore | None = None,
) -> ExportSummary:
    """Write the selected successful labels to an extended-XYZ file for ``gap_fit``.

    Each frame carries ``REF_energy`` (eV), ``REF_forces`` (eV/Å), ``REF_virial`` (eV, the
    9 components flattened), ``config_type`` (``"default"`` when unset), and provenance:
    ``tag``, ``iteration``, ``generator``, ``source``, ..., ``code``, ``settings_hash``,
    ``structure_hash``, ``label_uuid`` (the job that computed it) and ``relabel_of`` for
    relabelled structures. A structure labelled twice with one protocol is written once
    (the oldest label). Failed labels are never written.

    Parameters
    ----------
    path
        Output file (``.extxyz`` or ``.xyz``); overwritten.
    tag, iteration, config_type, composition, settings_hash, code, query
        The selection (see :func:`label_filter`). Give ``settings_hash`` (or ``code``) when a
        tag holds labels of several protocols: a fit must not mix functionals.
    store
        The job store; the configured one when omitted.

    Returns
    -------
    ExportSummary
        Counts per config_type and per protocol.

    Raises
    ------
    DatasetError
        When nothing matches the selection (no file is written).
    """
    from ase.io import write

    labels = find_labels(
        store=store,
        unique=False,
        tag=tag,
        iteration=iteration,
        config_type=config_type,
        composition=composition,
        settings_hash=settings_hash,
        code=code,
        query=query,
    )
    seen: set[tuple[str, str]] = set()
    frames: list[Atoms] = []
    protocols: dict[str, dict[str, Any]] = {}
    duplicates = 0
    for label in labels:
        key = (label.doc.structure_hash, label.doc.settings_hash)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        frames.append(_frame(label))
        protocol = label.doc.reference_settings_hash or label.doc.settings_hash
        entry = protocols.setdefault(protocol, {"code": label.doc.code, "count": 0})
        entry["count"] += 1
    if not frames:
        raise DatasetError(
            "no successful labels match the selection "
            + json.dumps(
                {
                    k: v
                    for k, v in {
                        "tag": tag,
                        "iteration": iteration,
                        "config_type": config_type,
                        "composition": composition,
                        "settings_hash": settings_hash,
                        "code": code,
                    }.items()
                    if v is not None
                }
            )
        )
    if len(protocols) > 1:
        warnings.warn(
            f"the exported labels come from {len(protocols)} protocols ("
            + ", ".join(f"{h[:10]} {p['code']}: {p['count']}" for h, p in protocols.items())
            + "); select one with settings_hash= before fitting",
            stacklevel=2,
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write(str(path), frames, format="extxyz")
    return ExportSummary(
        path=path,
        n_frames=len(frames),
        n_duplicates=duplicates,
        n_atoms=sum(len(f) for f in frames),
        config_types=dict(Counter(f.info[CONFIG_TYPE_KEY] for f in frames)),
        protocols=protocols,
    )


# --------------------------------------------------------------------------- import
@dataclass
class ImportSummary:
    """What :func:`import_dataset` stored."""

    path: Path
    n_frames: int
    n_stored: int
    n_already_stored: int
    n_duplicates_in_file: int
    settings_hash: str
    uuids: list[str]
    n_reused: int = 0
    tag: str | None = None

    def describe(self) -> str:
        """One line for people."""
        skipped = []
        if self.n_reused:
            skipped.append(f"{self.n_reused} stored before, now also under tag {self.tag!r}")
        if self.n_already_stored:
            skipped.append(
                f"{self.n_already_stored} already stored" + (f" under tag {self.tag!r}" if self.tag else "")
            )
        if self.n_duplicates_in_file:
            skipped.append(f"{self.n_duplicates_in_file} repeated in the file")
        return (
            f"imported {self.n_stored} of {self.n_frames} frame(s) from {self.path}"
            + (f" ({', '.join(skipped)})" if skipped else "")
            + f"; settings hash {self.settings_hash[:10]}"
        )


def _lookup(atoms: Atoms, key: str) -> Any:
    """A label stored under ``key`` in info, arrays, or (as ASE reads some names) the calculator."""
    if key in atoms.info:
        return atoms.info[key]
    if key in atoms.arrays:
        return atoms.arrays[key]
    if atoms.calc is not None and key in atoms.calc.results:
        return atoms.calc.results[key]
    return None


def _available_keys(atoms: Atoms) -> str:
    keys = [k for k in atoms.info if k not in ("source", "frame")]
    keys += [k for k in atoms.arrays if k not in ("numbers", "positions")]
    if atoms.calc is not None:
        keys += list(atoms.calc.results)
    return ", ".join(sorted(set(keys))) or "none"


def _full_stress(value: Any) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if array.shape == (6,):
        xx, yy, zz, yz, xz, xy = array
        return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    return array.reshape(3, 3)


def _frame_labels(
    atoms: Atoms,
    energy_key: str,
    forces_key: str,
    virial_key: str | None,
    stress_key: str | None,
) -> tuple[float, np.ndarray, np.ndarray | None]:
    """Energy (eV), forces (eV/Å) and stress (GPa, tensile positive) of a frame.

    Raises
    ------
    ValueError
        Naming the missing or malformed label.
    """
    if not all(atoms.pbc) or atoms.get_volume() <= 0:
        raise ValueError(
            f"is not periodic (pbc={''.join('T' if p else 'F' for p in atoms.pbc)}): labels are "
            'stored for periodic cells; give it a cell and pbc="T T T" (isolated atoms in a '
            "large box)"
        )
    energy = _lookup(atoms, energy_key)
    if energy is None:
        raise ValueError(f"has no energy {energy_key!r} (keys present: {_available_keys(atoms)})")
    try:
        energy = float(energy)
    except (TypeError, ValueError):
        raise ValueError(f"has a non-numeric energy {energy_key}={energy!r}") from None
    forces = _lookup(atoms, forces_key)
    if forces is None:
        raise ValueError(f"has no forces {forces_key!r} (keys present: {_available_keys(atoms)})")
    forces = np.asarray(forces, dtype=float)
    if forces.shape != (len(atoms), 3):
        raise ValueError(f"has forces {forces_key!r} of shape {forces.shape}, not ({len(atoms)}, 3)")
    stress = None
    if virial_key is not None and (virial := _lookup(atoms, virial_key)) is not None:
        virial = np.asarray(virial, dtype=float)
        if virial.size != 9:
            raise ValueError(f"has a virial {virial_key!r} of {virial.size} numbers, not 9")
        stress = -virial.reshape(3, 3) / atoms.get_volume() / GPa
    elif stress_key is not None and (raw := _lookup(atoms, stress_key)) is not None:
        if np.asarray(raw).size not in (6, 9):
            raise ValueError(f"has a stress {stress_key!r} of {np.asarray(raw).size} numbers, not 6 or 9")
        stress = _full_stress(raw) / GPa
    values = [energy, forces] + ([stress] if stress is not None else [])
    if not all(np.isfinite(v).all() for v in values):
        raise ValueError("has non-finite labels")
    return energy, forces, stress


def import_dataset(
    path: str | Path,
    *,
    energy_key: str = ENERGY_KEY,
    forces_key: str = FORCES_KEY,
    virial_key: str | None = VIRIAL_KEY,
    stress_key: str | None = None,
    config_type_key: str | None = CONFIG_TYPE_KEY,
    tag: str | None = None,
    iteration: int | None = None,
    source: str | None = None,
    protocol: dict[str, Any] | None = None,
    store: JobStore | None = None,
) -> ImportSummary:
    """Store the labelled frames of an extended-XYZ file as label documents.

    Every frame needs an energy and forces; the virial (or stress) is optional per frame.
    When any frame lacks a needed label, nothing is stored and the error names the frames.
    Frames already stored from the same source with the same keys (same structure and
    settings hash) are skipped, so importing a file twice stores it once.

    Parameters
    ----------
    path
        Extended-XYZ file.
    energy_key
        ``info`` key of the total energy, eV (``energy`` when ASE holds it on a calculator).
    forces_key
        Per-atom array of the forces, eV/Å.
    virial_key
        ``info`` key of the virial, eV (9 numbers or 3×3; gap_fit's convention,
        ``-stress × volume``). Frames without it are stored without stress.
    stress_key
        Instead of a virial: the stress, eV/Å³, ASE sign (tensile positive), 6 (Voigt) or
        9 numbers. Give ``virial_key=None`` to use it.
    config_type_key
        ``info`` key of the phase label (``config_type``); None to ignore.
    tag, iteration
        Provenance given to every imported label.
    source
        Name of the data set (default: the file name). With the key names and ``protocol``
        it makes the settings hash: give the same name to re-import the same data set.
    protocol
        What is known of the DFT protocol that made the labels, e.g.
        ``{"code": "castep", "functional": "PBEsol", "cutoff_eV": 600}``.
    store
        The job store; the configured one when omitted.

    Returns
    -------
    ImportSummary
        Counts and the settings hash of the imported labels.

    Raises
    ------
    DatasetError
        When the file cannot be read or a frame lacks a needed label (nothing is stored).
    """
    from gst_flows.store import get_store
    from gst_flows.structures import StructureError, read_structures

    path = Path(path)
    if virial_key and stress_key:
        raise DatasetError("give either a virial key or a stress key, not both")
    try:
        frames = read_structures(path, validate=False)
    except StructureError as exc:
        raise DatasetError(str(exc)) from None
    settings = {
        "source": source or path.name,
        "energy_key": energy_key,
        "forces_key": forces_key,
        "virial_key": virial_key,
        "stress_key": stress_key,
        "config_type_key": config_type_key,
        "protocol": dict(protocol or {}),
    }
    settings_hash = hashlib.sha1(
        json.dumps({"code": IMPORTED, **settings}, sort_keys=True, default=str).encode()
    ).hexdigest()

    docs: list[tuple[int, LabelDoc]] = []
    problems: list[str] = []
    for index, atoms in enumerate(frames):
        config_type = atoms.info.get(config_type_key) if config_type_key else None
        try:
            energy, forces, stress = _frame_labels(atoms, energy_key, forces_key, virial_key, stress_key)
        except ValueError as exc:
            where = f"frame {index} ({atoms.get_chemical_formula()}" + (
                f", config_type={config_type})" if config_type else ")"
            )
            problems.append(f"{where} {exc}")
            continue
        clean = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
        generator = atoms.info.get("generator")
        provenance = Provenance(
            tag=tag,
            iteration=iteration,
            config_type=str(config_type) if config_type is not None else None,
            generator=str(generator) if generator is not None else f"{path.name} frame {index}",
            source=str(path.resolve()),
        )
        docs.append(
            (
                index,
                LabelDoc.from_result(
                    clean,
                    code=IMPORTED,
                    settings=settings,
                    settings_hash=settings_hash,
                    energy=energy,
                    forces=forces,
                    stress=stress,
                    provenance=provenance,
                ),
            )
        )
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise DatasetError(
            f"{len(problems)} of {len(frames)} frame(s) of {path} lack the needed labels, nothing "
            f"was imported: {shown}"
        )

    store = store or get_store()
    store.connect()
    originals, reuses, already, in_file = _claim_frames(store, docs, settings_hash, tag)
    now = datetime.now().isoformat()

    def entry(uuid: str, index: int, doc: LabelDoc) -> dict[str, Any]:
        return {
            "uuid": uuid,
            "index": 1,
            "output": doc,
            "completed_at": now,
            "metadata": {"import": {"file": str(path.resolve()), "frame": index}},
            "hosts": [],
            "name": f"import {path.name}",
        }

    entries = [entry(uuid, index, doc) for uuid, index, doc in originals]
    if entries:
        entries, late_reuses, late_already = _store_originals(store, entries, tag)
        reuses += late_reuses
        already += late_already
    # A frame labelled before joins this tag as a reuse: provenance only, no second copy of
    # the arrays (readers take them from the original).
    reuse_entries = [entry(uuid, index, doc) for uuid, index, doc in reuses]
    if reuse_entries:
        store.update(reuse_entries, key=["uuid", "index"])
    logger.info(
        "imported %d labels from %s (%d reused under tag %s)", len(entries), path, len(reuse_entries), tag
    )
    return ImportSummary(
        path=path,
        n_frames=len(frames),
        n_stored=len(entries),
        n_already_stored=already,
        n_duplicates_in_file=in_file,
        settings_hash=settings_hash,
        uuids=[e["uuid"] for e in entries],
        n_reused=len(reuse_entries),
        tag=tag,
    )


def _claim_frames(
    store: JobStore, docs: list[tuple[int, LabelDoc]], settings_hash: str, tag: str | None
) -> tuple[list[tuple[str, int, LabelDoc]], list[tuple[str, int, LabelDoc]], int, int]:
    """Claim each frame's label in the registry: new originals, reuses under ``tag``, counts.

    Concurrent imports of the same frames agree through the registry's atomic upserts: each
    label is stored once, and added to a tag once.
    """
    import uuid as uuid_module

    from gst_flows.db import registry as reg

    originals: list[tuple[str, int, LabelDoc]] = []
    reuses: list[tuple[str, int, LabelDoc]] = []
    seen: set[str] = set()
    already = in_file = 0
    for index, doc in docs:
        if doc.structure_hash in seen:
            in_file += 1
            continue
        seen.add(doc.structure_hash)
        uuid = str(uuid_module.uuid4())
        claim = reg.claim_label(store, doc.structure_hash, settings_hash, uuid, tag=tag)
        owner = claim.owner
        if claim.mine:
            legacy = _legacy_original(store, doc.structure_hash, settings_hash)
            if legacy is not None and reg.set_owner(store, claim.key, uuid, legacy["uuid"]):
                owner = legacy["uuid"]
                if legacy["output"]["provenance"].get("tag") == tag:
                    already += 1
                    continue
        elif store.query_one({"uuid": owner}, properties=["uuid"]) is None:
            # The owner has not stored its document: another import is writing it, or died.
            owner = _await_owner(store, claim, uuid)
        if owner == uuid:
            originals.append((uuid, index, doc))
        elif claim.tag_added:
            reuse = doc.model_copy(update={"reused_from": owner, "structure": None, "forces": None})
            reuses.append((uuid, index, reuse))
        else:
            already += 1
    return originals, reuses, already, in_file


def _store_originals(
    store: JobStore, entries: list[dict[str, Any]], tag: str | None
) -> tuple[list[dict[str, Any]], list[tuple[str, int, LabelDoc]], int]:
    """Write new labels; one that another import stored first becomes a reuse (or is skipped).

    The registry normally settles who stores a label. If two imports still both claim it (a
    database whose concurrent upserts are not atomic), the unique index on computed labels
    refuses the second copy: that frame is then handled as if the claim had been lost.

    Returns the entries stored, the reuses to write under ``tag`` and the frames already
    stored under ``tag``.
    """
    from pymongo.errors import BulkWriteError, DuplicateKeyError

    from gst_flows.db import registry as reg
    from gst_flows.db.reuse import computed_label

    save = {"data": list(DATA_FIELDS)}
    try:
        store.update(entries, key=["uuid", "index"], save=save)
        return entries, [], 0
    except (BulkWriteError, DuplicateKeyError):
        logger.info("another import stored some of these labels first; storing them one by one")
    stored, reuses, already = [], [], 0
    for item in entries:
        doc: LabelDoc = item["output"]
        try:
            store.update([item], key=["uuid", "index"], save=save)
            stored.append(item)
            continue
        except (BulkWriteError, DuplicateKeyError):
            pass
        first = store.query_one(computed_label(doc.structure_hash, doc.settings_hash), properties=["uuid"])
        if first is None:
            raise DatasetError(f"label {doc.structure_hash[:10]} could not be stored and is not stored")
        # the registry's atomic tag update decides, not a read of the stored documents
        key = reg.label_key(doc.structure_hash, doc.settings_hash)
        if not tag or not reg.add_tag(store, key, tag):
            already += 1
        else:
            reuse = doc.model_copy(update={"reused_from": first["uuid"], "structure": None, "forces": None})
            reuses.append((item["uuid"], item["metadata"]["import"]["frame"], reuse))
    return stored, reuses, already


def _legacy_original(store: JobStore, structure_hash: str, settings_hash: str) -> dict | None:
    """A label stored before the registry existed (it has no registry entry)."""
    from gst_flows.db.reuse import computed_label

    return store.query_one(
        computed_label(structure_hash, settings_hash), properties=["uuid", "output.provenance"]
    )


def _await_owner(store: JobStore, claim: Any, uuid: str, timeout: float = 60.0) -> str:
    """The owner of a claim once its document is stored; ``uuid`` if the claim went stale."""
    import time

    from gst_flows.db import registry as reg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.query_one({"uuid": claim.owner}, properties=["uuid"]) is not None:
            return claim.owner
        if reg.take_over(store, claim.key, claim.owner, uuid):
            return uuid
        time.sleep(0.2)
    raise DatasetError(
        f"frame {claim.key.split(':')[1][:10]} is being stored by another import that has not "
        "finished; run the import again when it has"
    )
