"""VASP labelling by replay, as atomate2 tests VASP: no VASP runs here.

The written inputs are checked against ``reference/vasp_gete8/inputs`` (INCAR keys, KPOINTS,
POSCAR, POTCAR symbols through POTCAR.spec), then the reference outputs are copied in place of a
run and parsed. The outputs are synthetic replay fixtures (see ``make_reference.py`` there).
"""

import shutil
from pathlib import Path

import numpy as np
import pytest
from ase.io import read
from ase.units import GPa
from atomate2.utils.testing.vasp import monkeypatch_vasp
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.io.vasp import Incar, Kpoints

from gst_flows.dft.vasp import GstVaspInputGenerator, VaspError, parse_vasp_output, species_order
from gst_flows.execution import run_local
from gst_flows.flows.label import label_flow
from gst_flows.makers.vasp import VaspLabelMaker

REFERENCE = Path(__file__).parent / "reference"
REF = REFERENCE / "vasp_gete8"


@pytest.fixture
def mock_vasp(monkeypatch):
    yield from monkeypatch_vasp(monkeypatch, REFERENCE)


@pytest.fixture(scope="module")
def gete():
    return read(REF / "structure.extxyz")


def _outputs(responses, flow):
    """The label documents of a flow's responses (not the batch summary)."""
    return [r[1].output for r in responses.values() if 1 in r and type(r[1].output).__name__ == "LabelDoc"]


def test_input_set_is_the_gst_protocol(tmp_path, gete):
    grouped = AseAtomsAdaptor.get_structure(gete[species_order(gete)])
    GstVaspInputGenerator().get_input_set(grouped, potcar_spec=True).write_input(tmp_path)
    incar = Incar.from_file(tmp_path / "INCAR")
    assert incar["GGA"].upper() == "PS"
    assert incar["ENCUT"] >= 400
    assert (incar["ISMEAR"], incar["SIGMA"]) == (-1, 0.0431)
    assert incar["LREAL"] is False and incar["ISYM"] == 0 and incar["NSW"] == 0
    assert incar["ISIF"] == 2 and incar["ISPIN"] == 1
    assert incar["LWAVE"] is False and incar["LCHARG"] is False
    assert Kpoints.from_file(tmp_path / "KPOINTS").kpts == [(5, 5, 5)]  # same mesh as CP2K
    assert (tmp_path / "POTCAR.spec").read_text().split() == ["Ge_d", "Te"]
    # Written grouped by species; the maker maps the labels back to the input order.
    assert gete.get_chemical_symbols()[:4] == ["Te"] * 4


def test_protocol_hash_tracks_the_functional_and_overrides():
    base = GstVaspInputGenerator()
    assert base.settings_hash() == GstVaspInputGenerator().settings_hash()
    pbe = GstVaspInputGenerator(functional="PBE")
    assert pbe.protocol()["incar"]["GGA"] == "PE"
    assert pbe.settings_hash() != base.settings_hash()
    tighter = GstVaspInputGenerator(user_incar_settings={"ENCUT": 520})
    assert tighter.protocol()["incar"]["ENCUT"] == 520
    assert tighter.settings_hash() != base.settings_hash()
    assert base.protocol()["potcars"] == {"Ge": "Ge_d", "Sb": "Sb", "Te": "Te"}
    with pytest.raises(ValueError, match="functional"):
        GstVaspInputGenerator(functional="LDA")


def test_parse_reference_units_and_sign(gete):
    result = parse_vasp_output(REF / "outputs", gete)
    # Free energy (TOTEN), not the sigma→0 extrapolation.
    assert result.energy == pytest.approx(-37.20306518)
    assert result.energy_sigma0 - result.energy == pytest.approx(0.00031)
    # vasprun.xml holds the stress in kBar, positive under compression: xx = -12.9716 kBar.
    assert result.stress[0, 0] == pytest.approx(1.29716145)
    # Independent check: ASE's own vasprun reader gives the same stress and forces.
    ase_run = read(REF / "outputs" / "vasprun.xml")
    assert np.allclose(ase_run.get_stress(voigt=False) / GPa, result.stress)
    order = species_order(gete)
    assert np.allclose(ase_run.get_forces(), result.forces[order])
    # Forces come back in the input order (Te first), not VASP's grouped order (Ge first).
    assert result.forces.shape == (8, 3)
    assert np.allclose(result.forces[0], ase_run.get_forces()[4])
    assert result.kpoints == (5, 5, 5)
    assert result.walltime == pytest.approx(42.731)
    assert result.version == "VASP 6.4.2"


def test_parse_refuses_bad_outputs(tmp_path, gete):
    with pytest.raises(VaspError, match=r"no vasprun\.xml"):
        parse_vasp_output(tmp_path, gete)
    text = (REF / "outputs" / "vasprun.xml").read_text()
    (tmp_path / "vasprun.xml").write_text(text[: len(text) // 2])
    with pytest.raises(VaspError, match="cannot parse"):
        parse_vasp_output(tmp_path, gete)
    (tmp_path / "vasprun.xml").write_text(text.replace('name="NELM">   120', 'name="NELM">   4'))
    with pytest.raises(VaspError, match="SCF did not converge"):
        parse_vasp_output(tmp_path, gete)
    other = gete.copy()
    other.positions[0] += 0.3
    with pytest.raises(VaspError, match="not a label of the structure"):
        parse_vasp_output(REF / "outputs", other)


def test_label_by_replay_then_reuse(gst_home, mock_vasp, gete, outputs):
    mock_vasp({"vasp label 0": "vasp_gete8"}, {"vasp label 0": {"clear_inputs": False}})
    flow = label_flow([gete], VaspLabelMaker(), tag="vasp-replay", config_type="crystal")
    (doc,) = _outputs(run_local(flow), flow)
    assert doc.state == "successful", doc.error
    assert doc.code == "vasp" and doc.code_version == "VASP 6.4.2"
    assert doc.settings["functional"] == "PBESOL" and doc.settings["incar"]["GGA"] == "PS"
    assert doc.settings_hash == GstVaspInputGenerator().settings_hash()
    assert doc.energy == pytest.approx(-37.20306518)
    assert doc.stress[0][0] == pytest.approx(1.29716145)
    assert np.allclose(doc.virial, -np.array(doc.stress) * GPa * gete.get_volume())
    ase_forces = read(REF / "outputs" / "vasprun.xml").get_forces()
    assert np.allclose(doc.forces, ase_forces[np.argsort(species_order(gete))])
    assert doc.kpoints == [5, 5, 5] and doc.walltime == pytest.approx(42.731)
    assert doc.provenance.tag == "vasp-replay" and doc.provenance.config_type == "crystal"
    # The mesh itself (atomate2's replay check compares only the KPOINTS style).
    run_dir = Path(doc.dir_name)
    kpoints = next(run_dir.glob("KPOINTS*"))
    assert Kpoints.from_file(kpoints).kpts == [(5, 5, 5)]

    # The same structure and protocol again: the stored label is reused, VASP is not run.
    again = label_flow([gete], VaspLabelMaker(), tag="vasp-replay")
    (reused,) = _outputs(run_local(again), again)
    assert reused.reused_from is not None and reused.energy == doc.energy
    stored = outputs.find_one({"uuid": reused.reused_from})
    assert stored["output"]["forces"]["store"] == "data"


def test_unconverged_run_is_a_failed_label(gst_home, mock_vasp, gete, tmp_path):
    broken = tmp_path / "vasp_unconverged"
    shutil.copytree(REF, broken)
    xml = broken / "outputs" / "vasprun.xml"
    xml.write_text(xml.read_text().replace('name="NELM">   120', 'name="NELM">   4'))
    # A tighter EDIFF is another protocol (no stored label to reuse); the replay ignores it.
    mock_vasp({"vasp label 0": broken}, {"vasp label 0": {"incar_exclude": ["EDIFF"]}})
    maker = VaspLabelMaker(input_set_generator=GstVaspInputGenerator(user_incar_settings={"EDIFF": 1e-7}))
    flow = label_flow([gete], maker, tag="vasp-fail")
    (doc,) = _outputs(run_local(flow), flow)
    assert doc.state == "failed"
    assert "SCF did not converge" in doc.error
    assert doc.energy is None and doc.forces is None
    assert doc.settings["incar"]["EDIFF"] == 1e-7


def test_a_broken_setup_fails_the_job_not_the_label(gst_home, mock_vasp, gete, tmp_path, monkeypatch):
    """Only VASP's own failures become failed labels; a missing program is not one."""
    from atomate2.vasp import run as vasp_run

    def no_vasp(**kwargs):
        raise FileNotFoundError("vasp_std: command not found")

    monkeypatch.setattr(vasp_run, "run_vasp", no_vasp)
    maker = VaspLabelMaker(input_set_generator=GstVaspInputGenerator(user_incar_settings={"EDIFF": 2e-7}))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="vasp_std"):
        maker.label(gete.copy(), {"tag": "vasp-broken"})
