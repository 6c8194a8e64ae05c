from __future__ import annotations

import re

import pytest

from gst_flows.fit import (
    FitInputError,
    FitMemoryError,
    ThreeBodyParams,
    check_memory,
    count_descriptors,
    estimate_fit_memory,
    fit_gap,
    gap_fit_executable,
    prepare_fit,
    run_gap_fit,
    write_gap_fit_extxyz,
)
from gst_flows.fit.gap_fit import gap_fit_parameters, render_config


def _gap_fit_report(log: str) -> list[tuple[str, int, int]]:
    """(descriptor string, descriptors, derivatives) from gap_fit's report."""
    pattern = re.compile(
        r"Descriptor \d+: (.*?)\nNumber of descriptors:\s+(\d+)\n"
        r"Number of partial derivatives of descriptors:\s+(\d+)"
    )
    return [(d.strip(), int(n), int(g)) for d, n, g in pattern.findall(log)]


@pytest.mark.parametrize("three_body", [False, True])
def test_counts_match_gap_fit(tmp_path, frames, tiny_hp, three_body):
    """Our descriptor counts equal those gap_fit reports (dry run: no fit)."""
    hp = tiny_hp
    if three_body:
        hp = hp.updated({"three_body": "on", "three_body.n_sparse": "2", "strict_n_sparse": "false"})
    e0, counts, _ = prepare_fit(frames, hp)
    write_gap_fit_extxyz(frames, tmp_path / "train.xyz")
    params = gap_fit_parameters(counts, hp, e0, "train.xyz", "gap.xml")
    params["dryrun"] = "T"
    (tmp_path / "gap_fit.config").write_text(render_config(params))
    run = run_gap_fit([gap_fit_executable(), "config_file=gap_fit.config"], tmp_path, timeout_s=120)
    report = _gap_fit_report(run.log_path.read_text())
    assert len(report) == len(counts.descriptors)
    for ours, (string, n, g) in zip(counts.descriptors, report, strict=True):
        assert ours.n_descriptors == n, (ours.label, string)
        assert ours.n_cross == g, (ours.label, string)
    assert run.version and run.version.startswith("v0.")
    assert run.gap_fit_estimate_bytes > 0


def test_empty_species_combinations_are_left_out(frames, tiny_hp):
    # Ge-Ge-Sb angles need a Ge with Ge and Sb neighbours within 2.5 Å: none in rock salt.
    hp = tiny_hp.updated({"three_body": "on"})
    hp.three_body = ThreeBodyParams(cutoff=3.5, n_sparse=1)
    counts = count_descriptors(frames, hp)
    assert "three_body[Ge-Ge-Sb]" in counts.empty
    assert all(d.n_descriptors > 0 for d in counts.descriptors)


def test_estimate_grows_with_soap_size_and_data(frames, tiny_hp):
    small = estimate_fit_memory(frames, tiny_hp)
    bigger_soap = estimate_fit_memory(frames, tiny_hp.updated({"soap.n_max": "6", "soap.l_max": "4"}))
    more_data = estimate_fit_memory(frames + frames, tiny_hp)
    assert bigger_soap.total_bytes > 2 * small.descriptor_bytes
    assert bigger_soap.descriptor_bytes > 5 * small.descriptor_bytes
    assert more_data.descriptor_bytes == pytest.approx(2 * small.descriptor_bytes, rel=0.01)
    assert small.dominant == "descriptors"


def test_memory_limit_refuses_with_estimate_and_advice(frames, tiny_hp, tmp_path):
    estimate = estimate_fit_memory(frames, tiny_hp)
    check_memory(estimate, estimate.total_bytes + 1)
    with pytest.raises(FitMemoryError) as info:
        check_memory(estimate, 10 * 1024**2)
    message = str(info.value)
    assert "would need about" in message
    assert "above the limit of 10.00 MiB" in message
    assert "soap.n_max" in message
    assert info.value.estimate is estimate
    # fit_gap refuses before writing or running anything.
    with pytest.raises(FitMemoryError):
        fit_gap(frames, tiny_hp, tmp_path / "refused", memory_limit_bytes=10 * 1024**2)
    assert not (tmp_path / "refused").exists()


def test_covariance_dominated_advice(frames, tiny_hp):
    hp = tiny_hp.updated({"soap.n_max": "1", "soap.l_max": "0", "strict_n_sparse": "false"})
    hp.soap.n_sparse = 10_000
    hp.two_body.n_sparse = 10_000
    estimate = estimate_fit_memory(frames, hp)
    assert estimate.dominant == "covariance"
    assert "reduce n_sparse" in estimate.advice()


def test_n_sparse_larger_than_data(frames, tiny_hp):
    hp = tiny_hp.updated({"soap.n_sparse": "1000"})
    with pytest.raises(FitInputError, match=r"n_sparse is larger than the data: soap\[Ge\] asks for 1000"):
        prepare_fit(frames, hp)
    relaxed = hp.updated({"strict_n_sparse": "false"})
    _, counts, _ = prepare_fit(frames, relaxed)
    soap = {d.label: d for d in counts.descriptors if d.term == "soap"}
    assert soap["soap[Sb]"].n_sparse == soap["soap[Sb]"].n_descriptors < 1000
