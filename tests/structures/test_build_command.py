import argparse

import pytest
from ase.io import read

from gst_flows import cli
from gst_flows.commands import build as build_command
from gst_flows.structures import StructureError


@pytest.fixture
def main(monkeypatch):
    return cli.main


def test_build_rocksalt_prints_summary(main, tmp_path, capsys):
    out = tmp_path / "cell.xyz"
    code = main(
        [
            "build",
            "rocksalt",
            "--composition",
            "Ge2Sb2Te5",
            "--supercell",
            "5",
            "1",
            "1",
            "--seed",
            "4",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "atoms        36" in text
    assert "Ge8Sb8Te20" in text
    assert "30.100 x 6.020 x 6.020 Å" in text
    assert "density" in text
    assert "g/cm³" in text
    atoms = read(out)
    assert len(atoms) == 36
    assert atoms.info["seed"] == 4


def test_build_params_and_lammps(main, tmp_path, capsys):
    out = tmp_path / "mushroom.data"
    code = main(
        [
            "build",
            "mushroom",
            "--supercell",
            "8",
            "2",
            "6",
            "--param",
            "focal_radius=9",
            "--param",
            "fixed_layers=2",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "fixed" in text
    assert "region" in text
    atoms = read(out, format="lammps-data", atom_style="atomic")
    assert len(atoms) == 8 * 2 * 6 * 7
    groups = (tmp_path / "mushroom.data.groups").read_text()
    assert groups.startswith("group fixed id")
    assert "group region_1 id" in groups


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["build", "wurtzite"], "unknown structure kind 'wurtzite'; known kinds: rocksalt"),
        (
            ["build", "rocksalt", "--composition", "Ge2Sb2Te5", "--supercell", "2", "2", "2"],
            "smallest supercell that can: (5, 1, 1)",
        ),
        (["build", "rocksalt", "--supercell", "0", "1", "1"], "supercell entries must be positive"),
        (["build", "rocksalt", "--composition", "Ge9Sb2Te4"], "more cations than cation sites"),
        (["build", "rocksalt", "--param", "colour=red"], "does not take parameter(s) colour"),
        (["build", "layered", "--param", "n_blocks=4"], "multiple of 3 blocks"),
        (["build", "rocksalt", "--param", "oops"], "expected KEY=VALUE"),
    ],
)
def test_errors_one_line_nonzero(main, tmp_path, capsys, argv, message):
    code = main([*argv, "-o", str(tmp_path / "x.xyz")])
    assert code != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert message in err
    assert not (tmp_path / "x.xyz").exists()


def test_handler_raises_structure_error(tmp_path):
    parser = argparse.ArgumentParser()
    build_command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["build", "diamond", "--composition", "Si", "-o", str(tmp_path / "a")])
    with pytest.raises(StructureError, match="lattice_parameter"):
        args.handler(args)


def test_parse_params():
    got = build_command.parse_params(
        [
            "orientation=111",
            "size=20,20",
            "exact=false",
            "n_blocks=6",
            "cell=orthogonal",
            "vacancy_order=none",
            "lattice_parameter=6.1",
        ]
    )
    assert got == {
        "orientation": "111",
        "size": [20, 20],
        "exact": False,
        "n_blocks": 6,
        "cell": "orthogonal",
        "vacancy_order": None,
        "lattice_parameter": 6.1,
    }
