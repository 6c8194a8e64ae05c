"""The convergence flow with real CP2K on a 7-atom cell and cheap ladders."""

import pytest
from ase.io import write

from gst_flows.cli import main
from gst_flows.execution import run_local
from gst_flows.flows.convergence import Cp2kConvergenceMaker
from gst_flows.makers.dft import Cp2kLabelMaker
from gst_flows.structures import build_rocksalt
from tests.conftest import FAST_CP2K, requires_cp2k

pytestmark = [pytest.mark.slow, pytest.mark.cp2k, requires_cp2k]


def test_differences_shrink_toward_the_tightest_and_labels_are_reused(gst_home, tmp_path, capsys):
    cell = build_rocksalt("Ge1Sb2Te4", seed=3)
    cell.rattle(0.06, seed=7)
    path = tmp_path / "cell.extxyz"
    write(path, cell)
    # Base protocol at 0.6 Å⁻¹ (2x2x2); k ladder 2x2x2, 3x3x3, 4x4x4; cutoff 200 vs 300 Ry.
    args = [
        "converge",
        str(path),
        "--kspacing",
        "0.6",
        "0.4",
        "0.3",
        "--cutoff",
        "200",
        "300",
        "--set",
        f"kpoint_spacing={FAST_CP2K['kpoint_spacing']}",
        "--tag",
        "conv-test",
    ]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "kpoint_spacing: coarsest within tolerance of 0.3:" in first
    assert "cutoff: coarsest within tolerance of 300:" in first

    maker = Cp2kConvergenceMaker(
        label_maker=Cp2kLabelMaker(settings=FAST_CP2K),
        ladders={"kpoint_spacing": [0.6, 0.4, 0.3], "cutoff": [200, 300]},
    )
    from pymatgen.io.ase import AseAtomsAdaptor

    flow = maker.make(AseAtomsAdaptor.get_structure(cell))
    doc = run_local(flow)[flow.output.uuid][1].output
    k = doc.ladder("kpoint_spacing")
    assert [p.kpoints for p in k] == [[2, 2, 2], [3, 3, 3], [4, 4, 4]]
    assert all(p.state == "successful" for p in doc.points)
    # Run again: every label comes from the store (the first run's), none is recomputed.
    assert all(p.reused for p in doc.points)
    # Physics: the coarser the mesh, the farther from the 4x4x4 label.
    assert abs(k[0].energy_difference) > abs(k[1].energy_difference) > 0
    assert k[0].force_rms_difference > k[1].force_rms_difference > 0
    assert k[2].energy_difference == 0 and k[2].force_rms_difference == 0
    # A 2x2x2 mesh on a 6 Å cell is far from converged: more than the tolerances.
    assert k[0].within_tolerance is False
    cut = doc.ladder("cutoff")
    assert cut[0].energy_difference != 0 and cut[0].force_rms_difference > 0
    # The base protocol is one label shared by both ladders.
    assert cut[1].label_uuid == k[0].label_uuid

    for p in k[:2]:
        assert f"{p.energy_difference:.3f}" in first and f"{p.force_rms_difference:.4f}" in first
