"""Real gap_fit runs on the CP2K-labelled fixture (a few seconds each)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from gst_flows.fit import (
    GapFitError,
    GapFitTimeoutError,
    error_table,
    fit_gap,
    format_error_table,
    gap_fit_executable,
    parity_plots,
    predict,
    run_gap_fit,
    split_by_structure,
)
from gst_flows.fit.gap_fit import potential_files
from gst_flows.md.potential import gap_calculator


@pytest.fixture(scope="module")
def fitted(cp2k_frames, tmp_path_factory, tiny_hp_factory):
    """One tiny fit on the CP2K fixture, shared by the tests of this module."""
    hp = tiny_hp_factory()
    train, test = split_by_structure(cp2k_frames, test_fraction=0.25, seed=0)
    lines: list[str] = []
    result = fit_gap(train, hp, tmp_path_factory.mktemp("fit"), timeout_s=300, on_line=lines.append)
    return result, train, test, lines


def test_fit_produces_a_working_potential(fitted):
    result, _, _, lines = fitted
    assert result.run.returncode == 0
    assert result.potential_path.name == "gap.xml"
    assert len(result.files) == 1 + len(result.counts.descriptors)
    assert all(p.parent == result.potential_path.parent for p in result.files)
    assert result.command[-1] == "config_file=gap_fit.config"
    assert (result.directory / "gap_fit.config").read_text() == result.config_text
    assert "Bye-Bye" in (result.directory / "gap_fit.log").read_text()
    assert any("Bye-Bye" in line for line in lines)  # log streamed while running
    assert result.run.version.startswith("v0.10")
    assert result.run.peak_memory_bytes > 10 * 1024**2
    assert result.run.wall_time_s > 0


@pytest.fixture(scope="module")
def calc(fitted):
    """The fitted potential as a calculator (loading one takes seconds)."""
    return gap_calculator(fitted[0].potential_path)


def test_errors_are_sane(fitted, calc):
    _, train, test, _ = fitted
    train_table = error_table(predict(train, calc))
    test_table = error_table(predict(test, calc))
    print(format_error_table(train_table, "train"))
    print(format_error_table(test_table, "test"))
    assert set(train_table) >= {"crystal", "rattled", "all"}
    # A tiny GAP (8 sparse points per species) on 12 small cells: loose bounds, still far
    # below the spread of the labels (rattled cells carry forces up to 8 eV/Å).
    assert train_table["all"].energy_rmse < 0.005  # eV/atom
    assert train_table["crystal"].force_rmse < 0.15  # eV/Å
    assert train_table["all"].force_rmse < 0.3
    assert test_table["all"].energy_rmse < 0.03
    assert test_table["all"].force_rmse < 0.3
    force_spread = np.std(np.concatenate([f.arrays["REF_forces"].ravel() for f in test]))
    assert test_table["all"].force_rmse < 0.5 * force_spread  # predicting zero forces: ~1.0
    # Virials: same sign convention as the labels, or the error would exceed their spread.
    virial_spread = np.std([f.info["REF_virial"] / len(f) for f in train if len(f) > 1])
    assert train_table["all"].virial_rmse < 0.5 * virial_spread


def test_isolated_atoms_give_e0(calc, cp2k_frames):
    for frame in cp2k_frames:
        if frame.info["config_type"] == "isolated_atom":
            atoms = frame.copy()
            atoms.calc = calc
            assert atoms.get_potential_energy() == pytest.approx(frame.info["REF_energy"], abs=1e-3)


def test_potential_moves_with_its_sparse_files(fitted, calc, tmp_path, cp2k_frames):
    """Copied elsewhere (as from the data store), the potential gives identical energies."""
    result, *_ = fitted
    for path in potential_files(result.potential_path):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    here = os.getcwd()
    try:
        os.chdir("/")
        moved = gap_calculator(tmp_path / "gap.xml")
        frame = next(f for f in cp2k_frames if len(f) > 1).copy()
        frame.calc = calc
        e1 = frame.get_potential_energy()
        frame.calc = moved
        assert frame.get_potential_energy() == e1
    finally:
        os.chdir(here)


def test_parity_plots(fitted, calc, tmp_path):
    _, _, test, _ = fitted
    preds = predict(test, calc)
    paths = parity_plots(preds, tmp_path, title="test")
    assert set(paths) == {"energy", "forces"}
    for path in paths.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 5000


def test_gap_fit_failure_reports_log_tail(tmp_path):
    (tmp_path / "bad.config").write_text("at_file=missing.xyz\ngap_file=x.xml\n")
    with pytest.raises(GapFitError, match="gap_fit failed with exit code") as info:
        run_gap_fit([gap_fit_executable(), "config_file=bad.config"], tmp_path, timeout_s=60)
    assert str(tmp_path) in str(info.value)


def test_timeout_kills_gap_fit(tmp_path):
    script = tmp_path / "slow.sh"
    script.write_text("#!/bin/sh\necho started\nsleep 30\n")
    script.chmod(0o755)
    with pytest.raises(GapFitTimeoutError, match="time limit of 1 s"):
        run_gap_fit([str(script)], tmp_path, timeout_s=1.0, poll_interval_s=0.05)
    assert "started" in Path(tmp_path / "gap_fit.log").read_text()


def test_peak_memory_is_that_of_the_child(tmp_path):
    """The measured peak is gap_fit's own, not the parent's resident size."""
    script = tmp_path / "alloc.py"
    script.write_text("b = bytearray(200 * 1024 * 1024)\nb[::4096] = b'x' * len(b[::4096])\n")
    import sys

    run = run_gap_fit([sys.executable, "-S", str(script)], tmp_path, timeout_s=60)
    assert 200 * 1024**2 < run.peak_memory_bytes < 260 * 1024**2


def test_missing_sparse_file_is_reported(fitted, tmp_path):
    result, *_ = fitted
    (tmp_path / "gap.xml").write_bytes(result.potential_path.read_bytes())
    with pytest.raises(GapFitError, match=r"refers to missing file gap\.xml\.sparseX"):
        potential_files(tmp_path / "gap.xml")
    with pytest.raises(GapFitError, match="wrote no potential file"):
        potential_files(tmp_path / "none.xml")


def test_log_parsing():
    from gst_flows.fit.gap_fit import parse_gap_fit_log

    text = (
        "libAtoms::Hello World: git version  https://github.com/libAtoms/QUIP,v0.10.3-dirty\n"
        "Peak1 1391 MB\nPeak2 50 MB\nPEAK  1391 MB\n"
    )
    info = parse_gap_fit_log(text)
    assert info == {"version": "v0.10.3-dirty", "estimate_bytes": 1391 * 1024**2}
    assert parse_gap_fit_log("nothing") == {"version": None, "estimate_bytes": None}


def test_one_gap_loader(tmp_path):
    from gst_flows.fit import load_gap_calculator

    assert load_gap_calculator is gap_calculator  # the old name is the MD layer's loader
    with pytest.raises(FileNotFoundError, match="no GAP file"):
        gap_calculator(tmp_path / "missing.xml")
