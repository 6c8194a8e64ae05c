import os
import socket

import pymongo
import pytest

from gst_flows.cli import main
from gst_flows.dbserver import DatabaseServerError, EmbeddedServer


@pytest.fixture
def server(tmp_path):
    srv = EmbeddedServer(tmp_path / "data")
    yield srv
    srv.stop()


def test_start_stop_restart_keeps_data(server):
    status = server.start()
    assert status["running"]
    assert status["uri"].startswith("mongodb://gst-flows:")
    client = pymongo.MongoClient(status["uri"])
    client.gst.check.insert_one({"kept": 42})
    client.close()

    again = server.start()  # a second start is harmless
    assert again["pid"] == status["pid"]

    assert server.stop() is True
    assert server.status()["running"] is False
    assert server.stop() is False  # nothing left to stop

    restarted = server.start()
    assert restarted["pid"] != status["pid"]
    assert restarted["port"] == status["port"]  # same port, so stored URIs stay valid
    client = pymongo.MongoClient(restarted["uri"])
    assert client.gst.check.find_one({}, {"_id": 0}) == {"kept": 42}
    client.close()


def test_stop_only_ends_its_own_pid(server):
    server.start()
    real_state = server.state_file.read_text()
    # A state file pointing at a process that is not a database server is never killed.
    server.state_file.write_text(f'{{"pid": {os.getpid()}, "port": 1}}')
    try:
        assert server.stop() is False
        assert server.status()["running"] is False
    finally:
        server.state_file.write_text(real_state)  # so the fixture stops the real server


def test_port_taken_picks_another(server):
    first = server.start()
    server.stop()
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", first["port"]))
        blocker.listen()
        status = server.start()
    assert status["running"]
    assert status["port"] != first["port"]


def test_unwritable_data_dir_is_one_clear_error(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(DatabaseServerError, match="not writable"):
        EmbeddedServer(blocked / "data").start()


def test_cli_db_commands(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GST_FLOWS_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("GST_FLOWS_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.delenv("GST_FLOWS_DB_URI", raising=False)
    try:
        assert main(["db", "status"]) == 3
        assert main(["db", "start"]) == 0
        assert main(["db", "start"]) == 0
        capsys.readouterr()
        assert main(["db", "uri"]) == 0
        assert capsys.readouterr().out.strip().startswith("mongodb://gst-flows:***@127.0.0.1:")
        assert main(["db", "status"]) == 0
    finally:
        assert main(["db", "stop"]) == 0
    assert "stopped" in capsys.readouterr().out


def test_configured_uri_never_touches_embedded(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GST_FLOWS_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("GST_FLOWS_DB_URI", "mongodb://me:hunter2@db.example:27017/")
    assert main(["db", "uri"]) == 0
    assert capsys.readouterr().out.strip() == "mongodb://me:***@db.example:27017/"
    assert main(["db", "start"]) == 1
    assert not (tmp_path / "d" / "db").exists()
