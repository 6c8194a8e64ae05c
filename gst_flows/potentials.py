"""Fetch fitted potentials (GAP, POD) from the data store into a local cache and load them.

A potential fitted by :class:`gst_flows.makers.fit.GapFitMaker` is stored with its job
document (``GapFitDoc``): the XML and sparseX files in the ``data`` store, the
``potential_id`` and ``tags`` in the document. Any worker on any node can fetch it by id, or
the newest potential carrying a tag. A
:class:`~gst_flows.schemas.potential.PotentialRef` (``GapFitDoc.potential_ref``) fetches by id
and checks every file against the SHA-256 recorded at the fit (:func:`fetch_potential_ref`).
POD fits (:class:`gst_flows.makers.pod.PodFitMaker`, ``PodFitDoc``) are stored the same way
(the coefficient and parameter files); :func:`find_potential` says which ``backend`` it found.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

__all__ = [
    "PotentialIntegrityError",
    "cache_dir",
    "fetch_potential",
    "fetch_potential_ref",
    "find_potential",
    "load_potential",
    "potential_calculator",
]

logger = logging.getLogger(__name__)

_DOC_CLASSES = {"GapFitDoc": "gap", "PodFitDoc": "pod"}
_DOC_FILTER = {"output.@class": {"$in": list(_DOC_CLASSES)}}


class PotentialIntegrityError(ValueError):
    """The files of a potential differ from the SHA-256 its reference records."""


def cache_dir() -> Path:
    """Directory of cached potentials: ``<data_dir>/potentials`` from the settings."""
    from gst_flows.settings import get_settings

    return Path(get_settings().data_dir) / "potentials"


def _store(store):
    if store is not None:
        return store
    from gst_flows.store import get_store

    store = get_store()
    store.connect()
    return store


def find_potential(id_or_tag: str, store=None) -> dict[str, Any]:
    """Summary of the stored potential with this id, or the newest with this tag.

    Parameters
    ----------
    id_or_tag
        A ``potential_id`` (a unique prefix of at least 8 characters is enough) or a tag.
    store
        JobStore; the configured one when omitted.

    Returns
    -------
    dict
        ``potential_id``, ``tags``, ``uuid`` (of the job), ``completed_at``,
        ``test_errors``, ``train_errors``, ``backend`` (``gap`` or ``pod``) and
        ``potential_ref`` (None for fits stored before references existed).

    Raises
    ------
    KeyError
        If nothing matches.
    """
    store = _store(store)
    properties = [
        "output.potential_id",
        "output.tags",
        "output.completed_at",
        "output.test_errors",
        "output.train_errors",
        "output.potential_ref",
        "output.@class",
    ]
    base = dict(_DOC_FILTER)
    candidates = [
        {**base, "output.potential_id": id_or_tag},
        {**base, "output.tags": id_or_tag},
    ]
    if len(id_or_tag) >= 8:
        candidates.insert(1, {**base, "output.potential_id": {"$regex": f"^{id_or_tag}"}})
    for criteria in candidates:
        docs = list(
            store.query(
                criteria,
                properties=list(properties),
                sort={"output.completed_at": -1},
                load=False,
            )
        )
        if docs:
            ids = {d["output"]["potential_id"] for d in docs}
            if "$regex" in str(criteria) and len(ids) > 1:
                raise KeyError(f"potential id prefix {id_or_tag!r} is ambiguous: {sorted(ids)}")
            output = dict(docs[0]["output"])
            backend = _DOC_CLASSES[output.pop("@class")]
            return {"uuid": docs[0]["uuid"], "backend": backend, "potential_ref": None, **output}
    raise KeyError(f"no potential with id or tag {id_or_tag!r} in the store")


def fetch_potential(
    id_or_tag: str, store=None, cache: str | Path | None = None, refresh: bool = False
) -> Path:
    """Copy a stored potential into the local cache; return the path of its XML (POD: coefficients).

    Parameters
    ----------
    id_or_tag
        Potential id (or unique prefix) or tag (newest potential with that tag).
    store
        JobStore; the configured one when omitted.
    cache
        Cache directory; ``<data_dir>/potentials`` when omitted.
    refresh
        Download again even if the cache has it.

    Returns
    -------
    pathlib.Path
        ``<cache>/<potential_id>/<xml>``, with the sparseX files beside it.
    """
    from gst_flows.schemas.fit import GapPotentialFiles

    store = _store(store)
    info = find_potential(id_or_tag, store)
    potential_id = info["potential_id"]
    target = Path(cache or cache_dir()) / potential_id
    marker = target / ".complete"
    if marker.is_file() and not refresh:
        xml = target / marker.read_text().strip()
        if xml.is_file():
            return xml
    doc = store.query_one(
        {**_DOC_FILTER, "output.potential_id": potential_id},
        properties=["output.potential"],
        load=True,
    )
    if not doc or not doc["output"].get("potential"):
        raise KeyError(f"potential {potential_id} has no files in the data store")
    payload = {k: v for k, v in doc["output"]["potential"].items() if not k.startswith("@")}
    files = GapPotentialFiles.model_validate(payload)
    xml = files.write(target)
    marker.write_text(files.xml_name)
    logger.info("potential %s cached in %s", potential_id, target)
    return xml


def fetch_potential_ref(ref: Any, store=None, cache: str | Path | None = None) -> Path:
    """Fetch the potential a :class:`~gst_flows.schemas.potential.PotentialRef` names, checked.

    Every file is compared with the SHA-256 the reference records. A cached copy that differs
    is fetched again from the store once; if the store's copy differs too, nothing is returned.

    Parameters
    ----------
    ref
        A ``PotentialRef`` (or its JSON form).
    store
        JobStore; the configured one when omitted.
    cache
        Cache directory; ``<data_dir>/potentials`` when omitted.

    Returns
    -------
    pathlib.Path
        The XML, its sparseX files beside it, all matching the reference.

    Raises
    ------
    PotentialIntegrityError
        When the stored files do not match the reference.
    KeyError
        When the store has no potential with the reference's id.
    """
    from gst_flows.schemas.potential import as_potential_ref

    checked = as_potential_ref(ref)
    if checked is None:
        raise TypeError(f"not a PotentialRef: {ref!r}")
    store = _store(store)
    xml = fetch_potential(checked.potential_id, store=store, cache=cache)
    if checked.mismatches(xml.parent):
        logger.warning("cached potential %s differs from its reference: fetching again", checked.potential_id)
        xml = fetch_potential(checked.potential_id, store=store, cache=cache, refresh=True)
    problems = checked.mismatches(xml.parent)
    if problems:
        raise PotentialIntegrityError(
            f"potential {checked.potential_id} does not match its reference (fetched into "
            f"{xml.parent}): {'; '.join(problems)}. The stored files changed after the fit, or "
            "the reference belongs to another potential: refit, or pass the GAP XML path"
        )
    if xml.name != checked.xml_name:
        raise PotentialIntegrityError(
            f"potential {checked.potential_id}: the store names its XML {xml.name}, "
            f"the reference {checked.xml_name}"
        )
    return xml


def load_potential(id_or_tag: str, store=None, cache: str | Path | None = None):
    """Fetch a stored potential (see :func:`fetch_potential`) and return a quippy calculator.

    Returns
    -------
    quippy.potential.Potential
        An ASE calculator.

    Raises
    ------
    ValueError
        For a POD (it runs in LAMMPS only).
    """
    from gst_flows.md.potential import gap_calculator

    _refuse_pod(id_or_tag, store)

    return gap_calculator(fetch_potential(id_or_tag, store=store, cache=cache))


def potential_calculator(potential: Any, store=None, cache: str | Path | None = None):
    """An ASE calculator for a stored potential of any backend, for error tables.

    Parameters
    ----------
    potential
        A :class:`~gst_flows.schemas.potential.PotentialRef` (or its JSON form; files checked
        against its SHA-256), or a potential id or tag.
    store
        JobStore; the configured one when omitted.
    cache
        Cache directory; ``<data_dir>/potentials`` when omitted.

    Returns
    -------
    ase.calculators.calculator.Calculator
        quippy's ``Potential`` for a GAP; for a POD a
        :class:`~gst_flows.md.lammps.LammpsCalculator` (one LAMMPS single point per call,
        ``pair_style pod`` with every fitted species as a type).
    """
    from gst_flows.md.potential import gap_calculator
    from gst_flows.schemas.potential import as_potential_ref

    store = _store(store)
    ref = as_potential_ref(potential)
    if ref is None:
        info = find_potential(str(potential), store)
        ref = as_potential_ref(info["potential_ref"])
        if ref is None:  # a GAP stored before references existed
            return gap_calculator(fetch_potential(info["potential_id"], store=store, cache=cache))
    path = fetch_potential_ref(ref, store=store, cache=cache)
    if ref.backend == "gap":
        return gap_calculator(path)
    from gst_flows.fit.pod import ZblBaseline, pod_lammps_potential
    from gst_flows.md.lammps import LammpsCalculator

    baseline = ZblBaseline(**ref.baseline) if ref.baseline else None
    return LammpsCalculator(pod_lammps_potential(path.parent / ref.param_name, path, ref.species, baseline))


def _md_fetcher(potential_id: str, destination: str | Path) -> Path:
    """Fetcher for :mod:`gst_flows.md.potential`: a stored potential by id or tag.

    Raises ``KeyError`` for unknown ids, so other fetchers may be tried.
    """
    del destination  # potentials are cached once per data directory, not per run
    _refuse_pod(potential_id)
    return fetch_potential(potential_id)


def _refuse_pod(id_or_tag: str, store=None) -> None:
    """Raise ``ValueError`` if ``id_or_tag`` names a POD (a path to a GAP XML is expected)."""
    from gst_flows.errors import InputError

    if find_potential(id_or_tag, store)["backend"] == "pod":
        raise InputError(
            f"potential {id_or_tag} is a POD, which runs in LAMMPS only",
            fix="run it with the LAMMPS engine (--engine lammps) or give a GAP",
        )


def _register_with_md() -> None:
    from gst_flows.md.potential import register_potential_fetcher

    register_potential_fetcher(_md_fetcher)


_register_with_md()
