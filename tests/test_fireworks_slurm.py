"""The labelling flow through FireWorks: submitted to the LaunchPad, run by `qlaunch -r rapidfire`
on a one-node SLURM cluster on loopback, the result read back with plain pymongo."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from ase.io import write

from gst_flows.cli import main
from gst_flows.commands.launchers import write_launchers
from gst_flows.store import get_launchpad
from gst_flows.structures import build_rocksalt
from tests.conftest import requires_cp2k
from tests.support.slurm import SlurmCluster, slurm_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.slurm,
    requires_cp2k,
    pytest.mark.skipif(
        not slurm_available(), reason="slurm-wlm/munge not installed (scripts/setup.sh installs them)"
    ),
]


@pytest.fixture
def slurm(tmp_path):
    cluster = SlurmCluster(tmp_path / "slurm")
    cluster.start()
    yield cluster
    cluster.stop()
    assert not cluster.step_daemons(), "a job step of the test cluster outlived it"


def test_qlaunch_rapidfire_on_slurm(gst_home, db_uri, outputs, slurm, tmp_path, capsys):
    atoms = build_rocksalt("Ge1Sb2Te4", seed=5)
    atoms.rattle(0.04, seed=3)
    write(tmp_path / "cell.extxyz", atoms)
    assert (
        main(
            [
                "submit",
                "label",
                str(tmp_path / "cell.extxyz"),
                "--tag",
                "slurm-run",
                "--config-type",
                "crystal",
                "--set",
                "kpoint_spacing=0.6",
            ]
        )
        == 0
    )
    assert "submitted 1 label job" in capsys.readouterr().out

    launchpad = get_launchpad()
    fw_id = max(launchpad.get_fw_ids())
    fw = launchpad.get_fw_by_id(fw_id)
    assert fw.spec["_category"] == "dft"

    fw_dir = tmp_path / "fw"
    paths = write_launchers(
        fw_dir,
        db_uri,
        queue="slurm",
        category="dft",
        ntasks=2,
        walltime="00:20:00",
        pre_rocket=f"export SLURM_CONF={slurm.conf}; export OMP_NUM_THREADS=1",
    )
    # This fworker runs only the firework of this test, whatever else the LaunchPad holds.
    worker = yaml.safe_load(paths["fworker_dft"].read_text())
    worker["query"] = json.dumps({"fw_id": fw_id})
    paths["fworker_dft"].write_text(yaml.safe_dump(worker))
    fw_config = fw_dir / "FW_config.yaml"
    fw_config.write_text("QUEUE_UPDATE_INTERVAL: 1\n")
    env = {**os.environ, **slurm.env, "FW_CONFIG_FILE": str(fw_config)}
    qlaunch = str(Path(sys.executable).parent / "qlaunch")
    proc = subprocess.run(
        [
            qlaunch,
            "-l",
            str(paths["launchpad"]),
            "-w",
            str(paths["fworker_dft"]),
            "-q",
            str(paths["qadapter"]),
            "-r",
            "rapidfire",
            "--nlaunches",
            "1",
        ],
        cwd=fw_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]

    deadline = time.monotonic() + 900
    state = None
    while time.monotonic() < deadline:
        state = launchpad.get_fw_by_id(fw_id).state
        if state in ("COMPLETED", "FIZZLED"):
            break
        time.sleep(2)
    logs = "\n".join(p.read_text(errors="replace")[-1500:] for p in (fw_dir / "logs").rglob("*.*"))
    assert state == "COMPLETED", f"firework ended {state}; queue logs:\n{logs}"

    doc = outputs.find_one({"output.provenance.tag": "slurm-run"})
    assert doc is not None
    assert doc["output"]["state"] == "successful"
    assert doc["output"]["natoms"] == 7
    assert doc["output"]["provenance"]["config_type"] == "crystal"
    assert doc["output"]["energy"] < 0


def test_lost_run_is_found_and_rerun(gst_home, outputs, slurm, tmp_path):
    """A worker killed mid-label (scancel) leaves its firework RUNNING: lpad detect_lostruns
    finds it, --rerun puts it back, a new queue job finishes it, the label stored once."""
    from gst_flows.db import find_labels
    from gst_flows.execution import submit
    from gst_flows.flows.label import label_flow
    from tests.support.standin import StandInLabelMaker

    hold = tmp_path / "hold"
    hold.write_text("the label runs until this file is removed")
    atoms = build_rocksalt("GeTe", seed=61)
    atoms.rattle(0.05, seed=62)
    flow = label_flow([atoms], StandInLabelMaker(hold_file=str(hold)), tag="lost-run")
    label_job = flow.jobs[0]
    launchpad = get_launchpad()
    fw_ids = submit(flow)
    fw_id = launchpad.get_fw_ids({"spec._tasks.job.uuid": label_job.uuid})[0]

    fw_dir = tmp_path / "fw"
    paths = write_launchers(
        fw_dir,
        launchpad.host,
        walltime="00:20:00",
        pre_rocket=f"export SLURM_CONF={slurm.conf}; export PYTHONPATH={Path(__file__).resolve().parents[1]}",
    )
    worker = yaml.safe_load(paths["fworker"].read_text())
    worker["query"] = json.dumps({"fw_id": {"$in": fw_ids}})
    paths["fworker"].write_text(yaml.safe_dump(worker))
    fw_config = fw_dir / "FW_config.yaml"
    fw_config.write_text("QUEUE_UPDATE_INTERVAL: 1\n")
    env = {**os.environ, **slurm.env, "FW_CONFIG_FILE": str(fw_config)}
    qlaunch = [
        str(Path(sys.executable).parent / "qlaunch"),
        "-l",
        str(paths["launchpad"]),
        "-w",
        str(paths["fworker"]),
        "-q",
        str(paths["qadapter"]),
        "-r",
        "rapidfire",
        "--nlaunches",
        "1",
    ]
    lpad = [str(Path(sys.executable).parent / "lpad"), "-l", str(paths["launchpad"])]

    def wait_for(state, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if launchpad.get_fw_by_id(fw_id).state == state:
                return
            time.sleep(1)
        raise AssertionError(f"firework {fw_id} never reached {state}")

    subprocess.run(qlaunch, cwd=fw_dir, env=env, check=True, capture_output=True, timeout=300)
    wait_for("RUNNING")
    time.sleep(2)
    subprocess.run(["scancel", "--user", "root"], env=env, check=True)  # the node dies
    time.sleep(3)
    assert launchpad.get_fw_by_id(fw_id).state == "RUNNING"  # nobody told FireWorks
    hold.unlink()
    found = subprocess.run(
        [*lpad, "detect_lostruns", "--time", "1", "--rerun"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert str(fw_id) in found.stdout + found.stderr
    assert launchpad.get_fw_by_id(fw_id).state == "READY"
    subprocess.run(qlaunch, cwd=fw_dir, env=env, check=True, capture_output=True, timeout=300)
    wait_for("COMPLETED")
    labels = find_labels(tag="lost-run", load=False)
    assert len(labels) == 1 and labels[0].uuid == label_job.uuid
    assert outputs.count_documents({"output.provenance.tag": "lost-run"}) == 1
    for fw in fw_ids:
        if fw in launchpad.get_fw_ids():
            launchpad.delete_wf(fw)
