"""The active-learning loop. Labels come from a Lennard-Jones TEST STAND-IN for DFT (no CP2K);
the fits are real gap_fit runs and the exploration real GAP-MD, both tiny."""

import itertools

import pytest

from gst_flows.execution import run_local
from gst_flows.fit.hyperparameters import GapHyperparameters, SoapParams, TwoBodyParams
from gst_flows.flows.active_learning import (
    ActiveLearningMaker,
    convergence_decision,
    structures_from_atoms,
)
from gst_flows.makers.fit import GapFitMaker
from gst_flows.makers.md import GapMDMaker
from gst_flows.md.protocol import SafetyLimits, melt_quench
from gst_flows.structures import build_rocksalt, perturbed_copies
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
    hyper = GapHyperparameters(
        two_body=TwoBodyParams(cutoff=5.0, n_sparse=10),
        soap=SoapParams(cutoff=4.5, n_max=3, l_max=2, n_sparse=20),
        e0={"Ge": 0.0, "Sb": 0.0, "Te": 0.0},  # the stand-in's isolated atoms have zero energy
        strict_n_sparse=False,
    )
    protocol = melt_quench(melt_temperature=350.0, melt_duration=200.0, quench_temperature=300.0,
                           quench_rate=1000.0, heat_from=None, anneal_duration=0.0)
    return ActiveLearningMaker(
        tag=tag,
        label_maker=StandInLabelMaker(),
        fit_maker=GapFitMaker(hyperparameters=hyper, test_fraction=0.0),
        # The tiny test GAP is crude: allow hotter excursions than production runs do.
        explore_maker=GapMDMaker(protocol=protocol, frame_interval=10, thermo_interval=10,
                                 checkpoint_interval=100,
                                 safety=SafetyLimits(temperature_factor=20.0, max_force=500.0,
                                                     min_distance=0.5)),
        n_select=3,
        max_iterations=2,
        isolated_box=None,
        uncertainty="committee",
        committee_size=2,
        committee_fraction=0.7,
    )


@pytest.fixture(scope="module")
def loop(gst_home):
    crystals = [build_rocksalt("GeTe", seed=0), build_rocksalt("Ge1Sb2Te4", seed=0)]
    initial, held_out = [], []
    for i, c in enumerate(crystals):
        c.info["config_type"] = "crystal"
        initial += [c, *perturbed_copies(c, 3, rattle=0.06, seed=i)]
        held_out += perturbed_copies(c, 1, rattle=0.1, seed=50 + i)
    for a in initial + held_out:
        a.info.setdefault("config_type", "crystal")
    explore = [build_rocksalt("GeTe", supercell=(2, 1, 1), seed=1)]
    maker = _maker("al-test")
    StandInLabelMaker.calls.clear()
    flow = maker.make(structures_from_atoms(initial), structures_from_atoms(held_out),
                      structures_from_atoms(explore))
    run_local(flow)
    return maker, flow, (initial, held_out, explore), list(StandInLabelMaker.calls)


def test_loop_iterates_and_stops_at_the_limit(loop, outputs):
    docs = sorted((d["output"] for d in outputs.find({"output.@class": "IterationDoc",
                                                       "output.tag": "al-test"})),
                  key=lambda d: d["iteration"])
    assert [d["iteration"] for d in docs] == [0, 1, 2]
    assert docs[-1]["converged"] is True
    assert "maximum of 2" in docs[-1]["stop_reason"]
    assert not docs[0]["converged"]
    n = [d["n_labels"] for d in docs]
    assert n[0] == 8
    assert all(0 < b - a <= 3 for a, b in itertools.pairwise(n))  # budget respected
    assert [h["iteration"] for h in docs[-1]["history"]] == [0, 1, 2]
    assert all(h["force_rmse"] is not None for h in docs[-1]["history"])

    # New labels carry their provenance: iteration, generator, potential, MD step.
    labels = list(outputs.find({"output.@class": "LabelDoc", "output.provenance.tag": "al-test",
                                "output.provenance.iteration": 1}))
    assert labels
    prov = labels[0]["output"]["provenance"]
    assert prov["potential_id"] == docs[0]["potential_id"]
    assert prov["md_step"] is not None
    assert "gap md" in prov["generator"]


def test_held_out_never_enters_training(loop, outputs):
    held = {d["output"]["structure_hash"] for d in outputs.find(
        {"output.@class": "LabelDoc", "output.provenance.tag": "al-test-heldout"})}
    assert len(held) == 2
    from gst_flows.store import get_store

    store = get_store()
    store.connect()
    fits = list(store.query({"output.@class": "GapFitDoc"},
                            properties=["output.train_structure_hashes",
                                        "output.test_structure_hashes"], load=True))
    fits = [f for f in fits if set(f["output"]["test_structure_hashes"] or []) == held]
    assert len(fits) >= 3
    for fit in fits:
        assert not held & set(fit["output"]["train_structure_hashes"])


def test_rerun_recomputes_no_label(loop):
    _, _, (initial, held_out, explore), first_calls = loop
    StandInLabelMaker.calls.clear()
    again = _maker("al-test")
    run_local(again.make(structures_from_atoms(initial), structures_from_atoms(held_out),
                         structures_from_atoms(explore)))
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
    assert main(["submit", "active-learning", "--profile", "full", "--tag", "sub-test",
                 "--pack", "4", "--committee", "3"]) == 0
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


def test_committee_weights_the_selection(loop, outputs):
    from gst_flows.store import get_store

    iterations = {d["output"]["iteration"]: d["output"] for d in outputs.find(
        {"output.@class": "IterationDoc", "output.tag": "al-test"})}
    # committees for iterations 0 and 1 (they weigh the selections of 1 and 2), none after the last
    assert [len(iterations[k]["committee_potential_ids"]) for k in (0, 1, 2)] == [2, 2, 0]
    selections = [d["output"] for d in outputs.find({"output.@class": "SelectionDoc",
                                                     "output.tag": "al-test"})]
    assert {sel["iteration"] for sel in selections} == {1, 2}  # (a restart test re-runs the loop)
    for sel in selections:
        assert sel["uncertainty"] == "committee"
        assert sel["mean_candidate_spread"] > 0
        assert len(sel["selected_spread"]) == sel["n_selected"]
    # each member is fitted on a different subsample of what the main fit of its iteration saw
    store = get_store()
    store.connect()
    ids = iterations[0]["committee_potential_ids"] + [iterations[0]["potential_id"]]
    fits = {f["output"]["potential_id"]: set(f["output"]["train_structure_hashes"]) for f in store.query(
        {"output.@class": "GapFitDoc", "output.potential_id": {"$in": ids}},
        properties=["output.potential_id", "output.train_structure_hashes"], load=True)}
    main = fits[iterations[0]["potential_id"]]
    first, second = (fits[i] for i in iterations[0]["committee_potential_ids"])
    assert first < main and second < main and first != second
    assert len(first) == round(0.7 * len(main))


def test_selection_skips_what_is_already_labelled(loop, outputs):
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    from gst_flows.hashing import structure_hash
    from gst_flows.store import get_store

    store = get_store()
    store.connect()
    selections = list(store.query({"output.@class": "SelectionDoc", "output.tag": "al-test"},
                                  properties=["completed_at", "output.n_existing",
                                              "output.structures"], load=True))
    assert selections
    labels = list(outputs.find({"output.@class": "LabelDoc", "output.provenance.tag": "al-test",
                                "output.reused_from": None}))
    for sel in selections:
        # every training cell labelled before the selection ran is known to it
        earlier = {d["output"]["structure_hash"] for d in labels
                   if d["completed_at"] < sel["completed_at"]}
        assert sel["output"]["n_existing"] >= len(earlier) >= 8
        chosen = {structure_hash(AseAtomsAdaptor.get_atoms(Structure.from_dict(s)))
                  for s in sel["output"]["structures"]}
        assert not chosen & earlier
