"""Labels are never lost or doubled: one query for every consumer, one label per structure and
protocol under concurrent imports and label jobs."""

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ase.io import read, write

from gst_flows.cli import main
from gst_flows.dataset import export_labels, import_dataset
from gst_flows.db import find_labels
from gst_flows.execution import run_local, submit
from gst_flows.flows.label import label_flow
from gst_flows.makers.fit import TrainingSelection, load_training_frames
from gst_flows.store import get_launchpad, get_store
from gst_flows.structures import build_rocksalt
from tests.support.standin import StandInLabelMaker, ionic_pair_potential

ROOT = Path(__file__).resolve().parents[2]


def _cells(n, seed=0, composition="Ge1Sb2Te4"):
    cells = []
    for k in range(n):
        atoms = build_rocksalt(composition, seed=seed + k)
        atoms.rattle(0.05, seed=seed + 100 + k)
        atoms.info.clear()
        cells.append(atoms)
    return cells


def _labelled_file(path, cells):
    """Frames with stand-in labels in gap_fit's keys."""
    frames = []
    for atoms in cells:
        probe = atoms.copy()
        probe.calc = ionic_pair_potential()
        frame = atoms.copy()
        frame.info["REF_energy"] = probe.get_potential_energy()
        frame.arrays["REF_forces"] = probe.get_forces()
        frame.info["config_type"] = "crystal"
        frames.append(frame)
    write(path, frames, format="extxyz")
    return frames


def _originals(outputs, settings_hash):
    """Documents holding a computed (not reused) label, per structure hash."""
    counts = {}
    for doc in outputs.find(
        {
            "output.@class": "LabelDoc",
            "output.settings_hash": settings_hash,
            "output.state": "successful",
            "output.reused_from": None,
        },
        {"output.structure_hash": 1},
    ):
        key = doc["output"]["structure_hash"]
        counts[key] = counts.get(key, 0) + 1
    return counts


def _grid_files(outputs):
    return outputs.database["outputs_data.files"].count_documents({})


def test_label_reused_under_a_new_tag_serves_every_consumer(gst_home, outputs, tmp_path, capsys):
    cells = _cells(2, seed=10)
    run_local(label_flow(cells, StandInLabelMaker(), tag="reuse-A", config_type="crystal"))
    StandInLabelMaker.calls.clear()
    run_local(label_flow(cells[:1], StandInLabelMaker(), tag="reuse-B", config_type="crystal"))
    run_local(label_flow(cells[:1], StandInLabelMaker(), tag="reuse-B", config_type="crystal"))
    assert StandInLabelMaker.calls == []  # nothing computed again

    # query, export, the fit's selection and find_labels agree: one label under B
    assert len(find_labels(tag="reuse-B")) == 1
    assert main(["query", "labels", "--tag", "reuse-B"]) == 0
    assert "1 label(s)" in capsys.readouterr().out
    path = tmp_path / "b.extxyz"
    assert main(["export", "labels", "--tag", "reuse-B", "-o", str(path)]) == 0
    assert "wrote 1 frame(s)" in capsys.readouterr().out
    (frame,) = read(path, index=":")
    (train,), _ = load_training_frames(TrainingSelection(tag="reuse-B"), get_store())
    assert frame.info["structure_hash"] == train.info["structure_hash"]
    np.testing.assert_allclose(frame.arrays["REF_forces"], train.arrays["REF_forces"], atol=1e-6)
    # and tag A keeps both of its labels, once each
    assert len(find_labels(tag="reuse-A")) == 2


def test_import_under_a_new_tag_reuses_without_copying_arrays(gst_home, outputs, tmp_path):
    path = tmp_path / "set.extxyz"
    frames = _labelled_file(path, _cells(3, seed=30))
    first = import_dataset(path, tag="imp-A")
    assert first.n_stored == 3
    files = _grid_files(outputs)

    again = import_dataset(path, tag="imp-B")
    assert (again.n_stored, again.n_reused) == (0, 3)
    assert "now also under tag 'imp-B'" in again.describe()
    assert _grid_files(outputs) == files  # no second copy of the arrays
    labels = find_labels(tag="imp-B")
    assert len(labels) == 3
    for label, frame in zip(labels, frames, strict=True):
        np.testing.assert_allclose(label.doc.forces, frame.arrays["REF_forces"], atol=1e-6)
    export = export_labels(tmp_path / "b.extxyz", tag="imp-B")
    assert export.n_frames == 3

    # importing it under B again adds nothing
    before = outputs.count_documents({})
    third = import_dataset(path, tag="imp-B")
    assert (third.n_stored, third.n_reused, third.n_already_stored) == (0, 0, 3)
    assert outputs.count_documents({}) == before
    assert sorted(_originals(outputs, first.settings_hash).values()) == [1, 1, 1]


def test_an_import_that_wrongly_won_the_claim_stores_nothing_twice(gst_home, outputs, tmp_path, monkeypatch):
    """The unique index is the last guard: an import told it owns labels already stored.

    (As when a database's concurrent upserts are not atomic and two imports both "insert" a
    claim.) The refused copies become reuses under the new tag, or nothing under the same tag.
    """
    from gst_flows.db import registry

    path = tmp_path / "twice.extxyz"
    _labelled_file(path, _cells(3, seed=70))
    first = import_dataset(path, tag="won-A")
    assert first.n_stored == 3

    def always_mine(store, structure_hash, settings_hash, owner, tag=None):
        return registry.LabelClaim(registry.label_key(structure_hash, settings_hash), owner, True, True)

    monkeypatch.setattr(registry, "claim_label", always_mine)
    again = import_dataset(path, tag="won-B")
    assert (again.n_stored, again.n_reused) == (0, 3)
    same = import_dataset(path, tag="won-A")
    assert (same.n_stored, same.n_reused, same.n_already_stored) == (0, 0, 3)
    assert sorted(_originals(outputs, first.settings_hash).values()) == [1, 1, 1]
    assert len(find_labels(tag="won-B")) == 3 and len(find_labels(tag="won-A")) == 3


def _import_when_told(path, tag, ready, go, results):
    """Child process: report ready, wait for the start signal, then import (the race)."""
    ready.put(True)
    go.wait()
    summary = import_dataset(path, tag=tag)
    results.put(summary.n_stored)


def test_concurrent_imports_store_each_label_once(gst_home, outputs, tmp_path):
    path = tmp_path / "race.extxyz"
    _labelled_file(path, _cells(20, seed=50))
    ctx = multiprocessing.get_context("spawn")
    ready, go, results = ctx.Queue(), ctx.Event(), ctx.Queue()
    workers = [
        ctx.Process(target=_import_when_told, args=(path, "race", ready, go, results)) for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:  # every child has imported gst_flows and waits at the start line
        ready.get(timeout=120)
    go.set()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    settings_hash = outputs.find_one({"output.provenance.tag": "race"})["output"]["settings_hash"]
    assert sorted(_originals(outputs, settings_hash).values()) == [1] * 20
    assert sum(results.get(timeout=5) for _ in workers) == 20
    assert outputs.count_documents({"output.provenance.tag": "race"}) == 20
    assert len(find_labels(tag="race", load=False)) == 20


def test_the_database_refuses_a_second_computed_label(gst_home, outputs, tmp_path):
    import pymongo

    path = tmp_path / "one.extxyz"
    _labelled_file(path, _cells(1, seed=70))
    import_dataset(path, tag="unique")
    original = outputs.find_one({"output.provenance.tag": "unique"}, {"_id": 0})
    copy = {**original, "uuid": "a-copy-written-behind-the-registry"}
    with pytest.raises(pymongo.errors.DuplicateKeyError):
        outputs.insert_one(copy)
    # a document that reuses the label is fine
    copy["output"] = {**copy["output"], "reused_from": original["uuid"]}
    outputs.insert_one(copy)


@pytest.mark.slow
def test_label_jobs_on_several_workers_compute_each_label_once(gst_home, outputs, tmp_path):
    """Overlapping label jobs (each structure three times) run by 3 rlaunch workers at once."""
    cells = _cells(2, seed=90)
    maker = StandInLabelMaker(sigma=2.65, delay=1.5)  # its own protocol: nothing stored yet
    launchpad = get_launchpad()
    ids = submit(label_flow([cells[0]] * 3 + [cells[1]] * 2, maker, tag="workers-1")) + submit(
        label_flow(cells, maker, tag="workers-2")
    )
    launchpad_file = tmp_path / "launchpad.yaml"
    launchpad.to_file(str(launchpad_file))
    worker_file = tmp_path / "fworker.yaml"
    worker_file.write_text(f"name: race\ncategory: ''\nquery: '{{\"fw_id\": {{\"$in\": {ids}}}}}'\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rlaunch = str(Path(sys.executable).parent / "rlaunch")
    procs = []
    for k in range(3):
        run_dir = tmp_path / f"w{k}"
        run_dir.mkdir()
        procs.append(
            subprocess.Popen(
                [
                    rlaunch,
                    "-l",
                    str(launchpad_file),
                    "-w",
                    str(worker_file),
                    "rapidfire",
                    "--nlaunches",
                    "0",
                    "--sleep",
                    "1",
                    "--timeout",
                    "60",
                ],
                cwd=run_dir,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            states = {launchpad.get_fw_by_id(i).state for i in ids}
            if states <= {"COMPLETED", "FIZZLED"}:
                break
            time.sleep(1)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    errors = [
        fw.launches[-1].action.stored_data.get("_exception", {}).get("_stacktrace", "")[-800:]
        for fw in map(launchpad.get_fw_by_id, ids)
        if fw.state == "FIZZLED"
    ]
    assert states == {"COMPLETED"}, (states, errors)
    settings_hash = outputs.find_one({"output.provenance.tag": "workers-1"})["output"]["settings_hash"]
    assert sorted(_originals(outputs, settings_hash).values()) == [1, 1]
    assert len(find_labels(tag="workers-1", load=False)) == 2
    assert len(find_labels(tag="workers-2", load=False)) == 2
    for fw_id in ids:
        if fw_id in launchpad.get_fw_ids():
            launchpad.delete_wf(fw_id)
