"""``gst-flows converge``: bad input is refused with one line before CP2K starts."""

import pytest
from ase.io import write

from gst_flows.cli import main
from gst_flows.structures import build_rocksalt


@pytest.fixture
def cell_file(tmp_path):
    path = tmp_path / "cell.extxyz"
    write(path, build_rocksalt("GeTe", seed=0))
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--kspacing", "0.3"], "two distinct"),
        (["--cutoff", "300", "-400"], "positive"),
        (["--kspacing", "0.9", "1.0"], "all give the mesh"),
        (["--index", "3"], "--index 3"),
        (["--set", "cutof=200"], "cutof"),
        (["--force-tol", "0"], "tolerances"),
    ],
)
def test_bad_input_is_refused_before_any_label(cell_file, outputs, capsys, extra, message):
    before = outputs.count_documents({})
    assert main(["converge", str(cell_file), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert outputs.count_documents({}) == before
