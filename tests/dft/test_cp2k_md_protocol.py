"""AIMD stages from MD protocols: one description of a melt-quench for CP2K and GAP-MD."""

import pytest

from gst_flows.dft.cp2k_md import AimdStage, stages_from_protocol
from gst_flows.md.protocol import (
    InjectEnergy,
    Protocol,
    ProtocolError,
    Stage,
    load_protocol,
    melt_anneal,
    melt_quench,
    pulse_train,
)


def _durations(stages, timestep):
    return [s.steps * timestep for s in stages]


def test_melt_quench_protocol_becomes_holds_and_a_staircase():
    protocol = melt_quench(
        melt_temperature=1200,
        melt_duration=2000,
        quench_temperature=300,
        quench_rate=450,  # K/ps: a 2 ps quench
        heat_from=600,
        heat_duration=1000,
        anneal_duration=400,
        timestep=2.0,
    )
    stages = stages_from_protocol(protocol, ramp_stages=3)
    heat = [AimdStage(800.0, 166), AimdStage(1000.0, 167), AimdStage(1200.0, 167)]
    quench = [AimdStage(900.0, 333), AimdStage(600.0, 333), AimdStage(300.0, 334)]
    assert stages == [*heat, AimdStage(1200.0, 1000), *quench, AimdStage(300.0, 200)]
    # Every protocol stage keeps its duration (fs) and its end temperature.
    assert sum(_durations(stages, 2.0)) == protocol.duration == 5400
    assert sum(_durations(stages[:3], 2.0)) == protocol.stage("heat").duration
    assert sum(_durations(stages[4:7], 2.0)) == protocol.stage("quench").duration
    assert stages[6].temperature == protocol.stage("quench").end_temperature


def test_another_timestep_keeps_the_durations():
    protocol = melt_quench(melt_duration=1000, quench_rate=900, heat_from=None, anneal_duration=0)
    at_two = stages_from_protocol(protocol, ramp_stages=2)
    at_one = stages_from_protocol(protocol, timestep=1.0, ramp_stages=2)
    assert [s.temperature for s in at_one] == [s.temperature for s in at_two] == [1200.0, 750.0, 300.0]
    assert [s.steps for s in at_one] == [2 * s.steps for s in at_two] == [1000, 500, 500]
    with pytest.raises(ProtocolError, match="whole number of 3 fs timesteps"):
        stages_from_protocol(protocol, timestep=3.0)


def test_shipped_protocol_and_temperature_steps_and_set_pulses():
    shipped = stages_from_protocol("melt_quench")  # initial_temperature = start of the heating
    assert sum(_durations(shipped, 2.0)) == load_protocol("melt_quench").duration
    stepped = Protocol(stages=[Stage(name="s", ensemble="nvt", duration=300, temperature=[900, 600, 300])])
    assert stages_from_protocol(stepped) == [AimdStage(900.0, 50), AimdStage(600.0, 50), AimdStage(300.0, 50)]
    # A train of SET pulses without actions is a sequence of holds CP2K can run.
    train = stages_from_protocol(pulse_train([(650, 1000)], repeat=2, rest_duration=200), ramp_stages=1)
    assert [s.temperature for s in train][-4:] == [650.0, 300.0, 650.0, 300.0]


@pytest.mark.parametrize(
    ("protocol", "message"),
    [
        (melt_anneal(melt_duration=100, quench_duration=100, anneal_duration=100), "fix_atoms"),
        ("mushroom_reset", "inject_energy"),
        ("heating_npt", "barostat"),
        (Protocol(stages=[Stage(name="e", ensemble="nve", duration=10, temperature=300)]), "nve"),
        (
            Protocol(
                initial_temperature=600,
                stages=[Stage(name="h", ensemble="nvt", duration=10, temperature=300)],
            ),
            "initial_temperature",
        ),
        (
            Protocol(
                stages=[
                    Stage(name="a", ensemble="nvt", duration=10, temperature=300),
                    Stage(name="b", ensemble="nvt", duration=10, timestep=1.0, temperature=300),
                ]
            ),
            "several timesteps",
        ),
        (
            Protocol(
                stages=[Stage(name="q", ensemble="nvt", duration=10, temperature={"start": 300, "end": 0})]
            ),
            "above 0 K",
        ),
    ],
)
def test_what_cp2k_aimd_cannot_run_is_refused(protocol, message):
    with pytest.raises(ProtocolError, match=message):
        stages_from_protocol(protocol)


def test_every_problem_is_named_at_once():
    inject = InjectEnergy(region="region", rate=10.0)
    protocol = Protocol(
        stages=[
            Stage(name="pulse", ensemble="nve", duration=10, temperature=300, actions=[inject]),
            Stage(name="hold", ensemble="npt", duration=10, temperature=300),
        ]
    )
    with pytest.raises(ProtocolError) as info:
        stages_from_protocol(protocol)
    text = str(info.value)
    assert (
        "'pulse' is nve" in text and "'pulse' has actions (inject_energy)" in text and "'hold' is npt" in text
    )
