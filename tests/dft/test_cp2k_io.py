"""CP2K input writing and output parsing, without running CP2K."""

from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.io import read
from ase.units import Bohr, Hartree

from gst_flows.dft.cp2k import (
    Cp2kError,
    Cp2kSettings,
    kpoint_mesh,
    parse_cp2k_output,
    write_cp2k_input,
)
from gst_flows.structures import build_rocksalt

REF = Path(__file__).parent / "reference" / "cp2k_gete7"


def test_kpoint_mesh_never_gamma_for_small_cells():
    cell = build_rocksalt("Ge1Sb2Te4", seed=0)  # a ≈ 6 Å: 2π/6/0.25 = 4.2 → 5
    assert kpoint_mesh(cell, 0.25) == (5, 5, 5)
    big = bulk("Ge", "diamond", a=5.66, cubic=True).repeat((4, 4, 4))
    assert kpoint_mesh(big, 0.25) == (2, 2, 2)


def test_default_input_has_the_reference_protocol(tmp_path):
    atoms = build_rocksalt("Ge1Sb2Te4", seed=0)
    text = write_cp2k_input(atoms, Cp2kSettings(), tmp_path).read_text()
    for line in (
        "PARAMETRIZATION PBESOL",
        "CUTOFF 300.0",
        "REL_CUTOFF 50.0",
        "EPS_SCF 1.000e-06",
        "METHOD FERMI_DIRAC",
        "ELECTRONIC_TEMPERATURE [K] 500.0",
        "METHOD BROYDEN_MIXING",
        "STRESS_TENSOR ANALYTICAL",
        "SCHEME MONKHORST-PACK 9 9 9",  # 2π/6 Å / 0.12 Å⁻¹ = 8.7
    ):
        assert line in text, line
    assert "UKS F" in text
    # every atom once, in order, at its position (Å); the cell as given
    coord = _section(text, "COORD")
    assert [line.split()[0] for line in coord] == atoms.get_chemical_symbols()
    assert np.allclose([[float(x) for x in line.split()[1:]] for line in coord], atoms.positions, atol=1e-9)
    cell = [line.split() for line in _section(text, "CELL") if line[0] in "ABC"]
    assert np.allclose([[float(x) for x in row[1:]] for row in cell], atoms.cell.array, atol=1e-9)
    # one &KIND per species, with the basis and the GTH valence of that element
    kinds = [line.split()[1] for line in text.splitlines() if line.strip().startswith("&KIND")]
    assert kinds == ["Ge", "Sb", "Te"]
    for kind, valence in (("Ge", 4), ("Sb", 5), ("Te", 6)):
        assert _section(text, "KIND", kind) == [
            "BASIS_SET DZVP-MOLOPT-SR-GTH",
            f"POTENTIAL GTH-PBE-q{valence}",
        ]


def _section(text: str, name: str, argument: str | None = None) -> list[str]:
    """Stripped lines inside the (only) ``&NAME [argument]`` ... ``&END NAME`` section."""
    header = f"&{name}" + (f" {argument}" if argument else "")
    lines = [line.strip() for line in text.splitlines()]
    starts = [i for i, line in enumerate(lines) if line == header]
    assert len(starts) == 1, f"{len(starts)} {header} sections"
    end = lines.index(f"&END {name}", starts[0])
    return lines[starts[0] + 1 : end]


def test_pbe_and_overrides(tmp_path):
    atoms = build_rocksalt("GeTe", seed=0)
    settings = Cp2kSettings(functional="PBE", overrides={"force_eval": {"dft": {"scf": {"max_scf": 7}}}})
    text = write_cp2k_input(atoms, settings, tmp_path).read_text().upper()
    assert "PARAMETRIZATION ORIG" in text
    assert "MAX_SCF 7" in text
    assert "MAX_SCF 100" not in text


def test_settings_hash_tracks_changes_and_bad_values_are_refused():
    base = Cp2kSettings()
    assert base.settings_hash() == Cp2kSettings().settings_hash()
    assert base.settings_hash() != base.update(cutoff=400).settings_hash()
    with pytest.raises(ValueError, match="unknown CP2K setting"):
        Cp2kSettings.from_dict({"cutof": 400})
    with pytest.raises(ValueError, match="functional"):
        Cp2kSettings(functional="LDA")
    with pytest.raises(ValueError, match="cutoff must be positive"):
        Cp2kSettings(cutoff=-1)


def test_parse_reference_output_units_and_sign():
    atoms = read(REF / "structure.extxyz")
    result = parse_cp2k_output(REF, len(atoms))
    assert result.energy == pytest.approx(-40.153589204408611 * Hartree)
    # First force row of the reference output, Ha/bohr → eV/Å.
    assert np.allclose(result.forces[0], np.array([-0.00491641, -0.00027988, -0.00038210]) * Hartree / Bohr)
    assert result.forces.shape == (7, 3)
    # CP2K prints the pressure tensor (here -4.37 GPa on xx); we store the ASE (tensile) sign.
    assert result.stress[0, 0] == pytest.approx(4.36988537325)
    assert result.version == "CP2K version 2023.1"
    assert result.kpoints == (2, 2, 2)
    assert result.virial(atoms.get_volume())[0, 0] < 0


def test_parse_incomplete_output_is_a_clear_error(tmp_path):
    text = (REF / "cp2k.out").read_text()
    (tmp_path / "cp2k.out").write_text(text.split("ENERGY| Total FORCE_EVAL")[0])
    with pytest.raises(Cp2kError, match="did not finish"):
        parse_cp2k_output(tmp_path, 7)
    with pytest.raises(Cp2kError, match="no CP2K output"):
        parse_cp2k_output(tmp_path / "missing", 7)
    (tmp_path / "cp2k.out").write_text(text.replace("*** SCF run converged", "*** SCF run NOT converged"))
    with pytest.raises(Cp2kError, match="SCF did not converge"):
        parse_cp2k_output(tmp_path, 7)


def test_custodian_scf_corrections_apply_cleanly(tmp_path):
    """custodian's SCF handler sets MIXING/NBUFFER: our input must not carry a second alias."""
    from custodian.cp2k.interpreter import Cp2kModder

    atoms = build_rocksalt("GeTe", seed=0)
    write_cp2k_input(atoms, Cp2kSettings(), tmp_path)
    modder = Cp2kModder(filename="cp2k.inp", directory=str(tmp_path))
    modder.apply_actions(
        [
            {
                "dict": "cp2k.inp",
                "action": {"_set": {"FORCE_EVAL": {"DFT": {"SCF": {"MIXING": {"NBUFFER": 20}}}}}},
            },
            {
                "dict": "cp2k.inp",
                "action": {"_set": {"FORCE_EVAL": {"DFT": {"SCF": {"MIXING": {"ALPHA": 0.05}}}}}},
            },
        ]
    )
    text = (tmp_path / "cp2k.inp").read_text().upper()
    assert text.count("NBUFFER") == 1
    assert "NBROYDEN" not in text
    assert "NBUFFER 20" in text
    assert "ALPHA 0.05" in text


def test_hash_of_the_reference_protocol_is_stable():
    """Stored labels are found again only if the default protocol keeps its hash."""
    assert Cp2kSettings().settings_hash() == "c11a9981f857460a2954218afa6abb73b8ed154c"
    # Labels made with the earlier default (0.25 Å⁻¹) are still found when it is asked for.
    assert Cp2kSettings(kpoint_spacing=0.25).settings_hash() == "f2356abf0860a2744a6d4972f7f4f4ae24f51c36"
    assert (
        Cp2kSettings(scf_method="ot", gamma_only=True).settings_hash()
        != Cp2kSettings(gamma_only=True).settings_hash()
    )


def test_custodian_job_terminates_only_its_own_process(tmp_path):
    """custodian's Cp2kJob.terminate would `killall cp2k.psmp` on the whole node."""
    import signal
    import subprocess

    from gst_flows.dft.cp2k import _own_process_job

    (tmp_path / "cp2k.inp").write_text("&GLOBAL\n&END GLOBAL\n")
    # Stand-ins for CP2K: `sleep` ignores the appended "-i cp2k.inp" only via a shell wrapper.
    bystander = subprocess.Popen(["sleep", "30"])
    job = _own_process_job(["bash", "-c", "sleep 30", "cp2k"], input_file="cp2k.inp")
    process = job.run(str(tmp_path))
    try:
        job.terminate(str(tmp_path))
        assert process.wait(timeout=30) == -signal.SIGTERM
        # No waiting needed to see whether terminate() reached the bystander: a fatal signal
        # sent to it then has already fixed its exit status, and a later SIGKILL is ignored.
        # Left alone, it reports the SIGKILL sent now.
        bystander.kill()
        assert bystander.wait(timeout=30) == -signal.SIGKILL
    finally:
        bystander.kill()
        bystander.wait()
