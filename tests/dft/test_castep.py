"""CASTEP labelling by replay: no CASTEP runs here.

The ``.cell``/``.param`` written are checked against ``reference/castep_gst7/inputs``, then the
reference ``.castep`` is copied in place of a run and parsed with ASE. The output is a
synthetic replay fixture (see ``make_reference.py`` there).
"""

import shutil
from pathlib import Path

import numpy as np
import pytest
from ase.io import read
from ase.units import GPa

import gst_flows.dft.castep as castep_module
from gst_flows.dft.castep import (
    CastepError,
    CastepSettings,
    parse_castep_output,
    write_castep_input,
)
from gst_flows.execution import run_local
from gst_flows.flows.label import label_flow
from gst_flows.makers.castep import CastepLabelMaker

REF = Path(__file__).parent / "reference" / "castep_gst7"


@pytest.fixture(scope="module")
def gst7():
    return read(REF / "structure.extxyz")


def read_freeform(path: Path) -> dict:
    """Keywords and blocks of a .cell/.param file (comments and layout ignored)."""
    values, block, lines = {}, None, []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.upper().startswith("%BLOCK"):
            block, lines = line.split()[1].lower(), []
        elif line.upper().startswith("%ENDBLOCK"):
            values[block] = [row.split() for row in lines]
            block = None
        elif block:
            lines.append(line)
        else:
            key, value = (s.strip() for s in line.replace("=", ":", 1).split(":", 1))
            values[key.lower()] = value.lower()
    return values


def assert_same_input(written: Path, reference: Path) -> None:
    """Same keywords and blocks; lattice and positions equal to 1e-6."""
    ours, ref = read_freeform(written), read_freeform(reference)
    assert sorted(ours) == sorted(ref)
    for key, value in ref.items():
        if key in ("lattice_cart", "positions_frac"):
            assert [row[0] for row in ours[key]] == [row[0] for row in value] or key == "lattice_cart"
            numbers = [[float(x) for x in row if not x.isalpha()] for row in ours[key]]
            expected = [[float(x) for x in row if not x.isalpha()] for row in value]
            assert np.allclose(numbers, expected, atol=1e-6), key
        else:
            assert ours[key] == value, key


def replay(reference: Path, exit_code: int = 0):
    """A stand-in for running CASTEP: check the inputs, copy the reference output."""

    def execute(command, directory, seed):
        for suffix in ("cell", "param"):
            assert_same_input(directory / f"{seed}.{suffix}", reference / "inputs" / f"castep.{suffix}")
        for output in (reference / "outputs").iterdir():
            shutil.copy(output, directory / output.name.replace("castep", seed, 1))
        return exit_code

    return execute


def _labels(responses):
    return [r[1].output for r in responses.values() if 1 in r and type(r[1].output).__name__ == "LabelDoc"]


def test_inputs_are_the_published_protocol(tmp_path, gst7):
    cell, param = write_castep_input(gst7, CastepSettings(), tmp_path)
    assert_same_input(cell, REF / "inputs" / "castep.cell")
    assert_same_input(param, REF / "inputs" / "castep.param")
    keys = read_freeform(param)
    assert keys["xc_functional"] == "pbesol"
    assert keys["cut_off_energy"] == "600 ev"
    assert keys["calculate_stress"] == "true"
    assert keys["smearing_width"] == "0.0431 ev"
    cell_keys = read_freeform(cell)
    assert cell_keys["kpoint_mp_grid"] == "5 5 5"  # same mesh as the CP2K protocol
    assert cell_keys["species_pot"] == [["Ge", "C19"], ["Sb", "C19"], ["Te", "C19"]]
    # Written grouped by species, in ascending atomic number as CASTEP reports them.
    assert [row[0] for row in cell_keys["positions_frac"]] == ["Ge", "Sb", "Sb", "Te", "Te", "Te", "Te"]


def test_settings_variants_and_hash(tmp_path, gst7):
    base = CastepSettings()
    pbe = base.update(functional="PBE")
    assert pbe.settings_hash() != base.settings_hash()
    assert base.settings_hash() == CastepSettings.from_dict({}).settings_hash()
    _, param = write_castep_input(gst7, pbe, tmp_path)
    assert read_freeform(param)["xc_functional"] == "pbe"
    files = CastepSettings(pseudopotentials={"Ge": "Ge.usp", "Sb": "Sb.usp", "Te": "Te.usp"})
    cell, _ = write_castep_input(gst7, files, tmp_path / "files")
    assert read_freeform(cell)["species_pot"][0] == ["Ge", "Ge.usp"]
    with pytest.raises(ValueError, match="no pseudopotential configured for"):
        write_castep_input(gst7, CastepSettings(pseudopotentials={"Ge": "Ge.usp"}), tmp_path / "x")
    with pytest.raises(ValueError, match="unknown CASTEP setting"):
        CastepSettings.from_dict({"cut_off": 500})
    with pytest.raises(ValueError, match="functional"):
        CastepSettings(functional="LDA")


def test_parse_reference_units_and_sign(gst7):
    result = parse_castep_output(REF / "outputs", gst7)
    assert result.energy == pytest.approx(-1165.202202661)  # "Final free energy (E-TS)"
    assert result.energy_zero == pytest.approx(-1165.200102661)
    # CASTEP prints the stress tensile-positive: its pressure is -trace/3 (here -0.4971 GPa).
    assert result.stress[0, 0] == pytest.approx(0.318374)
    assert -np.trace(result.stress) / 3 == pytest.approx(-0.4971, abs=1e-4)
    ase_result = read(REF / "outputs" / "castep.castep", format="castep-castep")
    assert np.allclose(ase_result.get_stress(voigt=False) / GPa, result.stress)
    # Forces in the input order: input atom 4 (Ge) is CASTEP's first atom.
    assert gst7.get_chemical_symbols()[4] == "Ge"
    assert np.allclose(result.forces[4], [-0.31089, -0.01598, 0.05513])
    assert np.allclose(result.forces.sum(axis=0), 0, atol=1e-4)
    assert (result.kpoints, result.walltime, result.version) == ((5, 5, 5), 24.33, "CASTEP 23.1")


def test_parse_refuses_bad_outputs(tmp_path, gst7):
    with pytest.raises(CastepError, match=r"no castep\.castep"):
        parse_castep_output(tmp_path, gst7)
    (tmp_path / "castep.0001.err").write_text("Error in allocating memory for wavefunction\n")
    with pytest.raises(CastepError, match="allocating memory"):
        parse_castep_output(tmp_path, gst7)
    text = (REF / "outputs" / "castep.castep").read_text()
    (tmp_path / "castep.castep").write_text(text.split("Finalisation time")[0])
    with pytest.raises(CastepError, match="cannot parse"):
        parse_castep_output(tmp_path, gst7)
    unconverged = text.replace(
        "Final energy, E",
        "*Warning* max. SCF cycles performed but system has not reached the groundstate.\nFinal energy, E",
    )
    (tmp_path / "castep.castep").write_text(unconverged)
    with pytest.raises(CastepError, match="SCF did not converge"):
        parse_castep_output(tmp_path, gst7)
    other = gst7.copy()
    other.positions[0] += 0.2
    with pytest.raises(CastepError, match="not a label of the structure"):
        parse_castep_output(REF / "outputs", other)


def test_label_by_replay_then_reuse(gst_home, monkeypatch, gst7):
    monkeypatch.setattr(castep_module, "_execute", replay(REF))
    flow = label_flow([gst7], CastepLabelMaker(), tag="castep-replay", config_type="crystal")
    (doc,) = _labels(run_local(flow))
    assert doc.state == "successful", doc.error
    assert doc.code == "castep" and doc.code_version == "CASTEP 23.1"
    assert doc.settings["functional"] == "PBESOL" and doc.settings["cutoff"] == 600.0
    assert doc.settings_hash == CastepSettings().settings_hash()
    assert doc.energy == pytest.approx(-1165.202202661)
    assert doc.energy_per_atom == pytest.approx(-1165.202202661 / 7)
    assert np.allclose(doc.forces[4], [-0.31089, -0.01598, 0.05513])
    assert np.allclose(doc.virial, -np.array(doc.stress) * GPa * gst7.get_volume())
    assert doc.kpoints == [5, 5, 5] and doc.walltime == pytest.approx(24.33)
    assert Path(doc.dir_name).name.startswith("castep-")

    def must_not_run(*args):
        raise AssertionError("CASTEP run again for a stored label")

    monkeypatch.setattr(castep_module, "_execute", must_not_run)
    again = label_flow([gst7], CastepLabelMaker(), tag="castep-replay")
    (reused,) = _labels(run_local(again))
    assert reused.reused_from is not None and reused.energy == doc.energy


def test_failed_run_is_a_failed_label(gst_home, monkeypatch, gst7, tmp_path):
    def crash(command, directory, seed):
        (directory / f"{seed}.0001.err").write_text("Error: SCF run failed to start\n")
        return 1

    monkeypatch.setattr(castep_module, "_execute", crash)
    maker = CastepLabelMaker(settings={"cutoff": 650.0})
    (doc,) = _labels(run_local(label_flow([gst7], maker, tag="castep-fail")))
    assert doc.state == "failed"
    assert "exited with code 1" in doc.error and "failed to start" in doc.error
    assert doc.energy is None

    def missing_binary(command, directory, seed):
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(castep_module, "_execute", missing_binary)
    maker = CastepLabelMaker(settings={"cutoff": 700.0}, command="castep.nowhere")
    (doc,) = _labels(run_local(label_flow([gst7], maker, tag="castep-fail")))
    assert doc.state == "failed" and "cannot start CASTEP (castep.nowhere)" in doc.error
