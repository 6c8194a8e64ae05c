"""One label per structure and protocol, guaranteed by the database.

The registry collection (``<outputs>_label_keys``) holds one entry per (settings hash,
structure hash) key, its ``_id``. Whoever inserts the entry owns the key: an atomic upsert,
not a read before a write, so concurrent imports and label jobs on several workers agree on
one owner. The owner computes (or imports) the label; everyone else reuses it. Each entry also
records the tags the label belongs to, so an import under a new tag adds the label to that tag
exactly once.

A partial unique index on the outputs collection backs this up: at most one document per key
that holds a computed label (``reused_from`` unset).

Owners of long calculations refresh a heartbeat; a claim whose owner stopped (a killed
worker) goes stale and another job takes it over.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError, OperationFailure

from gst_flows.db.labels import LABEL_CLASS

__all__ = [
    "LabelClaim",
    "add_tag",
    "claim_label",
    "ensure_label_indexes",
    "heartbeat",
    "label_key",
    "registry",
    "release_claim",
]

logger = logging.getLogger(__name__)

#: Seconds after which a claim whose owner stopped refreshing it may be taken over.
STALE_AFTER = 300.0
#: Seconds between heartbeats of a running owner.
HEARTBEAT_EVERY = 30.0

_INDEXED: set[tuple[str, str, str]] = set()


def label_key(structure_hash: str, settings_hash: str) -> str:
    """Registry key of a structure labelled with a protocol."""
    return f"{settings_hash}:{structure_hash}"


def _outputs(store: Any):
    """The pymongo collection of job documents behind a jobflow ``JobStore``."""
    docs = getattr(store, "docs_store", store)
    docs.connect()
    return docs._collection


def registry(store: Any):
    """The registry collection beside the store's job documents (indexes ensured)."""
    outputs = _outputs(store)
    ensure_label_indexes(store)
    return outputs.database[f"{outputs.name}_label_keys"]


def ensure_label_indexes(store: Any) -> None:
    """Create the unique index on computed labels (once per process and collection).

    A database that already holds two computed labels of one key (written before the index
    existed) cannot take the index; a warning says so and the registry still prevents new ones.
    """
    outputs = _outputs(store)
    address = getattr(outputs.database.client, "address", None)
    marker = (str(address), outputs.database.name, outputs.name)
    if marker in _INDEXED:
        return
    try:
        outputs.create_index(
            [("output.structure_hash", 1), ("output.settings_hash", 1)],
            name="one_label_per_structure_and_protocol",
            unique=True,
            partialFilterExpression={
                "output.@class": LABEL_CLASS,
                "output.state": "successful",
                "output.reused_from": None,
            },
        )
    except (DuplicateKeyError, OperationFailure) as exc:
        logger.warning(
            "the label index could not be created (%s); labels stored twice before it existed "
            "are kept, new ones are refused by the registry",
            str(exc).split(",")[0],
        )
    except NotImplementedError:  # mongomock (unit tests) lacks partial indexes
        pass
    _INDEXED.add(marker)


@dataclass
class LabelClaim:
    """The outcome of :func:`claim_label`.

    Attributes
    ----------
    key
        The registry key.
    owner
        uuid of the job (or imported document) that owns the label.
    mine
        Whether the caller owns it (and must compute or store it).
    tag_added
        Whether this call added ``tag`` to the label's tags (it was not there before).
    """

    key: str
    owner: str
    mine: bool
    tag_added: bool


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def claim_label(
    store: Any,
    structure_hash: str,
    settings_hash: str,
    owner: str,
    tag: str | None = None,
) -> LabelClaim:
    """Claim the label of a structure and protocol for ``owner``, atomically.

    Parameters
    ----------
    store
        The job store.
    structure_hash, settings_hash
        The key.
    owner
        uuid the label will be stored under if the claim is won.
    tag
        Tag the label is used under; added to the entry's tags.
    """
    coll = registry(store)
    key = label_key(structure_hash, settings_hash)
    now = _now()
    insert = {"owner": owner, "claimed_at": now, "heartbeat": now, "tags": [tag] if tag else []}
    for _ in range(3):
        # A plain insert, not an upsert: the unique _id makes exactly one of several concurrent
        # inserts win on every server (an upsert's "inserted" answer was seen given to two
        # or three of four racing clients of the embedded server).
        try:
            coll.insert_one({"_id": key, **insert})
        except DuplicateKeyError:
            before = coll.find_one({"_id": key})
        else:
            return LabelClaim(key, owner, mine=True, tag_added=bool(tag))
        if before is None:  # released in between: claim again
            continue
        added = add_tag(store, key, tag) if tag else False
        return LabelClaim(key, before["owner"], mine=before["owner"] == owner, tag_added=added)
    raise RuntimeError(f"could not claim label {key}")


def add_tag(store: Any, key: str, tag: str) -> bool:
    """Add ``tag`` to the label's entry in one conditional update; False if it was there already.

    Of several processes adding one tag at once, exactly one gets True: the one that stores
    the reuse under that tag.
    """
    result = registry(store).update_one({"_id": key, "tags": {"$ne": tag}}, {"$addToSet": {"tags": tag}})
    return result.modified_count == 1


def take_over(store: Any, key: str, stale_owner: str, owner: str) -> bool:
    """Move ``stale_owner``'s claim to ``owner`` if it is stale, in one conditional update.

    Stale: not refreshed for :data:`STALE_AFTER` s. False if it is fresh or was moved already.
    """
    now = _now()
    result = registry(store).update_one(
        {"_id": key, "owner": stale_owner, "heartbeat": {"$lt": now - timedelta(seconds=STALE_AFTER)}},
        {"$set": {"owner": owner, "heartbeat": now, "claimed_at": now}},
    )
    return result.modified_count == 1


def set_owner(store: Any, key: str, old: str, new: str) -> bool:
    """Point the claim of ``key`` from ``old`` to ``new`` (an existing computed label)."""
    return (
        registry(store)
        .update_one({"_id": key, "owner": old}, {"$set": {"owner": new, "heartbeat": _now()}})
        .modified_count
        == 1
    )


def release_claim(store: Any, key: str, owner: str) -> None:
    """Give up ``owner``'s claim (its label failed), so another job may compute the label."""
    registry(store).delete_one({"_id": key, "owner": owner})


@contextmanager
def heartbeat(store: Any, key: str, owner: str, every: float = HEARTBEAT_EVERY) -> Iterator[None]:
    """Refresh ``owner``'s claim every ``every`` seconds while the block runs."""
    coll = registry(store)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            try:
                coll.update_one({"_id": key, "owner": owner}, {"$set": {"heartbeat": _now()}})
            except Exception as exc:  # a lost connection must not kill the calculation
                logger.warning("label claim heartbeat failed: %s", exc)

    thread = threading.Thread(target=beat, name=f"claim {key[:12]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def wait_interval(waited: float) -> float:
    """Seconds to sleep before looking again at a label another job is computing."""
    return min(10.0, 0.2 + waited / 10)
