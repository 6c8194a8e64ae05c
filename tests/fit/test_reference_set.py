"""The shipped quasi-binary reference set: what it spans, that nothing trains on it, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

from gst_flows.dft.cp2k import Cp2kSettings
from gst_flows.fit.data import FORCES_KEY
from gst_flows.fit.fit import fit_gap
from gst_flows.fit.metrics import ALL
from gst_flows.fit.reference import load_reference_set, reference_errors
from gst_flows.hashing import structure_hash
from gst_flows.md.potential import gap_calculator

CRYSTALS = {
    "GeTe rock-salt",
    "Ge2Sb2Te5 rock-salt",
    "Ge1Sb2Te4 rock-salt",
    "Sb2Te3 rock-salt",
    "GeTe R3m",
    "Ge2Sb2Te5 trigonal",
    "Ge1Sb2Te4 trigonal",
    "Sb2Te3 trigonal",
    "Ge diamond",
}
LIQUIDS = {"GeTe liquid", "Ge2Sb2Te5 liquid"}


@pytest.fixture(scope="module")
def reference():
    return load_reference_set()


def test_the_set_spans_the_quasi_binary_line_with_default_protocol_labels(reference):
    names = [frame.info["name"] for frame in reference]
    assert set(names) == CRYSTALS | LIQUIDS
    assert sum(name in LIQUIDS for name in names) == 4
    assert {frame.info["config_type"] for frame in reference} == {"rocksalt", "trigonal", "diamond", "liquid"}
    # labelled with today's default protocol: a change of the defaults must rebuild the set
    assert {frame.info["settings_hash"] for frame in reference} == {Cp2kSettings().settings_hash()}
    for frame in reference:
        assert frame.arrays[FORCES_KEY].shape == (len(frame), 3)
        assert abs(frame.arrays[FORCES_KEY].sum(axis=0)).max() < 0.05  # DFT forces sum to ~0


def test_liquid_frames_are_hot_and_disordered(reference):
    """The liquid frames carry the large forces of a 1,000 K liquid; the rattled crystals do not."""

    def rms(frames):
        return float(np.sqrt(np.mean(np.concatenate([f.arrays[FORCES_KEY] for f in frames]) ** 2)))

    liquid = [f for f in reference if f.info["config_type"] == "liquid"]
    crystal = [f for f in reference if f.info["config_type"] != "liquid"]
    assert rms(liquid) > 1.3 * rms(crystal)
    for frame in liquid:
        distances = frame.get_all_distances(mic=True)[np.triu_indices(len(frame), 1)]
        assert distances.min() > 1.9  # no overlap (bonds 2.4-2.9 Å; hot frames come to ~2.1 Å)


def test_no_profile_trains_on_the_reference_set(reference):
    from gst_flows.flows.profiles import active_learning_setup

    shipped = {structure_hash(frame) for frame in reference}
    for profile in ("small", "full"):
        setup = active_learning_setup(profile, "t")
        used = [*setup.initial, *setup.held_out, *setup.explore, *setup.device, *setup.aimd]
        assert not shipped & {structure_hash(atoms) for atoms in used}


def test_reference_errors_per_group_pool_to_the_overall_row(cp2k_frames, tiny_hp, tmp_path):
    calculator = gap_calculator(fit_gap(cp2k_frames, tiny_hp, tmp_path, timeout_s=300).potential_path)
    by_type = reference_errors(calculator)
    assert set(by_type) == {"rocksalt", "trigonal", "diamond", "liquid", ALL}
    by_name = reference_errors(calculator, by="name")
    assert len(by_name) == len(CRYSTALS | LIQUIDS) + 1
    for table in (by_type, by_name):
        rows = [row for key, row in table.items() if key != ALL]
        pooled = sum(row.force_rmse**2 * row.n_force_components for row in rows)
        n = sum(row.n_force_components for row in rows)
        assert table[ALL].force_rmse == pytest.approx(np.sqrt(pooled / n))
        assert table[ALL].force_rmse > 0
    both = reference_errors(calculator, by=("config_type", "name"))
    assert both["name"][ALL].force_rmse == pytest.approx(by_name[ALL].force_rmse)
    assert both["config_type"]["liquid"].force_rmse == pytest.approx(by_type["liquid"].force_rmse)
    with pytest.raises(ValueError, match="group the reference errors"):
        reference_errors(calculator, by="formula")
