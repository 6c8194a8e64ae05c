"""The CP2K AIMD maker speaks the MD protocols' melt-quench."""

import pytest

import gst_flows.dft.cp2k_md
import gst_flows.md.protocol
from gst_flows.makers.dft import Cp2kAimdMaker
from gst_flows.md.protocol import ProtocolError, Stage, melt_anneal, melt_quench


def test_stages_from_a_melt_quench_protocol_match_its_temperatures_and_durations():
    protocol = melt_quench(
        melt_temperature=1100,
        melt_duration=1000,
        quench_temperature=300,
        quench_rate=400,  # K/ps: a 2 ps quench
        heat_from=None,
        anneal_duration=500,
        timestep=1.0,
    )
    maker = Cp2kAimdMaker.from_protocol(protocol, 2.0, ramp_stages=4, snapshot_interval=25)
    assert maker.timestep == 2.0
    assert maker.stages == [
        (1100.0, 500),
        (900.0, 250),
        (700.0, 250),
        (500.0, 250),
        (300.0, 250),
        (300.0, 250),
    ]
    # Holds keep their temperature, every stage its duration in fs, the quench its end point.
    melt, quench, anneal = protocol.stages
    fs = [steps * maker.timestep for _, steps in maker.stages]
    assert maker.stages[0][0] == melt.end_temperature and fs[0] == melt.duration
    assert sum(fs[1:5]) == quench.duration and maker.stages[4][0] == quench.end_temperature
    assert maker.stages[5][0] == anneal.end_temperature and fs[5] == anneal.duration
    assert sum(fs) == protocol.duration
    assert maker.thermostat_timecon == melt.tdamp


def test_melt_quench_is_built_through_the_shared_protocol(monkeypatch):
    calls = []
    shared = gst_flows.md.protocol.melt_quench

    def spy(**kwargs):
        calls.append(kwargs)
        return shared(**kwargs)

    monkeypatch.setattr(gst_flows.md.protocol, "melt_quench", spy)
    maker = Cp2kAimdMaker.melt_quench(melt_steps=1000, quench_steps=1000, n_quench_stages=4)
    assert len(calls) == 1
    assert maker.stages == [(1200.0, 1000), (975.0, 250), (750.0, 250), (525.0, 250), (300.0, 250)]
    same = Cp2kAimdMaker.from_protocol(shared(**calls[0]), ramp_stages=4)
    assert same.stages == maker.stages and same.timestep == maker.timestep == 2.0


def test_unsupported_protocols_are_refused_before_any_compute(monkeypatch):
    def no_compute(*args, **kwargs):
        raise AssertionError("CP2K must not run")

    monkeypatch.setattr(gst_flows.dft.cp2k_md, "run_aimd", no_compute)
    with pytest.raises(ProtocolError, match="fix_atoms"):
        Cp2kAimdMaker.from_protocol(melt_anneal())
    with pytest.raises(ProtocolError, match="inject_energy"):
        Cp2kAimdMaker.from_protocol("mushroom_reset")
    with pytest.raises(ProtocolError, match="barostat"):
        Cp2kAimdMaker.from_protocol("heating_npt")
    two_tdamps = gst_flows.md.protocol.Protocol(
        stages=[
            Stage(name="a", ensemble="nvt", duration=100, temperature=900, tdamp=50),
            Stage(name="b", ensemble="nvt", duration=100, temperature=300),
        ]
    )
    with pytest.raises(ProtocolError, match="thermostat time constants"):
        Cp2kAimdMaker.from_protocol(two_tdamps)
    chosen = Cp2kAimdMaker.from_protocol(two_tdamps, thermostat_timecon=80.0, snapshot_interval=10)
    assert chosen.thermostat_timecon == 80.0 and chosen.stages == [(900.0, 50), (300.0, 50)]
    with pytest.raises(TypeError, match="not both"):
        Cp2kAimdMaker.from_protocol(two_tdamps, stages=[(300.0, 100)])


def test_stage_lists_still_work_and_protocol_makers_serialise():
    maker = Cp2kAimdMaker(stages=[(1000.0, 100), (500.0, 100)], snapshot_interval=50)
    assert maker.stages == [(1000.0, 100), (500.0, 100)]
    with pytest.raises(ValueError, match="multiple of snapshot_interval"):
        Cp2kAimdMaker(stages=[(1000.0, 120)], snapshot_interval=50)
    built = Cp2kAimdMaker.from_protocol("melt_quench", snapshot_interval=25)
    again = Cp2kAimdMaker.from_dict(built.as_dict())
    assert [tuple(s) for s in again.stages] == built.stages
    assert again.timestep == built.timestep
