"""Reuse a stored label, or claim it for the job that will compute it.

Label jobs call :func:`acquire_label` before computing: it returns the stored label of the
same structure and protocol, waits for one another job is computing, or claims the label
(:mod:`gst_flows.db.registry`) so that this job computes it and no other does.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from gst_flows.db import registry as reg
from gst_flows.db.labels import LABEL_CLASS
from gst_flows.schemas.label import LabelDoc, Provenance

__all__ = ["acquire_label", "computed_label", "load_label", "reused_copy"]

logger = logging.getLogger(__name__)


def computed_label(structure_hash: str, settings_hash: str) -> dict[str, Any]:
    """Filter of the document that computed the label of a structure with a protocol."""
    return {
        "output.@class": LABEL_CLASS,
        "output.state": "successful",
        "output.reused_from": None,
        "output.structure_hash": structure_hash,
        "output.settings_hash": settings_hash,
    }


def load_label(store: Any, criteria: dict[str, Any], wait: float = 30.0) -> dict[str, Any] | None:
    """One label document with its arrays, waiting for arrays still being written.

    jobflow writes a document before its ``data`` blobs: a reader that finds the document of a
    job finishing this very moment waits for them.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            return store.query_one(criteria, properties=["output", "uuid"], load=True)
        except KeyError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def reused_copy(found: dict[str, Any], provenance: dict[str, Any] | None) -> LabelDoc:
    """The stored label ``found`` as a document that reuses it (in the context ``provenance``)."""
    output = {k: v for k, v in found["output"].items() if not k.startswith("@")}
    doc = LabelDoc.model_validate(output)
    doc.reused_from = found["uuid"]
    if provenance is not None:
        doc.provenance = Provenance(**provenance)
    return doc


def acquire_label(
    store: Any,
    structure_hash: str,
    settings_hash: str,
    owner: str,
    provenance: dict[str, Any] | None = None,
) -> LabelDoc | None:
    """Reuse the stored label of this structure and protocol, or claim it for ``owner``.

    Returns the reused document, or None when ``owner`` now holds the claim and must compute
    the label. When another job holds the claim and is still computing (its heartbeat is
    fresh), this waits for its result instead of computing the same label twice; a claim whose
    owner stopped (a killed worker) is taken over; a failed owner's claim is released.
    """
    tag = (provenance or {}).get("tag")
    waited = 0.0
    announced = False
    while True:
        claim = reg.claim_label(store, structure_hash, settings_hash, owner, tag=tag)
        if claim.mine:
            # A label computed before the registry existed is an owner too.
            criteria = {**computed_label(structure_hash, settings_hash), "uuid": {"$ne": owner}}
            legacy = load_label(store, criteria)
            if legacy and reg.set_owner(store, claim.key, owner, legacy["uuid"]):
                return reused_copy(legacy, provenance)
            return None
        found = load_label(store, {"uuid": claim.owner, "output.@class": LABEL_CLASS})
        if found is not None:
            if found["output"].get("state") == "successful":
                return reused_copy(found, provenance)
            reg.release_claim(store, claim.key, claim.owner)  # the owner failed: try again
            continue
        if reg.take_over(store, claim.key, claim.owner, owner):
            logger.info("label %s: taking over the stale claim of job %s", claim.key[:20], claim.owner)
            return None
        if not announced:
            logger.info(
                "label %s: job %s is computing it; waiting for its result", claim.key[:20], claim.owner
            )
            announced = True
        pause = reg.wait_interval(waited)
        time.sleep(pause)
        waited += pause
