"""Arithmetic of protocol convergence: differences, ladder order, the coarsest converged value."""

import numpy as np
import pytest

from gst_flows.dft.convergence import (
    LabelDifference,
    coarsest_converged,
    label_difference,
    order_ladder,
)


def test_label_difference_by_hand():
    reference = np.array([[0.10, 0.00, -0.20], [0.00, 0.30, 0.00]])
    forces = reference + np.array([[0.03, 0.0, 0.0], [0.0, -0.04, 0.0]])
    stress = np.diag([1.0, 1.0, 1.0])
    diff = label_difference(-200.002, forces, -200.0, reference, stress, stress + 0.25 * np.eye(3))
    assert diff.energy == pytest.approx(-1.0)  # -2 meV over 2 atoms
    assert diff.force_rms == pytest.approx(np.sqrt((0.03**2 + 0.04**2) / 6))
    assert diff.force_max == pytest.approx(0.04)
    assert diff.stress_max == pytest.approx(0.25)
    assert label_difference(1.0, forces, 1.0, forces).force_rms == 0.0
    assert label_difference(1.0, forces, 1.0, forces, stress, None).stress_max is None


def test_label_difference_refuses_other_structures():
    with pytest.raises(ValueError, match="not of one structure"):
        label_difference(0.0, np.zeros((3, 3)), 0.0, np.zeros((2, 3)))


def test_order_ladder_puts_the_tightest_last():
    assert order_ladder("kpoint_spacing", [0.2, 0.35, 0.12, 0.25, 0.2]) == [0.35, 0.25, 0.2, 0.12]
    assert order_ladder("cutoff", [400, 300, 600]) == [300, 400, 600]
    assert order_ladder("smearing_temperature", [300, 1000, 500]) == [1000, 500, 300]
    with pytest.raises(ValueError, match="two distinct"):
        order_ladder("cutoff", [300, 300])
    with pytest.raises(ValueError, match="no convergence ladder"):
        order_ladder("basis", [1, 2])
    with pytest.raises(ValueError, match="positive"):
        order_ladder("kpoint_spacing", [0.2, -0.1])


def _diff(energy, force_rms):
    return LabelDifference(energy, force_rms, force_rms * 3, None)


def test_coarsest_converged_needs_every_tighter_value_within():
    values = [0.35, 0.3, 0.25, 0.2, 0.12]
    # 0.35 happens to land close to the reference, 0.3 does not: 0.25 is the answer.
    diffs = [_diff(0.1, 0.005), _diff(-0.9, 0.004), _diff(0.4, 0.009), _diff(0.2, 0.003), _diff(0, 0)]
    assert coarsest_converged(values, diffs, 0.5, 0.01) == 0.25
    # A force difference above tolerance stops the ladder too.
    diffs[2] = _diff(0.4, 0.011)
    assert coarsest_converged(values, diffs, 0.5, 0.01) == 0.2
    # The label next to the reference outside (or missing): nothing is converged.
    diffs[3] = None
    assert coarsest_converged(values, diffs, 0.5, 0.01) is None
    assert coarsest_converged([0.3, 0.2], [_diff(0, 0), _diff(0, 0)], 0.5, 0.01) == 0.3
