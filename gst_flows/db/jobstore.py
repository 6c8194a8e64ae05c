"""A jobflow ``JobStore`` that finds its database from the configuration where it connects."""

from __future__ import annotations

import logging
from typing import Any

import gridfs
from jobflow import JobStore
from maggma.stores import GridFSStore, MongoStore
from pymongo.errors import OperationFailure

from gst_flows.settings import GstFlowsSettings, get_settings

__all__ = ["GRIDFS_INDEXES", "STORE_INDEXES", "ConfiguredJobStore", "DataStore", "ensure_store_indexes"]

logger = logging.getLogger(__name__)

#: Indexes of the job documents and of the ``data`` files, by the queries every job makes:
#: jobflow resolves a reference by ``uuid`` and ``index``, loads a document's arrays by
#: ``blob_uuid``, the label queries select by tag, a label job looks for a stored label of its
#: structure and protocol, and a potential is looked up by id. Without them each of these
#: queries reads the whole collection, so every job slows down as the database grows.
STORE_INDEXES = {
    "docs": (
        ("uuid_index", [("uuid", 1), ("index", 1)]),
        ("label_tag", [("output.provenance.tag", 1)]),
        ("label_structure", [("output.structure_hash", 1)]),
        ("potential", [("output.potential_id", 1)]),
    ),
    "data": (("blob_uuid", [("metadata.blob_uuid", 1)]),),
}

#: GridFS's own indexes (those pymongo creates on first use, named by the server as pymongo's
#: are), created with the others on connect.
GRIDFS_INDEXES = {
    "files": ([("filename", 1), ("uploadDate", 1)], False),
    "chunks": ([("files_id", 1), ("n", 1)], True),
}

#: (server, database, collection) -> whether every index could be created
_INDEXED: dict[tuple[str, str, str], bool] = {}


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
        if marker not in _INDEXED:
            created = [_create(collection, keys, name) for name, keys in indexes]
            if isinstance(part, GridFSStore):
                database, prefix = collection.database, part.collection_name
                created += [
                    _create(database[f"{prefix}.{kind}"], keys, unique=unique)
                    for kind, (keys, unique) in GRIDFS_INDEXES.items()
                ]
            _INDEXED[marker] = all(created)
        if isinstance(part, DataStore) and _INDEXED[marker]:
            part.skip_index_probe()


def _create(collection, keys: list, name: str | None = None, unique: bool = False) -> bool:
    options = {"name": name} if name else {}
    try:
        collection.create_index(keys, unique=unique, **options)
    except OperationFailure as exc:
        logger.warning("index %s on %s could not be created: %s", name or keys, collection.name, exc)
        return False
    return True


class _IndexedGridFS(gridfs.GridFS):
    """GridFS whose new files skip pymongo's index probe (the indexes exist already).

    Before writing each file, pymongo asks whether the files and the chunks collections are
    empty (an unfiltered ``find_one`` on each) to create their indexes on first use. The
    embedded server answers an unfiltered ``find_one`` by reading the whole collection: on a
    database of some 10,000 files that took 0.1 and 0.6 s, for every array a job stored.
    """

    def new_file(self, **kwargs: Any) -> gridfs.GridIn:
        grid_in = super().new_file(**kwargs)
        if hasattr(grid_in, "_ensured_index"):  # pymongo's flag; without it, the probe runs
            object.__setattr__(grid_in, "_ensured_index", True)
        return grid_in

    def put(self, data: Any, **kwargs: Any) -> Any:
        with self.new_file(**kwargs) as grid_in:
            grid_in.write(data)
        return grid_in._id


class DataStore(GridFSStore):
    """The ``data`` store: maggma's ``GridFSStore`` without GridFS's per-file index probe.

    Files are written through :class:`_IndexedGridFS` once :func:`ensure_store_indexes` has
    created GridFS's indexes.
    """

    def skip_index_probe(self) -> None:
        """Write new files through :class:`_IndexedGridFS` (the indexes must exist)."""
        if self._coll is not None and not isinstance(self._coll, _IndexedGridFS):
            self._coll = _IndexedGridFS(self._files_collection.database, self.collection_name)


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
        data = DataStore(database=current.database, collection_name=f"{current.outputs_collection}_data")
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
