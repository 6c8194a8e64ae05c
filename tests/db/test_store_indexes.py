"""The job store indexes the queries every job makes, on connect."""

from __future__ import annotations

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
    assert {"uuid_index", "label_tag"} <= set(docs.index_information())
    assert "blob_uuid" in files.index_information()
    docs.insert_many(
        [{"uuid": f"u{k}", "index": 1, "output": {"provenance": {"tag": f"t{k % 3}"}}} for k in range(50)]
    )
    try:
        # what jobflow asks when it resolves a reference, and what a label query by tag asks
        assert _winning_index(docs, {"uuid": "u7", "index": 1}) == "uuid_index"
        assert _winning_index(docs, {"output.provenance.tag": "t1"}) == "label_tag"
        assert _winning_index(files, {"metadata.blob_uuid": "b1"}) == "blob_uuid"
    finally:
        docs.delete_many({"uuid": {"$in": [f"u{k}" for k in range(50)]}})
