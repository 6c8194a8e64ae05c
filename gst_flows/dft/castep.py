"""CASTEP labelling through ASE: input writing, running and parsing.

The default protocol is that of the published GST database: PBEsol, a 600 eV plane-wave
cut-off, CASTEP's on-the-fly ultrasoft pseudopotentials of a fixed library (``C19``, so a
newer CASTEP does not silently change them), and the k-point density and electronic
temperature of the CP2K protocol before its convergence study (CP2K now uses 0.12 Å⁻¹): a
Monkhorst-Pack mesh with spacing at most 0.25 Å⁻¹ (2π
included, written explicitly as ``KPOINT_MP_GRID``; CASTEP's own ``KPOINTS_MP_SPACING`` is
quoted in units of 2π Å⁻¹, where this is about 0.04) and Fermi-Dirac smearing at 500 K
(0.0431 eV). The stress is computed, symmetry is not used.

Inputs are written with ASE (``ase.calculators.castep`` keyword objects and
``ase.io.castep.write_castep_cell`` / ``write_param``), and the ``.castep`` output is read
with ``ase.io.read(..., format="castep-castep")``. Units of the result: energy in eV (the
free energy ``E-TS``, which the forces are derivatives of), forces in eV/Å, stress in GPa
with the tensile-positive sign (CASTEP prints the stress with this sign, and its pressure is
``-trace/3``).
"""

from __future__ import annotations

import re
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.units import GPa

from gst_flows.dft.common import (
    ProtocolSettings,
    check_protocol,
    in_input_order,
    mismatched_geometry,
    settings_digest,
    species_order,
)
from gst_flows.dft.cp2k import kpoint_mesh

__all__ = [
    "SEED",
    "CastepError",
    "CastepResult",
    "CastepSettings",
    "parse_castep_output",
    "run_castep",
    "write_castep_input",
]

SEED = "castep"
FERMI_500K_EV = 0.0431  # k_B × 500 K, the CP2K protocol's electronic temperature

_UNCONVERGED = (
    "max. SCF cycles performed but system has not reached the groundstate",
    "electronic minimisation did not converge",
)


class CastepError(RuntimeError):
    """CASTEP failed, or its output could not be parsed as a label of the given structure."""


@dataclass(frozen=True)
class CastepSettings(ProtocolSettings):
    """The CASTEP labelling protocol.

    Parameters
    ----------
    functional
        ``XC_FUNCTIONAL``: ``"PBESOL"`` or ``"PBE"``.
    cutoff
        ``CUT_OFF_ENERGY``, eV.
    kpoint_spacing
        Largest spacing between k-points, Å⁻¹ (2π included), as in the CP2K protocol:
        ``n_i = ceil(|b_i| / spacing)``, written as ``KPOINT_MP_GRID``.
    elec_energy_tol
        ``ELEC_ENERGY_TOL``, eV per atom.
    max_scf_cycles
        ``MAX_SCF_CYCLES``.
    smearing_scheme, smearing_width
        Occupation smearing (``SMEARING_SCHEME``; ``SMEARING_WIDTH`` in eV).
    spin_polarized
        ``SPIN_POLARIZED``.
    finite_basis_corr
        ``FINITE_BASIS_CORR`` (0: none; fixed-cell labels do not need it).
    pseudopotentials
        An on-the-fly library name for every species (``"C19"``) or a mapping of element to
        library name or pseudopotential file.
    param, cell
        Further ``.param`` / ``.cell`` keywords, e.g. ``{"mixing_scheme": "Pulay"}``.
    """

    functional: str = "PBESOL"
    cutoff: float = 600.0
    kpoint_spacing: float = 0.25
    elec_energy_tol: float = 1e-6
    max_scf_cycles: int = 100
    smearing_scheme: str = "FermiDirac"
    smearing_width: float = FERMI_500K_EV
    spin_polarized: bool = False
    finite_basis_corr: int = 0
    pseudopotentials: str | dict[str, str] = "C19"
    param: dict[str, Any] = field(default_factory=dict)
    cell: dict[str, Any] = field(default_factory=dict)

    code_name: ClassVar[str] = "CASTEP"

    def __post_init__(self) -> None:
        check_protocol(self, ("cutoff", "kpoint_spacing", "elec_energy_tol", "smearing_width"))
        if self.max_scf_cycles < 1:
            raise ValueError(f"max_scf_cycles must be at least 1, got {self.max_scf_cycles}")

    def settings_hash(self) -> str:
        """Hash of everything that changes a label (SHA-1 of the canonical JSON)."""
        return settings_digest({"code": "castep", **self.as_dict()})

    def param_keywords(self) -> dict[str, Any]:
        """The ``.param`` keywords of this protocol."""
        return {
            "task": "SinglePoint",
            "xc_functional": self.functional.upper(),
            "cut_off_energy": f"{self.cutoff:g} eV",
            "calculate_stress": True,
            "spin_polarized": self.spin_polarized,
            "fix_occupancy": False,
            "smearing_scheme": self.smearing_scheme,
            "smearing_width": f"{self.smearing_width:g} eV",
            "elec_energy_tol": f"{self.elec_energy_tol:g} eV",
            "max_scf_cycles": self.max_scf_cycles,
            "finite_basis_corr": self.finite_basis_corr,
            "write_checkpoint": "none",
            "num_dump_cycles": 0,
            **self.param,
        }


@dataclass
class CastepResult:
    """Parsed result of one CASTEP single point, in the input order of the atoms.

    Energies in eV, forces in eV/Å, stress in GPa (tensile positive).
    """

    energy: float
    energy_zero: float | None
    forces: np.ndarray
    stress: np.ndarray | None
    version: str
    kpoints: tuple[int, int, int] | None
    walltime: float | None
    directory: str


def write_castep_input(
    atoms: Atoms, settings: CastepSettings | None = None, directory: str | Path = ".", seed: str = SEED
) -> tuple[Path, Path]:
    """Write ``<seed>.cell`` and ``<seed>.param`` for an energy, forces and stress run.

    The atoms are written grouped by species (ascending atomic number), which is the order
    CASTEP reports them in; :func:`parse_castep_output` maps the results back.

    Parameters
    ----------
    atoms
        A periodic structure.
    settings
        The protocol; the defaults when omitted.
    directory
        Directory to write into (created when missing).
    seed
        CASTEP seed name.

    Returns
    -------
    tuple of Path
        The ``.cell`` and ``.param`` files.
    """
    from ase.calculators.castep import Castep
    from ase.io.castep import write_castep_cell, write_param

    settings = settings or CastepSettings()
    if not all(atoms.pbc):
        raise ValueError("CASTEP labels need a periodic cell (pbc on all three axes)")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # CASTEP prints species in ascending atomic number; writing them so keeps one order.
    grouped = atoms[species_order(atoms)]
    grouped.info.clear()
    for name in list(grouped.arrays):
        if name not in ("numbers", "positions"):
            del grouped.arrays[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calc = Castep(directory=str(directory), label=seed, keyword_tolerance=3, check_castep_version=False)
    for key, value in settings.param_keywords().items():
        setattr(calc.param, key, value)
    calc.cell.kpoint_mp_grid = " ".join(map(str, kpoint_mesh(atoms, settings.kpoint_spacing)))
    symbols = sorted(set(atoms.get_chemical_symbols()), key=lambda s: grouped.get_chemical_symbols().index(s))
    pots = settings.pseudopotentials
    library = pots if isinstance(pots, str) else None
    if library is None:
        missing = [s for s in symbols if s not in pots]
        if missing:
            raise ValueError(f"no pseudopotential configured for {missing}")
    calc.cell.species_pot = [(s, library or pots[s]) for s in symbols]
    for key, value in settings.cell.items():
        setattr(calc.cell, key, value)
    grouped.calc = calc
    cell_path = directory / f"{seed}.cell"
    param_path = directory / f"{seed}.param"
    write_castep_cell(str(cell_path), grouped, positions_frac=True, precision=10)
    write_param(str(param_path), calc.param, force_write=True)
    return cell_path, param_path


def parse_castep_output(directory: str | Path, atoms: Atoms, seed: str = SEED) -> CastepResult:
    """Parse ``<seed>.castep`` in ``directory`` into a label of ``atoms``.

    Parameters
    ----------
    directory
        The run directory.
    atoms
        The structure in its original order; the output must describe the same atoms.
    seed
        CASTEP seed name.

    Returns
    -------
    CastepResult
        Free energy (eV), forces (eV/Å) in the order of ``atoms``, stress (GPa, tensile
        positive).

    Raises
    ------
    CastepError
        When the output is missing or incomplete, the SCF did not converge, or it describes
        another structure.
    """
    from ase.io import read

    directory = Path(directory)
    path = directory / f"{seed}.castep"
    if not path.is_file():
        errors = sorted(directory.glob(f"{seed}*.err"))
        detail = errors[0].read_text(errors="replace").strip().splitlines()[:3] if errors else []
        raise CastepError(f"no {path.name} in {directory}" + (f": {' '.join(detail)}" if detail else ""))
    text = path.read_text(errors="replace")
    for message in _UNCONVERGED:
        if message in text:
            raise CastepError(f"SCF did not converge in {directory} ({message})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = read(str(path), format="castep-castep", index=-1)
    except Exception as exc:  # ASE raises ParseError, ValueError, ... on truncated files
        raise CastepError(f"cannot parse {path}: {type(exc).__name__}: {exc}") from exc
    results = parsed.calc.results
    if "forces" not in results or "free_energy" not in results:
        raise CastepError(f"{path} holds no final energy and forces")

    order = species_order(atoms)
    grouped = atoms[order]
    if parsed.get_chemical_symbols() != grouped.get_chemical_symbols():
        raise CastepError(f"{path} describes {parsed.get_chemical_formula()}, not the structure written")
    if mismatched_geometry(parsed.get_scaled_positions(wrap=False), parsed.cell.array, grouped, 1e-4):
        raise CastepError(f"{path} is not a label of the structure that was written")

    forces = in_input_order(results["forces"], order)
    stress = None
    if "stress" in results:
        from ase.stress import voigt_6_to_full_3x3_stress

        stress = voigt_6_to_full_3x3_stress(np.asarray(results["stress"])) / GPa
    version = re.search(r"CASTEP version\s+([\w.]+)", text)
    mesh = re.search(r"MP grid size for SCF calculation is\s+(\d+)\s+(\d+)\s+(\d+)", text)
    walltime = re.search(r"Total time\s+=\s+([\d.]+)\s+s", text)
    return CastepResult(
        energy=float(results["free_energy"]),
        energy_zero=float(results["energy"]) if "energy" in results else None,
        forces=forces,
        stress=stress,
        version=f"CASTEP {version.group(1)}" if version else "CASTEP unknown",
        kpoints=tuple(int(n) for n in mesh.groups()) if mesh else None,
        walltime=float(walltime.group(1)) if walltime else None,
        directory=str(directory),
    )


def _execute(command: list[str], directory: Path, seed: str) -> int:
    """Run CASTEP on ``seed`` in ``directory``; return its exit code."""
    with open(directory / "castep.stdout", "w") as out, open(directory / "castep.stderr", "w") as err:
        return subprocess.run([*command, seed], cwd=directory, stdout=out, stderr=err, check=False).returncode


def run_castep(
    atoms: Atoms,
    settings: CastepSettings | None = None,
    directory: str | Path = ".",
    command: list[str] | None = None,
    seed: str = SEED,
) -> CastepResult:
    """Write the inputs, run CASTEP on ``atoms`` in ``directory`` and parse the label.

    Parameters
    ----------
    atoms
        Structure to label.
    settings
        The protocol; defaults when omitted.
    directory
        Run directory (created).
    command
        CASTEP command as a list (the seed name is appended), e.g.
        ``["mpirun", "-np", "4", "castep.mpi"]``; ``$CASTEP_COMMAND`` or ``castep.mpi``
        when omitted.
    seed
        CASTEP seed name.

    Raises
    ------
    CastepError
        When CASTEP cannot be started, fails, or leaves no usable output.
    """
    import os
    import shlex

    directory = Path(directory).resolve()
    write_castep_input(atoms, settings, directory, seed)
    command = command or shlex.split(os.environ.get("CASTEP_COMMAND", "castep.mpi"))
    try:
        code = _execute(command, directory, seed)
    except OSError as exc:
        raise CastepError(f"cannot start CASTEP ({' '.join(command)}): {exc.strerror}") from exc
    try:
        return parse_castep_output(directory, atoms, seed)
    except CastepError as exc:
        if code:
            raise CastepError(f"CASTEP exited with code {code}: {exc}") from exc
        raise
