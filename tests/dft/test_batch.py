"""Batch logic of labelling flows, without running CP2K."""

import pytest
from ase import Atoms
from jobflow import Flow, job

from gst_flows.execution import assign_categories, packed_workflow
from gst_flows.flows.label import (
    LabellingFailedError,
    isolated_atoms_flow,
    label_flow,
    summarise_labels,
)
from gst_flows.makers.dft import ATOM_MULTIPLICITY, Cp2kIsolatedAtomMaker, Cp2kLabelMaker
from gst_flows.structures import build_rocksalt


def test_summary_counts_and_failure_fraction():
    states = ["successful", "failed", None, "successful"]
    errors = [None, "SCF did not converge", None, None]
    reused = [None, None, None, "abc"]
    hashes = ["h0", "h1", "h2", "h3"]
    doc = summarise_labels.original("b", states, errors, reused, hashes, 0.5)
    assert (doc.n_total, doc.n_successful, doc.n_failed, doc.n_reused) == (4, 2, 2, 1)
    assert doc.failed_fraction == 0.5
    assert [f["index"] for f in doc.failures] == [1, 2]
    assert doc.failures[1]["error"] == "job ended without a document"
    with pytest.raises(LabellingFailedError, match=r"2 of 4 labels failed \(50% > 25% allowed\)"):
        summarise_labels.original("b", states, errors, reused, hashes, 0.25)


def test_label_flow_shape_and_metadata():
    cells = [build_rocksalt("GeTe", seed=s) for s in range(3)]
    flow = label_flow(
        cells, Cp2kLabelMaker(settings={"kpoint_spacing": 0.6}), tag="t", max_failed_fraction=0.1
    )
    labels, summary = flow.jobs[:3], flow.jobs[3]
    assert [j.metadata["batch_index"] for j in labels] == [0, 1, 2]
    assert {j.metadata["batch"] for j in flow.jobs} == {flow.uuid}
    assert all(j.config.expose_store for j in labels)
    assert flow.output.uuid == summary.uuid
    assert {r.uuid for r in summary.input_references} == {j.uuid for j in labels}


@job
def _leaf(x):
    return x


@job
def _gather(xs):
    return sum(xs)


def test_packing_groups_independent_jobs_and_keeps_links():
    leaves = [_leaf(i) for i in range(5)]
    for leaf in leaves:
        leaf.update_config({"manager_config": {"_category": "dft"}})
    total = _gather([leaf.output for leaf in leaves])
    flow = Flow([*leaves, total])
    wf = packed_workflow(flow, store=None, pack_size=2)
    sizes = sorted(len(fw.tasks) for fw in wf.fws)
    assert sizes == [1, 1, 2, 2]  # 5 leaves in 3 Fireworks, the gatherer alone
    gather_fw = next(fw for fw in wf.fws if fw.tasks[0]["job"].uuid == total.uuid)
    assert len(wf.links.parent_links[gather_fw.fw_id]) == 3
    packed = [fw for fw in wf.fws if fw is not gather_fw]
    assert all(fw.spec["_category"] == "dft" for fw in packed)
    assert len(packed_workflow(flow, store=None, pack_size=1).fws) == 6
    with pytest.raises(ValueError, match="pack_size"):
        packed_workflow(flow, store=None, pack_size=0)


def test_categories_come_from_makers():
    flow = label_flow([build_rocksalt("GeTe", seed=0)])
    assign_categories(flow)
    assert flow.jobs[0].config.manager_config["_category"] == "dft"


def test_isolated_atom_protocol_follows_the_bulk_protocol(gst_home):
    maker = Cp2kIsolatedAtomMaker(settings={"cutoff": 250})
    bulk = Cp2kLabelMaker(settings={"cutoff": 250}).resolved_settings()
    for element, multiplicity in ATOM_MULTIPLICITY.items():
        settings, extra = maker.protocol_for(Atoms(element, cell=[10, 10.5, 11], pbc=True))
        assert settings.uks and settings.gamma_only
        assert settings.scf_method == "ot"
        assert settings.multiplicity == multiplicity
        assert settings.cutoff == 250 and settings.functional == bulk.functional
        assert extra == {"reference_settings_hash": bulk.settings_hash(), "config_type": "isolated_atom"}
    with pytest.raises(ValueError, match="one atom"):
        maker.protocol_for(Atoms("Ge2", positions=[[0, 0, 0], [3, 0, 0]], cell=[10] * 3, pbc=True))
    flow = isolated_atoms_flow(("Ge", "Te"), box=(9.0, 9.5, 10.0))
    assert len(flow.jobs) == 3
    assert flow.jobs[0].function_args[0].lattice.abc == pytest.approx((9.0, 9.5, 10.0))
