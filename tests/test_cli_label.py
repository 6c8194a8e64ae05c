"""The labelling command line: bad input is refused before CP2K starts and nothing is stored."""

import subprocess
import sys

import pytest
from ase import Atoms
from ase.io import write

from gst_flows.cli import main
from gst_flows.structures import build_rocksalt


def _count(outputs):
    return outputs.count_documents({})


def test_unknown_element(tmp_path, outputs, capsys):
    path = tmp_path / "bad.xyz"
    path.write_text(
        '2\nLattice="6 0 0 0 6 0 0 0 6" Properties=species:S:1:pos:R:3 pbc="T T T"\nGe 0 0 0\nXq 3 3 3\n'
    )
    before = _count(outputs)
    assert main(["label", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Xq" in err and err.count("\n") == 1
    assert _count(outputs) == before


def test_atoms_too_close(tmp_path, outputs, capsys):
    atoms = build_rocksalt("GeTe", seed=0)
    atoms.positions[1] = atoms.positions[0] + [0.3, 0, 0]
    write(tmp_path / "close.extxyz", atoms)
    before = _count(outputs)
    assert main(["label", str(tmp_path / "close.extxyz")]) == 2
    err = capsys.readouterr().err
    assert "0.3" in err and "Å" in err
    assert _count(outputs) == before


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage\xff\n"])
def test_empty_or_unreadable_file(tmp_path, outputs, capsys, content):
    path = tmp_path / "frames.extxyz"
    path.write_bytes(content)
    before = _count(outputs)
    assert main(["label", str(path)]) == 2
    assert str(path.name) in capsys.readouterr().err
    assert _count(outputs) == before


def test_missing_file_and_bad_setting(tmp_path, outputs, capsys):
    before = _count(outputs)
    assert main(["label", str(tmp_path / "nope.extxyz")]) == 2
    write(tmp_path / "ok.extxyz", build_rocksalt("GeTe", seed=0))
    assert main(["label", str(tmp_path / "ok.extxyz"), "--set", "cutof=200"]) == 2
    assert "cutof" in capsys.readouterr().err
    assert _count(outputs) == before


def test_composition_the_builder_cannot_make_exits_nonzero(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gst_flows.cli",
            "build",
            "rocksalt",
            "--composition",
            "Ge2Sb2Te5",
            "--supercell",
            "1",
            "1",
            "1",
            "-o",
            str(tmp_path / "x.extxyz"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "smallest supercell" in proc.stderr.lower() or "supercell" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.extxyz").exists()


def test_isolated_molecule_without_cell_is_refused(tmp_path, outputs):
    write(tmp_path / "mol.extxyz", Atoms("GeTe", positions=[[0, 0, 0], [2.6, 0, 0]]))
    before = _count(outputs)
    assert main(["label", str(tmp_path / "mol.extxyz")]) == 2
    assert _count(outputs) == before
