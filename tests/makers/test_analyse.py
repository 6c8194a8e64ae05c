"""Analysis makers: trajectories, MD documents and database selections through jobflow."""

from __future__ import annotations

import numpy as np
import pytest
from analysis_structures import A_ROCKSALT, rocksalt_gete, rocksalt_gst
from ase.io import read, write
from ase.units import kB
from jobflow import Flow
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.analysis import radial_distribution
from gst_flows.execution import run_local
from gst_flows.makers.analyse import DatabaseAnalysisMaker, StructureAnalysisMaker, load_trajectory
from gst_flows.schemas.analysis import AnalysisDoc
from gst_flows.store import get_store


def _doc(job) -> AnalysisDoc:
    store = get_store()
    store.connect()
    out = store.query_one({"uuid": job.uuid}, properties=["output"], load=True, sort={"index": -1})
    return AnalysisDoc.model_validate({k: v for k, v in out["output"].items() if not k.startswith("@")})


def _thermalised(atoms, temperature, seed):
    rng = np.random.default_rng(seed)
    masses = atoms.get_masses()[:, None]
    atoms.set_momenta(rng.normal(0, 1, (len(atoms), 3)) * np.sqrt(masses * kB * temperature))
    return atoms


@pytest.fixture
def trajectory(tmp_path):
    frames = []
    for k in range(3):
        a = rocksalt_gst(3, seed=k)
        a.positions += np.random.default_rng(k).normal(0, 0.05 + 0.3 * k, a.positions.shape)
        frames.append(_thermalised(a, 600, k))
    path = tmp_path / "traj.extxyz"
    write(path, frames)
    return path


def test_rdf_of_a_file_matches_the_function_and_arrays_go_to_the_data_store(trajectory, outputs):
    job = StructureAnalysisMaker(kind="rdf", options={"r_max": 6.0}).make(str(trajectory))
    run_local(job, ensure_success=True)
    doc = _doc(job)
    expected = radial_distribution(read(trajectory, ":"), 6.0, 0.02)
    assert doc.kind == "rdf" and doc.n_frames == 3 and doc.source == f"file:{trajectory}"
    assert np.allclose(doc.array("total"), expected.total)
    assert np.allclose(doc.array("g_Ge-Te"), expected.partial["Ge-Te"])
    assert doc.summary["first_peak"] == pytest.approx(A_ROCKSALT / 2, abs=0.1)
    assert doc.options["r_max"] == 6.0
    assert [p.rsplit(".", 1)[1] for p in doc.figures[0].files] == ["png", "pdf"]
    raw = outputs.find_one({"uuid": job.uuid})["output"]
    assert all("blob_uuid" in a["array_data"] for a in raw["arrays"])  # values not inline


def test_kbar_of_structures_writes_ovito_file_and_per_atom_values(tmp_path):
    crystal = rocksalt_gete(3)
    melted = crystal.copy()
    melted.positions += np.random.default_rng(1).normal(0, 0.6, melted.positions.shape)
    structures = [AseAtomsAdaptor.get_structure(a) for a in (crystal, melted)]
    job = StructureAnalysisMaker(kind="kbar", figures=False).make(structures)
    run_local(job, ensure_success=True)
    doc = _doc(job)
    kbar = doc.array("kbar")
    assert kbar.shape == (2, len(crystal))
    assert kbar[0].mean() > 0.95 and kbar[1].mean() < kbar[0].mean() - 0.2
    assert doc.array("crystalline_fraction")[0] == pytest.approx(1.0)
    written = read(doc.kbar_file, ":")
    assert len(written) == 2 and np.allclose(written[1].arrays["kbar"], kbar[1])
    assert doc.figures == []


def test_temperature_map_of_an_md_run(tmp_path):
    from gst_flows.makers.md import GapMDMaker, as_md_doc
    from gst_flows.md.protocol import Protocol, Stage

    protocol = Protocol(
        name="hold",
        initial_temperature=600,
        seed=3,
        stages=[Stage(name="nvt", ensemble="nvt", temperature=600, duration=10)],
    )
    cell = rocksalt_gst(3, seed=2)
    md = GapMDMaker(
        protocol=protocol, potential="gap_fixture:pair_calculator", frame_interval=5, thermo_interval=5
    ).make(AseAtomsAdaptor.get_structure(cell))
    analysis = StructureAnalysisMaker(
        kind="temperature", options={"plane": "xz", "bin_size": 4.0, "sigma": 0.0}
    ).make(md.output)
    run_local(Flow([md, analysis]), ensure_success=True)
    doc = _doc(analysis)
    store = get_store()
    store.connect()
    md_out = store.query_one({"uuid": md.uuid}, properties=["output"], load=True)["output"]
    md_frames = as_md_doc(md_out).frames()
    assert doc.source == f"md:{md_out['dir_name']}" and doc.n_frames == len(md_frames) >= 2
    assert doc.times_ps == pytest.approx([f.info["time_fs"] / 1000 for f in md_frames])
    assert doc.times_ps[-1] == pytest.approx(0.01)
    maps = doc.array("maps")
    assert maps.shape[0] == len(md_frames) and np.isfinite(maps).any()
    assert doc.array("temperature")[0] == pytest.approx(np.mean(doc.summary["mean_temperature"][:1]))
    assert doc.summary["mean_temperature"][0] == pytest.approx(600, rel=0.35)


def test_soap_map_of_a_database_selection():
    from tests.support.standin import StandInLabelMaker

    jobs = []
    for k in range(4):
        atoms = rocksalt_gst(2, seed=k)
        atoms.positions += np.random.default_rng(k).normal(0, 0.02 + 0.25 * (k % 2), atoms.positions.shape)
        provenance = {
            "tag": "analysis-db",
            "iteration": k // 2,
            "config_type": "crystal" if k % 2 == 0 else "rattled",
        }
        jobs.append(StandInLabelMaker().make(AseAtomsAdaptor.get_structure(atoms), provenance))
    other = StandInLabelMaker().make(
        AseAtomsAdaptor.get_structure(rocksalt_gete(2)), {"tag": "analysis-other"}
    )
    run_local(Flow([*jobs, other]), ensure_success=True)
    analysis = DatabaseAnalysisMaker(options={"method": "mds"}, figures=False).make({"tag": "analysis-db"})
    run_local(analysis, ensure_success=True)
    doc = _doc(analysis)
    assert doc.kind == "soap-map" and doc.n_frames == 4
    assert doc.source == 'database:{"tag": "analysis-db"}'
    assert doc.array("coordinates").shape == (4, 2)
    assert sorted(doc.array("marker").tolist()) == ["crystal", "crystal", "rattled", "rattled"]
    assert sorted(doc.array("colour").tolist()) == ["0", "0", "1", "1"]
    with pytest.raises(ValueError, match="no labelled configurations"):
        DatabaseAnalysisMaker().select({"tag": "no-such-tag"})


def test_bad_input_fails_before_compute(tmp_path, trajectory):
    with pytest.raises(ValueError, match="unknown analysis 'xrd'"):
        StructureAnalysisMaker(kind="xrd")
    with pytest.raises(ValueError, match="unknown analysis option"):
        StructureAnalysisMaker(options={"rmax": 8.0})
    with pytest.raises(ValueError, match="r_max must be positive"):
        StructureAnalysisMaker(options={"r_max": -1.0}).check(read(trajectory, ":"))
    still = rocksalt_gete(2)
    with pytest.raises(ValueError, match="no velocities"):
        StructureAnalysisMaker(kind="temperature").check([still])
    with pytest.raises(ValueError, match="unknown element 'Xx'"):
        StructureAnalysisMaker(kind="coordination", options={"cutoffs": {"Xx-Te": 3.0}}).check([still])
    with pytest.raises(ValueError, match="no bond cutoff for species pair Ge-Te"):
        StructureAnalysisMaker(kind="coordination", options={"cutoffs": {"Ge-Ge": 3.0}}).check([still])
    with pytest.raises(FileNotFoundError):
        load_trajectory(tmp_path / "missing.extxyz")
    with pytest.raises(TypeError, match="cannot analyse a int"):
        load_trajectory(3)
    # a failing analysis job stores no output and leaves earlier documents alone
    job = StructureAnalysisMaker(kind="temperature").make([AseAtomsAdaptor.get_structure(still)])
    responses = run_local(job)
    assert job.uuid not in responses or not responses[job.uuid]


def test_load_trajectory_stride_keeps_the_last_frame(trajectory):
    frames, source = load_trajectory(trajectory, stride=2)
    assert len(frames) == 2 and source.startswith("file:")
    frames, _ = load_trajectory(str(trajectory), index="1:", stride=5)
    assert len(frames) == 2


def test_cli_stores_the_document(trajectory, capsys):
    import json

    from gst_flows.cli import main

    assert main(["analyse", "density", str(trajectory), "--store", "--no-plot"]) == 0
    lines = capsys.readouterr().out.splitlines()
    printed = json.loads(lines[0])
    store = get_store()
    store.connect()
    out = store.query_one({"uuid": printed["uuid"]}, properties=["output"], load=True)["output"]
    doc = AnalysisDoc.model_validate({k: v for k, v in out.items() if not k.startswith("@")})
    assert doc.kind == "density" and doc.n_frames == 3
    assert doc.summary["mean_density"] == pytest.approx(printed["mean_density"])
    assert "stored the analysis document" in lines[-1]
    assert main(["analyse", "soap-map", "db:demo"]) != 0
    assert "database selection 'demo' is not KEY=VALUE" in capsys.readouterr().err
