"""GapFitMaker, cross-validation and evaluation as jobflow jobs, with real gap_fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from jobflow import run_locally

from gst_flows.makers.fit import (
    GapCrossValidationMaker,
    GapEvaluateMaker,
    GapFitMaker,
    TrainingSelection,
    load_training_frames,
)
from gst_flows.md.potential import gap_calculator
from gst_flows.potentials import fetch_potential, find_potential, load_potential
from gst_flows.schemas.fit import CrossValidationDoc, GapEvaluationDoc, GapFitDoc
from gst_flows.schemas.potential import PotentialRef

from .conftest import CP2K_SMALL, priced_liquids


@pytest.fixture(scope="module")
def fit_run(cp2k_frames, tiny_hp_factory, tmp_path_factory):
    """One GapFitMaker job run into an in-memory JobStore."""
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    maker = GapFitMaker(
        hyperparameters=tiny_hp_factory(), test_fraction=0.25, tags=["unit-test"], timeout_s=300
    )
    job = maker.make(str(CP2K_SMALL))
    root = tmp_path_factory.mktemp("jobs")
    responses = run_locally(job, store=store, create_folders=True, root_dir=root, log=False)
    doc = responses[job.uuid][1].output
    return store, doc, root


def test_fit_document(fit_run):
    _, doc, _ = fit_run
    assert isinstance(doc, GapFitDoc)
    assert doc.tags == ["unit-test"]
    assert doc.gap_fit_version.startswith("v0.10")
    assert doc.command[-1] == "config_file=gap_fit.config"
    assert "soap add_species=F" in doc.gap_fit_config
    assert sorted(doc.e0) == ["Ge", "Sb", "Te"]
    assert doc.training_set.per_config_type["isolated_atom"].n_structures == 3
    assert doc.test_set is not None
    assert "isolated_atom" not in doc.test_set.per_config_type
    assert doc.training_set.n_structures + doc.test_set.n_structures == 19
    for table in (doc.train_errors, doc.test_errors):
        assert "all" in table
        assert table["all"].force_rmse is not None
    assert doc.peak_memory_bytes > 0
    assert doc.memory.predicted_bytes > 0
    assert doc.memory.measured_bytes == doc.peak_memory_bytes
    assert abs(doc.memory.relative_error) < 1.0
    assert doc.wall_time_s > 0
    assert not set(doc.train_structure_hashes) & set(doc.test_structure_hashes)
    assert doc.potential is not None


def test_potential_files_live_in_the_data_store(fit_run):
    store, doc, _ = fit_run
    raw = store.docs_store.query_one({"output.potential_id": doc.potential_id})
    reference = raw["output"]["potential"]
    assert "blob_uuid" in reference  # only a reference in the document itself
    assert store.additional_stores["data"].count({"blob_uuid": reference["blob_uuid"]}) == 1


def test_fetch_by_id_and_tag_gives_identical_energies(fit_run, cp2k_frames, tmp_path):
    store, doc, root = fit_run
    assert find_potential("unit-test", store)["potential_id"] == doc.potential_id
    xml = fetch_potential(doc.potential_id[:8], store=store, cache=tmp_path)
    assert xml.parent == tmp_path / doc.potential_id
    again = fetch_potential("unit-test", store=store, cache=tmp_path)  # served from the cache
    assert again == xml
    # Byte-identical files (energies from both are compared in the GridFS test below).
    original = next(root.rglob("gap.xml")).parent
    for name in doc.potential.files:
        assert (xml.parent / name).read_bytes() == (original / name).read_bytes()
    with pytest.raises(KeyError, match="no potential"):
        find_potential("nope", store)


def test_evaluate_by_id_writes_parity_plots(fit_run):
    store, doc, root = fit_run
    job = GapEvaluateMaker().make(doc.potential_id, str(CP2K_SMALL))
    job.config.expose_store = True  # fetch the potential from the job's own store
    responses = run_locally(job, store=store, create_folders=True, root_dir=root, log=False)
    out = responses[job.uuid][1].output
    assert isinstance(out, GapEvaluationDoc)
    assert out.potential_id == doc.potential_id
    assert set(out.figures) == {"energy", "forces"}
    assert out.errors["all"].n_structures == 16
    raw = store.docs_store.query_one({"uuid": job.uuid})
    assert "blob_uuid" in raw["output"]["figure_data"]
    assert out.formation is None  # the fixture holds no crystal of an element


def test_evaluate_gives_formation_energies_when_the_set_holds_the_elements(fit_run, cp2k_frames, tmp_path):
    """Element crystals whose reference energies sit 0.1 eV/atom above the potential's:
    every compound's formation energy error is then exactly +0.1 eV/atom."""
    from gst_flows.fit.data import is_isolated_atom, make_labelled_frame, write_gap_fit_extxyz
    from gst_flows.structures import build_diamond
    from gst_flows.structures.crystals import build_element

    store, doc, root = fit_run
    calc = gap_calculator(fetch_potential(doc.potential_id, store))
    elements = []
    for crystal in (build_diamond(), build_element("Sb"), build_element("Te")):
        crystal.calc = calc
        elements.append(make_labelled_frame(crystal, crystal.get_potential_energy() + 0.1 * len(crystal)))
    compounds = [f for f in cp2k_frames if not is_isolated_atom(f)]
    path = write_gap_fit_extxyz([*compounds, *elements], tmp_path / "with_elements.extxyz")
    job = GapEvaluateMaker(plots=False).make(doc.potential_id, str(path))
    job.config.expose_store = True
    out = run_locally(job, store=store, create_folders=True, root_dir=root, log=False)[job.uuid][1].output
    assert out.formation is not None
    assert out.formation.n_compounds == len(compounds)
    assert set(out.formation.by_formula) == {"GeTe", "GeSb2Te4"}
    # reference formation energies = predicted + 0.1 minus each compound's own energy error
    for frame in compounds:
        frame.calc = calc
    err = [(f.get_potential_energy() - f.info["REF_energy"]) / len(f) for f in compounds]
    assert out.formation.rmse == pytest.approx(np.sqrt(np.mean((np.array(err) + 0.1) ** 2)), rel=1e-6)


def test_evaluate_prices_wrong_bonds_when_the_set_holds_disordered_frames(fit_run, tmp_path):
    """Liquid packings whose reference energies are the potential's plus 0.2 eV per wrong bond:
    the reference slope is then exactly 0.2 eV per bond above the potential's."""
    store, doc, root = fit_run
    calc = gap_calculator(fetch_potential(doc.potential_id, store))
    path = priced_liquids(calc, 0.2, 4, tmp_path / "liquids.extxyz")
    job = GapEvaluateMaker(plots=False).make(doc.potential_id, str(path))
    job.config.expose_store = True
    out = run_locally(job, store=store, create_folders=True, root_dir=root, log=False)[job.uuid][1].output
    check = out.chemical_order
    assert check is not None and check.n_frames == 4
    assert check.slope_dft - check.slope_predicted == pytest.approx(0.2, rel=1e-6)


def test_evaluate_from_a_fit_job_output(cp2k_frames, tiny_hp, memory_store, tmp_path):
    fit = GapFitMaker(hyperparameters=tiny_hp, test_fraction=0.0, evaluate_train=False).make(str(CP2K_SMALL))
    evaluate = GapEvaluateMaker(plots=False).make(fit.output.potential, str(CP2K_SMALL))
    from jobflow import Flow

    responses = run_locally(
        Flow([fit, evaluate]), store=memory_store, create_folders=True, root_dir=tmp_path, log=False
    )
    fit_doc = responses[fit.uuid][1].output
    assert fit_doc.test_set is None
    assert fit_doc.train_errors == {}
    out = responses[evaluate.uuid][1].output
    assert out.potential_id is None
    assert out.errors["all"].energy_rmse < 0.05


@pytest.mark.slow
def test_cross_validation(tiny_hp, memory_store, tmp_path):
    flow = GapCrossValidationMaker(
        fit_maker=GapFitMaker(hyperparameters=tiny_hp, evaluate_train=False), n_folds=3
    ).make(str(CP2K_SMALL))
    fits = flow.jobs[:-1]
    assert len(fits) == 3
    # The folds do not depend on each other: they can run in parallel.
    assert all(not f.input_references for f in fits)
    responses = run_locally(flow, store=memory_store, create_folders=True, root_dir=tmp_path, log=False)
    doc = responses[flow.jobs[-1].uuid][1].output
    assert isinstance(doc, CrossValidationDoc)
    assert doc.n_folds == 3
    assert doc.disjoint
    assert len(set(doc.potential_ids)) == 3
    spread = doc.summary["all"]["force_rmse"]
    assert spread.n_folds == 3
    assert spread.min <= spread.mean <= spread.max
    assert spread.std >= 0
    docs = [responses[f.uuid][1].output for f in fits]
    hashes = [set(d.test_structure_hashes) for d in docs]
    assert not (hashes[0] & hashes[1] or hashes[0] & hashes[2] or hashes[1] & hashes[2])
    for d in docs:
        assert not set(d.train_structure_hashes) & set(d.test_structure_hashes)
    assert sum(d.test_set.n_structures for d in docs) == 16


def test_memory_refusal_fails_the_job(tiny_hp, memory_store, tmp_path):
    job = GapFitMaker(hyperparameters=tiny_hp, memory_limit_gb=0.001).make(str(CP2K_SMALL))
    responses = run_locally(job, store=memory_store, create_folders=True, root_dir=tmp_path, log=False)
    assert job.uuid not in responses or 1 not in responses[job.uuid]
    assert not list(tmp_path.rglob("gap_fit.log"))


def test_selection_from_the_database(cp2k_frames, memory_store):
    """Labels stored as LabelDoc outputs are found by tag and config_type."""
    from monty.json import jsanitize

    from gst_flows.schemas.label import LabelDoc, Provenance

    for i, frame in enumerate(cp2k_frames):
        ct = frame.info["config_type"]
        atoms = frame.copy()
        doc = LabelDoc.from_result(
            atoms,
            code="cp2k",
            settings={},
            settings_hash="s",
            energy=frame.info["REF_energy"],
            forces=frame.arrays.get("REF_forces"),
            stress=None,
            provenance=Provenance(tag="gst-test", config_type=ct, iteration=0),
        )
        if ct != "isolated_atom":
            doc.virial = frame.info["REF_virial"].reshape(3, 3).tolist()
        output = jsanitize(doc, strict=True, allow_bson=True, enum_values=True)
        memory_store.update({"uuid": f"u{i}", "index": 1, "output": output}, key=["uuid", "index"])
    frames, described = load_training_frames(
        TrainingSelection(tag="gst-test", config_types=["crystal"]), store=memory_store
    )
    assert "tag=gst-test" in described
    types = sorted({f.info["config_type"] for f in frames})
    assert types == ["crystal", "isolated_atom"]
    assert all("structure_hash" in f.info for f in frames)
    crystal = [f for f in frames if f.info["config_type"] == "crystal"]
    assert crystal[0].arrays["REF_forces"].shape == (len(crystal[0]), 3)


def test_potential_round_trips_through_gridfs(gst_home, tiny_hp, cp2k_frames):
    """With the project's store (MongoDB protocol + GridFS), fetch by id gives identical results."""
    from gst_flows.execution import run_local
    from gst_flows.store import get_store

    job = GapFitMaker(hyperparameters=tiny_hp, test_fraction=0.0, evaluate_train=False).make(str(CP2K_SMALL))
    responses = run_local(job)
    doc = responses[job.uuid][1].output
    store = get_store()
    store.connect()
    from maggma.stores import GridFSStore

    assert isinstance(store.additional_stores["data"], GridFSStore)
    xml = fetch_potential(doc.potential_id, store=store)
    assert xml.is_file()
    assert sorted(p.name for p in xml.parent.iterdir() if not p.name.startswith(".")) == sorted(
        doc.potential.files
    )
    original = gap_calculator(doc.dir_name + "/gap.xml")
    fetched = load_potential(doc.potential_id, store=store)  # served from the local cache
    for frame in cp2k_frames[:4]:
        atoms = frame.copy()
        atoms.calc = original
        e1, f1 = atoms.get_potential_energy(), atoms.get_forces().copy()
        atoms.calc = fetched
        assert atoms.get_potential_energy() == e1
        np.testing.assert_array_equal(atoms.get_forces(), f1)


def test_external_test_set_must_not_overlap_training(tiny_hp, memory_store, tmp_path, caplog):
    job = GapFitMaker(hyperparameters=tiny_hp).make(str(CP2K_SMALL), test_source=str(CP2K_SMALL))
    responses = run_locally(job, store=memory_store, create_folders=True, root_dir=tmp_path, log=True)
    assert job.uuid not in responses or 1 not in responses[job.uuid]
    assert "shares 16 structure(s) with the training data" in caplog.text


def test_jobs_serialise_for_fireworks():
    """Makers, hyperparameters and selections survive JSON, as FireWorks stores them."""
    import json

    from monty.json import MontyDecoder, MontyEncoder

    from gst_flows.fit import GapHyperparameters

    maker = GapFitMaker(hyperparameters=GapHyperparameters().updated({"three_body": "on"}), tags=["x"])
    job = maker.make(TrainingSelection(tag="a", iterations=[0]))
    again = json.loads(json.dumps(job, cls=MontyEncoder), cls=MontyDecoder)
    assert again.function.__self__ == maker
    assert again.function_args[0] == TrainingSelection(tag="a", iterations=[0])
    assert GapFitMaker.fworker_category == "fit"
    flow = GapCrossValidationMaker(fit_maker=maker, n_folds=3).make("data.extxyz")
    flow = json.loads(json.dumps(flow, cls=MontyEncoder), cls=MontyDecoder)
    assert len(flow.jobs) == 4
    assert all(j.config.expose_store for j in flow.jobs[:3])


def _md_cell(cp2k_frames):
    from ase import Atoms
    from pymatgen.io.ase import AseAtomsAdaptor

    frame = cp2k_frames[0]  # 8-atom rock-salt GeTe
    return AseAtomsAdaptor.get_structure(Atoms(frame.numbers, frame.positions, cell=frame.cell, pbc=True))


def _short_md_maker(potential):
    from gst_flows.makers.md import GapMDMaker
    from gst_flows.md.protocol import Protocol, Stage

    protocol = Protocol(
        name="short",
        initial_temperature=300,
        seed=4,
        stages=[Stage(name="md", ensemble="nvt", temperature=300, duration=10.0, timestep=1.0)],
    )
    return GapMDMaker(protocol=protocol, potential=potential, thermo_interval=1, frame_interval=5)


def test_fit_document_references_its_files(fit_run):
    import hashlib

    _, doc, _ = fit_run
    ref = doc.potential_ref
    assert isinstance(ref, PotentialRef)
    assert ref.potential_id == doc.potential_id
    assert ref.xml_name == doc.potential.xml_name == "gap.xml"
    assert list(ref.files) == list(doc.potential.files)  # the XML and every sparseX file
    fit_dir = Path(doc.dir_name)
    for name, digest in ref.files.items():
        assert hashlib.sha256((fit_dir / name).read_bytes()).hexdigest() == digest
    assert ref.sha256 == ref.files["gap.xml"]


def test_potential_ref_of_a_fit_drives_an_md_maker(fit_run, cp2k_frames, tmp_path):
    from gst_flows.schemas.md import MDDoc

    store, doc, _ = fit_run
    outputs = {}
    for label, potential in (("ref", doc.potential_ref), ("path", str(Path(doc.dir_name) / "gap.xml"))):
        job = _short_md_maker(potential).make(_md_cell(cp2k_frames))
        job.config.expose_store = True  # fetch the potential from the job's own store
        responses = run_locally(job, store=store, create_folders=True, root_dir=tmp_path / label, log=False)
        outputs[label] = responses[job.uuid][1].output
    by_ref, by_path = outputs["ref"], outputs["path"]
    assert isinstance(by_ref, MDDoc) and by_ref.completed and by_ref.n_steps == 10
    assert by_ref.potential.id == doc.potential_id
    assert by_ref.potential.kind == "database"
    assert by_ref.potential.sha256 == doc.potential_ref.sha256 == by_path.potential.sha256
    assert Path(by_ref.potential.path).parent.name == doc.potential_id  # the fetched copy
    # the fetched, checked copy is the fitted potential: the same trajectory to the last bit
    assert by_ref.summary == by_path.summary


def test_tampered_potential_is_refused(fit_run, tmp_path, caplog):
    from gst_flows.makers.md import resolve_potential_ref
    from gst_flows.potentials import PotentialIntegrityError, fetch_potential_ref

    store, doc, _ = fit_run
    ref = doc.potential_ref
    xml = fetch_potential_ref(ref, store=store, cache=tmp_path)
    assert ref.mismatches(xml.parent) == []
    sparse = next(name for name in ref.files if name != ref.xml_name)

    # a changed cached copy is fetched again from the store
    with open(xml.parent / sparse, "a") as handle:
        handle.write("0.5\n")
    assert [m.split()[0] for m in ref.mismatches(xml.parent)] == [sparse]
    assert fetch_potential_ref(ref, store=store, cache=tmp_path) == xml
    assert ref.mismatches(xml.parent) == []
    assert "differs from its reference" in caplog.text

    # a changed stored copy is refused, with the file named
    data = store.additional_stores["data"]
    blob = store.docs_store.query_one({"output.potential_id": doc.potential_id})["output"]["potential"]
    stored = data.query_one({"blob_uuid": blob["blob_uuid"]})
    original = stored["data"]["files"][ref.xml_name]
    try:
        stored["data"]["files"][ref.xml_name] = original.replace("<", " <", 1)
        data.update(stored, key="blob_uuid")
        refused = r"does not match its reference.*gap\.xml has SHA-256"
        with pytest.raises(PotentialIntegrityError, match=refused):
            resolve_potential_ref(ref, store=store, cache=tmp_path / "again")
    finally:
        stored["data"]["files"][ref.xml_name] = original
        data.update(stored, key="blob_uuid")
    assert resolve_potential_ref(ref, store=store, cache=tmp_path / "restored")[1].id == doc.potential_id

    # a reference that records other files (another potential, or an edited reference)
    wrong = PotentialRef(
        potential_id=ref.potential_id,
        xml_name=ref.xml_name,
        sha256="0" * 64,
        files={**ref.files, ref.xml_name: "0" * 64},
    )
    with pytest.raises(PotentialIntegrityError, match=r"gap\.xml has SHA-256"):
        resolve_potential_ref(wrong, store=store, cache=tmp_path)
