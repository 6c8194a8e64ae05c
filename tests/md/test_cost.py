"""The cost estimate of an MD plan: measured force cost times the plan's atom-steps."""

import re
import time
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes

from gst_flows.md.cost import measure_force_cost, plan_core_hours

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
    us = float(re.search(r"cost: ([\d,]+) µs per atom-step", out).group(1).replace(",", ""))
    hours = float(re.search(r"≈ ([\d,.e+-]+) core-hours", out).group(1).replace(",", ""))
    assert hours == pytest.approx(atom_steps * us * 1e-6 / 3600, rel=0.05)
