"""The cost estimate of an MD plan: measured force cost times the plan's atom-steps."""

import re
import time
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes

from gst_flows.md.cost import measure_force_cost, plan_core_hours
from tests.support.lammps import needs_lammps_plugin

SCENARIO_GAP = Path(__file__).parents[1] / "fixtures" / "scenario_gap" / "gap.xml"


class _Slow(Calculator):
    """Zero forces after ``delay`` seconds per atom; counts calls and the positions it saw."""

    implemented_properties = ("energy", "forces")

    def __init__(self, delay):
        super().__init__()
        self.delay, self.seen = delay, []

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.seen.append(atoms.positions.copy())
        time.sleep(self.delay * len(atoms))
        self.results = {"energy": 0.0, "forces": np.zeros((len(atoms), 3))}


def test_measured_cost_is_per_atom_and_evaluation():
    atoms = bulk("Ge", "diamond", a=5.66).repeat((2, 1, 1))  # 4 atoms
    calc = _Slow(delay=0.005)
    cost = measure_force_cost(calc, atoms, evaluations=3)
    # one warm-up and three timed calls, each on moved positions (nothing served from a cache)
    assert len(calc.seen) == 4
    assert all(not np.allclose(a, b) for a, b in zip(calc.seen, calc.seen[1:], strict=False))
    # the sleep is a floor on the time; the cost is per atom and per evaluation
    assert 0.005 <= cost.seconds_per_atom_step < 0.05
    assert cost.n_atoms == 4 and cost.evaluations == 3
    assert plan_core_hours(3600 / cost.seconds_per_atom_step, cost) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="empty"):
        measure_force_cost(calc, atoms[:0])


def test_scenario_check_prints_the_plans_core_hours(capsys):
    import argparse

    from gst_flows.commands import scenario as command

    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers(dest="command"))
    sizes = ["--set", "n_blocks=3", "--set", "in_plane=[2,2]"]
    args = parser.parse_args(["scenario", "cross-point", "--check", *sizes, "--potential", str(SCENARIO_GAP)])
    assert command.run(args) == 0
    out = capsys.readouterr().out
    steps = sum(int(n) for n in re.findall(r"(\d+) steps", out))
    atom_steps = int(re.search(r"plan: ([\d,]+) atom-steps", out).group(1).replace(",", ""))
    assert atom_steps == 168 * steps
    us = float(re.search(r"cost: ([\d,.]+) µs per atom-step", out).group(1).replace(",", ""))
    hours = float(re.search(r"≈ ([\d,.e+-]+) core-hours", out).group(1).replace(",", ""))
    assert hours == pytest.approx(atom_steps * us * 1e-6 / 3600, rel=0.05)


@needs_lammps_plugin
def test_lammps_cost_is_loop_time_per_atom_step(tmp_path):
    from gst_flows.md.cost import measure_lammps_cost
    from gst_flows.md.lammps import LammpsPotential
    from gst_flows.md.potential import gap_calculator
    from gst_flows.structures import build_rocksalt

    atoms = build_rocksalt("Ge1Sb2Te4", supercell=(4, 4, 4), seed=0)
    gap = measure_lammps_cost(LammpsPotential.gap(SCENARIO_GAP), atoms, steps=10, workdir=tmp_path / "gap")
    assert gap.n_atoms == len(atoms) and gap.evaluations == 10
    # the same GAP through quippy's ASE calculator costs about the same per atom and force call:
    # a cost not divided by the atoms or the steps would be off by 448x or 10x
    ase = measure_force_cost(gap_calculator(SCENARIO_GAP), atoms, evaluations=3)
    assert 0.2 < gap.seconds_per_atom_step / ase.seconds_per_atom_step < 5
    # a pair potential is far cheaper; a too-short first run is repeated with more steps
    lj = measure_lammps_cost(LammpsPotential.lennard_jones(), atoms, steps=5, seconds=0.3)
    assert lj.evaluations > 5
    assert lj.seconds_per_atom_step < gap.seconds_per_atom_step / 3
    with pytest.raises(ValueError, match="empty"):
        measure_lammps_cost(LammpsPotential.lennard_jones(), atoms[:0])


@needs_lammps_plugin
def test_scenario_check_times_the_lammps_engine(capsys):
    import argparse

    from gst_flows.commands import scenario as command

    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers(dest="command"))
    sizes = ["--set", "n_blocks=3", "--set", "in_plane=[2,2]"]
    argv = ["scenario", "cross-point", "--check", "--engine", "lammps", *sizes]
    argv += ["--potential", str(SCENARIO_GAP)]
    assert command.run(parser.parse_args(argv)) == 0
    out = capsys.readouterr().out
    assert "engine lammps" in out and "LAMMPS, quip" in out
    atom_steps = int(re.search(r"plan: ([\d,]+) atom-steps", out).group(1).replace(",", ""))
    us = float(re.search(r"cost: ([\d,.]+) µs per atom-step", out).group(1).replace(",", ""))
    hours = float(re.search(r"≈ ([\d,.e+-]+) core-hours", out).group(1).replace(",", ""))
    assert hours == pytest.approx(atom_steps * us * 1e-6 / 3600, rel=0.05)


def test_a_file_that_is_not_gap_xml_is_refused_before_quip_reads_it(tmp_path):
    """QUIP's XML parser ends the whole process (exit status 0) on a file that is not XML."""
    from gst_flows.md.potential import PotentialInfo, gap_calculator

    pod = tmp_path / "pod_coefficients.pod"
    pod.write_text("POD_coefficients: 12\n0.1\n")
    with pytest.raises(ValueError, match="not a GAP XML file"):
        gap_calculator(pod)
    assert gap_calculator(SCENARIO_GAP) is not None
    # MD documents stored before the field existed describe GAPs
    assert PotentialInfo(id="x", kind="gap_xml").backend == "gap"


def test_a_failed_job_is_named_with_its_error_line_not_the_trailing_input_line():
    import logging

    from gst_flows.execution import _FailureCollector

    collector = _FailureCollector()
    lammps = (
        "quench failed with exception:\nTraceback (most recent call last):\n  File 'x.py'\n"
        "gst_flows.md.lammps.runner.LammpsError: LAMMPS exited with code 1:\n"
        "ERROR: Fix heat kinetic energy went negative (src/fix_heat.cpp:197)\n"
        "Last input line: run 170 upto start 70 stop 170\n"
    )
    blowup = (
        lammps
        + "\nThe above exception was the direct cause:\n"
        + "gst_flows.md.results.MDBlowUpError: MD blew up at step 78\n"
    )
    for text in (lammps, blowup, "done"):
        collector.emit(logging.LogRecord("jobflow", logging.INFO, "", 0, text, None, None))
    assert collector.reasons == [
        "quench: ERROR: Fix heat kinetic energy went negative (src/fix_heat.cpp:197)",
        "quench: gst_flows.md.results.MDBlowUpError: MD blew up at step 78",
    ]
