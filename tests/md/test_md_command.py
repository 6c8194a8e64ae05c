"""``gst-flows md``: listing, checking, direct and jobflow runs, one-line errors."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from ase.io import write
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore

from gst_flows.commands import md as md_command
from gst_flows.md.protocol import ProtocolError

PAIR = "gap_fixture:pair_calculator"


def _main(argv):
    parser = argparse.ArgumentParser(prog="gst-flows")
    md_command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["md", *argv])
    return args.handler(args)


@pytest.fixture
def files(slab_cell, tmp_path):
    structure = tmp_path / "cell.extxyz"
    write(structure, slab_cell)
    protocol = tmp_path / "p.yaml"
    protocol.write_text(
        "name: short\ninitial_temperature: 300\nstages:\n"
        "  - {name: eq, ensemble: nvt, temperature: 300, duration: 20 fs,\n"
        "     actions: [{kind: fix_atoms}]}\n"
        "  - name: pulse\n    ensemble: nve\n    duration: 20 fs\n    actions:\n"
        "      - {kind: fix_atoms}\n      - {kind: inject_energy, region: region, rate: 10 eV/ps}\n"
    )
    return structure, protocol


def test_list(capsys):
    assert _main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "mushroom_reset" in out and "cross_point" in out


def test_check_shipped_protocol_scaled(files, capsys):
    structure, _ = files
    assert _main(["mushroom_reset", str(structure), "--check", "--scale-energies"]) == 0
    out = capsys.readouterr().out
    assert "pulse: nve" in out and "108 atoms" in out


def test_errors_before_any_compute(files, tmp_path):
    structure, _ = files
    with pytest.raises(ProtocolError, match="temperature ceiling"):
        _main(["mushroom_reset", str(structure), "--check"])
    bad = tmp_path / "field.yaml"
    bad.write_text(
        "stages:\n  - {name: f, ensemble: nvt, temperature: 1000, duration: 10,\n"
        "     actions: [{kind: electric_field, strength: 0.03, "
        "charges: {Xe: 1}}]}\n"
    )
    with pytest.raises(ProtocolError, match="no charge for Ge, Sb, Te"):
        _main([str(bad), str(structure), "--direct", str(tmp_path / "out"), "--potential", PAIR])
    assert not (tmp_path / "out").exists()
    with pytest.raises(FileNotFoundError, match="no protocol file"):
        _main(["nope.yaml", str(structure), "--check"])
    with pytest.raises(ValueError, match="--potential: no potential given"):
        _main([str(files[1]), str(structure)])


def test_direct_run(files, tmp_path, capsys):
    structure, protocol = files
    out = tmp_path / "run"
    assert (
        _main(
            [
                str(protocol),
                str(structure),
                "--potential",
                PAIR,
                "--direct",
                str(out),
                "--frame-interval",
                "5",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "finished: 20 steps" in text and "injected 0.2 eV" in text
    assert (out / "result.json").exists() and (out / "frames.extxyz").exists()


def test_blowup_exit_code(files, tmp_path, capsys):
    structure, _ = files
    hot = tmp_path / "hot.yaml"
    hot.write_text(
        "temperature_ceiling: 1e6\ninitial_temperature: 300\nstages:\n"
        "  - {name: a, ensemble: nve, duration: 40,\n"
        "     actions: [{kind: inject_energy, region: null, rate: 1e5}]}\n"
    )
    assert _main([str(hot), str(structure), "--potential", PAIR, "--direct", str(tmp_path / "h")]) == 3
    assert "blew up" in capsys.readouterr().err


def test_local_run_through_jobflow(files, monkeypatch, tmp_path, capsys):
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})

    def fake_run_local(flow, **kwargs):
        return run_locally(flow, store=store, create_folders=True, root_dir=tmp_path)

    import gst_flows.execution

    monkeypatch.setattr(gst_flows.execution, "run_local", fake_run_local)
    structure, protocol = files
    assert _main([str(protocol), str(structure), "--potential", PAIR, "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "stored MD document" in out and "pulse" in out
    docs = list(store.docs_store.query({}))
    assert docs[0]["output"]["n_steps"] == 20
    assert np.isclose(docs[0]["output"]["ledger"]["injected"], 0.2)
