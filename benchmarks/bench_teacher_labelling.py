"""Teacher-labelling throughput through jobflow as the database grows: store indexes, loaded
teacher, no GridFS index probe.

Labels rattled rock-salt Ge1Sb2Te4 cells with a stored GAP (the test fixture's) through the full
path (``label_flow`` → ``run_locally`` → ``TeacherLabelMaker`` → embedded database), in a private
data directory whose job store first receives ``--filler`` documents, each with a ``data``
blob (a database after some active-learning iterations). Four ways, side by side in one run:

- ``no indexes, reload, probe``: the job store without :data:`gst_flows.db.jobstore.STORE_INDEXES`,
  the teacher loaded again by every label job, and GridFS's per-file index probe (an
  unfiltered ``find_one`` on its files and chunks collections, which the embedded server
  answers by reading the whole collection): the behaviour before any of the three fixes;
- ``indexes, reload, probe``: the store indexes only;
- ``indexes, loaded, probe``: the store indexes and the loaded teacher;
- ``indexes, loaded``: all three (the default, :class:`gst_flows.db.jobstore.DataStore`).

Prints seconds per label and labels per hour for each.

    python benchmarks/bench_teacher_labelling.py [--filler 4000] [--labels 12]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# the teacher is the test fixture's GAP
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _fill(store, n: int, blob_bytes: int) -> None:
    """``n`` job documents, each with one GridFS file of ``blob_bytes`` (written directly)."""
    import datetime
    import uuid

    from bson import ObjectId

    docs = store.docs_store._collection
    files = store.additional_stores["data"]._files_collection
    chunks = files.database[files.name.replace(".files", ".chunks")]
    now = datetime.datetime.now(datetime.UTC)
    payload = os.urandom(blob_bytes)
    for start in range(0, n, 500):
        batch = range(start, min(n, start + 500))
        ids = [ObjectId() for _ in batch]
        blobs = [str(uuid.uuid4()) for _ in batch]
        docs.insert_many(
            [
                {
                    "uuid": str(uuid.uuid4()),
                    "index": 1,
                    "completed_at": now.isoformat(),
                    "output": {"filler": k},
                }
                for k in batch
            ]
        )
        files.insert_many(
            [
                {
                    "_id": i,
                    "length": blob_bytes,
                    "chunkSize": 261120,
                    "uploadDate": now,
                    "metadata": {"blob_uuid": b},
                }
                for i, b in zip(ids, blobs, strict=True)
            ]
        )
        chunks.insert_many([{"files_id": i, "n": 0, "data": payload} for i in ids])


def _cells(n: int, seed: int):
    from gst_flows.structures import build_rocksalt

    cells = []
    for k in range(n):
        atoms = build_rocksalt("Ge1Sb2Te4", seed=seed + k) * (2, 1, 1)
        atoms.rattle(0.05, seed=seed + 1000 + k)
        atoms.info.clear()
        cells.append(atoms)
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filler", type=int, default=4000, help="documents stored before the labels")
    parser.add_argument("--blob-bytes", type=int, default=20000, help="size of each filler document's blob")
    parser.add_argument("--labels", type=int, default=12, help="labels per way")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="gst-bench-")
    os.environ["GST_FLOWS_DATA_DIR"] = home
    os.environ["GST_FLOWS_CONFIG"] = os.path.join(home, "none.yaml")
    from gst_flows.db import jobstore
    from gst_flows.dbserver import EmbeddedServer
    from gst_flows.execution import run_local
    from gst_flows.flows.label import label_flow
    from gst_flows.makers import teacher as teacher_module
    from gst_flows.makers.teacher import TeacherLabelMaker
    from gst_flows.schemas.potential import PotentialRef
    from gst_flows.store import get_store
    from tests.support.stored_gap import SCENARIO_GAP, store_gap_files

    try:
        fit = store_gap_files(str(SCENARIO_GAP), ["bench-teacher"])
        run_local(fit)
        store = get_store()
        store.connect()
        output = store.query_one({"uuid": fit.uuid}, properties=["output.potential_ref"])["output"]
        ref = PotentialRef.model_validate({k: v for k, v in output["potential_ref"].items() if k[0] != "@"})
        t0 = time.perf_counter()
        _fill(store, args.filler, args.blob_bytes)
        print(
            f"stored {args.filler} filler documents with {args.blob_bytes}-byte blobs "
            f"in {time.perf_counter() - t0:.0f} s"
        )

        ensure = jobstore.ensure_store_indexes
        skip_probe = jobstore.DataStore.skip_index_probe
        ways = [
            ("no indexes, reload, probe", False, 0, True),
            ("indexes, reload, probe", True, 0, True),
            ("indexes, loaded, probe", True, 2, True),
            ("indexes, loaded", True, 2, False),
        ]
        print(f"{'way':<26} {'labels':>6} {'s/label':>8} {'labels/h':>9}")
        for k, (name, indexed, keep, probe) in enumerate(ways):
            jobstore.DataStore.skip_index_probe = (lambda _self: None) if probe else skip_probe
            docs = store.docs_store._collection
            files = store.additional_stores["data"]._files_collection
            jobstore._INDEXED.clear()
            if indexed:
                jobstore.ensure_store_indexes = ensure
            else:
                for collection, indexes in (
                    (docs, jobstore.STORE_INDEXES["docs"]),
                    (files, jobstore.STORE_INDEXES["data"]),
                ):
                    for index_name, _ in indexes:
                        if index_name in collection.index_information():
                            collection.drop_index(index_name)
                jobstore.ensure_store_indexes = lambda _store: None
            teacher_module.KEEP_LOADED = keep
            teacher_module._LOADED.clear()
            flow = label_flow(_cells(args.labels, 100 * k), TeacherLabelMaker(teacher=ref), tag=f"bench-{k}")
            start = time.perf_counter()
            run_local(flow)
            per = (time.perf_counter() - start) / args.labels
            print(f"{name:<26} {args.labels:>6} {per:>8.2f} {3600 / per:>9.0f}", flush=True)
        jobstore.ensure_store_indexes = ensure
        jobstore.DataStore.skip_index_probe = skip_probe
    finally:
        EmbeddedServer(home).stop()


if __name__ == "__main__":
    main()
