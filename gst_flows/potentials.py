"""Fetch GAP potentials from the data store into a local cache and load them.

A potential fitted by :class:`gst_flows.makers.fit.GapFitMaker` is stored with its job
document (``GapFitDoc``): the XML and sparseX files in the ``data`` store, the
``potential_id`` and ``tags`` in the document. Any worker on any node can fetch it by id, or
the newest potential carrying a tag.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

__all__ = [
    "cache_dir",
    "fetch_potential",
    "find_potential",
    "load_potential",
]

logger = logging.getLogger(__name__)

_DOC_CLASS = "GapFitDoc"


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
        ``test_errors``, ``train_errors``.

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
    ]
    base = {"output.@class": _DOC_CLASS}
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
            doc = docs[0]
            return {"uuid": doc["uuid"], **doc["output"]}
    raise KeyError(f"no potential with id or tag {id_or_tag!r} in the store")


def fetch_potential(
    id_or_tag: str, store=None, cache: str | Path | None = None, refresh: bool = False
) -> Path:
    """Copy a stored potential into the local cache; return the path of its XML.

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
        {"output.@class": _DOC_CLASS, "output.potential_id": potential_id},
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


def load_potential(id_or_tag: str, store=None, cache: str | Path | None = None):
    """Fetch a stored potential (see :func:`fetch_potential`) and return a quippy calculator.

    Returns
    -------
    quippy.potential.Potential
        An ASE calculator.
    """
    from gst_flows.fit import load_gap_calculator

    return load_gap_calculator(fetch_potential(id_or_tag, store=store, cache=cache))


def _md_fetcher(potential_id: str, destination: str | Path) -> Path:
    """Fetcher for :mod:`gst_flows.md.potential`: a stored potential by id or tag.

    Raises ``KeyError`` for unknown ids, so other fetchers may be tried.
    """
    del destination  # potentials are cached once per data directory, not per run
    return fetch_potential(potential_id)


def _register_with_md() -> None:
    from gst_flows.md.potential import register_potential_fetcher

    register_potential_fetcher(_md_fetcher)


_register_with_md()
