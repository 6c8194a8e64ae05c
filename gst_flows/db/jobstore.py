"""A jobflow ``JobStore`` that finds its database from the configuration where it connects."""

from __future__ import annotations

import logging

from jobflow import JobStore
from maggma.stores import GridFSStore, MongoStore
from pymongo.errors import OperationFailure

from gst_flows.settings import GstFlowsSettings, get_settings

__all__ = ["STORE_INDEXES", "ConfiguredJobStore", "ensure_store_indexes"]

logger = logging.getLogger(__name__)

#: Indexes of the job documents and of the ``data`` files, by the queries every job makes:
#: jobflow resolves a reference by ``uuid`` and ``index``, loads a document's arrays by
#: ``blob_uuid``, and the label queries select by tag. Without them each of these queries reads
#: the whole collection, so every job slows down as the database grows.
STORE_INDEXES = {
    "docs": (
        ("uuid_index", [("uuid", 1), ("index", 1)]),
        ("label_tag", [("output.provenance.tag", 1)]),
    ),
    "data": (("blob_uuid", [("metadata.blob_uuid", 1)]),),
}

_INDEXED: set[tuple[str, str, str]] = set()


def _collection(part):
    """The pymongo collection behind a connected maggma store (the files of a GridFS store)."""
    return part._files_collection if isinstance(part, GridFSStore) else part._collection


def ensure_store_indexes(store: JobStore) -> None:
    """Create :data:`STORE_INDEXES` on a connected store (once per process and collection).

    A server that refuses an index (a read-only user, say) gets a warning; the store still
    works, only slower.
    """
    for part, indexes in (
        (store.docs_store, STORE_INDEXES["docs"]),
        (store.additional_stores.get("data"), STORE_INDEXES["data"]),
    ):
        if part is None:
            continue
        collection = _collection(part)
        marker = (
            str(getattr(collection.database.client, "address", None)),
            collection.database.name,
            collection.name,
        )
        if marker in _INDEXED:
            continue
        for name, keys in indexes:
            try:
                collection.create_index(keys, name=name)
            except OperationFailure as exc:
                logger.warning("index %s on %s could not be created: %s", name, collection.name, exc)
        _INDEXED.add(marker)


class ConfiguredJobStore(JobStore):
    """Job documents in MongoDB and arrays in GridFS, in the configured database.

    Serialised (into a Firework, a job document, a file) it is only its class: the address and
    any credentials are looked up from the settings (file and environment) of the process that
    connects it, at connection time, and never stored. Workers thus need no copy of the
    submitter's address, and queued work still finds the embedded server after it came back
    on another port.

    Parameters
    ----------
    settings
        Settings to use in this process; None reads them (again) at each connection.
    """

    def __init__(self, settings: GstFlowsSettings | None = None) -> None:
        self._settings = settings
        current = settings or get_settings()
        docs = MongoStore(database=current.database, collection_name=current.outputs_collection, key="uuid")
        data = GridFSStore(database=current.database, collection_name=f"{current.outputs_collection}_data")
        super().__init__(docs, additional_stores={"data": data})

    def connect(self, force_reset: bool = False) -> None:
        """Resolve the database from the settings, then connect.

        The embedded server is started here when it is the configured default.
        """
        from gst_flows.store import database_uri

        settings = self._settings or get_settings()
        uri = database_uri(settings)
        for part in (self.docs_store, *self.additional_stores.values()):
            if part.uri != uri or part.database != settings.database:
                part.uri = uri
                part.database = settings.database
                force_reset = True
        super().connect(force_reset=force_reset)
        ensure_store_indexes(self)

    @property
    def name(self) -> str:
        """A printable name, without address or credentials."""
        return f"gst-flows configured store (database {self.docs_store.database})"

    def as_dict(self) -> dict:
        """Only the class: nothing of the address or credentials is serialised."""
        return {"@module": type(self).__module__, "@class": type(self).__name__, "@version": None}

    @classmethod
    def from_dict(cls, d: dict) -> ConfiguredJobStore:
        """A store that reads the settings of the process using it."""
        return cls()

    def __deepcopy__(self, memo: dict) -> ConfiguredJobStore:
        return type(self)(self._settings)
