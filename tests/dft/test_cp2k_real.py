"""Real CP2K runs on 7-atom cells: labels through jobflow, units against finite differences."""

import numpy as np
import pytest
from ase.units import GPa

from gst_flows.dft.cp2k import Cp2kSettings, run_cp2k
from gst_flows.execution import run_local
from gst_flows.flows.label import label_flow
from gst_flows.makers.dft import Cp2kLabelMaker
from gst_flows.store import get_store
from gst_flows.structures import build_rocksalt
from tests.conftest import FAST_CP2K, requires_cp2k

pytestmark = [pytest.mark.slow, pytest.mark.cp2k, requires_cp2k]


@pytest.fixture(scope="module")
def rattled_cell():
    atoms = build_rocksalt("Ge1Sb2Te4", seed=3)
    atoms.rattle(0.06, seed=7)
    return atoms


def test_label_through_run_locally_and_finite_differences(gst_home, rattled_cell, tmp_path):
    flow = label_flow(
        [rattled_cell],
        Cp2kLabelMaker(settings=FAST_CP2K),
        tag="fd-check",
        config_type="crystal",
        iteration=0,
        generator="test",
    )
    responses = run_local(flow)
    uuid = flow.jobs[0].uuid  # the label; the flow's last job is the batch summary
    doc = responses[uuid][1].output
    assert doc.state == "successful", doc.error
    assert doc.code == "cp2k" and doc.code_version.startswith("CP2K version")
    assert doc.provenance.tag == "fd-check" and doc.provenance.config_type == "crystal"
    assert doc.kpoints == [2, 2, 2]

    # What the database holds: forces in the data store, scalars in the document.
    store = get_store()
    store.connect()
    stored = store.query_one({"uuid": uuid}, load=True)["output"]
    raw = store.docs_store.query_one({"uuid": uuid})["output"]
    assert raw["forces"]["store"] == "data" and "blob_uuid" in raw["forces"]
    forces = np.array(stored["forces"])
    assert forces.shape == (7, 3)
    assert stored["energy_per_atom"] == pytest.approx(stored["energy"] / 7)

    # Central finite difference of the CP2K energy against the parsed force (eV/Å).
    settings = Cp2kSettings.from_dict(FAST_CP2K)
    h = 0.01
    atom, axis = int(np.argmax(np.abs(forces).max(axis=1))), None
    axis = int(np.argmax(np.abs(forces[atom])))
    energies = []
    for sign in (1, -1):
        displaced = rattled_cell.copy()
        displaced.positions[atom, axis] += sign * h
        energies.append(run_cp2k(displaced, settings, tmp_path / f"d{sign}", use_custodian=False).energy)
    fd_force = -(energies[0] - energies[1]) / (2 * h)
    assert abs(forces[atom, axis]) > 0.02  # a component large enough to test the conversion
    assert fd_force == pytest.approx(forces[atom, axis], abs=2e-3)

    # Isotropic strain: dE/dε / V equals the trace of the (tensile-positive) stress.
    eps = 0.002
    strained = []
    for sign in (1, -1):
        cell = rattled_cell.copy()
        cell.set_cell(rattled_cell.cell * (1 + sign * eps), scale_atoms=True)
        strained.append(run_cp2k(cell, settings, tmp_path / f"s{sign}", use_custodian=False).energy)
    trace_fd = (strained[0] - strained[1]) / (2 * eps) / rattled_cell.get_volume() / GPa
    assert trace_fd == pytest.approx(np.trace(np.array(doc.stress)), abs=0.05)
    assert np.allclose(doc.virial, -np.array(doc.stress) * GPa * rattled_cell.get_volume())

    # Running the same flow again reuses the stored label instead of recomputing it.
    again = label_flow([rattled_cell], Cp2kLabelMaker(settings=FAST_CP2K), tag="fd-check")
    responses = run_local(again)
    reused = responses[again.jobs[0].uuid][1].output
    assert reused.reused_from == uuid
    assert reused.energy == doc.energy
    assert responses[again.output.uuid][1].output.n_reused == 1


def test_failed_label_is_stored_and_the_batch_completes(gst_home, outputs):
    from jobflow import Flow
    from pymatgen.io.ase import AseAtomsAdaptor

    good = build_rocksalt("GeTe", seed=0)
    good.rattle(0.03, seed=2)
    bad = build_rocksalt("Ge1Sb2Te4", seed=11)
    bad.rattle(0.05, seed=1)
    failing = Cp2kLabelMaker(settings={**FAST_CP2K, "max_scf": 1, "eps_scf": 1e-9}, max_errors=1).make(
        AseAtomsAdaptor.get_structure(bad), provenance={"tag": "batch-fail"}
    )
    working = Cp2kLabelMaker(settings=FAST_CP2K).make(
        AseAtomsAdaptor.get_structure(good), provenance={"tag": "batch-fail"}
    )
    for j in (failing, working):
        j.config.expose_store = True
    run_local(Flow([failing, working]))

    docs = {d["uuid"]: d["output"] for d in outputs.find({"output.provenance.tag": "batch-fail"})}
    assert docs[failing.uuid]["state"] == "failed"
    assert docs[failing.uuid]["error"]
    assert docs[failing.uuid]["energy"] is None
    assert docs[working.uuid]["state"] == "successful"
