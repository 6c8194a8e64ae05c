"""The RMSE ratio of two potentials on the same frames, with its paired bootstrap interval."""

from __future__ import annotations

import numpy as np
import pytest

from gst_flows.fit import Predictions, error_table, rmse_ratio


def _predictions(energy_errors, force_errors=None, n_atoms=5, seed=0):
    """Predictions whose per-atom energy errors and force errors are the given ones."""
    rng = np.random.default_rng(seed)
    n = len(energy_errors)
    e_ref = list(-4.0 * n_atoms + rng.normal(size=n))
    f_ref = [rng.normal(size=(n_atoms, 3)) for _ in range(n)]
    force_errors = force_errors if force_errors is not None else [np.zeros((n_atoms, 3))] * n
    return Predictions(
        config_types=["crystal"] * n,
        n_atoms=[n_atoms] * n,
        energy_ref=e_ref,
        energy_pred=[e + n_atoms * d for e, d in zip(e_ref, energy_errors, strict=True)],
        forces_ref=f_ref,
        forces_pred=[f + d for f, d in zip(f_ref, force_errors, strict=True)],
        virial_ref=[None] * n,
        virial_pred=[None] * n,
    )


def test_the_ratio_is_that_of_the_error_tables():
    rng = np.random.default_rng(1)
    a = _predictions(rng.normal(0, 0.02, 12), [rng.normal(0, 0.3, (5, 3)) for _ in range(12)])
    b = _predictions(rng.normal(0, 0.01, 12), [rng.normal(0, 0.2, (5, 3)) for _ in range(12)])
    ta, tb = error_table(a)["all"], error_table(b)["all"]
    energy, forces = rmse_ratio(a, b), rmse_ratio(a, b, "forces")
    assert energy.ratio == pytest.approx(ta.energy_rmse / tb.energy_rmse, rel=1e-12)
    assert forces.ratio == pytest.approx(ta.force_rmse / tb.force_rmse, rel=1e-12)
    for r in (energy, forces):
        assert r.low <= r.ratio <= r.high and r.n_structures == 12 and r.level == 0.9


def test_errors_proportional_frame_by_frame_give_a_sharp_ratio():
    """Twice the other's error on every frame: every resample says 2, whatever the spread."""
    errors = np.random.default_rng(2).normal(0, 0.02, 8)
    r = rmse_ratio(_predictions(2 * errors), _predictions(errors))
    assert r.ratio == pytest.approx(2.0) and r.low == pytest.approx(2.0) and r.high == pytest.approx(2.0)


def test_few_frames_give_a_wide_interval_and_more_frames_a_narrow_one():
    """Independent errors of 1.5 times the scale: eight frames cannot tell 1.5 from 2."""
    rng = np.random.default_rng(3)
    widths = {}
    for n in (8, 200):
        a, b = _predictions(rng.normal(0, 0.015, n)), _predictions(rng.normal(0, 0.010, n))
        r = rmse_ratio(a, b)
        widths[n] = r.high - r.low
        assert r.low <= r.ratio <= r.high
    assert widths[8] > 0.8  # 1.5x on eight frames spans more than 1.1-1.9
    assert widths[200] < 0.5 * widths[8]
    r = rmse_ratio(_predictions(rng.normal(0, 0.015, 200)), _predictions(rng.normal(0, 0.010, 200)))
    assert r.low < 1.5 < r.high and r.high < 2.0


def test_predictions_of_other_frames_are_refused():
    a = _predictions([0.01, 0.02, 0.03])
    with pytest.raises(ValueError, match="same frames"):
        rmse_ratio(a, _predictions([0.01, 0.02, 0.03], seed=9))
    with pytest.raises(ValueError, match="same frames"):
        rmse_ratio(a, _predictions([0.01, 0.02]))
    with pytest.raises(ValueError, match="energy' or 'forces"):
        rmse_ratio(a, a, "virial")
    with pytest.raises(ValueError, match="level"):
        rmse_ratio(a, a, level=1.0)
