"""Protocol model: units, schedules, generators, serialisation and validation (no MD)."""

from __future__ import annotations

import numpy as np
import pytest
from monty.json import MontyDecoder, MontyEncoder, jsanitize
from pydantic import ValidationError

from gst_flows.md.protocol import (
    ElectricField,
    FixAtoms,
    GradedInjection,
    InjectEnergy,
    Protocol,
    ProtocolError,
    Ramp,
    RemoveHeat,
    ResetPulse,
    RunSettings,
    Stage,
    Steps,
    graded_groups,
    list_protocols,
    load_protocol,
    melt_quench,
    pulse_train,
)
from gst_flows.md.units import ev_to_fj, fj_to_ev, parse_quantity

PUBLISHED = {
    "melt_quench",
    "crystallisation_600K",
    "cumulative_set",
    "mushroom_reset",
    "mushroom_reset_strong",
    "cross_point",
    "electromigration",
    "heating_npt",
}


def test_units():
    assert parse_quantity("30 ps", "time") == 30_000
    assert parse_quantity("0.264 fJ", "energy") == pytest.approx(1650, rel=2e-3)
    assert parse_quantity("55 eV/ps", "power") == 55
    assert parse_quantity("3 MV/cm", "field") == pytest.approx(0.03)
    assert parse_quantity("0.03 eV/Å", "field") == pytest.approx(0.03)
    assert parse_quantity("10 kbar", "pressure") == pytest.approx(1.0)
    assert parse_quantity(12.5, "time") == 12.5
    assert ev_to_fj(1650) == pytest.approx(0.264, rel=2e-3)
    assert fj_to_ev(0.625) == pytest.approx(3900, rel=2e-3)
    with pytest.raises(ValueError, match="unknown time unit"):
        parse_quantity("3 parsecs", "time")


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_shipped_protocols_round_trip(name):
    protocol = load_protocol(name)
    assert Protocol.from_yaml(protocol.to_yaml()) == protocol
    assert Protocol.from_dict(protocol.to_dict()) == protocol
    encoded = MontyEncoder().encode(protocol)
    assert MontyDecoder().decode(encoded) == protocol
    assert protocol.hash() == Protocol.from_dict(protocol.to_dict()).hash()


def test_published_numbers():
    assert set(list_protocols()) >= PUBLISHED
    mushroom = load_protocol("mushroom_reset")
    pulse = mushroom.stage("pulse")
    assert pulse.ensemble == "nve" and pulse.duration == 30_000
    plan = {p.stage: p for p in mushroom.energy_plan()}
    assert plan["pulse"].injected == pytest.approx(1650)
    assert ev_to_fj(plan["pulse"].injected) == pytest.approx(0.264, rel=2e-3)
    assert mushroom.stage("relax").duration == 70_000
    strong = {p.stage: p for p in load_protocol("mushroom_reset_strong").energy_plan()}
    assert strong["pulse"].injected == pytest.approx(3900)
    cross = load_protocol("cross_point")
    plan = {p.stage: p for p in cross.energy_plan()}
    assert ev_to_fj(plan["pulse"].injected) == pytest.approx(60)
    assert plan["quench"].removed == pytest.approx(plan["pulse"].injected)
    assert cross.stage("pulse").duration == 10_000 and cross.stage("quench").duration == 40_000
    field = load_protocol("electromigration").stage("field")
    action = field.actions_of(ElectricField)[0]
    assert field.end_temperature == 1000 and action.strength == pytest.approx(0.03)
    assert action.charges["Ge"] * action.charges["Te"] < 0
    assert load_protocol("crystallisation_600K").stages[0].start_temperature == 600
    assert all(s.timestep == 2.0 for n in PUBLISHED for s in load_protocol(n).stages)


def test_schedules():
    ramp = Stage(name="r", ensemble="nvt", duration=1000, temperature={"start": 300, "end": 1300})
    assert isinstance(ramp.temperature, Ramp)
    assert ramp.temperature_at_step(0) == 300
    assert ramp.temperature_at_step(250) == pytest.approx(800)
    assert ramp.end_temperature == 1300
    steps = Stage(name="s", ensemble="nvt", duration="3 ps", temperature=[650, 600, "500 K"])
    assert isinstance(steps.temperature, Steps)
    pieces = steps.temperature_pieces()
    assert [(p.start_step, p.n_steps, p.start) for p in pieces] == [
        (0, 500, 650),
        (500, 500, 600),
        (1000, 500, 500),
    ]
    assert steps.temperature_at_step(501) == 600
    uneven = Stage(
        name="u", ensemble="nvt", duration=1000, temperature={"values": [300, 900], "durations": [200, 800]}
    )
    assert uneven.temperature_pieces()[1].n_steps == 400
    with pytest.raises(ValidationError, match="add up"):
        Stage(
            name="u",
            ensemble="nvt",
            duration=1000,
            temperature={"values": [300, 900], "durations": [200, 700]},
        )
    nve = Stage(name="n", ensemble="nve", duration=10)
    assert nve.temperature_pieces() == [] and nve.temperature_at_step(3) is None


def test_generators():
    mq = melt_quench(melt_temperature=1200, quench_temperature=300, quench_rate=10)
    assert mq.stage("quench").duration == 90_000
    assert mq.stage("quench").end_temperature == 300
    # a liquid hold between melt and quench; the quench then starts from the hold's temperature
    held = melt_quench(melt_temperature=1200, liquid_temperature=1000, liquid_duration=6000, quench_rate=500)
    assert [s.name for s in held.stages] == ["heat", "melt", "liquid", "quench", "anneal"]
    assert held.stage("liquid").duration == 6000 and held.stage("liquid").end_temperature == 1000
    assert held.stage("quench").duration == 1400  # 1000 -> 300 K at 500 K/ps
    assert "hold at 1000 K for 6 ps" in held.description
    assert [s.name for s in melt_quench(liquid_temperature=1000).stages] == [s.name for s in mq.stages]
    with pytest.raises(ProtocolError, match="liquid_duration"):
        melt_quench(liquid_temperature=1000, liquid_duration=-1)
    train = pulse_train(
        [(650, 100_000), (600, 50_000)], repeat=2, fixed="fixed", reset=ResetPulse(melt_temperature=1100)
    )
    names = [s.name for s in train.stages]
    assert names[:2] == ["pulse-reset-melt", "pulse-reset-quench"]
    sets = [s for s in train.stages if s.tag == "set"]
    assert [s.end_temperature for s in sets] == [650, 600, 650, 600]
    assert all(s.actions_of(FixAtoms) for s in train.stages)
    # the YAML form expands the same way
    yaml_train = Protocol.from_yaml(
        "stages:\n  - pulse_train:\n      pulses: [{temperature: 650, duration: 100 ps, count: 3}]\n"
        "      rest_duration: 10 ps\n"
    )
    assert [s.name for s in yaml_train.stages][-2:] == ["pulse-set-3", "pulse-rest-3"]


def test_action_shorthand_and_yaml_units():
    protocol = Protocol.from_yaml(
        "name: t\nstages:\n  - name: a\n    ensemble: nve\n    duration: 1 ps\n"
        "    actions:\n      - inject_energy: {rate: 2 eV/ps}\n      - fix_atoms:\n"
    )
    actions = protocol.stages[0].actions
    assert isinstance(actions[0], InjectEnergy) and actions[0].rate == 2
    assert isinstance(actions[1], FixAtoms) and actions[1].array == "fixed"


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        ({"name": "a", "ensemble": "nvt", "duration": 1001, "temperature": 300}, "whole number"),
        ({"name": "a", "ensemble": "nvt", "duration": 1000}, "needs a temperature"),
        (
            {
                "name": "a",
                "ensemble": "nve",
                "duration": 10,
                "actions": [{"kind": "inject_energy", "rate": 1, "energy": 2}],
            },
            "exactly one",
        ),
        (
            {"name": "a", "ensemble": "nve", "duration": 10, "actions": [{"kind": "remove_heat"}]},
            "injected nothing",
        ),
        ({"name": "a", "ensemble": "nvt", "duration": 10, "temperature": 9000}, "temperature ceiling"),
        ({"name": "a", "ensemble": "nvt", "duration": 10, "temperature": 300, "tempdamp": 3}, "tempdamp"),
        (
            {
                "name": "a",
                "ensemble": "npt",
                "duration": 10,
                "temperature": 300,
                "actions": [{"kind": "fix_atoms"}],
            },
            "not supported in npt",
        ),
        ({"name": "a", "ensemble": "nve", "duration": 10, "actions": [{"kind": "heat_up"}]}, "heat_up"),
        (
            {
                "name": "a",
                "ensemble": "nvt",
                "thermostat": "nose-hoover",
                "duration": 10,
                "temperature": {"start": 300, "end": 0},
            },
            "above 0 K",
        ),
    ],
)
def test_protocol_errors(stage, message):
    with pytest.raises(ValidationError, match=message):
        Protocol(stages=[stage])


def test_duplicate_stage_names():
    stage = {"name": "a", "ensemble": "nve", "duration": 10}
    with pytest.raises(ValidationError, match="repeated: a"):
        Protocol(stages=[stage, stage])


def test_validate_for_structure(slab_cell):
    good = Protocol(
        initial_temperature=300,
        stages=[
            Stage(
                name="pulse",
                ensemble="nve",
                duration=100,
                actions=[FixAtoms(), InjectEnergy(region="region", region_value=1, rate=1.0)],
            ),
        ],
    )
    good.validate_for(slab_cell)
    bare = slab_cell.copy()
    del bare.arrays["region"]
    with pytest.raises(ProtocolError, match="no per-atom array 'region'"):
        good.validate_for(bare)
    empty = good.model_copy(deep=True)
    empty.stages[0].actions[1].region_value = 7
    with pytest.raises(ProtocolError, match="no mobile atom selected"):
        empty.validate_for(slab_cell)
    field = Protocol(
        stages=[
            Stage(
                name="f",
                ensemble="nvt",
                temperature=300,
                duration=10,
                actions=[ElectricField(strength=0.03, charges={"Ge": 1, "Te": -1})],
            )
        ]
    )
    with pytest.raises(ProtocolError, match="no charge for Sb"):
        field.validate_for(slab_cell)
    hot = Protocol(
        initial_temperature=300,
        temperature_ceiling=3000,
        stages=[
            Stage(
                name="pulse",
                ensemble="nve",
                duration=1000,
                actions=[InjectEnergy(region="region", energy=500.0)],
            )
        ],
    )
    with pytest.raises(ProtocolError, match="above the temperature ceiling 3,000 K"):
        hot.validate_for(slab_cell)
    all_fixed = slab_cell.copy()
    all_fixed.arrays["fixed"][:] = True
    with pytest.raises(ProtocolError, match="every atom is fixed"):
        good.validate_for(all_fixed)


def test_scaled_and_graded(slab_cell):
    cross = load_protocol("cross_point")
    with pytest.raises(ProtocolError, match="above the temperature ceiling"):
        cross.validate_for(slab_cell)
    small = cross.scaled_to(len(slab_cell))
    small.validate_for(slab_cell)
    plan = {p.stage: p for p in small.energy_plan()}
    assert plan["pulse"].injected == pytest.approx(fj_to_ev(60) * 108 / 532_980)
    action = small.stage("pulse").actions_of(GradedInjection)[0]
    groups = graded_groups(slab_cell, action, 10_000.0)
    rates = np.array([r for _, r in groups])
    assert rates.sum() * 10_000.0 == pytest.approx(plan["pulse"].injected)
    per_atom = rates / np.array([m.sum() for m, _ in groups])
    assert per_atom[0] / per_atom[-1] == pytest.approx(
        (3 + (1 - 3) * 0.5 / len(groups)) / (3 + (1 - 3) * (1 - 0.5 / len(groups))), rel=0.3
    )
    assert np.all(np.diff(per_atom) < 0)
    assert isinstance(small.stage("quench").actions[0], RemoveHeat)


def test_heat_removal_beyond_the_heat_held_is_refused_before_running(slab_cell):
    # 108 atoms, about 100 mobile at 300 K hold about 3 k_B T N = 8 eV; 1 eV is injected
    def protocol(removed: float) -> Protocol:
        return Protocol(
            initial_temperature=300,
            stages=[
                Stage(
                    name="pulse",
                    ensemble="nve",
                    duration=100,
                    actions=[FixAtoms(), InjectEnergy(region="region", region_value=1, energy=1.0)],
                ),
                Stage(
                    name="quench",
                    ensemble="nve",
                    duration=100,
                    actions=[FixAtoms(), RemoveHeat(energy=removed)],
                ),
            ],
        )

    protocol(5.0).validate_for(slab_cell)  # within what the atoms hold
    with pytest.raises(ProtocolError, match="removing 20 eV needs more kinetic energy"):
        protocol(20.0).validate_for(slab_cell)


def test_exploration_protocols_hold_the_template():
    from ase import Atoms

    from gst_flows.md.protocol import melt_anneal, partial_melt
    from gst_flows.structures import build_crystallisation_cell

    crystallise = melt_anneal(
        melt_temperature=1500.0,
        melt_duration=600.0,
        quench_duration=200.0,
        anneal_temperature=600.0,
        anneal_duration=1200.0,
    )
    assert [s.name for s in crystallise.stages] == ["melt", "quench", "anneal"]
    assert crystallise.n_steps == 1000 and crystallise.initial_temperature == 1500.0
    quench = crystallise.stage("quench")
    assert (quench.start_temperature, quench.end_temperature) == (1500.0, 600.0)
    melting = partial_melt(start_temperature=600.0, end_temperature=1500.0, duration=2000.0)
    heat = melting.stages[0]
    assert heat.temperature_at_step(500) == pytest.approx(1050.0)
    cell = build_crystallisation_cell("GeTe", supercell=(1, 1, 1), crystal_bilayers=1)
    for protocol in (crystallise, melting):
        assert all(s.actions[0].array == "fixed" for s in protocol.stages)
        protocol.validate_for(cell)
        with pytest.raises(ProtocolError, match="no per-atom array 'fixed'"):
            protocol.validate_for(Atoms("GeTe", [[0, 0, 0], [3, 0, 0]], cell=cell.cell, pbc=True))
    assert partial_melt(fixed=None).stages[0].actions == []


def _inject_then_remove(removed: float) -> dict:
    return {
        "initial_temperature": 300,
        "stages": [
            {"name": "rest", "ensemble": "nve", "duration": 100},
            {
                "name": "pulse",
                "ensemble": "nve",
                "duration": 100,
                "actions": [{"fix_atoms": None}, {"inject_energy": {"region_value": 1, "energy": 1.0}}],
            },
            {"name": "quench", "ensemble": "nve", "duration": 100, "actions": [{"remove_heat": None}]},
            {
                "name": "cool",
                "ensemble": "nve",
                "duration": 100,
                "actions": [{"fix_atoms": None}, {"remove_heat": {"energy": removed}}],
            },
        ],
    }


@pytest.mark.parametrize("removed", [0.5, 20.0])
def test_validation_plans_the_energy_once(slab_cell, monkeypatch, removed):
    calls = []
    plan = Protocol.energy_plan

    def counted(self):
        calls.append(self.name)
        return plan(self)

    monkeypatch.setattr(Protocol, "energy_plan", counted)
    protocol = Protocol.model_validate(_inject_then_remove(removed))
    assert len(calls) == 1  # the model's own checks
    calls.clear()
    if removed > 1:  # more than the cool stage's atoms hold: the plan is read for the check
        with pytest.raises(ProtocolError, match="stage 'cool', remove_heat: removing 20 eV"):
            protocol.validate_for(slab_cell)
    else:
        protocol.validate_for(slab_cell)
    assert len(calls) == 1


def test_whole_steps_of_the_stage_and_of_its_sub_intervals():
    with pytest.raises(ValidationError, match="'a': duration 1001 fs is not a whole number of 2 fs"):
        Stage(name="a", ensemble="nvt", duration=1001, temperature=300)
    with pytest.raises(ValidationError, match="sub-interval of 501 fs is not a whole number of 2 fs"):
        Stage(name="a", ensemble="nvt", duration=1000, temperature=Steps(values=[3, 4], durations=[501, 499]))
    with pytest.raises(ValidationError, match="duration 1 fs is not a whole number of 2 fs timesteps"):
        Stage(name="a", ensemble="nve", duration=1)  # less than one step
    assert Stage(name="a", ensemble="nve", duration=0.6 + 0.2 + 0.2, timestep=0.2).n_steps == 5


def test_documents_written_before_the_package_split_load():
    # a GapMDMaker's protocol and run settings as jobflow stored them (monty jsanitize)
    stored = {
        "@module": "gst_flows.md.protocol",
        "@class": "Protocol",
        "@version": None,
        "name": "stored",
        "stages": [
            {"name": "melt", "ensemble": "nvt", "duration": 1000.0, "temperature": 1200.0},
            {
                "name": "quench",
                "ensemble": "nvt",
                "duration": 2000.0,
                "temperature": {"start": 1200.0, "end": 300.0},
                "actions": [{"kind": "fix_atoms", "array": "fixed"}],
            },
        ],
    }
    settings = {"@module": "gst_flows.md.protocol", "@class": "RunSettings", "frame_interval": 7}
    decoded = MontyDecoder().process_decoded({"protocol": stored, "settings": settings})
    assert isinstance(decoded["protocol"], Protocol)
    assert decoded["protocol"].stage("quench").actions == [FixAtoms()]
    assert decoded["settings"] == RunSettings(frame_interval=7)
    # and new documents keep naming the public module, wherever the class is defined
    assert decoded["protocol"].as_dict()["@module"] == "gst_flows.md.protocol"
    for obj in (decoded["protocol"], decoded["settings"], FixAtoms()):
        assert jsanitize(obj, strict=True)["@module"] == "gst_flows.md.protocol"


def test_public_classes_resolve_their_type_hints():
    import typing

    import gst_flows.md.protocol as package

    for name in package.__all__:
        obj = getattr(package, name)
        if isinstance(obj, type):
            assert obj.__module__ == "gst_flows.md.protocol"
            typing.get_type_hints(obj)  # their module is the package, not the defining file
