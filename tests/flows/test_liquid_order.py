"""The loop's liquid-order exploration: a held liquid, frames chosen across its chemical order."""

from pathlib import Path

import numpy as np
import pytest
from jobflow import Flow

from gst_flows.analysis import homopolar_bond_fraction
from gst_flows.flows.active_learning import structures_from_atoms
from gst_flows.flows.active_learning.candidates import select_liquid_order
from gst_flows.flows.profiles import active_learning_setup, disordered_copies
from gst_flows.makers.md import GapMDMaker
from gst_flows.md.protocol import liquid_hold
from gst_flows.structures import build_rocksalt
from tests.support.small_loop import MD, run_alone, small_maker, small_structures

SCENARIO_GAP = Path(__file__).parents[1] / "fixtures" / "scenario_gap" / "gap.xml"


def _antisite_series(n_frames: int):
    """64-atom rock-salt GeTe with 0, 1, 2, ... Ge-Te pairs swapped: more wrong bonds each time."""
    crystal = build_rocksalt("GeTe", supercell=(2, 2, 2), seed=0)
    symbols = np.array(crystal.get_chemical_symbols())
    ge, te = np.flatnonzero(symbols == "Ge"), np.flatnonzero(symbols == "Te")
    frames = []
    for k in range(n_frames):
        atoms = crystal.copy()
        swapped = symbols.copy()
        swapped[ge[:k]], swapped[te[:k]] = "Te", "Ge"
        atoms.set_chemical_symbols(swapped.tolist())
        atoms.info["temperature"] = 1000.0
        frames.append(atoms)
    return frames


def test_frames_are_chosen_across_the_wrong_bond_range_not_by_diversity():
    from gst_flows.selection import select_diverse

    frames = _antisite_series(9)
    wrong = np.array([homopolar_bond_fraction(a)["wrong"] for a in frames])
    assert np.all(np.diff(wrong) > 0)  # each swap adds wrong bonds
    thirds = np.digitize(wrong, np.linspace(wrong[0], wrong[-1], 4)[1:-1])
    assert thirds.tolist() == [0, 0, 1, 1, 1, 2, 2, 2, 2]
    # Descriptors under which diversity alone takes the middle third only: the least and the
    # most homopolar frames sit next to labelled structures (e0, e1), the middle ones far away.
    eye = np.eye(6)
    x = np.array(
        [eye[0] + 0.05 * (k + 1) * eye[1] for k in range(2)]
        + [eye[2], eye[3], eye[4]]
        + [eye[1] + 0.05 * (k + 1) * eye[0] for k in range(4)]
    )
    existing = eye[:2]
    assert sorted(select_diverse(x, 3, existing=existing)) == [2, 3, 4]
    # two colder frames with the most wrong bonds of all (a quenched glass, not the liquid),
    # farthest of all in SOAP space
    cold = _antisite_series(12)[10:]
    for atoms in cold:
        atoms.info["temperature"] = 300.0
    x = np.vstack([x, eye[5], eye[5] + 0.5 * eye[2]])
    picked = select_liquid_order(x, frames + cold, 3, existing=existing, liquid_temperature=900.0)
    assert sorted(thirds[picked].tolist()) == [0, 1, 2]  # one per third of the range
    for i in range(9):
        assert frames[i].info["wrong_bond_fraction"] == pytest.approx(wrong[i])
    assert "wrong_bond_fraction" not in cold[0].info


def test_a_liquid_whose_order_does_not_change_is_sampled_by_diversity():
    frames = [build_rocksalt("GeTe", supercell=(2, 1, 1), seed=s) for s in range(4)]
    for atoms in frames:
        atoms.info["temperature"] = 1000.0
    x = np.eye(4)
    assert sorted(select_liquid_order(x, frames, 2)) in ([0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3])
    assert select_liquid_order(x, frames, 0) == []
    for atoms in frames:
        atoms.info["temperature"] = 500.0
    assert select_liquid_order(x, frames, 2) == []


def test_liquid_cells_need_a_maker_and_a_budget():
    initial, held_out, explore, device = small_structures()
    liquid = disordered_copies("Ge2Sb2Te5", 2, 1, seed=3)
    args = [structures_from_atoms(c) for c in (initial, held_out, explore, device)]
    with pytest.raises(ValueError, match="no liquid_maker"):
        small_maker("liq").make(*args, liquid=structures_from_atoms(liquid))
    with pytest.raises(ValueError, match="n_liquid_select"):
        small_maker("liq", n_liquid_select=-1)
    hold = liquid_hold(melt_duration=20.0, liquid_duration=20.0)
    flow = small_maker("liq", liquid_maker=GapMDMaker(protocol=hold, **MD)).make(
        *args, liquid=structures_from_atoms(liquid)
    )
    assert isinstance(flow, Flow)


def test_profiles_hold_a_large_liquid_long_enough():
    small = active_learning_setup("small", "t")
    assert [len(a) for a in small.liquid] == [90]
    assert small.liquid[0].symbols.formula.reduce()[0].count() == {"Ge": 2, "Sb": 2, "Te": 5}
    protocol = small.maker.liquid_maker.resolved_protocol()
    stage = protocol.stages[-1]
    assert stage.temperature == 1000.0 and stage.n_steps * stage.timestep >= 6000.0
    assert small.maker.n_liquid_select == 3
    full = active_learning_setup("full", "t")
    assert sorted(len(a) for a in full.liquid) == [180, 196]
    assert full.maker.liquid_maker.resolved_protocol().stages[-1].n_steps * 2.0 >= 20_000.0
    # the budget is the user's to change; 0 turns the exploration off
    off = active_learning_setup("small", "t", n_liquid_select=0)
    assert off.liquid == [] and off.maker.n_liquid_select == 0
    assert active_learning_setup("full", "t", n_liquid_select=4).maker.n_liquid_select == 4


@pytest.mark.slow  # real GAP-MD of a melt-quench and a held liquid (about a minute)
def test_iter1_labels_a_held_liquid_across_its_chemical_order(gst_home):
    """iter-1 runs the liquid cells after the melt-quench cells; their frames get a budget of
    their own, spread over the wrong-bond fraction they explored."""
    from gst_flows.flows.active_learning import al_explore, al_select
    from gst_flows.flows.label import provenance_from_info

    hold = liquid_hold(
        melt_temperature=4000.0, melt_duration=200.0, liquid_temperature=2500.0, liquid_duration=400.0
    )
    maker = small_maker(
        "liquid-order", committee=False, liquid_maker=GapMDMaker(protocol=hold, **MD), n_liquid_select=3
    )
    _, _, explore, device = small_structures()
    liquid = disordered_copies("Ge1Sb2Te4", 4, 1, seed=5)  # 28 atoms
    state = {
        "iteration": 1,
        "history": [],
        "potential_id": str(SCENARIO_GAP),
        "explore": [s.as_dict() for s in structures_from_atoms(explore)],
        "device": [s.as_dict() for s in structures_from_atoms(device)],
        "liquid": [s.as_dict() for s in structures_from_atoms(liquid)],
    }
    # iter-2 runs the device makers only
    device_runs = al_explore.original(maker, {**state, "iteration": 2}).replace.jobs[:-1]
    assert len(device_runs) == 2
    flow = al_explore.original(maker, state).replace
    runs, select = flow.jobs[:-1], flow.jobs[-1]
    assert len(runs) == 2  # the melt-quench cell, then the liquid
    docs = run_alone(runs)
    assert [d["status"] for d in docs] == ["completed", "completed"]
    state = select.function_args[1]
    assert len(state.seeds["md"]) == 2 and len(set(state.seeds["md"])) == 2
    doc = al_select.original(maker, state, docs[:1], docs[1:]).output

    assert doc.budget == maker.n_select + 3
    assert doc.n_liquid_selected == 3 and doc.n_selected == len(doc.provenance) <= maker.n_select + 3
    assert doc.n_liquid_candidates == len(docs[1]["frames"])
    wrong = np.array(doc.liquid_wrong_fractions)
    print("liquid candidates' wrong-bond fractions:", np.round(wrong, 3).tolist())
    liquid_picks = [p for p in doc.provenance if p.get("wrong_bond_fraction") is not None]
    assert len(liquid_picks) == 3
    assert all("gap md run 1 (liquid-hold" in p["generator"] for p in liquid_picks)
    assert all(p["config_type"] == "liquid" and p["temperature"] >= 900.0 for p in liquid_picks)
    assert np.ptp(wrong) > 0
    chosen = sorted(p["wrong_bond_fraction"] for p in liquid_picks)
    # one per third of the range the liquid explored: its least and its most homopolar frames
    third = np.ptp(wrong) / 3
    assert chosen[0] <= wrong.min() + third and chosen[-1] >= wrong.max() - third
    # the measure travels with the label (provenance of the chosen structures)
    picked = doc.structures[-1]
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(picked)
    assert homopolar_bond_fraction(atoms)["wrong"] == pytest.approx(liquid_picks[-1]["wrong_bond_fraction"])
    atoms.info.update(liquid_picks[-1])
    assert provenance_from_info(atoms)["wrong_bond_fraction"] == liquid_picks[-1]["wrong_bond_fraction"]


@pytest.mark.slow  # a one-iteration loop with stand-in labels and real gap_fit and GAP-MD (minutes)
def test_the_loop_labels_the_liquid_and_the_demo_reports_it(gst_home, outputs, tmp_path, capsys):
    from gst_flows.commands.demo import _fraction_summary
    from gst_flows.execution import run_local
    from gst_flows.flows.profiles import ActiveLearningSetup

    hold = liquid_hold(
        melt_temperature=1500.0, melt_duration=100.0, liquid_temperature=1000.0, liquid_duration=300.0
    )
    maker = small_maker(
        "al-liquid",
        committee=False,
        max_iterations=1,
        liquid_maker=GapMDMaker(protocol=hold, **MD),
        n_liquid_select=2,
    )
    liquid = disordered_copies("Ge1Sb2Te4", 4, 1, seed=5)
    run_local(ActiveLearningSetup(maker, *small_structures(), liquid=liquid).flow())
    query = {
        "output.@class": "LabelDoc",
        "output.provenance.tag": "al-liquid",
        "output.provenance.iteration": 1,
    }
    provenance = [d["output"]["provenance"] for d in outputs.find(query)]
    from_liquid = [p for p in provenance if p.get("wrong_bond_fraction") is not None]
    assert len(from_liquid) == 2 and len(provenance) <= maker.n_select + 2
    assert all("liquid-hold" in p["generator"] and p["temperature"] >= 900.0 for p in from_liquid)
    selection = outputs.find_one({"output.@class": "SelectionDoc", "output.tag": "al-liquid"})["output"]
    assert selection["n_liquid_selected"] == 2
    wrong = selection["liquid_wrong_fractions"]
    assert all(min(wrong) <= p["wrong_bond_fraction"] <= max(wrong) for p in from_liquid)
    _fraction_summary("al-liquid", tmp_path)
    out = capsys.readouterr().out
    labelled = ", ".join(f"{w:.3f}" for w in sorted(p["wrong_bond_fraction"] for p in from_liquid))
    assert f"wrong-bond fraction went through {min(wrong):.3f}-{max(wrong):.3f} in {len(wrong)} frames" in out
    assert f"labelled {labelled}" in out
