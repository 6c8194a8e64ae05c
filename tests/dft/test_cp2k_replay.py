"""The CP2K label maker's whole path (input writing, custodian, parsing, document, database)
against a stored CP2K run, in about a second: the fast tier's CP2K test."""

import sys
from pathlib import Path

import numpy as np
import pytest
from ase.io import read
from ase.units import Bohr, Hartree

from gst_flows.db import find_labels
from gst_flows.execution import run_local
from gst_flows.flows.label import label_flow
from gst_flows.makers.dft import Cp2kLabelMaker

REF = Path(__file__).parent / "reference" / "cp2k_gete7"
REPLAY = Path(__file__).resolve().parents[1] / "support" / "replay_cp2k.py"
SETTINGS = {"kpoint_spacing": 0.6}  # the reference run's protocol (a 2×2×2 mesh)


def _maker(**settings):
    return Cp2kLabelMaker(settings={**SETTINGS, **settings}, command=f"{sys.executable} {REPLAY} {REF}")


def _label_docs(responses):
    return [r[1].output for r in responses.values() if 1 in r and type(r[1].output).__name__ == "LabelDoc"]


def test_label_maker_replays_a_stored_cp2k_run(gst_home, outputs):
    atoms = read(REF / "structure.extxyz")
    flow = label_flow([atoms], _maker(), tag="cp2k-replay", config_type="crystal")
    (doc,) = _label_docs(run_local(flow))
    assert doc.state == "successful", doc.error
    assert doc.energy == pytest.approx(-40.153589204408611 * Hartree)
    np.testing.assert_allclose(
        doc.forces[0], np.array([-0.00491641, -0.00027988, -0.00038210]) * Hartree / Bohr
    )
    assert doc.stress[0][0] == pytest.approx(4.36988537325)  # tensile positive, GPa
    assert doc.kpoints == [2, 2, 2] and doc.code_version == "CP2K version 2023.1"
    assert (Path(doc.dir_name) / "cp2k.inp").is_file()
    (stored,) = find_labels(tag="cp2k-replay")
    np.testing.assert_allclose(stored.doc.forces, doc.forces)
    # the same structure and protocol again: reused, CP2K (here its replay) not started
    again = label_flow([atoms], _maker(), tag="cp2k-replay-2")
    (reused,) = _label_docs(run_local(again))
    assert reused.reused_from == stored.uuid


def test_a_changed_input_is_caught_by_the_replay(gst_home, outputs):
    atoms = read(REF / "structure.extxyz")
    flow = label_flow([atoms], _maker(cutoff=350), tag="cp2k-replay-other")
    (doc,) = _label_docs(run_local(flow))
    assert doc.state == "failed"
    assert "CP2K failed" in doc.error


def test_protocol_is_fixed_where_the_flow_is_built(tmp_path, monkeypatch):
    """A worker with another configuration computes the submitter's protocol."""
    from monty.json import MontyDecoder

    config = tmp_path / "config.yaml"
    config.write_text("dft: {cutoff: 350}\n")
    monkeypatch.setenv("GST_FLOWS_CONFIG", str(config))
    maker = Cp2kLabelMaker(settings={"kpoint_spacing": 0.5})
    submitted = maker.resolved_settings()
    config.write_text("dft: {cutoff: 500, smearing_temperature: 1000}\n")  # the worker's
    on_worker = MontyDecoder().process_decoded(maker.as_dict()).resolved_settings()
    assert (on_worker.cutoff, on_worker.kpoint_spacing) == (350, 0.5)
    assert on_worker.settings_hash() == submitted.settings_hash()
    with pytest.raises(ValueError, match="cutof"):
        Cp2kLabelMaker(settings={"cutof": 400})  # refused when the flow is built
