"""Shared fixtures: an isolated gst-flows configuration and a real embedded database."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from gst_flows.dbserver import EmbeddedServer

CP2K_AVAILABLE = shutil.which("cp2k.psmp") is not None
requires_cp2k = pytest.mark.skipif(
    not CP2K_AVAILABLE, reason="cp2k.psmp is not installed (scripts/setup.sh installs it)"
)

# Cheap but real CP2K settings for tests: a 2x2x2 mesh on 6 Å cells instead of 5x5x5.
FAST_CP2K = {"kpoint_spacing": 0.6}


@pytest.fixture(scope="session", autouse=True)
def gst_home(tmp_path_factory) -> Path:
    """A private data directory and an empty configuration for the whole test session.

    Used by every test, so no test touches the user's own data directory or configuration.

    The embedded database server of this data directory is started on first use and stopped
    (by its pid) when the session ends.
    """
    home = tmp_path_factory.mktemp("gst-home")
    names = ("GST_FLOWS_DATA_DIR", "GST_FLOWS_CONFIG", "GST_FLOWS_DB_URI", "GST_FLOWS_CP2K_CMD")
    saved = {k: os.environ.get(k) for k in names}
    os.environ["GST_FLOWS_DATA_DIR"] = str(home / "data")
    os.environ["GST_FLOWS_CONFIG"] = str(home / "no-config.yaml")
    os.environ.pop("GST_FLOWS_DB_URI", None)
    # Tests and CI run as root here: OpenMPI's mpirun refuses root without this flag, which the
    # packaged default leaves out.
    root_flag = " --allow-run-as-root" if os.geteuid() == 0 else ""
    os.environ["GST_FLOWS_CP2K_CMD"] = f"mpirun{root_flag} -np 2 cp2k.psmp"
    yield home
    EmbeddedServer(home / "data").stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def db_uri(gst_home) -> str:
    """URI of the session's running embedded server."""
    return EmbeddedServer(gst_home / "data").uri()


@pytest.fixture
def outputs(db_uri):
    """The job-outputs collection of the session's database (plain pymongo)."""
    import pymongo

    client = pymongo.MongoClient(db_uri)
    yield client["gst_flows"]["outputs"]
    client.close()
