"""The pair_style quip plugin build and the LAMMPS file helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from ase.build import bulk

from gst_flows.md.lammps import plugin as lammps_plugin
from gst_flows.md.lammps.data import (
    group_id_commands,
    iter_lammps_dump,
    lammps_species,
    read_print_table,
    write_lammps_data,
)
from tests.support.lammps import needs_lammps_plugin as needs_lammps

ROOT = Path(__file__).resolve().parents[2]


@needs_lammps
def test_plugin_builds_once_and_is_cached():
    path = lammps_plugin.plugin_path()
    assert path.is_file()
    assert path.name == "quipplugin.so"
    mtime = path.stat().st_mtime_ns
    assert lammps_plugin.plugin_path(build=False) == path
    assert lammps_plugin.plugin_path().stat().st_mtime_ns == mtime


@needs_lammps
def test_plugin_exports_lammps_entry_point():
    out = subprocess.run(
        ["nm", "-D", "--defined-only", str(lammps_plugin.plugin_path())],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "lammpsplugin_init" in out
    assert "f90wrap_abort_" in out


@needs_lammps
def test_build_script_is_idempotent_and_prints_path(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, GST_FLOWS_LAMMPS_PLUGIN_DIR=str(tmp_path))
    script = ROOT / "scripts" / "build_quip_plugin.sh"
    first = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    built = Path(first.stdout.strip())
    assert built.is_file()
    assert tmp_path in built.parents
    mtime = built.stat().st_mtime_ns
    second = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, check=False)
    assert second.returncode == 0
    assert Path(second.stdout.strip()) == built
    assert built.stat().st_mtime_ns == mtime


@needs_lammps
def test_check_mode_reports_missing_plugin(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GST_FLOWS_LAMMPS_PLUGIN_DIR", str(tmp_path / "empty"))
    assert lammps_plugin.main(["--check"]) == 1
    assert "no up-to-date" in capsys.readouterr().err


@needs_lammps
def test_lammps_env_puts_mpich_on_loader_path():
    env = lammps_plugin.lammps_env({"LD_LIBRARY_PATH": "/opt/x"})
    first = env["LD_LIBRARY_PATH"].split(os.pathsep)[0]
    assert (Path(first) / "libmpi.so.12").exists()
    assert env["LD_LIBRARY_PATH"].endswith("/opt/x")


def test_group_id_commands_compress_ranges():
    mask = np.zeros(20, bool)
    mask[[0, 1, 2, 5, 9, 10, 19]] = True
    (cmd,) = group_id_commands("hot", mask)
    assert cmd == "group hot id 1:3 6 10:11 20"
    assert group_id_commands("none", np.zeros(3, bool)) == ["group none empty"]
    many = group_id_commands("odd", np.arange(100) % 2 == 0, per_line=10)
    assert len(many) == 5
    assert all(c.startswith("group odd id ") for c in many)


def test_scattered_groups_go_to_an_atomfile(tmp_path):
    mask = np.arange(1000) % 3 == 0
    cmds = group_id_commands("scatter", mask, directory=tmp_path, max_ranges=50)
    assert cmds == [
        "variable scatter_mask atomfile scatter.atomfile",
        "group scatter variable scatter_mask",
        "variable scatter_mask delete",
    ]
    lines = (tmp_path / "scatter.atomfile").read_text().splitlines()
    assert int(lines[1]) == mask.sum()
    np.testing.assert_array_equal(np.loadtxt(lines[2:], dtype=int)[:, 0], np.flatnonzero(mask) + 1)
    few = group_id_commands("few", np.arange(10) < 4, directory=tmp_path)
    assert few == ["group few id 1:4"]


def test_species_order_by_atomic_number():
    atoms = bulk("GeTe", "rocksalt", a=6.0, cubic=True)
    atoms[1].symbol = "Sb"
    assert lammps_species(atoms) == ["Ge", "Sb", "Te"]


def test_data_file_and_dump_round_trip_in_a_skewed_cell(tmp_path):
    atoms = bulk("Ge", "fcc", a=5.0).repeat((2, 2, 2))
    atoms.rotate(30, "z", rotate_cell=True)
    atoms.positions += 7.0  # outside the cell: wrapped with image flags
    rng = np.random.default_rng(1)
    atoms.set_velocities(rng.normal(size=(len(atoms), 3)) * 0.01)
    prism = write_lammps_data(tmp_path / "d.data", atoms, ["Ge"])
    text = (tmp_path / "d.data").read_text()
    assert "xy xz yz" in text
    assert "Velocities" in text

    # a dump written in the LAMMPS frame, read back to the ASE frame
    lpos = prism.vector_to_lammps(atoms.positions)
    lvel = prism.vector_to_lammps(atoms.get_velocities()) * 1000 * 0.09822694788464063
    xhi, yhi, zhi, xy, xz, yz = prism.get_lammps_prism()
    lo = [min(0, xy, xz, xy + xz), min(0, yz), 0.0]
    hi = [xhi + max(0, xy, xz, xy + xz), yhi + max(0, yz), zhi]
    order = rng.permutation(len(atoms))
    with (tmp_path / "d.dump").open("w") as fd:
        fd.write(f"ITEM: TIMESTEP\n10\nITEM: NUMBER OF ATOMS\n{len(atoms)}\n")
        fd.write("ITEM: BOX BOUNDS xy xz yz pp pp pp\n")
        for a, b, t in zip(lo, hi, (xy, xz, yz), strict=True):
            fd.write(f"{a:.17g} {b:.17g} {t:.17g}\n")
        fd.write("ITEM: ATOMS id type xu yu zu vx vy vz\n")
        for i in order:
            fd.write(f"{i + 1} 1 {' '.join(f'{v:.17g}' for v in (*lpos[i], *lvel[i]))}\n")
    (frame,) = iter_lammps_dump(tmp_path / "d.dump", prism)
    assert frame.step == 10
    np.testing.assert_allclose(frame.positions, atoms.positions, atol=1e-10)
    np.testing.assert_allclose(frame.velocities, atoms.get_velocities(), atol=1e-12)
    np.testing.assert_allclose(frame.cell, atoms.cell[:], atol=1e-10)


def test_print_table_keeps_last_of_repeated_steps(tmp_path):
    path = tmp_path / "thermo.dat"
    path.write_text("# step temp\n0 10\n10 20\n20 30\n10 21\n20 31\n30 40\n")
    table = read_print_table(path)
    np.testing.assert_array_equal(table["step"], [0, 10, 20, 30])
    np.testing.assert_array_equal(table["temp"], [10, 21, 31, 40])
