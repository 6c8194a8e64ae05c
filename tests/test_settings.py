import pytest
import yaml

from gst_flows.settings import get_settings


def test_file_then_environment(tmp_path, monkeypatch):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        yaml.safe_dump({"db_uri": "mongodb://file:1/", "cp2k_cmd": "cp2k.psmp", "dft": {"cutoff": 400}})
    )
    monkeypatch.setenv("GST_FLOWS_CONFIG", str(cfg))
    monkeypatch.delenv("GST_FLOWS_DB_URI", raising=False)
    monkeypatch.delenv("GST_FLOWS_CP2K_CMD", raising=False)
    settings = get_settings()
    assert settings.db_uri == "mongodb://file:1/"
    assert settings.cp2k_command == ["cp2k.psmp"]
    assert settings.dft == {"cutoff": 400}
    monkeypatch.setenv("GST_FLOWS_DB_URI", "mongodb://env:2/")
    assert get_settings().db_uri == "mongodb://env:2/"


def test_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.setenv("GST_FLOWS_CONFIG", str(tmp_path / "missing.yaml"))
    monkeypatch.delenv("GST_FLOWS_DB_URI", raising=False)
    monkeypatch.setenv("GST_FLOWS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GST_FLOWS_CP2K_CMD", raising=False)
    settings = get_settings()
    assert settings.embedded
    assert settings.cp2k_command == ["mpirun", "-np", "2", "cp2k.psmp"]  # no root flag for users


def test_unknown_key_in_file_is_refused(tmp_path, monkeypatch):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("db_url: typo\n")
    monkeypatch.setenv("GST_FLOWS_CONFIG", str(cfg))
    with pytest.raises(ValueError, match="db_url"):
        get_settings()
