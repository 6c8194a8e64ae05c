import argparse
import json

import numpy as np
import pytest
from analysis_structures import rocksalt_gst
from ase.io import write
from ase.units import kB

from gst_flows.commands.analyse import add_parser, parse_cutoffs


def run(*argv):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    args = parser.parse_args([str(a) for a in argv])
    return args.handler(args)


@pytest.fixture
def trajectory(tmp_path):
    frames = []
    for k in range(3):
        a = rocksalt_gst(2, seed=k)
        a.positions += np.random.default_rng(k).normal(0, 0.05 + 0.25 * k, a.positions.shape)
        a.set_momenta(
            np.random.default_rng(k).normal(0, 1, (len(a), 3)) * np.sqrt(a.get_masses()[:, None] * kB * 600)
        )
        a.info.update(iteration=k, config_type="crystal" if k == 0 else "amorphous")
        frames.append(a)
    path = tmp_path / "traj.extxyz"
    write(path, frames)
    return path


@pytest.mark.parametrize(
    "kind", ["rdf", "adf", "coordination", "homopolar", "density", "rings", "altbc", "temperature"]
)
def test_analyse_kinds(tmp_path, trajectory, kind, capsys):
    out = tmp_path / "out"
    assert run("analyse", kind, trajectory, "-o", out, "--max-size", 8) == 0
    stem = kind.replace("-", "_")
    summary = json.loads((out / f"{stem}.json").read_text())
    assert summary["frames"] == 3
    assert "wrote" in capsys.readouterr().out
    if kind in ("rdf", "adf", "rings", "altbc", "temperature"):
        assert (out / f"{stem}.png").exists() and (out / f"{stem}.pdf").exists()
        assert run("plot", kind, out / f"{stem}.npz", "-o", tmp_path / "again") == 0
        assert (tmp_path / "again.png").exists()


def test_analyse_kbar_writes_extxyz(tmp_path, trajectory):
    from ase.io import read

    out = tmp_path / "out"
    assert run("analyse", "kbar", trajectory, "-o", out, "--timestep", 10) == 0
    frames = read(out / "kbar.extxyz", ":")
    assert len(frames) == 3 and "kbar" in frames[0].arrays
    summary = json.loads((out / "kbar.json").read_text())
    data = np.load(out / "kbar.npz")
    assert data["crystalline_fraction"][0] > data["crystalline_fraction"][2]
    assert summary["final_fraction"] == pytest.approx(data["crystalline_fraction"][2])


def test_temperature_needs_velocities(tmp_path):
    atoms = rocksalt_gst(2)
    path = tmp_path / "still.extxyz"
    write(path, atoms)
    with pytest.raises(ValueError, match="no velocities"):
        run("analyse", "temperature", path, "-o", tmp_path / "out")


def test_missing_file_and_cutoffs(tmp_path):
    with pytest.raises(FileNotFoundError):
        run("analyse", "rdf", tmp_path / "nothing.xyz")
    assert parse_cutoffs([]) is None
    assert parse_cutoffs(["3.0"]) == 3.0
    assert parse_cutoffs(["Ge-Te=3.2", "Ge-Ge=2.8"]) == {"Ge-Te": 3.2, "Ge-Ge": 2.8}
    with pytest.raises(ValueError, match="A-B=R"):
        parse_cutoffs(["Ge-Te=3.2", "3.0"])
