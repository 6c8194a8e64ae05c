"""Scenario parameters that cannot work fail before any compute, with a clear message."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from monty.json import MontyDecoder, MontyEncoder

from gst_flows.commands import scenario as command
from gst_flows.flows.scenarios import (
    SCENARIOS,
    CrossPointMaker,
    CumulativeSetMaker,
    ElectromigrationMaker,
    MushroomResetMaker,
    ScenarioError,
    scenario_maker,
    write_lammps_inputs,
)
from gst_flows.makers.scenarios import CellSpec, boundary_planes
from gst_flows.md.lammps import LammpsPotential


def test_focal_region_larger_than_the_cell():
    with pytest.raises(ScenarioError, match=r"focal region .* larger than the cell"):
        MushroomResetMaker(focal_radius=20.0).prepare()
    # the published radius on the small slab does not fit either
    with pytest.raises(ScenarioError, match="use a larger supercell or a smaller focal_radius"):
        MushroomResetMaker(focal_scale=1.0, potential="gap.xml").make()


def test_pulse_above_the_temperature_ceiling():
    with pytest.raises(ScenarioError, match=r"6000 K, above the temperature ceiling 5000 K"):
        CumulativeSetMaker(pulse_types=((6000.0, 40.0, 1),)).prepare()
    # a configurable ceiling: the small mushroom pulse heats its focal atoms above 1,500 K
    with pytest.raises(ScenarioError, match=r"above the temperature ceiling 1,500 K"):
        MushroomResetMaker(temperature_ceiling=1500.0).prepare()
    with pytest.raises(ScenarioError, match="temperature ceiling"):
        CrossPointMaker(temperature_ceiling=2000.0).prepare()


def test_field_on_a_species_without_a_charge():
    with pytest.raises(ScenarioError, match=r"no charge for Sb \(charges given for Ge, Te\)"):
        ElectromigrationMaker(charges={"Ge": 1.0, "Te": -1.0}).prepare()


def test_other_bad_parameters():
    with pytest.raises(ScenarioError, match=r"unknown size 'huge' \(sizes: full, small\)"):
        MushroomResetMaker(size="huge").prepare()
    with pytest.raises(ScenarioError, match="unknown scenario 'reset'"):
        scenario_maker("reset")
    with pytest.raises(ScenarioError, match="give a potential"):
        MushroomResetMaker().make()
    with pytest.raises(ScenarioError, match="removal_share must be in"):
        CrossPointMaker(removal_share=1.5).prepare()
    with pytest.raises(
        ScenarioError,
        match=r"unknown MD setting\(s\) frames \(md takes: .*"
        r"frame_interval",
    ):
        MushroomResetMaker(potential="gap.xml", md={"frames": 3}).make()
    with pytest.raises(ScenarioError, match="cannot build the cell"):
        MushroomResetMaker(composition="Xx2Te3").prepare()


def test_presets_and_parameters():
    assert set(SCENARIOS) == {
        "set-crystallisation",
        "cumulative-set",
        "polycrystalline-growth",
        "heating-series",
        "mushroom-reset",
        "cross-point",
        "electromigration",
    }
    for name, cls in SCENARIOS.items():
        assert set(cls.SIZES) == {"small", "full"}, name
        assert cls.SIZES["full"]["engine"] == "lammps" and cls.SIZES["small"]["engine"] == "ase"
        for size, preset in cls.SIZES.items():
            params = cls(size=size).parameters()
            assert params["engine"] == preset["engine"]
            for key in set(preset) - {"engine", "md", "analysis"}:
                assert params[key] is not None, (name, size, key)
    small = MushroomResetMaker().parameters()
    assert small["supercell"] == [5, 2, 3] and small["fixed_layers"] == 2
    full = MushroomResetMaker(size="full", supercell=(34, 5, 20)).parameters()
    assert full["supercell"] == [34, 5, 20] and full["fixed_layers"] == 4  # user values win


def test_makers_serialise():
    maker = CrossPointMaker(potential="gap.xml", md={"frame_interval": 7})
    again = MontyDecoder().decode(MontyEncoder().encode(maker))
    assert again == maker
    spec = CellSpec("heating-cell", {"supercell": [2, 2, 3]}, fixed_boundary_planes=2)
    assert MontyDecoder().decode(MontyEncoder().encode(spec)) == spec
    atoms = spec.build()
    z = atoms.positions[:, 2]
    planes = (np.abs(z - z.min()) < 0.1) | (np.abs(z - z.max()) < 0.1)  # bottom and top
    assert (atoms.arrays["fixed"] == planes).all()
    assert boundary_planes(atoms, 2).sum() == atoms.arrays["fixed"].sum()


def test_full_cross_point_protocol_is_the_published_one():
    run = CrossPointMaker(size="full").resolved().runs()[0]
    plan = run.protocol.energy_plan()
    assert run.info["n_atoms"] == 532_980
    assert plan[1].injected == pytest.approx(60.0 / 1.602176634e-4)  # 60 fJ in eV
    assert plan[2].removed == pytest.approx(plan[1].injected)
    assert [s.duration for s in run.protocol.stages] == [5_000, 10_000, 40_000]
    assert run.protocol.stage("pulse").actions[0].n_slabs == 10


def test_lammps_inputs_of_a_small_scenario(tmp_path):
    run = MushroomResetMaker().prepare()[0]
    inputs = write_lammps_inputs(run.atoms, run.protocol, LammpsPotential.lennard_jones(), tmp_path)
    assert len(inputs.scripts) == 3 and inputs.n_atoms == len(run.atoms)
    pulse = inputs.scripts[1].read_text()
    assert "read_restart ../stage-000/end.restart" in pulse
    assert inputs.driver is not None and "mv final.restart end.restart" in inputs.driver.read_text()
    assert " heat 1 " in pulse and "pair_style lj/cut" in pulse
    assert "fix gst_langevin" not in pulse
    assert "langevin" in inputs.scripts[0].read_text()


def _parser():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    command.add_parser(sub)
    return parser


def test_command_list_check_and_inputs(tmp_path, capsys):
    parser = _parser()
    assert command.run(parser.parse_args(["scenario", "--list"])) == 0
    assert "mushroom-reset" in capsys.readouterr().out
    args = parser.parse_args(
        ["scenario", "cross-point", "--check", "--set", "n_blocks=3", "--set", "in_plane=[2,2]"]
    )
    assert command.run(args) == 0
    out = capsys.readouterr().out
    assert "168 atoms" in out and "graded_injection" in out
    args = parser.parse_args(["scenario", "electromigration", "--lammps-inputs", str(tmp_path)])
    assert command.run(args) == 0
    assert (tmp_path / "run-00" / "stage-001" / "in.lammps").is_file()
    assert "addforce" in (tmp_path / "run-00" / "stage-001" / "in.lammps").read_text()
    args = parser.parse_args(
        ["scenario", "electromigration", "--set", 'charges={"Ge": 1, "Te": -1}', "--check"]
    )
    with pytest.raises(ScenarioError, match="no charge for Sb"):
        command.run(args)
