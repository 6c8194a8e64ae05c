"""PodFitMaker: a real fitpod run, its error tables, stored files, and LAMMPS MD with the POD."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import run_locally

from gst_flows.errors import InputError
from gst_flows.fit import error_table, predict
from gst_flows.fit.data import is_isolated_atom
from gst_flows.fit.pod import PodBasis, ZblBaseline
from gst_flows.makers.fit import GapFitMaker, PotentialFitMaker
from gst_flows.makers.md import GapMDMaker, stored_pod_ref
from gst_flows.makers.pod import PodFitMaker
from gst_flows.md.potential import file_sha256
from gst_flows.potentials import fetch_potential_ref, find_potential
from gst_flows.schemas.pod import PodFitDoc
from gst_flows.schemas.potential import PotentialRef, as_potential_ref
from tests.support.lammps import lammps_missing, needs_lammps

from .conftest import CP2K_SMALL

SMALL = PodBasis(two_body_radial=4, three_body_radial=2, three_body_angular=2, ridge=1e-4)


@pytest.fixture(scope="module")
def pod_run(tmp_path_factory):
    """One PodFitMaker job (small basis, default ZBL baseline) run into an in-memory JobStore."""
    if lammps_missing():
        pytest.skip(lammps_missing())
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    job = PodFitMaker(basis=SMALL, test_fraction=0.25, tags=["pod-test"]).make(str(CP2K_SMALL))
    root = tmp_path_factory.mktemp("jobs")
    responses = run_locally(job, store=store, create_folders=True, root_dir=root, log=False)
    return store, responses[job.uuid][1].output


def test_both_fit_makers_share_one_split():
    assert issubclass(PodFitMaker, PotentialFitMaker) and issubclass(GapFitMaker, PotentialFitMaker)
    gap = GapFitMaker(test_fraction=0.25, split_seed=3)
    pod = PodFitMaker(test_fraction=0.25, split_seed=3)
    gap_train, gap_test, _ = gap.split(str(CP2K_SMALL))
    pod_train, pod_test, _ = pod.split(str(CP2K_SMALL))
    assert [f.info["REF_energy"] for f in gap_test] == [f.info["REF_energy"] for f in pod_test]
    assert len(gap_train) == len(pod_train)
    assert pod_test and not any(is_isolated_atom(f) for f in pod_test)


def test_default_baseline_is_the_benchmark_one():
    maker = PodFitMaker()
    assert maker.baseline == ZblBaseline(1.5, 2.5)
    assert maker.basis.ridge == 1e-4


@needs_lammps
def test_pod_fit_document_and_its_errors(pod_run, cp2k_frames):
    from gst_flows.fit.pod import pod_lammps_potential
    from gst_flows.md.lammps import LammpsCalculator

    _, doc = pod_run
    assert isinstance(doc, PodFitDoc)
    assert doc.species == ["Ge", "Sb", "Te"]
    assert doc.baseline == {"inner": 1.5, "outer": 2.5}
    assert doc.lammps_potential[0] == "pair_style hybrid/overlay pod zbl 1.5 2.5"
    assert doc.training_set.n_structures + doc.test_set.n_structures == 19
    assert not set(doc.train_structure_hashes) & set(doc.test_structure_hashes)
    assert doc.wall_time_s > 0
    # the errors in the document are those of the stored potential, recomputed here
    test_hashes = set(doc.test_structure_hashes)
    from gst_flows.fit.data import group_label

    test = [f for f in cp2k_frames if not is_isolated_atom(f) and group_label(f, None) in test_hashes]
    assert len(test) == doc.test_set.n_structures
    directory = doc.dir_name
    potential = pod_lammps_potential(
        f"{directory}/param.pod", f"{directory}/pod_coefficients.pod", doc.species, ZblBaseline(1.5, 2.5)
    )
    again = error_table(predict(test, LammpsCalculator(potential)))
    for key in ("energy_rmse", "force_rmse", "virial_rmse"):
        assert getattr(doc.test_errors["all"], key) == pytest.approx(getattr(again["all"], key), rel=1e-9)
    # and they are errors against the labels: forces better than predicting zero, worse than exact
    ref = np.concatenate([f.arrays["REF_forces"].reshape(-1) for f in test])
    assert 0 < doc.test_errors["all"].force_rmse < np.sqrt(np.mean(ref**2))
    assert 0 < doc.train_errors["all"].force_rmse < doc.test_errors["all"].force_rmse * 3


@needs_lammps
def test_pod_reference_and_stored_files(pod_run, tmp_path):
    store, doc = pod_run
    ref = doc.potential_ref
    assert ref.backend == "pod" and ref.species == ["Ge", "Sb", "Te"]
    assert ref.baseline == {"inner": 1.5, "outer": 2.5}
    assert set(ref.files) == {"pod_coefficients.pod", "param.pod"} and ref.param_name == "param.pod"
    raw = store.docs_store.query_one({"output.potential_id": doc.potential_id})
    assert "blob_uuid" in raw["output"]["potential"]  # the files live in the data store
    info = find_potential("pod-test", store)
    assert info["backend"] == "pod" and info["potential_id"] == doc.potential_id
    # an MD maker given the POD's tag or id runs it through the same reference
    assert stored_pod_ref("pod-test", store) == ref
    assert stored_pod_ref(doc.potential_id[:8], store) == ref
    assert stored_pod_ref("no-such-potential", store) is None
    coefficients = fetch_potential_ref(ref, store=store, cache=tmp_path)
    for name, sha in ref.files.items():
        assert file_sha256(coefficients.parent / name) == sha
        assert file_sha256(f"{doc.dir_name}/{name}") == sha
    # a changed cached file is noticed, and fetched again from the store
    (coefficients.parent / "param.pod").write_text("species Ge\n")
    problems = ref.mismatches(coefficients.parent)
    assert len(problems) == 1 and problems[0].startswith("param.pod has SHA-256")
    fetch_potential_ref(ref, store=store, cache=tmp_path)
    assert ref.mismatches(coefficients.parent) == []


def test_old_references_decode_as_gap():
    old = {
        "@module": "gst_flows.schemas.potential",
        "@class": "PotentialRef",
        "potential_id": "abc",
        "xml_name": "gap.xml",
        "sha256": "0" * 64,
        "files": {"gap.xml": "0" * 64},
    }
    ref = as_potential_ref(old)
    assert ref.backend == "gap" and ref.species is None and ref.baseline is None
    bare = {k: v for k, v in old.items() if not k.startswith("@")}  # stored without markers
    assert as_potential_ref(bare) == ref
    with pytest.raises(ValueError, match="POD reference needs"):
        PotentialRef(**bare, backend="pod")


def test_ase_engine_refuses_a_pod_before_any_compute(tmp_path):
    from ase.build import bulk

    ref = PotentialRef(
        potential_id="pod-id",
        xml_name="pod_coefficients.pod",
        sha256="0" * 64,
        files={"pod_coefficients.pod": "0" * 64, "param.pod": "1" * 64},
        backend="pod",
        param_name="param.pod",
        species=["Ge", "Sb", "Te"],
    )
    maker = GapMDMaker(potential=ref.model_dump(), engine="ase", protocol="melt_quench")
    atoms = bulk("Ge", "diamond", a=5.66, cubic=True)
    with pytest.raises(InputError) as err:
        maker.check(atoms)
    assert "\n" not in str(err.value) and "POD" in str(err.value) and "lammps" in str(err.value)
    with pytest.raises(InputError):  # inside the job too, before anything is fetched
        maker.build_engine(tmp_path)


@needs_lammps
def test_lammps_md_with_the_stored_pod(pod_run, tmp_path, monkeypatch):
    from gst_flows.md.protocol import Protocol, Stage

    store, doc = pod_run
    monkeypatch.setenv("GST_FLOWS_DATA_DIR", str(tmp_path / "data"))
    from ase.build import bulk

    # GeTe only: pair_style pod still gets Sb as a type (the reference's species)
    atoms = bulk("GeTe", "rocksalt", a=6.0, cubic=True).repeat((2, 1, 1))
    protocol = Protocol(
        name="pod-nve", stages=[Stage(name="nve", ensemble="nve", timestep=1.0, duration=20, temperature=300)]
    )
    maker = GapMDMaker(
        potential=doc.potential_ref,
        engine="lammps",
        protocol=protocol,
        thermo_interval=5,
        frame_interval=10,
        seed=1,
    )
    from pymatgen.io.ase import AseAtomsAdaptor

    job = maker.make(AseAtomsAdaptor.get_structure(atoms))
    job.config.expose_store = True  # the reference is fetched from the job's own store
    responses = run_locally(job, store=store, create_folders=True, root_dir=tmp_path, log=False)
    md = responses[job.uuid][1].output
    assert md.potential.id == doc.potential_id and md.potential.sha256 == doc.potential_ref.sha256
    assert md.completed and md.n_steps == 20
    assert md.nve_drift is not None and abs(md.nve_drift) < 1.0  # eV/atom/ps: no blow-up in 20 fs
    script = next((tmp_path).rglob("in.*.lammps")).read_text()
    assert "pair_style hybrid/overlay pod zbl 1.5 2.5" in script
    assert "pod_coefficients.pod Ge Sb Te" in script


def test_pod_types_follow_the_fit_and_one_atom_cells_are_refused(tmp_path):
    from ase import Atoms
    from ase.build import bulk

    from gst_flows.fit.pod import pod_lammps_potential
    from gst_flows.md.lammps import LammpsMDEngine
    from gst_flows.md.protocol import Protocol, ProtocolError, Stage

    potential = pod_lammps_potential(tmp_path / "p.pod", tmp_path / "c.pod", ["Ge", "Sb", "Te"])
    assert potential.type_species(bulk("GeTe", "rocksalt", a=6.0)) == ["Ge", "Sb", "Te"]
    with pytest.raises(ValueError, match="holds Si"):
        potential.type_species(bulk("Si"))
    engine = LammpsMDEngine(potential, tmp_path)
    protocol = Protocol(name="p", stages=[Stage(name="s", ensemble="nve", duration=2, temperature=300)])
    with pytest.raises(ProtocolError, match="one-atom"):
        engine._check(Atoms("Ge", cell=[5, 5, 5], pbc=True), protocol)
    with pytest.raises(ProtocolError, match="holds Si"):
        engine._check(bulk("Si", cubic=True), protocol)


@needs_lammps
def test_least_squares_training_errors_without_evaluating_the_training_set(tmp_path):
    """``evaluate_train=False``: a least-squares fit takes its training errors from the rows
    it solved; they equal those of the LAMMPS evaluation, config_type by config_type."""
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    from gst_flows.fit.pod_lstsq import PodLeastSquares

    docs = {}
    for evaluate in (True, False):
        store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
        maker = PodFitMaker(
            basis=SMALL, solver=PodLeastSquares(), test_fraction=0.25, evaluate_train=evaluate
        )
        job = maker.make(str(CP2K_SMALL))
        root = tmp_path / str(evaluate)
        root.mkdir()
        responses = run_locally(job, store=store, create_folders=True, root_dir=root, log=False)
        docs[evaluate] = responses[job.uuid][1].output
    evaluated, solved = docs[True].train_errors, docs[False].train_errors
    assert set(solved) == set(evaluated) and "all" in solved
    for ct, row in evaluated.items():
        assert solved[ct].energy_rmse == pytest.approx(row.energy_rmse, rel=1e-6, abs=1e-9)
        assert solved[ct].force_rmse == pytest.approx(row.force_rmse, rel=1e-6)
        assert solved[ct].virial_rmse is None and row.virial_rmse is not None
