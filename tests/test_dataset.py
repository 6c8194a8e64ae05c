"""Export of stored labels to gap_fit's extended XYZ, and import of labelled data sets."""

import subprocess
import warnings

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.lj import LennardJones
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write
from ase.units import GPa
from jobflow import Flow, job

from gst_flows import cli
from gst_flows.dataset import DatasetError, export_labels, find_labels, import_dataset
from gst_flows.execution import run_local
from gst_flows.fit.data import read_labelled_frames, validate_frames
from gst_flows.fit.gap_fit import gap_fit_executable
from gst_flows.schemas.label import LabelDoc, Provenance
from gst_flows.structures import build_rocksalt

BULK_HASH = "ab" * 20
ATOM_HASH = "cd" * 20


@job(data=["forces", "structure"])
def emit(doc: LabelDoc) -> LabelDoc:
    """Store a prepared label document, as a labelling job would."""
    return doc


def _lj_label(atoms, settings_hash=BULK_HASH, code="cp2k", **provenance) -> LabelDoc:
    probe = atoms.copy()
    probe.calc = LennardJones(sigma=2.7, epsilon=0.08, rc=5.5, smooth=True)
    return LabelDoc.from_result(
        atoms,
        code=code,
        settings={"stand-in": True},
        settings_hash=settings_hash,
        energy=probe.get_potential_energy(),
        forces=probe.get_forces(),
        stress=probe.get_stress(voigt=False) / GPa,
        provenance=Provenance(**provenance),
    )


def _cell(composition, seed):
    atoms = build_rocksalt(composition, seed=seed)
    atoms.rattle(0.05, seed=seed + 1)
    atoms.info.clear()
    return atoms


@pytest.fixture(scope="module")
def stored(gst_home):
    """Labels tagged 'export': 3 structures, one stored twice, a failed one, an isolated atom."""
    gete, gst, gete2 = _cell("GeTe", 1), _cell("Ge1Sb2Te4", 2), _cell("GeTe", 3)
    docs = [
        _lj_label(gete, tag="export", iteration=0, config_type="crystal", generator="builder"),
        _lj_label(gst, tag="export", iteration=1, config_type="amorphous", temperature=300.0),
        _lj_label(gete2, tag="export", iteration=1, config_type="liquid", source="md run"),
        # the same label again, reused (a second computed copy is refused by the database)
        _lj_label(gete, tag="export", iteration=0, config_type="crystal", generator="builder").model_copy(
            update={"reused_from": "an-earlier-label-job"}
        ),
        LabelDoc.from_result(
            gete2,
            code="cp2k",
            settings={},
            settings_hash=BULK_HASH,
            error="SCF did not converge",
            provenance=Provenance(tag="export"),
        ),
        _lj_label(gete, settings_hash="ef" * 20, code="vasp", tag="export", config_type="crystal"),
    ]
    atom = Atoms("Ge", positions=[[5, 5.25, 5.5]], cell=[10, 10.5, 11], pbc=True)
    isolated = LabelDoc.from_result(
        atom,
        code="cp2k",
        settings={},
        settings_hash=ATOM_HASH,
        energy=-107.1,
        forces=np.zeros((1, 3)),
        provenance=Provenance(tag="export", config_type="isolated_atom"),
        reference_settings_hash=BULK_HASH,
    )
    jobs = [emit(d) for d in [*docs, isolated]]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Some jobs are not connected")
        run_local(Flow(jobs))
    return {"gete": docs[0], "gst": docs[1], "gete2": docs[2], "atom": isolated}


def test_export_is_what_gap_fit_reads(stored, tmp_path):
    path = tmp_path / "train.extxyz"
    summary = export_labels(path, tag="export", settings_hash=BULK_HASH)
    assert summary.n_frames == 4 and summary.n_duplicates == 1  # failed and vasp labels left out
    assert summary.config_types == {"crystal": 1, "amorphous": 1, "liquid": 1, "isolated_atom": 1}

    # The raw file: the virial as 9 numbers, never ASE's JSON 3x3 form.
    header = path.read_text().splitlines()[1]
    assert 'REF_virial="' in header and "[[" not in header
    virial_text = header.split('REF_virial="')[1].split('"')[0].split()
    assert len(virial_text) == 9
    assert "REF_forces:R:3" in header and "config_type=crystal" in header

    # ASE reads it back with the labels in the keys gap_fit is told to use.
    frames = read(path, index=":")
    by_hash = {f.info["structure_hash"]: f for f in frames}
    for name in ("gete", "gst", "gete2"):
        doc, frame = stored[name], by_hash[stored[name].structure_hash]
        assert frame.info["REF_energy"] == pytest.approx(doc.energy)
        assert np.allclose(frame.arrays["REF_forces"], doc.forces)
        assert np.allclose(np.asarray(frame.info["REF_virial"]).reshape(3, 3), doc.virial)
        assert frame.info["settings_hash"] == BULK_HASH and frame.info["code"] == "cp2k"
        assert len(frame.info["label_uuid"]) == 36
    assert by_hash[stored["gete"].structure_hash].info["generator"] == "builder"
    assert by_hash[stored["gst"].structure_hash].info["temperature"] == 300.0
    assert by_hash[stored["gete2"].structure_hash].info["source"] == "md run"
    atom = by_hash[stored["atom"].structure_hash]
    assert atom.info["config_type"] == "isolated_atom" and atom.info["REF_energy"] == -107.1
    assert atom.info["reference_settings_hash"] == BULK_HASH
    # The fit layer's reader and checks accept it.
    e0 = validate_frames(read_labelled_frames(path), e0={"Sb": -1.0, "Te": -2.0})
    assert e0["Ge"] == -107.1  # from the isolated-atom frame

    # gap_fit itself reads it (a two-body GAP with a handful of sparse points: ~1 s).
    run = subprocess.run(
        [
            gap_fit_executable(),
            f"at_file={path}",
            "gap={distance_2b cutoff=4.5 n_sparse=5 covariance_type=ard_se delta=1.0 "
            "theta_uniform=1.0 sparse_method=uniform}",
            "default_sigma={0.01 0.2 0.2 0.0}",
            "energy_parameter_name=REF_energy",
            "force_parameter_name=REF_forces",
            "virial_parameter_name=REF_virial",
            "config_type_parameter_name=config_type",
            "e0_method=average",
            "sparse_jitter=1e-8",
            "gp_file=gap.xml",
            "rnd_seed=1",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Number of target energies (property name: REF_energy) found: 4" in run.stdout
    # 8 + 7 + 8 + 1 atoms × 3 force components; 3 cells × 6 independent virial components.
    assert "Number of target forces (property name: REF_forces) found: 72" in run.stdout
    assert "Number of target virials (property name: REF_virial) found: 18" in run.stdout
    assert (tmp_path / "gap.xml").is_file()


def test_export_selections(stored, tmp_path):
    def hashes(**selection):
        export_labels(tmp_path / "sel.extxyz", tag="export", **selection)
        return {f.info["structure_hash"] for f in read(tmp_path / "sel.extxyz", index=":")}

    gete, gst, gete2 = (stored[k].structure_hash for k in ("gete", "gst", "gete2"))
    assert hashes(config_type="amorphous") == {gst}
    assert hashes(config_type=["amorphous", "liquid"]) == {gst, gete2}
    assert hashes(composition="GeSb2Te4", settings_hash=BULK_HASH) == {gst}
    assert hashes(composition=["Ge1Sb2Te4"], settings_hash=BULK_HASH) == {gst}
    assert hashes(iteration=1) == {gst, gete2}
    assert hashes(iteration=[0, 1], config_type=["crystal", "liquid"], code="cp2k") == {gete, gete2}
    assert hashes(code="vasp") == {gete}
    assert hashes(settings_hash=BULK_HASH[:8], config_type="crystal") == {gete}
    with pytest.warns(UserWarning, match="2 protocols"):
        export_labels(tmp_path / "mixed.extxyz", tag="export", config_type="crystal")
    with pytest.raises(DatasetError, match="no successful labels match"):
        export_labels(tmp_path / "none.extxyz", tag="export", composition="Sb2Te3")
    assert not (tmp_path / "none.extxyz").exists()
    with pytest.raises(DatasetError, match="prefix of at least 6"):
        export_labels(tmp_path / "none.extxyz", settings_hash="ab")
    with pytest.raises(DatasetError, match="not a chemical composition"):
        export_labels(tmp_path / "none.extxyz", composition="GeXx")


def _dataset(path, n=3, **drop):
    """A small labelled data set in gap_fit's keys (Lennard-Jones numbers)."""
    frames = []
    for k in range(n):
        atoms = _cell("GeTe" if k % 2 == 0 else "Ge1Sb2Te4", 20 + k)
        doc = _lj_label(atoms)
        atoms.info.update(
            {
                "REF_energy": doc.energy,
                "REF_virial": np.asarray(doc.virial).reshape(9),
                "config_type": ["crystal", "liquid", "amorphous"][k % 3],
            }
        )
        atoms.arrays["REF_forces"] = np.asarray(doc.forces)
        for key, frame_index in drop.items():
            if frame_index == k:
                atoms.info.pop(key, None)
                atoms.arrays.pop(key, None)
        frames.append(atoms)
    write(path, frames, format="extxyz")
    return frames


def test_import_round_trip(gst_home, tmp_path):
    path = tmp_path / "published.extxyz"
    frames = _dataset(path)
    summary = import_dataset(
        path, tag="imported-set", source="GST test set", protocol={"code": "castep", "functional": "PBEsol"}
    )
    assert (summary.n_frames, summary.n_stored, summary.n_already_stored) == (3, 3, 0)
    labels = find_labels(tag="imported-set")
    assert len(labels) == 3
    doc = labels[0].doc
    assert doc.code == "imported" and doc.state == "successful"
    assert doc.settings["source"] == "GST test set"
    assert doc.settings["energy_key"] == "REF_energy" and doc.settings["forces_key"] == "REF_forces"
    assert doc.settings["protocol"] == {"code": "castep", "functional": "PBEsol"}
    assert doc.provenance.source == str(path.resolve())
    assert doc.provenance.generator == "published.extxyz frame 0"
    assert doc.provenance.config_type == "crystal"
    assert doc.energy == pytest.approx(frames[0].info["REF_energy"])
    assert np.allclose(doc.forces, frames[0].arrays["REF_forces"])
    assert np.allclose(np.asarray(doc.virial).reshape(9), frames[0].info["REF_virial"])
    assert labels[0].metadata["import"]["frame"] == 0

    again = import_dataset(
        path, tag="imported-set", source="GST test set", protocol={"code": "castep", "functional": "PBEsol"}
    )
    assert (again.n_stored, again.n_already_stored) == (0, 3)

    out = tmp_path / "back.extxyz"
    export_labels(out, tag="imported-set")
    back = read(out, index=":")
    assert [f.info["config_type"] for f in back] == ["crystal", "liquid", "amorphous"]
    assert np.allclose(back[1].arrays["REF_forces"], frames[1].arrays["REF_forces"])
    assert np.allclose(np.asarray(back[2].info["REF_virial"]).reshape(9), frames[2].info["REF_virial"])


def test_import_ase_calculator_keys_and_stress(gst_home, tmp_path):
    atoms = _cell("GeTe", 40)
    probe = atoms.copy()
    probe.calc = LennardJones(sigma=2.7, epsilon=0.08, rc=5.5, smooth=True)
    energy, forces, stress = probe.get_potential_energy(), probe.get_forces(), probe.get_stress()
    atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces, stress=stress)
    path = tmp_path / "ase.extxyz"
    write(path, atoms, format="extxyz")  # ASE writes these as energy=, forces, stress=
    summary = import_dataset(
        path,
        energy_key="energy",
        forces_key="forces",
        virial_key=None,
        stress_key="stress",
        tag="imported-ase",
    )
    assert summary.n_stored == 1
    (label,) = find_labels(tag="imported-ase")
    assert label.doc.energy == pytest.approx(energy)
    assert np.allclose(label.doc.forces, forces)
    full = np.array(
        [
            [stress[0], stress[5], stress[4]],
            [stress[5], stress[1], stress[3]],
            [stress[4], stress[3], stress[2]],
        ]
    )
    assert np.allclose(label.doc.stress, full / GPa)
    assert np.allclose(label.doc.virial, -full * atoms.get_volume())


def test_import_refuses_frames_without_labels(gst_home, outputs, tmp_path):
    path = tmp_path / "incomplete.extxyz"
    _dataset(path, n=4, REF_forces=1, REF_energy=3)
    before = outputs.count_documents({})
    with pytest.raises(DatasetError) as error:
        import_dataset(path, tag="never-stored")
    message = str(error.value)
    assert "2 of 4 frame(s)" in message and "nothing was imported" in message
    assert "frame 1 (" in message and "has no forces 'REF_forces'" in message
    assert "frame 3 (" in message and "has no energy 'REF_energy'" in message
    assert "config_type=liquid" in message
    assert outputs.count_documents({}) == before
    with pytest.raises(DatasetError, match=r"has no energy 'DFT_energy'.*keys present: .*REF_energy"):
        import_dataset(path, energy_key="DFT_energy")
    molecule = tmp_path / "molecule.extxyz"
    write(
        molecule,
        Atoms("GeTe", positions=[[0, 0, 0], [2.6, 0, 0]], info={"REF_energy": -8.0}),
        format="extxyz",
    )
    with pytest.raises(DatasetError, match=r"frame 0 .* is not periodic"):
        import_dataset(molecule)
    with pytest.raises(DatasetError, match="not found"):
        import_dataset(tmp_path / "missing.extxyz")
    assert outputs.count_documents({}) == before


@pytest.fixture
def gst_cli(monkeypatch):
    """The command line with the export and import commands registered."""
    commands = tuple(c for c in ("export", "import_") if c not in cli.COMMANDS)
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, *commands))
    return cli.main


def test_cli_import_then_export(gst_home, gst_cli, tmp_path, capsys):
    path = tmp_path / "cli.extxyz"
    _dataset(path, n=2)
    assert (
        gst_cli(
            [
                "import",
                str(path),
                "--energy-key",
                "REF_energy",
                "--forces-key",
                "REF_forces",
                "--tag",
                "cli-set",
                "--protocol",
                "functional=PBEsol",
            ]
        )
        == 0
    )
    assert "imported 2 of 2 frame(s)" in capsys.readouterr().out
    out = tmp_path / "train.extxyz"
    assert gst_cli(["export", "labels", "--tag", "cli-set", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrote 2 frame(s)" in printed and "crystal 1" in printed
    assert len(read(out, index=":")) == 2

    bad = tmp_path / "bad.extxyz"
    _dataset(bad, n=2, REF_forces=0)
    assert gst_cli(["import", str(bad), "--forces-key", "REF_forces", "--tag", "cli-bad"]) == 2
    err = capsys.readouterr().err
    assert "frame 0" in err and "REF_forces" in err and err.count("\n") == 1
    assert gst_cli(["export", "labels", "--tag", "cli-bad", "-o", str(tmp_path / "x.extxyz")]) == 2
    assert "no successful labels match" in capsys.readouterr().err
