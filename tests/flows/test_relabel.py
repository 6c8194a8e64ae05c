"""Relabelling a stored set with another protocol, with a Lennard-Jones stand-in for DFT."""

import numpy as np
import pytest

from gst_flows.dataset import export_labels, find_labels
from gst_flows.execution import run_local
from gst_flows.flows.label import label_flow
from gst_flows.flows.relabel import relabel_flow
from gst_flows.structures import build_rocksalt
from tests.support.standin import StandInLabelMaker


def _labels(responses):
    return [r[1].output for r in responses.values() if 1 in r and type(r[1].output).__name__ == "LabelDoc"]


@pytest.fixture(scope="module")
def originals(gst_home):
    cells = []
    for seed, composition in enumerate(["GeTe", "Ge1Sb2Te4", "GeTe"]):
        atoms = build_rocksalt(composition, seed=seed)
        atoms.rattle(0.05, seed=seed + 10)
        atoms.info = {"config_type": "crystal" if seed < 2 else "rattled"}
        cells.append(atoms)
    flow = label_flow(cells, StandInLabelMaker(), tag="relabel-src", iteration=0, generator="test")
    run_local(flow)
    return {s.doc.structure_hash: s for s in find_labels(tag="relabel-src")}


def test_relabel_links_both_labels_to_the_same_structure(originals, outputs, tmp_path):
    assert len(originals) == 3
    StandInLabelMaker.calls.clear()
    flow = relabel_flow(StandInLabelMaker(sigma=2.9), tag="relabel-src")
    new = _labels(run_local(flow))
    assert len(new) == 3 and len(StandInLabelMaker.calls) == 3
    for doc in new:
        old = originals[doc.structure_hash]  # same structure
        assert doc.settings_hash != old.doc.settings_hash  # another protocol
        assert doc.energy != pytest.approx(old.doc.energy)
        assert doc.provenance == old.doc.provenance  # tag, iteration, config_type, generator
        assert doc.code == "test-stand-in" and doc.reused_from is None
    # The explicit link: each new label's job names the label it relabels.
    links = {
        d["output"]["structure_hash"]: d["metadata"]
        for d in outputs.find({"metadata.relabel_of": {"$in": [o.uuid for o in originals.values()]}})
    }
    assert len(links) == 3
    for structure, meta in links.items():
        assert meta["relabel_of"] == originals[structure].uuid
        assert meta["relabel_from_settings_hash"] == originals[structure].doc.settings_hash

    # Relabelling again computes nothing: the new protocol's labels are reused.
    StandInLabelMaker.calls.clear()
    old_protocol = next(iter(originals.values())).doc.settings_hash
    again_flow = relabel_flow(StandInLabelMaker(sigma=2.9), tag="relabel-src", settings_hash=old_protocol)
    again = _labels(run_local(again_flow))
    assert StandInLabelMaker.calls == []
    assert all(d.reused_from is not None for d in again)

    # Both protocols share the tag: an export by tag alone warns, one protocol is clean.
    with pytest.warns(UserWarning, match="2 protocols"):
        export_labels(tmp_path / "both.extxyz", tag="relabel-src")
    relabelled = find_labels(tag="relabel-src", settings_hash=new[0].settings_hash)
    assert {s.doc.structure_hash for s in relabelled} == set(originals)
    assert {s.metadata["relabel_of"] for s in relabelled} == {o.uuid for o in originals.values()}


def test_relabel_with_a_new_tag_and_selection(originals):
    flow = relabel_flow(
        StandInLabelMaker(sigma=3.1), tag="relabel-src", config_type="crystal", new_tag="relabel-new"
    )
    new = _labels(run_local(flow))
    assert len(new) == 2
    assert {d.provenance.tag for d in new} == {"relabel-new"}
    assert {d.provenance.config_type for d in new} == {"crystal"}
    assert all(d.provenance.iteration == 0 for d in new)
    stored = find_labels(tag="relabel-new")
    assert np.all([s.metadata["relabel_of"] in {o.uuid for o in originals.values()} for s in stored])


def test_structures_without_forces(originals):
    old_protocol = next(iter(originals.values())).doc.settings_hash
    light = find_labels(tag="relabel-src", forces=False, settings_hash=old_protocol)
    assert len(light) == 3
    assert all(s.doc.forces is None and s.doc.structure is not None for s in light)
    assert all(s.doc.energy is not None and s.doc.stress is not None for s in light)
    bare = find_labels(tag="relabel-src", load=False)
    assert all(s.doc.structure is None and s.doc.forces is None for s in bare)


def test_empty_selection_is_refused(gst_home):
    with pytest.raises(ValueError, match="no successful labels to relabel"):
        relabel_flow(StandInLabelMaker(), tag="no-such-tag")
