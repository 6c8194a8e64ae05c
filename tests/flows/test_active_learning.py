"""The active-learning loop. Labels come from a Lennard-Jones TEST STAND-IN for DFT (no CP2K);
the fits are real gap_fit runs and the exploration real GAP-MD, both tiny."""

import itertools
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.execution import run_local
from gst_flows.flows.active_learning import (
    ActiveLearningMaker,
    convergence_decision,
    structures_from_atoms,
)
from tests.support.small_loop import small_flow, small_maker, small_structures
from tests.support.standin import StandInLabelMaker


def test_failed_exploration_runs_are_skipped():
    from gst_flows.flows.active_learning import _candidates

    assert _candidates([None, None], 1, "p") == []


def test_committee_settings_are_checked():
    with pytest.raises(ValueError, match="unknown uncertainty"):
        ActiveLearningMaker(uncertainty="variance")
    with pytest.raises(ValueError, match="at least 2 members"):
        ActiveLearningMaker(uncertainty="committee", committee_size=1)
    with pytest.raises(ValueError, match="fps"):
        ActiveLearningMaker(uncertainty="committee", selection_method="cur")


def test_convergence_rules():
    h = [{"iteration": 0, "force_rmse": 0.30}]
    assert convergence_decision(h, 3, None, None) is None
    assert "target" in convergence_decision(h, 3, 0.3, None)
    h.append({"iteration": 1, "force_rmse": 0.29})
    assert "improvement 3.3%" in convergence_decision(h, 3, None, 0.05)
    assert convergence_decision(h, 3, None, 0.01) is None
    assert "maximum of 1" in convergence_decision(h, 1, None, None)


def _maker(tag):
    return small_maker(tag)


@pytest.fixture(scope="module")
def loop(gst_home):
    initial, held_out, explore, device = small_structures()
    maker = _maker("al-test")
    StandInLabelMaker.calls.clear()
    flow = small_flow(maker)
    run_local(flow)
    return maker, flow, (initial, held_out, explore, device), list(StandInLabelMaker.calls)


@pytest.mark.slow  # runs the small loop (module fixture, minutes)
def test_loop_iterates_and_stops_at_the_limit(loop, outputs):
    docs = sorted(
        (d["output"] for d in outputs.find({"output.@class": "IterationDoc", "output.tag": "al-test"})),
        key=lambda d: d["iteration"],
    )
    assert [d["iteration"] for d in docs] == [0, 1, 2]
    assert docs[-1]["converged"] is True
    assert "maximum of 2" in docs[-1]["stop_reason"]
    assert not docs[0]["converged"]
    n = [d["n_labels"] for d in docs]
    assert n[0] == 8
    assert all(0 < b - a <= 3 for a, b in itertools.pairwise(n))  # budget respected
    assert [h["iteration"] for h in docs[-1]["history"]] == [0, 1, 2]
    assert all(h["force_rmse"] is not None for h in docs[-1]["history"])
    # each iteration hands on the fit's typed reference, which the next exploration checks
    assert all(d["potential_ref"]["potential_id"] == d["potential_id"] for d in docs)

    # The exploring potential's errors on the frames it chose, before the refit: the new labels
    # of the iteration, none of them known to it; the refit, trained on them, does better.
    from gst_flows.fit import error_table, predict
    from gst_flows.fit.data import is_isolated_atom
    from gst_flows.makers.training import TrainingSelection, load_training_frames
    from gst_flows.potentials import potential_calculator

    assert docs[0]["explored_errors"] is None  # iter-0 explored nothing
    frames, _ = load_training_frames(TrainingSelection(tag="al-test", iterations=[1]))
    frames = [f for f in frames if not is_isolated_atom(f)]
    explored = docs[1]["explored_errors"]
    assert explored["n_structures"] == len(frames) == n[1] - n[0]
    refit = error_table(predict(frames, potential_calculator(docs[1]["potential_id"])))["all"]
    assert refit.force_rmse < explored["force_rmse"]
    assert refit.energy_rmse < explored["energy_rmse"]

    # New labels carry their provenance: iteration, generator, potential, MD step.
    labels = list(
        outputs.find(
            {
                "output.@class": "LabelDoc",
                "output.provenance.tag": "al-test",
                "output.provenance.iteration": 1,
            }
        )
    )
    assert labels
    prov = labels[0]["output"]["provenance"]
    assert prov["potential_id"] == docs[0]["potential_id"]
    assert prov["md_step"] is not None
    assert "gap md" in prov["generator"]


@pytest.mark.slow  # runs the small loop (module fixture, minutes)
def test_held_out_never_enters_training(loop, outputs):
    held = {
        d["output"]["structure_hash"]
        for d in outputs.find({"output.@class": "LabelDoc", "output.provenance.tag": "al-test-heldout"})
    }
    assert len(held) == 2
    from gst_flows.store import get_store

    store = get_store()
    store.connect()
    fits = list(
        store.query(
            {"output.@class": "GapFitDoc"},
            properties=["output.train_structure_hashes", "output.test_structure_hashes"],
            load=True,
        )
    )
    fits = [f for f in fits if set(f["output"]["test_structure_hashes"] or []) == held]
    assert len(fits) >= 3
    for fit in fits:
        assert not held & set(fit["output"]["train_structure_hashes"])


@pytest.mark.slow  # runs the small loop (module fixture, minutes)
def test_rerun_recomputes_no_label(loop):
    _, _, (initial, held_out, _, _), first_calls = loop
    StandInLabelMaker.calls.clear()
    run_local(small_flow(_maker("al-test")))
    iteration0 = len(initial) + len(held_out)
    assert len(first_calls) > iteration0
    # iter-0 labels are all reused; only frames of the new exploration can be new.
    assert not set(StandInLabelMaker.calls) & set(first_calls[:iteration0])


def test_run_time_jobs_keep_their_categories():
    from gst_flows.flows.active_learning import al_fit

    maker = _maker("cat-test")
    response = al_fit.original(maker, {"iteration": 3, "history": []}, [])
    fit, decide = response.replace.jobs
    assert fit.config.manager_config["_category"] == "fit"
    assert "_category" not in decide.config.manager_config
    assert decide.config.pass_manager_config is False


def test_submit_full_profile_to_the_launchpad(gst_home, capsys):
    from gst_flows.cli import main
    from gst_flows.store import get_launchpad

    launchpad = get_launchpad()
    before = set(launchpad.get_fw_ids())
    assert (
        main(
            [
                "submit",
                "active-learning",
                "--profile",
                "full",
                "--tag",
                "sub-test",
                "--pack",
                "4",
                "--committee",
                "3",
            ]
        )
        == 0
    )
    assert "submitted iteration 0 of the full loop" in capsys.readouterr().out
    new = [launchpad.get_fw_by_id(i) for i in set(launchpad.get_fw_ids()) - before]
    categories = [fw.spec.get("_category") for fw in new]
    assert categories.count("dft") >= 10  # labels (packed 4 per Firework), isolated atoms, AIMD
    packed = [fw for fw in new if len(fw.tasks) == 4]
    assert packed
    assert all(fw.spec["_category"] == "dft" for fw in packed)
    from monty.json import jsanitize

    specs = str(jsanitize([fw.to_dict() for fw in new], strict=True)).replace("'", '"')
    assert '"uncertainty": "committee"' in specs and '"committee_size": 3' in specs
    # Leave the session's LaunchPad as it was: other tests launch from it.
    for fw_id in {fw.fw_id for fw in new}:
        if fw_id in launchpad.get_fw_ids():
            launchpad.delete_wf(fw_id)


@pytest.mark.slow  # runs the small loop (module fixture, minutes)
def test_committee_weights_the_selection(loop, outputs):
    from gst_flows.store import get_store

    iterations = {
        d["output"]["iteration"]: d["output"]
        for d in outputs.find({"output.@class": "IterationDoc", "output.tag": "al-test"})
    }
    # committees for iterations 0 and 1 (they weigh the selections of 1 and 2), none after the last
    assert [len(iterations[k]["committee_potential_ids"]) for k in (0, 1, 2)] == [2, 2, 0]
    selections = [
        d["output"] for d in outputs.find({"output.@class": "SelectionDoc", "output.tag": "al-test"})
    ]
    assert {sel["iteration"] for sel in selections} == {1, 2}  # (a restart test re-runs the loop)
    for sel in selections:
        assert sel["uncertainty"] == "committee"
        assert sel["mean_candidate_spread"] > 0
        assert len(sel["selected_spread"]) == sel["n_selected"]
    # each member is fitted on a different subsample of what the main fit of its iteration saw
    store = get_store()
    store.connect()
    ids = iterations[0]["committee_potential_ids"] + [iterations[0]["potential_id"]]
    fits = {
        f["output"]["potential_id"]: set(f["output"]["train_structure_hashes"])
        for f in store.query(
            {"output.@class": "GapFitDoc", "output.potential_id": {"$in": ids}},
            properties=["output.potential_id", "output.train_structure_hashes"],
            load=True,
        )
    }
    main = fits[iterations[0]["potential_id"]]
    first, second = (fits[i] for i in iterations[0]["committee_potential_ids"])
    assert first < main and second < main and first != second
    assert len(first) == round(0.7 * len(main))


@pytest.mark.slow  # runs the small loop (module fixture, minutes)
def test_selection_skips_what_is_already_labelled(loop, outputs):
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    from gst_flows.hashing import structure_hash
    from gst_flows.store import get_store

    store = get_store()
    store.connect()
    selections = list(
        store.query(
            {"output.@class": "SelectionDoc", "output.tag": "al-test"},
            properties=["completed_at", "output.n_existing", "output.structures"],
            load=True,
        )
    )
    assert selections
    labels = list(
        outputs.find(
            {"output.@class": "LabelDoc", "output.provenance.tag": "al-test", "output.reused_from": None}
        )
    )
    for sel in selections:
        # every training cell labelled before the selection ran is known to it
        earlier = {d["output"]["structure_hash"] for d in labels if d["completed_at"] < sel["completed_at"]}
        assert sel["output"]["n_existing"] >= len(earlier) >= 8
        chosen = {
            structure_hash(AseAtomsAdaptor.get_atoms(Structure.from_dict(s)))
            for s in sel["output"]["structures"]
        }
        assert not chosen & earlier


# --------------------------------------------------------------------------- iter-2, config_type


def test_config_type_comes_from_the_measured_fraction():
    from gst_flows.flows.active_learning import measured_config_type

    assert measured_config_type(0.95, 600.0) == "crystal"
    assert measured_config_type(0.5, 600.0) == "phase_transition"
    assert measured_config_type(0.5, 2000.0) == "phase_transition"
    assert measured_config_type(0.05, 1200.0) == "liquid"
    assert measured_config_type(0.05, 600.0) == "amorphous"
    assert measured_config_type(0.05, 600.0, liquid_temperature=500.0) == "liquid"
    assert measured_config_type(0.15, 600.0, coexistence=(0.1, 0.9)) == "phase_transition"
    assert measured_config_type(None, 600.0) == "default"


def test_transition_share_is_checked():
    with pytest.raises(ValueError, match="transition_share"):
        ActiveLearningMaker(transition_share=1.5)


def test_several_melt_quench_rounds_before_iter2():
    maker = small_maker("rounds", melt_quench_rounds=3)
    assert [maker.exploration(i) for i in (1, 2, 3, 4)] == ["melt-quench"] * 3 + ["device"]
    with pytest.raises(ValueError, match="melt_quench_rounds"):
        small_maker("rounds", melt_quench_rounds=0)


def test_device_cells_without_a_template_are_refused_before_any_job():
    initial, held_out, explore, _ = small_structures()
    with pytest.raises(ValueError, match="crystallisation cells"):
        _maker("no-template").make(
            structures_from_atoms(initial), structures_from_atoms(held_out), structures_from_atoms(explore)
        )  # device defaults to explore
    # a loop that never reaches iter-2 does not need them
    small_maker("no-template", max_iterations=1).make(
        structures_from_atoms(initial), structures_from_atoms(held_out), structures_from_atoms(explore)
    )


@pytest.mark.slow  # runs the small loop (module fixture, minutes)
def test_iteration_two_explores_device_processes(loop, outputs):
    selections = {
        d["output"]["iteration"]: d["output"]
        for d in outputs.find({"output.@class": "SelectionDoc", "output.tag": "al-test"})
    }
    assert selections[1]["exploration"] == "melt-quench"
    assert selections[2]["exploration"] == "device"
    generators = " ".join(p["generator"] for p in selections[2]["provenance"])
    assert "melt-anneal" in generators or "partial-melt" in generators
    assert "melt-quench" not in generators
    for sel in selections.values():
        assert sel["candidate_fractions"] and len(sel["md_seeds"]) >= 1
        assert sum(sel["candidate_config_types"].values()) == sel["n_candidates"]
        for prov in sel["provenance"]:
            assert 0.0 <= prov["crystalline_fraction"] <= 1.0
            assert prov["md_seed"] in sel["md_seeds"]
    # the labels keep the measured fraction and the MD seed
    labels = [
        d["output"]["provenance"]
        for d in outputs.find(
            {
                "output.@class": "LabelDoc",
                "output.provenance.tag": "al-test",
                "output.provenance.iteration": 2,
            }
        )
    ]
    assert labels and all(p["crystalline_fraction"] is not None for p in labels)
    assert all(p["md_seed"] is not None for p in labels)
    iteration = outputs.find_one(
        {"output.@class": "IterationDoc", "output.tag": "al-test", "output.iteration": 2}
    )["output"]
    assert iteration["exploration"] == "device"
    assert (
        sum(iteration["selected_fraction_histogram"]["counts"])
        == len(iteration["selected_crystalline_fractions"])
        > 0
    )
    assert iteration["seeds"]["flow"] == 0 and len(iteration["seeds"]["md"]) == 2


SCENARIO_GAP = Path(__file__).parents[1] / "fixtures" / "scenario_gap" / "gap.xml"


@pytest.mark.slow
def test_iter2_frames_span_crystal_to_melt(gst_home, tmp_path):
    """iter-2 on a crystallisation cell with the scenario GAP (it melts at a few thousand
    kelvin and recrystallises at 600 K within picoseconds): the explored and the selected
    frames have crystalline fractions spread between crystal and melt."""
    from gst_flows.analysis.crystallinity import crystalline_fraction, crystallinity
    from gst_flows.flows.active_learning import al_explore, al_select
    from gst_flows.makers.md import GapMDMaker
    from gst_flows.md.protocol import melt_anneal, partial_melt
    from gst_flows.plotting.active_learning import crystalline_fraction_figure
    from tests.support.small_loop import MD, run_alone

    crystallise = melt_anneal(
        melt_temperature=4000.0,
        melt_duration=200.0,
        quench_duration=100.0,
        anneal_temperature=600.0,
        anneal_duration=600.0,
    )
    melting = partial_melt(start_temperature=300.0, end_temperature=4000.0, duration=600.0)
    maker = small_maker(
        "coexist",
        committee=False,
        n_select=6,
        device_makers=[GapMDMaker(protocol=crystallise, **MD), GapMDMaker(protocol=melting, **MD)],
    )
    *_, device = small_structures()
    state = {
        "iteration": 2,
        "history": [],
        "potential_id": str(SCENARIO_GAP),
        "explore": [],
        "device": [s.as_dict() for s in structures_from_atoms(device)],
    }
    explore = al_explore.original(maker, state).replace
    runs, select = explore.jobs[:-1], explore.jobs[-1]
    assert len(runs) == 2
    docs = run_alone(runs)
    assert [d["status"] for d in docs] == ["completed", "completed"]
    state = select.function_args[1]
    doc = al_select.original(maker, state, docs).output

    fractions = np.array(doc.candidate_fractions)
    print("candidates:", np.round(fractions, 2).tolist())
    print("selected:", [round(p["crystalline_fraction"], 2) for p in doc.provenance])
    assert fractions.max() > 0.9 and fractions.min() < 0.6  # crystal and melt both explored
    assert doc.candidate_config_types.get("phase_transition", 0) > 0
    assert doc.candidate_config_types.get("crystal", 0) > 0
    chosen = np.array([p["crystalline_fraction"] for p in doc.provenance])
    assert len(chosen) == 6 and np.ptp(chosen) > 0.2
    assert any(0.2 <= f <= 0.8 for f in chosen)
    assert {p["config_type"] for p in doc.provenance} >= {"phase_transition"}
    # the budget is spread over the coexistence window: every sixth of it that the run
    # explored holds a chosen frame
    assert doc.fraction_window == (0.2, 0.8) and doc.transition_share == 1.0
    edges = np.linspace(0.2, 0.8, 7)
    for lo, hi in itertools.pairwise(edges):
        if ((fractions >= lo) & (fractions <= hi)).any():
            assert ((chosen >= lo) & (chosen <= hi)).any(), (lo, hi)
    # the recorded fraction is the chosen structure's own (measured again here)
    atoms = AseAtomsAdaptor.get_atoms(doc.structures[0])
    atoms.arrays = {k: atoms.arrays[k] for k in ("numbers", "positions")}
    assert crystalline_fraction(crystallinity(atoms)) == pytest.approx(chosen[0], abs=1e-9)
    figure = crystalline_fraction_figure([doc], tmp_path / "fractions.png")
    assert figure.stat().st_size > 1000


# --------------------------------------------------------------------------- loop bugs


def test_convergence_uses_the_overall_held_out_error():
    from gst_flows.flows.active_learning import al_decide

    maker = ActiveLearningMaker(tag="conv-test", target_force_rmse=0.2, max_iterations=2)
    state = {"iteration": 1, "history": [], "explore": [], "device": []}
    training = {"n_structures": 10, "per_config_type": {}}
    per_type = {
        "crystal": {"force_rmse": 0.05, "energy_rmse": 0.001},
        "liquid": {"force_rmse": 0.9, "energy_rmse": 0.02},
    }
    # a per-config_type row must not stand in for the whole held-out set
    with pytest.raises(ValueError, match="no pooled row"):
        al_decide.original(maker, state, "pot", per_type, {}, training)
    with_all = {**per_type, "all": {"force_rmse": 0.6, "energy_rmse": 0.01}}
    doc = al_decide.original(maker, {**state, "iteration": 2}, "pot", with_all, {}, training).output
    assert doc.held_out_force_rmse == 0.6
    assert "target" not in (doc.stop_reason or "")


def _legacy_state(iteration: int) -> dict:
    """The loop state as a plain dict, as jobs queued before it was typed hold it."""
    *_, explore, device = small_structures()
    return {
        "iteration": iteration,
        "n_new_labels": 3,
        "history": [
            {"iteration": 0, "n_labels": 8, "force_rmse": 0.3, "energy_rmse": 0.01, "potential_id": "p0"},
            {"iteration": 1, "n_labels": 11, "force_rmse": 0.2, "energy_rmse": 0.01, "potential_id": "p1"},
        ],
        "potential_id": "p1",
        "explore": [s.as_dict() for s in structures_from_atoms(explore)],
        "device": [s.as_dict() for s in structures_from_atoms(device)],
        "committee": [],
        "seeds": {"md": [1, 2]},
        "selected_fractions": [0.1, 0.5, 0.9],
    }


def test_stored_jobs_name_the_package_and_hand_on_a_typed_state():
    """Jobs and the maker are recorded under ``gst_flows.flows.active_learning`` (where they were
    defined before the package split), and a job read back from its record runs, whether its
    state is a LoopState or the plain dict of jobs queued before the state was typed."""
    from jobflow import Job, JobStore
    from maggma.stores import MemoryStore
    from monty.json import jsanitize

    from gst_flows.flows.active_learning import LoopState, al_explore

    maker = small_maker("stored", committee=False)
    store = JobStore(MemoryStore())
    store.connect()
    for state in (LoopState.model_validate(_legacy_state(2)), _legacy_state(2)):
        record = jsanitize(al_explore(maker, state).as_dict(), strict=True, allow_bson=True)
        assert record["function"]["@module"] == "gst_flows.flows.active_learning"
        assert record["function"]["@callable"] == "al_explore"
        assert record["function_args"][0]["@module"] == "gst_flows.flows.active_learning"
        assert record["function_args"][0]["@class"] == "ActiveLearningMaker"
        job = Job.from_dict(record)
        assert isinstance(job.function_args[0], ActiveLearningMaker)
        if isinstance(state, LoopState):
            assert job.function_args[1] == state  # structures and history rows come back typed
        response = job.run(store)
        *runs, select = response.replace.jobs[:-1]  # the last job stores the flow's output
        assert [r.name for r in runs] == ["iter-2 md 0", "iter-2 md 1"]
        assert all(isinstance(r.function_args[1], Structure) for r in runs)
        handed = select.function_args[1]
        assert isinstance(handed, LoopState)
        assert handed.seeds["md"] == [r.function_args[0].protocol.seed for r in runs]
        assert [h.potential_id for h in handed.history] == ["p0", "p1"]


def test_queued_decision_runs_from_the_launchpad(gst_home, tmp_path, monkeypatch):
    """The last decision of a loop, queued in FireWorks with a typed and with a plain-dict
    state, runs from the LaunchPad and records the iteration."""
    from fireworks import FWorker
    from fireworks.core.rocket_launcher import launch_rocket

    from gst_flows.execution import submit
    from gst_flows.flows.active_learning import LoopState, al_decide
    from gst_flows.store import get_launchpad, get_store

    monkeypatch.chdir(tmp_path)
    maker = small_maker("queued", committee=False)
    test_errors = {"all": {"force_rmse": 0.1, "energy_rmse": 0.005}}
    training = {"n_structures": 14, "per_config_type": {}}
    launchpad = get_launchpad()
    store = get_store()
    store.connect()
    for state in (_legacy_state(2), LoopState.model_validate(_legacy_state(2))):
        decide = al_decide(maker, state, "p2", test_errors, {}, training, [])
        (fw_id,) = submit(decide)
        try:
            assert launch_rocket(launchpad, FWorker(), fw_id=fw_id)
            assert launchpad.get_fw_by_id(fw_id).state == "COMPLETED"
        finally:
            launchpad.delete_wf(fw_id)
        doc = store.query_one({"uuid": decide.uuid}, properties=["output"], load=True)["output"]
        assert doc["iteration"] == 2 and doc["converged"] is True
        assert [h["potential_id"] for h in doc["history"]] == ["p0", "p1", "p2"]
        assert doc["history"][-1] == {
            "iteration": 2,
            "n_labels": 14,
            "force_rmse": 0.1,
            "energy_rmse": 0.005,
            "potential_id": "p2",
        }
        assert doc["selected_crystalline_fractions"] == [0.1, 0.5, 0.9]


def test_walltime_stop_continues_instead_of_reporting_a_finished_run(gst_home):
    """A walltime-limited exploration replaces itself with continuations until the protocol
    ends; the frames are those of one uninterrupted run with the same seed."""
    from gst_flows.flows.active_learning import al_md
    from gst_flows.makers.md import GapMDMaker
    from gst_flows.md.protocol import melt_quench
    from gst_flows.store import get_store
    from gst_flows.structures import build_rocksalt

    protocol = melt_quench(
        melt_temperature=600.0,
        melt_duration=10.0,
        quench_temperature=300.0,
        quench_rate=30000.0,
        heat_from=None,
        anneal_duration=0.0,
    )
    protocol = protocol.model_copy(update={"seed": 7})
    cell = structures_from_atoms([build_rocksalt("GeTe", supercell=(2, 1, 1), seed=1)])[0]
    outputs = []
    for walltime in (None, 1e-6):  # 1 µs: every job stops after one step
        md = GapMDMaker(
            protocol=protocol,
            potential=str(SCENARIO_GAP),
            frame_interval=5,
            thermo_interval=5,
            checkpoint_interval=5,
            walltime=walltime,
        )
        run = al_md(md, cell)
        responses = run_local(run)
        assert len(responses[run.uuid]) == (1 if walltime is None else protocol.n_steps)
        store = get_store()
        store.connect()
        found = store.query_one({"uuid": run.uuid}, properties=["output"], sort={"index": -1}, load=True)
        outputs.append(found["output"])
    whole, pieces = outputs
    assert pieces["status"] == whole["status"] == "completed"
    assert [f["step"] for f in pieces["frames"]] == [f["step"] for f in whole["frames"]]
    assert pieces["frames"][-1]["step"] == protocol.n_steps
    for a, b in zip(pieces["frames"], whole["frames"], strict=True):
        np.testing.assert_array_equal(
            Structure.from_dict(a["structure"]).cart_coords, Structure.from_dict(b["structure"]).cart_coords
        )


# --------------------------------------------------------------------------- determinism


def test_exploration_runs_the_fits_typed_reference(tmp_path):
    from gst_flows.flows.active_learning.jobs import _seeded
    from gst_flows.makers.md import GapMDMaker
    from gst_flows.md.protocol import melt_quench
    from gst_flows.schemas.active_learning import LoopState
    from gst_flows.schemas.potential import PotentialRef

    xml = tmp_path / "gap.xml"
    xml.write_text("<GAP/>")
    ref = PotentialRef.from_paths("p1", [xml])
    md = GapMDMaker(protocol=melt_quench())
    typed = _seeded(md, 5, LoopState(iteration=1, potential_id="p1", potential_ref=ref))
    assert typed.potential == ref and typed.resolved_protocol().seed == 5
    # a state stored before references existed still runs, by id
    assert _seeded(md, 5, LoopState(iteration=1, potential_id="p1")).potential == "p1"
    # the state survives its JSON round trip with the reference typed
    state = LoopState(iteration=1, potential_id="p1", potential_ref=ref)
    assert LoopState.model_validate_json(state.model_dump_json()).potential_ref == ref


def test_seeds_are_derived_not_drawn():
    from gst_flows.flows.active_learning import derive_seed

    assert derive_seed(0, 2, 1, "md") == derive_seed(0, 2, 1, "md")
    seeds = {
        derive_seed(s, i, k, p) for s in (0, 1) for i in (1, 2) for k in (0, 1) for p in ("md", "committee")
    }
    assert len(seeds) == 16


def _loop_outputs(database: str, tag: str) -> dict:
    """What a loop produced: its labels, selections and potentials, in content order."""
    import pymongo

    from gst_flows.settings import get_settings
    from gst_flows.store import database_uri

    client = pymongo.MongoClient(database_uri(get_settings()))
    db = client[database]
    labels = sorted(
        (d["output"]["structure_hash"], d["output"]["energy"])
        for d in db.outputs.find({"output.@class": "LabelDoc", "output.provenance.tag": tag})
    )
    iterations = sorted(
        (d["output"] for d in db.outputs.find({"output.@class": "IterationDoc", "output.tag": tag})),
        key=lambda d: d["iteration"],
    )
    selections = {}
    for d in db.outputs.find({"output.@class": "SelectionDoc", "output.tag": tag}):
        out = d["output"]
        selections[out["iteration"]] = {
            "md_seeds": out["md_seeds"],
            "candidate_fractions": out["candidate_fractions"],
            "provenance": [{k: v for k, v in p.items() if k != "potential_id"} for p in out["provenance"]],
        }
    client.close()
    return {"labels": labels, "iterations": iterations, "selections": selections}


def _potential_fingerprint(potential_id: str, frames) -> tuple[str, np.ndarray]:
    """SHA-256 of the potential's files and its energies and forces on ``frames``.

    gap_fit's time-stamped label and the ids of earlier potentials (in the training frames'
    provenance, which the XML repeats) are blanked: they name things, they are not the fit.
    """
    import hashlib
    import re

    from gst_flows.potentials import fetch_potential, load_potential

    uuid = rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    xml = fetch_potential(potential_id)
    label = re.search(r'label="(GAP_[0-9_]+)"', xml.read_text()).group(1)
    files = {
        path.name.replace(label, "GAP"): path
        for path in xml.parent.iterdir()
        if path.name.startswith(xml.name)
    }
    assert len(files) > 1  # the XML and its sparseX files
    digest = hashlib.sha256()
    for name in sorted(files):
        content = files[name].read_bytes().replace(label.encode(), b"GAP")
        digest.update(name.encode() + re.sub(uuid, b"ID", content))
    calc = load_potential(potential_id)
    values = []
    for frame in frames:
        atoms = frame.copy()
        atoms.calc = calc
        values += [atoms.get_potential_energy(), *atoms.get_forces().ravel()]
    return digest.hexdigest(), np.array(values)


@pytest.mark.slow
def test_same_seed_same_science(gst_home, monkeypatch):
    """Two runs of the same small loop, each in its own process (different hash seeds) and
    its own empty database, give the same labels, selections and potentials."""
    import os
    import subprocess
    import sys

    root = Path(__file__).parents[2]
    runs = {}
    for k, database in enumerate(("al-det-a", "al-det-b")):
        env = {
            **os.environ,
            "GST_FLOWS_DATABASE": database,
            "PYTHONHASHSEED": str(k + 1),
            "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
        }
        subprocess.run(
            [sys.executable, "-m", "tests.support.small_loop", "al-det", "5"],
            cwd=root,
            env=env,
            check=True,
            timeout=900,
        )
        runs[database] = _loop_outputs(database, "al-det")
    a, b = runs.values()
    assert [d["iteration"] for d in a["iterations"]] == [0, 1, 2]
    assert a["labels"] == b["labels"] and len(a["labels"]) > 8
    assert a["selections"] == b["selections"] and set(a["selections"]) == {1, 2}
    for first, second in zip(a["iterations"], b["iterations"], strict=True):
        assert first["seeds"] == second["seeds"] and first["seeds"]["flow"] == 5
        assert first["held_out_force_rmse"] == second["held_out_force_rmse"]
        assert first["selected_crystalline_fractions"] == second["selected_crystalline_fractions"]
    assert (
        a["iterations"][0]["seeds"]["committee_subsample"]
        != a["iterations"][1]["seeds"]["committee_subsample"]
    )
    frames = [small_structures()[3][0], *small_structures()[1]]
    for first, second in zip(a["iterations"], b["iterations"], strict=True):
        ids = [first["potential_id"], second["potential_id"]]
        assert ids[0] != ids[1]  # two databases, two fits
        fingerprints = []
        for database, potential_id in zip(("al-det-a", "al-det-b"), ids, strict=True):
            monkeypatch.setenv("GST_FLOWS_DATABASE", database)
            fingerprints.append(_potential_fingerprint(potential_id, frames))
        assert fingerprints[0][0] == fingerprints[1][0]
        np.testing.assert_array_equal(fingerprints[0][1], fingerprints[1][1])


@pytest.mark.slow  # runs the small loop (module fixture, minutes)
def test_demo_summary_shows_the_crystalline_fractions(loop, tmp_path, capsys):
    from gst_flows.commands.demo import _fraction_summary

    figure = _fraction_summary("al-test", tmp_path)
    out = capsys.readouterr().out
    assert "iteration 2 (device): crystalline fraction of the" in out
    assert "0.90-1.00" in out
    assert figure.stat().st_size > 1000 and figure.with_suffix(".pdf").exists()


@pytest.mark.slow  # runs the small loop (module fixture, minutes)
def test_demo_summary_shows_what_each_exploration_found(loop, outputs, capsys):
    from gst_flows.commands.demo import _explored_summary

    _explored_summary("al-test")
    out = capsys.readouterr().out
    assert "against the potential that explored them" in out
    docs = {
        d["output"]["iteration"]: d["output"]
        for d in outputs.find({"output.@class": "IterationDoc", "output.tag": "al-test"})
    }
    table = out.split("(meV)")[1].splitlines()
    rows = {int(line.split()[0]): line.split() for line in table if line.strip()[:1].isdigit()}
    assert set(rows) == {1, 2}
    for iteration, row in rows.items():
        errors = docs[iteration]["explored_errors"]
        assert int(row[1]) == errors["n_structures"]
        assert float(row[2]) == pytest.approx(1000 * errors["energy_rmse"], abs=0.06)
