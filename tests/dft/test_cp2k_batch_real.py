"""Real CP2K: isolated-atom e0, a few AIMD steps with labelled snapshots, the failure limit."""

import numpy as np
import pytest
from ase.units import Bohr

from gst_flows.dft.cp2k import AU_TIME_FS, Cp2kSettings
from gst_flows.execution import run_local
from gst_flows.flows.label import isolated_atoms_flow, label_flow
from gst_flows.makers.dft import Cp2kAimdMaker, Cp2kLabelMaker
from gst_flows.queries import isolated_atom_energies
from gst_flows.store import get_store
from gst_flows.structures import build_rocksalt
from tests.conftest import FAST_CP2K, requires_cp2k

pytestmark = [pytest.mark.slow, pytest.mark.cp2k, requires_cp2k]

# A small box keeps the test fast; real e0 use the default 10 x 10.5 x 11 Å box.
SMALL_BOX = (7.0, 7.5, 8.0)


def test_isolated_atom_energy_stored_once_per_protocol(gst_home):
    flow = isolated_atoms_flow(("Ge",), settings=FAST_CP2K, box=SMALL_BOX, tag="e0")
    run_local(flow)
    store = get_store()
    store.connect()
    bulk_hash = Cp2kLabelMaker(settings=FAST_CP2K).resolved_settings().settings_hash()
    energies = isolated_atom_energies(store, bulk_hash)
    assert set(energies) == {"Ge"}
    # GTH Ge (4 valence electrons) with DZVP-MOLOPT-SR: about -3.8 Ha.
    assert -110 < energies["Ge"] < -95
    doc = store.query_one({"output.provenance.config_type": "isolated_atom"}, load=True)["output"]
    assert doc["settings"]["uks"] is True
    assert doc["settings"]["multiplicity"] == 3
    assert doc["kpoints"] is None

    again = isolated_atoms_flow(("Ge",), settings=FAST_CP2K, box=SMALL_BOX, tag="e0")
    responses = run_local(again)
    summary = responses[again.output.uuid][1].output
    assert summary.n_reused == 1  # not computed twice


def test_aimd_stages_emit_labelled_snapshots(gst_home, outputs):
    cell = build_rocksalt("Ge1Sb2Te4", seed=2)
    maker = Cp2kAimdMaker(
        stages=[(1500.0, 4), (700.0, 4)], snapshot_interval=2, settings=FAST_CP2K, skip_first=1
    )
    job = maker.make(cell_structure(cell), provenance={"tag": "aimd-test", "iteration": 0})
    responses = run_local(job)
    doc = responses[job.uuid][1].output
    assert doc.n_steps == 8
    assert doc.steps == list(range(9))
    assert doc.target_temperatures[1] == 1500.0
    assert doc.target_temperatures[-1] == 700.0
    assert doc.n_snapshots == 4  # frames at steps 0, 2, 4, 6, 8 minus the first
    assert abs(doc.conserved_drift) < 0.05

    snaps = list(outputs.find({"output.provenance.tag": "aimd-test", "output.@class": "LabelDoc"}))
    assert len(snaps) == 4
    steps = sorted(s["output"]["provenance"]["md_step"] for s in snaps)
    assert steps == [2, 4, 6, 8]
    by_step = {s["output"]["provenance"]["md_step"]: s["output"] for s in snaps}
    assert by_step[2]["provenance"]["config_type"] == "liquid"
    assert by_step[8]["provenance"]["config_type"] == "amorphous"
    assert by_step[8]["provenance"]["temperature"] == 700.0
    assert by_step[4]["stress"] is not None
    assert by_step[4]["settings_hash"] == doc.settings_hash

    # Velocities (Å/fs) give back CP2K's kinetic temperature: checks the bohr/a.u.-time unit.
    from ase import units

    frame = doc.trajectory[-1]
    masses = cell.get_masses()
    v = np.array(frame["velocities"])
    ekin = 0.5 * np.sum(masses[:, None] * v**2) * units._amu * 1e10 / units._e  # eV
    # CP2K counts 3N - 3 degrees of freedom (the centre-of-mass motion is removed).
    temperature = 2 * ekin / ((3 * len(cell) - 3) * units.kB)
    assert temperature == pytest.approx(doc.temperatures[-1], rel=0.02)
    assert Bohr / AU_TIME_FS == pytest.approx(21.876912, rel=1e-6)


def cell_structure(atoms):
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_structure(atoms)


def test_too_many_failures_stop_the_flow(gst_home):
    cells = [build_rocksalt("GeTe", seed=21), build_rocksalt("Ge1Sb2Te4", seed=22)]
    for i, c in enumerate(cells):
        c.rattle(0.05, seed=i)
    failing = Cp2kLabelMaker(settings={**FAST_CP2K, "max_scf": 1, "eps_scf": 1e-9}, max_errors=1)
    flow = label_flow(cells, failing, tag="too-many", max_failed_fraction=0.5)
    responses = run_local(flow)
    labels = [responses[j.uuid][1].output for j in flow.jobs[:2]]
    assert all(doc.state == "failed" for doc in labels)
    assert 1 not in responses.get(flow.output.uuid, {})  # the summary job stopped the flow
    assert Cp2kSettings.from_dict(FAST_CP2K).kpoint_spacing == 0.6


def test_progress_counts_the_failed_batch(gst_home, outputs):
    from gst_flows.commands.query import batch_progress

    rows = batch_progress(outputs, tag="too-many")
    assert len(rows) == 1
    assert (rows[0]["total"], rows[0]["done"], rows[0]["failed"], rows[0]["remaining"]) == (2, 0, 2, 0)
