"""The convergence flow without CP2K: its jobs, and the summary against hand-made labels."""

import numpy as np
import pytest
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.commands.converge import convergence_table
from gst_flows.flows.convergence import Cp2kConvergenceMaker, summarise_convergence
from gst_flows.makers.dft import Cp2kLabelMaker
from gst_flows.structures import build_rocksalt

SUMMARY = {
    "code": "cp2k",
    "formula": "GeTe",
    "natoms": 2,
    "structure_hash": "h",
    "base_settings": {},
    "energy_tolerance": 0.5,
    "force_tolerance": 0.01,
}


def _label(energy, forces, stress=None, state="successful", reused=None):
    return {
        "uuid": f"u{energy}",
        "state": state,
        "error": None if state == "successful" else "SCF",
        "energy": energy,
        "forces": forces,
        "stress": stress,
        "kpoints": [2, 2, 2],
        "walltime": 10.0,
        "reused_from": reused,
    }


def _specs(parameter, values):
    return [
        {"parameter": parameter, "value": v, "reference_value": values[-1], "key": f"{parameter}{v}"}
        for v in values
    ]


def test_summary_against_hand_made_labels():
    ref_f = [[0.5, 0.0, 0.0], [-0.5, 0.0, 0.0]]
    labels = {
        # 0.4: 4 meV/atom off, forces 0.06 off on one component of each atom.
        "kpoint_spacing0.4": _label(-10.008, [[0.56, 0, 0], [-0.56, 0, 0]], np.eye(3).tolist()),
        # 0.3: 0.2 meV/atom, forces 0.006 off.
        "kpoint_spacing0.3": _label(-9.9996, [[0.506, 0, 0], [-0.506, 0, 0]], np.eye(3).tolist()),
        "kpoint_spacing0.2": _label(-10.0, ref_f, (1.5 * np.eye(3)).tolist(), reused="old"),
        "cutoff300": _label(-10.0, ref_f, state="failed"),
        "cutoff400": _label(-10.0, ref_f),
    }
    specs = _specs("kpoint_spacing", [0.4, 0.3, 0.2]) + _specs("cutoff", [300, 400])
    doc = summarise_convergence.original(specs, labels, **SUMMARY)
    k = doc.ladder("kpoint_spacing")
    assert [p.value for p in k] == [0.4, 0.3, 0.2]
    assert k[0].energy_difference == pytest.approx(-4.0)
    assert k[0].force_rms_difference == pytest.approx(np.sqrt(2 * 0.06**2 / 6))
    assert k[0].force_max_difference == pytest.approx(0.06)
    assert k[0].stress_max_difference == pytest.approx(0.5)
    assert k[0].within_tolerance is False
    assert k[1].energy_difference == pytest.approx(0.2)
    assert k[1].within_tolerance is True
    assert k[2].energy_difference == 0.0 and k[2].within_tolerance is None and k[2].reused
    assert doc.recommended == {"kpoint_spacing": 0.3, "cutoff": None}
    failed = doc.ladder("cutoff")[0]
    assert failed.state == "failed" and failed.energy_difference is None

    table = convergence_table(doc)
    assert "-4.000" in table and "0.0346" in table and "reference" in table and "failed: SCF" in table
    assert "(reused)" in table


def test_summary_when_a_label_job_died():
    labels = {
        "cutoff300": dict.fromkeys(_label(0, []), None) | {"uuid": "x"},
        "cutoff400": _label(-1.0, [[0, 0, 0], [0, 0, 0]]),
    }
    doc = summarise_convergence.original(_specs("cutoff", [300, 400]), labels, **SUMMARY)
    assert doc.points[0].error == "job ended without a document"
    assert doc.recommended == {"cutoff": None}


def test_one_label_job_per_distinct_protocol(gst_home):
    cell = build_rocksalt("Ge1Sb2Te4", seed=0)  # a ≈ 6 Å
    maker = Cp2kConvergenceMaker(
        label_maker=Cp2kLabelMaker(settings={"kpoint_spacing": 0.6}),
        # 0.6 and 0.55 give one 2x2x2 mesh on this cell; cutoff 300 at 0.6 is the base protocol
        ladders={"kpoint_spacing": [0.3, 0.6, 0.55, 0.4], "cutoff": [300, 200]},
    )
    structure = AseAtomsAdaptor.get_structure(cell)
    assert maker.points(structure) == [
        ("kpoint_spacing", 0.6, 0.3),
        ("kpoint_spacing", 0.4, 0.3),
        ("kpoint_spacing", 0.3, 0.3),
        ("cutoff", 200.0, 300.0),
        ("cutoff", 300.0, 300.0),
    ]
    flow = maker.make(structure)
    labels, summary = flow.jobs[:-1], flow.jobs[-1]
    assert len(labels) == 4  # k 0.6 and cutoff 300 are the same protocol
    assert all(j.config.expose_store for j in labels)
    assert {j.maker.settings["cutoff"] for j in labels} == {300.0, 200.0}  # resolved protocols
    assert flow.output.uuid == summary.uuid


def test_bad_ladders_are_refused_before_any_job():
    with pytest.raises(ValueError, match="two distinct"):
        Cp2kConvergenceMaker(ladders={"kpoint_spacing": [0.3]})
    with pytest.raises(ValueError, match="no convergence ladder"):
        Cp2kConvergenceMaker(ladders={"functional": [1, 2]})
    with pytest.raises(ValueError, match="tolerances"):
        Cp2kConvergenceMaker(energy_tolerance=0)
    maker = Cp2kConvergenceMaker(ladders={"kpoint_spacing": [0.9, 1.0]})
    with pytest.raises(ValueError, match="all give the mesh"):
        maker.points(AseAtomsAdaptor.get_structure(build_rocksalt("GeTe", seed=0)))
