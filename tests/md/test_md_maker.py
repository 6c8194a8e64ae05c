"""GapMDMaker and MDDoc: run through jobflow, data-store chunks, chained continuation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gap_fixture import gst_cell
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from monty.json import MontyDecoder, MontyEncoder
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.makers.md import GapMDMaker, structure_to_atoms
from gst_flows.md.lammps import LammpsRunner
from gst_flows.md.potential import PotentialInfo, resolve_potential
from gst_flows.md.protocol import (
    GradedInjection,
    Protocol,
    ProtocolError,
    RemoveHeat,
    Stage,
)
from gst_flows.schemas.md import MDDoc, frame_chunks, frames_from_chunks

PAIR = "gap_fixture:pair_calculator"


def _protocol():
    return Protocol(
        name="pulse",
        initial_temperature=300,
        seed=5,
        stages=[
            Stage(name="eq", ensemble="nvt", temperature=300, duration=20),
            Stage(
                name="pulse", ensemble="nve", duration=20, actions=[GradedInjection(energy=1.0, n_slabs=2)]
            ),
            Stage(name="quench", ensemble="nve", duration=20, actions=[RemoveHeat()]),
        ],
    )


def _store():
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    store.connect()
    return store


def _output(store, job):
    return store.query_one({"uuid": job.uuid}, properties=["output"], load=True, sort={"index": -1})["output"]


def test_maker_runs_and_stores_chunks(cell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    maker = GapMDMaker(
        protocol=_protocol(), potential=PAIR, frame_interval=5, thermo_interval=2, chunk_bytes=20_000
    )
    structure = AseAtomsAdaptor.get_structure(cell)
    job = maker.make(structure)
    store = _store()
    run_locally(job, store=store, create_folders=True, ensure_success=True)
    raw = store.query_one({"uuid": job.uuid}, properties=["output"], load=False)["output"]
    # big fields are references to the data store, not inline
    assert (
        raw["trajectory"][0]["frame_data"]["@class"] == "OutputReference"
        or "blob_uuid" in raw["trajectory"][0]["frame_data"]
    )
    assert "blob_uuid" in raw["thermo"][0]["thermo_data"]
    assert len(json.dumps(raw, cls=MontyEncoder)) < 100_000
    blobs = list(store.additional_stores["data"].query({}))
    assert len(blobs) == len(raw["trajectory"]) + len(raw["thermo"]) + 1
    chunks = [b["data"] for b in blobs if "positions" in b["data"] or "step" in b["data"]]
    assert len(chunks) == len(blobs) - 1  # and the final structure
    assert all(len(json.dumps(c, cls=MontyEncoder)) < 22_000 for c in chunks)
    doc = MDDoc.model_validate({k: v for k, v in _output(store, job).items() if not k.startswith("@")})
    assert doc.completed and doc.n_steps == 30 and doc.engine == "ase"
    assert doc.potential.id == PAIR and doc.potential.kind == "factory"
    assert doc.ledger.injected == pytest.approx(1.0) and doc.ledger.removed == pytest.approx(1.0)
    assert [s.name for s in doc.stages] == ["eq", "pulse", "quench"]
    assert doc.stages[1].nve_drift is not None
    assert doc.composition == {"Ge": 15, "Sb": 30, "Te": 63} and doc.n_atoms == 108
    frames = doc.frames()
    assert len(frames) == doc.n_frames == 7  # step 0, every 5 steps, stage ends
    assert frames[-1].info["step"] == 30
    assert np.allclose(frames[-1].positions, structure_to_atoms(doc.final_structure).positions)
    series = doc.thermo_series()
    assert series["step"][-1] == 30 and len(series["step"]) == 16
    assert doc.summary["step"][-1] == 30


def test_walltime_chains_jobs(cell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    maker = GapMDMaker(protocol=_protocol(), potential=PAIR, walltime=1e-9, checkpoint_interval=0)
    store = _store()
    job = maker.make(AseAtomsAdaptor.get_structure(cell))
    responses = run_locally(job, store=store, create_folders=True, ensure_success=True)
    assert len(responses[job.uuid]) == 30  # one step per job, each continuing the last
    doc = _output(store, job)
    assert doc["completed"] and doc["n_steps"] == 30
    assert doc["ledger"]["removed"] == pytest.approx(1.0)


def test_bad_input_fails_before_compute(slab_cell):
    maker = GapMDMaker(protocol="mushroom_reset", potential=PAIR)
    with pytest.raises(ProtocolError, match=r"temperature ceiling|every atom"):
        maker.check(slab_cell)
    scaled = GapMDMaker(protocol="mushroom_reset", potential=PAIR, scale_energies=True)
    assert scaled.check(slab_cell).reference_atoms == 108
    with pytest.raises(ValueError, match="needs a potential"):
        GapMDMaker().check(slab_cell)


def test_maker_serialises():
    maker = GapMDMaker(
        protocol=_protocol(),
        potential="gap.xml",
        engine="lammps",
        seed=5,
        runner=LammpsRunner(nprocs=2, command="srun lmp"),
        neighbour_skin=2.0,
    )
    again = MontyDecoder().decode(MontyEncoder().encode(maker))
    assert again == maker
    assert isinstance(again.protocol, Protocol) and isinstance(again.runner, LammpsRunner)
    assert GapMDMaker.fworker_category == "md"
    job = maker.make(AseAtomsAdaptor.get_structure(gst_cell(1)))
    restored = MontyDecoder().decode(MontyEncoder().encode(job))
    assert restored.function.__self__ == maker


def test_potential_resolution(tmp_path, gst_home):
    _calc, info = resolve_potential(PAIR)
    assert info == PotentialInfo(id=PAIR, kind="factory")
    # Not a file and not in the (session's) potential store.
    with pytest.raises(LookupError, match="no potential with id"):
        resolve_potential("0123-not-a-file")
    with pytest.raises(ValueError, match="cannot import"):
        resolve_potential("no_such_module:thing")
    with pytest.raises(FileNotFoundError):
        resolve_potential(tmp_path / "missing.xml")


def test_chunks_split_large_frames(cell):
    cell.new_array("velocities", np.ones((len(cell), 3)))
    frames = [cell.copy() for _ in range(3)]
    for k, frame in enumerate(frames):
        frame.positions += k
        frame.info.update(step=k, time_fs=2.0 * k, stage_name="s")
    chunks = list(frame_chunks(frames, chunk_bytes=3_000))  # < 1 frame: split atoms
    assert len({c.frame_start for c in chunks}) == 3 and len(chunks) > 3
    assert all(len(c.model_dump_json()) < 4_000 for c in chunks)
    back = frames_from_chunks(chunks)
    assert len(back) == 3
    assert np.allclose(back[2].positions, frames[2].positions)
    assert back[1].numbers.tolist() == cell.numbers.tolist()
    assert back[0].pbc.all()


def test_stored_slab_frames_stay_slabs(cell):
    """A ``p p f`` slab's frames come back from the store non-periodic along z; chunks stored
    before the field existed read as fully periodic."""
    cell.new_array("velocities", np.ones((len(cell), 3)))
    cell.pbc = (True, True, False)
    chunks = list(frame_chunks([cell], chunk_bytes=3_000))
    back = frames_from_chunks([type(c).model_validate_json(c.model_dump_json()) for c in chunks])
    assert back[0].pbc.tolist() == [True, True, False]
    legacy = chunks[0].model_dump()
    legacy.pop("pbc")
    assert type(chunks[0]).model_validate(legacy).pbc == (True, True, True)


def test_engine_settings_reach_the_engine(tmp_path):
    xml = tmp_path / "gap.xml"
    xml.write_text("<GAP/>")
    maker = GapMDMaker(potential=str(xml), engine="lammps", seed=5, runner={"nprocs": 2}, neighbour_skin=2.0)
    assert maker.runner == LammpsRunner(nprocs=2)  # a mapping (JSON, command line) is taken
    engine, _ = maker.build_engine(tmp_path)
    assert (engine.seed, engine.runner, engine.skin) == (5, LammpsRunner(nprocs=2), 2.0)
    ase = GapMDMaker(potential=PAIR, seed=9)
    assert ase.build_engine(tmp_path / "ase")[0].seed == 9
    with pytest.raises(ValueError, match="LAMMPS engine"):
        GapMDMaker(potential=PAIR, runner=LammpsRunner(nprocs=2)).check(gst_cell(1))


def test_legacy_engine_kwargs_become_fields():
    legacy = {"seed": 3, "nprocs": 4, "command": "srun lmp", "skin": 1.5}
    with pytest.warns(DeprecationWarning, match="engine_kwargs"):
        maker = GapMDMaker(engine="lammps", engine_kwargs=legacy)
    assert maker.seed == 3 and maker.neighbour_skin == 1.5
    assert maker.runner == LammpsRunner(nprocs=4, command="srun lmp")
    # a maker serialised before the fields existed
    stored = json.loads(MontyEncoder().encode(GapMDMaker(engine="lammps")))
    for key in ("seed", "runner", "neighbour_skin"):
        del stored[key]
    stored["engine_kwargs"] = {"nprocs": 4}
    with pytest.warns(DeprecationWarning, match="engine_kwargs"):
        assert MontyDecoder().process_decoded(stored).runner == LammpsRunner(nprocs=4)
    with (
        pytest.warns(DeprecationWarning, match="engine_kwargs"),
        pytest.raises(TypeError, match="unknown engine_kwargs: nsteps"),
    ):
        GapMDMaker(engine_kwargs={"nsteps": 3})
