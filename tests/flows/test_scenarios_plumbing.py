"""The full-size cross-point cell through LAMMPS: 532,980 atoms, the whole protocol's inputs,
a few steps of every stage with the Lennard-Jones stand-in, and the memory it takes.
"""

from __future__ import annotations

import re

import pytest

from gst_flows.flows.scenarios import CrossPointMaker, run_lammps_plumbing


@pytest.mark.slow
def test_full_size_cross_point_plumbing(tmp_path, capsys):
    result = run_lammps_plumbing(CrossPointMaker(size="full"), tmp_path, steps_per_stage=2)
    with capsys.disabled():
        print("\n" + result.summary())
    assert result.n_atoms == 532_980 and result.completed
    # the whole protocol: 5 ps NVT, 10 ps graded pulse, 40 ps heat removal
    assert result.inputs.n_steps == 27_500 and len(result.inputs.scripts) == 3
    pulse = result.inputs.scripts[1].read_text()
    assert len(re.findall(r"^fix gst_heat\d+ gst_heat\d+ heat 1 ", pulse, re.M)) == 10
    assert "run 7500 upto" in pulse
    quench = result.inputs.scripts[2].read_text()
    assert re.search(r"^fix gst_heat0 gst_heat0 heat 1 -", quench, re.M)
    assert "run 27500 upto" in quench
    # the short run put in and took out energy at the protocol's rates
    assert result.ledger["injected"] == pytest.approx(result.requested, rel=0.01)
    assert result.ledger["removed"] == pytest.approx(result.requested * 2 / 2 * 10 / 40, rel=0.01)
    assert [s["name"] for s in result.extra["stages"]] == ["equilibrate", "pulse", "quench"]
    assert 50 < result.lammps_peak_mb < 8000
    assert result.lammps_reported_mb is not None and result.lammps_reported_mb > 50
    assert result.python_peak_mb < 8000
