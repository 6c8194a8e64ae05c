"""The embedded database belongs to its owner; credentials are never printed or stored in work;
queued work survives the server coming back on another port."""

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pymongo
import pytest

from gst_flows.cli import main
from gst_flows.commands.launchers import write_launchers
from gst_flows.db import find_labels
from gst_flows.dbserver import EmbeddedServer, _server_program
from gst_flows.execution import submit
from gst_flows.flows.label import label_flow
from gst_flows.store import database_uri, get_launchpad
from gst_flows.structures import build_rocksalt
from tests.support.standin import StandInLabelMaker

ROOT = Path(__file__).resolve().parents[2]


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _refused(uri):
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)
    try:
        client.gst_flows.outputs.find_one()
    except pymongo.errors.OperationFailure:
        return True
    finally:
        client.close()
    return False


def _cells(n, seed):
    cells = []
    for k in range(n):
        atoms = build_rocksalt("GeTe", seed=seed + k)
        atoms.rattle(0.05, seed=seed + 50 + k)
        atoms.info.clear()
        cells.append(atoms)
    return cells


def _rlaunch(launchpad_file, fw_ids, cwd, mode="rapidfire"):
    worker = cwd / "fworker.yaml"
    worker.write_text(f"name: t\ncategory: ''\nquery: '{{\"fw_id\": {{\"$in\": {fw_ids}}}}}'\n")
    rlaunch = str(Path(sys.executable).parent / "rlaunch")
    extra = ["--nlaunches", "0", "--sleep", "1", "--timeout", "40"] if mode == "rapidfire" else []
    return subprocess.run(
        [rlaunch, "-l", str(launchpad_file), "-w", str(worker), mode, *extra],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_embedded_server_belongs_to_its_owner(tmp_path):
    server = EmbeddedServer(tmp_path / "data")
    try:
        status = server.start()
        assert _mode(tmp_path / "data") == 0o700
        for root, _dirs, files in os.walk(server.directory):
            assert _mode(root) == 0o700, root
            for name in files:
                assert _mode(Path(root) / name) == 0o600, name
        cred = server.credentials()
        assert _mode(server.credentials_file) == 0o600 and len(cred["password"]) >= 24
        port = status["port"]
        assert _refused(f"mongodb://127.0.0.1:{port}/")
        assert _refused(f"mongodb://gst-flows:wrong@127.0.0.1:{port}/?authSource=admin")
        client = pymongo.MongoClient(status["uri"])
        client.gst_flows.check.insert_one({"ok": 1})
        client.close()
    finally:
        server.stop()


def test_an_open_data_directory_from_before_is_secured(tmp_path):
    """Storage written by an unauthenticated server, with a stranger's user in it."""
    server = EmbeddedServer(tmp_path / "data")
    storage = server.directory / "storage"
    storage.mkdir(parents=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    old = subprocess.Popen(
        [
            _server_program(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(storage),
            "--standalone",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        umask=0o022,
    )
    try:
        client = pymongo.MongoClient("127.0.0.1", port, directConnection=True, serverSelectionTimeoutMS=20000)
        client.gst_flows.kept.insert_one({"value": 7})
        client.admin.command("createUser", "stranger", pwd="x", roles=[{"role": "root", "db": "admin"}])
        client.close()
    finally:
        old.terminate()
        old.wait(timeout=20)
    assert any(_mode(p) & 0o044 for p in storage.iterdir())  # world/group readable before
    try:
        status = server.start()
        assert all(_mode(p) == 0o600 for p in storage.iterdir() if p.is_file())
        assert _refused(f"mongodb://stranger:x@127.0.0.1:{status['port']}/?authSource=admin")
        client = pymongo.MongoClient(status["uri"])
        assert client.gst_flows.kept.find_one({}, {"_id": 0}) == {"value": 7}
        client.close()
    finally:
        server.stop()


def test_credentials_are_never_printed_or_stored(gst_home, outputs, tmp_path, capsys):
    password = EmbeddedServer(gst_home / "data").credentials()["password"]
    uri = database_uri()
    assert password in uri  # the session's server does have a secret to keep

    # printed: masked
    for action in ("start", "status", "uri"):
        assert main(["db", action]) == 0
        printed = capsys.readouterr().out
        assert password not in printed and "***" in printed
    os.environ["GST_FLOWS_DB_URI"] = uri  # the same server given as a configured URI
    try:
        for action in ("status", "uri"):
            main(["db", action])
            printed = capsys.readouterr().out
            assert password not in printed and "***" in printed
    finally:
        del os.environ["GST_FLOWS_DB_URI"]

    # stored in work: never
    ids = submit(label_flow(_cells(1, seed=400), StandInLabelMaker(), tag="secret-check"))
    launchpad = get_launchpad()
    fireworks = list(launchpad.fireworks.find({"fw_id": {"$in": ids}}, {"_id": 0}))
    assert fireworks and password not in json.dumps(fireworks, default=str)
    paths = write_launchers(tmp_path / "launchers", uri)
    assert _mode(paths["launchpad"]) == 0o600
    lpad = str(Path(sys.executable).parent / "lpad")
    shown = subprocess.run(
        [lpad, "-l", str(paths["launchpad"]), "get_fws", "-i", str(ids[0]), "-d", "all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "ConfiguredJobStore" in shown and password not in shown
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    proc = _rlaunch(paths["launchpad"], ids, run_dir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {launchpad.get_fw_by_id(i).state for i in ids} == {"COMPLETED"}
    written = [p for p in run_dir.rglob("*") if p.is_file()]
    assert any(p.name == "FW.json" for p in written)
    for path in written:
        assert password not in path.read_text(errors="replace"), path
    docs = list(outputs.find({"output.provenance.tag": "secret-check"}, {"_id": 0}))
    assert docs and password not in json.dumps(docs, default=str)
    for fw_id in ids:
        if fw_id in launchpad.get_fw_ids():
            launchpad.delete_wf(fw_id)


@pytest.mark.slow
def test_queued_work_survives_a_restart_on_another_port(tmp_path, monkeypatch):
    monkeypatch.setenv("GST_FLOWS_DATA_DIR", str(tmp_path / "data"))
    server = EmbeddedServer(tmp_path / "data")
    try:
        ids = submit(label_flow(_cells(2, seed=500), StandInLabelMaker(), tag="restart"))
        old_port = server.status()["port"]
        assert server.stop()
        with socket.socket() as squatter:
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind(("127.0.0.1", old_port))
            squatter.listen()
            new_port = server.start()["port"]
            assert new_port != old_port
            assert main(["launchers", str(tmp_path / "launchers")]) == 0
            run_dir = tmp_path / "run"
            run_dir.mkdir()
            start = time.monotonic()
            proc = _rlaunch(tmp_path / "launchers" / "my_launchpad.yaml", ids, run_dir)
        assert proc.returncode == 0, proc.stderr[-2000:]
        launchpad = get_launchpad()
        assert {launchpad.get_fw_by_id(i).state for i in ids} == {"COMPLETED"}
        assert time.monotonic() - start < 120
        assert len(find_labels(tag="restart", load=False)) == 2
    finally:
        server.stop()
