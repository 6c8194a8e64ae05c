"""The job store indexes the queries every job makes, on connect."""

from __future__ import annotations

from pymongo import monitoring

from gst_flows.db import jobstore
from gst_flows.store import get_store


def _winning_index(collection, criteria) -> str | None:
    plan = collection.find(criteria).explain()["queryPlanner"]["winningPlan"]
    while plan:
        if plan.get("stage") == "IXSCAN":
            return plan["indexName"]
        plan = plan.get("inputStage")
    return None


def test_connect_creates_the_indexes_and_queries_use_them(gst_home):
    store = get_store()
    store.connect()
    docs = store.docs_store._collection
    files = store.additional_stores["data"]._files_collection
    # an older database without them gets them on the next connection
    for collection, indexes in (
        (docs, jobstore.STORE_INDEXES["docs"]),
        (files, jobstore.STORE_INDEXES["data"]),
    ):
        for name, _ in indexes:
            collection.drop_index(name)
    jobstore._INDEXED.clear()
    store = get_store()
    store.connect()
    assert {"uuid_index", "label_tag", "label_structure", "potential"} <= set(docs.index_information())
    assert "blob_uuid" in files.index_information()
    docs.insert_many(
        [{"uuid": f"u{k}", "index": 1, "output": {"provenance": {"tag": f"t{k % 3}"}}} for k in range(50)]
    )
    try:
        # what jobflow asks when it resolves a reference, and what a label query by tag asks
        assert _winning_index(docs, {"uuid": "u7", "index": 1}) == "uuid_index"
        assert _winning_index(docs, {"output.provenance.tag": "t1"}) == "label_tag"
        assert _winning_index(files, {"metadata.blob_uuid": "b1"}) == "blob_uuid"
        # a label job's look for a stored label of its structure (and protocol: more fields,
        # which the server's explain does not plan faithfully)
        assert _winning_index(docs, {"output.structure_hash": "h1"}) == "label_structure"
        assert _winning_index(docs, {"output.potential_id": "p1"}) == "potential"
    finally:
        docs.delete_many({"uuid": {"$in": [f"u{k}" for k in range(50)]}})


class _Finds(monitoring.CommandListener):
    def __init__(self) -> None:
        self.unfiltered: list[str] = []

    def started(self, event) -> None:
        if event.command_name == "find" and not event.command.get("filter"):
            self.unfiltered.append(event.command["find"])

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


def test_storing_arrays_reads_no_whole_collection(gst_home):
    """GridFS asks before every file whether its collections are empty, with an unfiltered
    ``find_one`` that the embedded server answers by reading the whole collection. The data
    store makes GridFS's indexes on connect and writes without that probe; the arrays read back."""
    import numpy as np

    store = get_store()
    data = store.additional_stores["data"]
    finds = _Finds()
    data.mongoclient_kwargs = {**data.mongoclient_kwargs, "event_listeners": [finds]}
    store.connect(force_reset=True)
    assert isinstance(data._collection, jobstore._IndexedGridFS)
    chunks = data._files_collection.database[f"{data.collection_name}.chunks"]
    assert any(spec.get("unique") and dict(spec["key"]) == {"files_id": 1, "n": 1}
               for spec in chunks.index_information().values())  # fmt: skip
    arrays = [np.arange(3 * k, dtype=float).reshape(k, 3) for k in (1, 500)]
    for k, array in enumerate(arrays):
        data.update([{"blob_uuid": f"probe-{k}", "data": array.tolist()}], key="blob_uuid")
    assert finds.unfiltered == []
    for k, array in enumerate(arrays):
        back = data.query_one({"blob_uuid": f"probe-{k}"})
        assert np.array_equal(np.asarray(back["data"]), array)
    data.remove_docs({"blob_uuid": {"$in": ["probe-0", "probe-1"]}})
