"""VASP labelling: the GST input set (through atomate2) and parsing of the outputs.

The protocol is a static (single-point) calculation with PBEsol (``GGA = PS``), PAW PBE
potentials ``Ge_d``, ``Sb``, ``Te`` (PBE.54 set), ``ENCUT = 450`` eV (1.45 × the largest
ENMAX, that of Ge_d, 310 eV: converged stresses need ≥ 1.3 × ENMAX), ``PREC = Accurate``,
``EDIFF = 1e-6`` eV, Fermi-Dirac smearing at the CP2K protocol's 500 K
(``ISMEAR = -1``, ``SIGMA = 0.0431`` eV: liquid and amorphous GST are metallic or nearly so,
crystals are narrow-gap semiconductors), real-space projection off (``LREAL = False``), no
symmetry (``ISYM = 0``: MD snapshots have none, and symmetrisation would hide force noise),
non-spin-polarised, no WAVECAR/CHGCAR, and a Γ-centred mesh from a k-point spacing of 0.25 Å⁻¹
(2π included; VASP's own ``KSPACING`` uses the same definition), the CP2K protocol's earlier
default; CP2K now uses 0.12 Å⁻¹ (docs/dft-codes.md, "Protocol convergence").

Units of the parsed result: energies in eV, forces in eV/Å, stress in GPa with the tensile-
positive (ASE) sign. VASP writes the stress in ``vasprun.xml`` in kBar with the opposite sign
(positive under compression, the sign of its pressure), so ``stress_GPa = -0.1 × stress_kBar``.
The energy is the free energy (``e_fr_energy``, VASP's TOTEN): with smearing it is the energy
the forces are derivatives of.
"""

from __future__ import annotations

import json
import re
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from atomate2.vasp.sets.core import StaticSetGenerator
from pymatgen.io.vasp import Incar, Kpoints

from gst_flows.dft.common import (
    check_protocol,
    in_input_order,
    mismatched_geometry,
    settings_digest,
    species_order,
)
from gst_flows.dft.cp2k import kpoint_mesh

__all__ = [
    "GST_POTCARS",
    "GST_VASP_INCAR",
    "GstVaspInputGenerator",
    "VaspError",
    "VaspResult",
    "parse_vasp_output",
    "species_order",
]

KBAR_TO_GPA = 0.1

#: Potentials of the GST protocol (PAW PBE, PBE.54 set): Ge with its 3d shell in valence.
GST_POTCARS: dict[str, str] = {"Ge": "Ge_d", "Sb": "Sb", "Te": "Te"}

#: INCAR of the GST labelling protocol (the functional is set from the generator's field).
GST_VASP_INCAR: dict[str, Any] = {
    "PREC": "Accurate",
    "ENCUT": 450,
    "EDIFF": 1e-6,
    "NELM": 120,
    "ALGO": "Normal",
    "ISMEAR": -1,
    "SIGMA": 0.0431,
    "ISPIN": 1,
    "LREAL": False,
    "LASPH": True,
    "ISYM": 0,
    "NSW": 0,
    "IBRION": -1,
    "ISIF": 2,
    "LWAVE": False,
    "LCHARG": False,
}

_GGA_TAGS = {"PBESOL": "PS", "PBE": "PE"}


class VaspError(RuntimeError):
    """VASP failed, or its output could not be parsed as a label of the given structure."""


def _gst_config() -> dict[str, Any]:
    return {
        "INCAR": dict(GST_VASP_INCAR),
        "KPOINTS": {},
        "POTCAR": dict(GST_POTCARS),
        "POTCAR_FUNCTIONAL": "PBE_54",
    }


@dataclass
class GstVaspInputGenerator(StaticSetGenerator):
    """atomate2 static input set with the GST labelling protocol (see the module docstring).

    Parameters
    ----------
    functional
        ``"PBESOL"`` (``GGA = PS``) or ``"PBE"`` (``GGA = PE``).
    kpoint_spacing
        Largest spacing between k-points, Å⁻¹ (2π included): ``n_i = ceil(|b_i| / spacing)``
        on a Γ-centred mesh, as in the CP2K protocol.
    config_dict
        Base INCAR, POTCAR choice and POTCAR functional (atomate2/pymatgen layout).
    user_incar_settings, user_potcar_settings
        Overrides, as in every atomate2 input generator; they are part of the protocol (and
        of its hash).

    Notes
    -----
    Atoms are not re-sorted by the generator (``sort_structure=False``): the labelling maker
    groups them by species itself and maps the forces back to the original order.
    """

    functional: str = "PBESOL"
    kpoint_spacing: float = 0.25
    config_dict: dict = field(default_factory=_gst_config)
    sort_structure: bool = False
    auto_ismear: bool = False
    inherit_incar: bool = False
    force_gamma: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_protocol(self, ("kpoint_spacing",))

    @property
    def incar_updates(self) -> dict:
        """The exchange-correlation tag of the chosen functional."""
        return {"GGA": _GGA_TAGS[self.functional.upper()]}

    @property
    def kpoints_updates(self) -> Kpoints:
        """Γ-centred mesh from :attr:`kpoint_spacing` (ignored if ``user_kpoints_settings``)."""
        from pymatgen.io.ase import AseAtomsAdaptor

        mesh = kpoint_mesh(AseAtomsAdaptor.get_atoms(self.structure), self.kpoint_spacing)
        return Kpoints.gamma_automatic(mesh)

    @property
    def incar(self) -> Incar:
        """The INCAR, keeping ``ISIF = 2`` (stress) that pymatgen drops for static runs."""
        incar = super().incar
        incar.setdefault("ISIF", self.user_incar_settings.get("ISIF", 2))
        return incar

    def protocol(self) -> dict[str, Any]:
        """Everything that changes a label, independent of the structure (JSON-serialisable).

        Returns
        -------
        dict
            ``functional``, the INCAR settings (base, functional tag, user overrides), the
            POTCAR symbol per element, the POTCAR functional, the k-point spacing (Å⁻¹) and
            any user k-point settings.
        """
        incar = {**self._config_dict["INCAR"], **self.incar_updates, **self.user_incar_settings}
        potcars = {**self._config_dict["POTCAR"], **self.user_potcar_settings}
        return {
            "functional": self.functional.upper(),
            "incar": {k: incar[k] for k in sorted(incar) if incar[k] is not None},
            "potcars": dict(sorted(potcars.items())),
            "potcar_functional": self.user_potcar_functional,
            "kpoint_spacing": self.kpoint_spacing,
            "kpoints": "gamma-centred",
            "user_kpoints_settings": deepcopy(self.user_kpoints_settings) or None,
        }

    def settings_hash(self) -> str:
        """SHA-1 of :meth:`protocol` (canonical JSON)."""
        return settings_digest(self.protocol())


@dataclass
class VaspResult:
    """Parsed result of one VASP single point, in the input order of the atoms.

    Energies in eV, forces in eV/Å, stress in GPa (tensile positive).
    """

    energy: float
    energy_sigma0: float
    forces: np.ndarray
    stress: np.ndarray | None
    version: str
    kpoints: tuple[int, int, int] | None
    walltime: float | None
    directory: str
    corrections: list[dict] = field(default_factory=list)


def _find(directory: Path, name: str) -> Path | None:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _check_same_structure(expected: Atoms, structure, directory: Path) -> None:
    symbols = [site.specie.symbol for site in structure]
    if symbols != expected.get_chemical_symbols():
        raise VaspError(
            f"vasprun.xml in {directory} holds {structure.formula} in another order than the "
            f"structure that was written ({expected.get_chemical_formula()})"
        )
    if mismatched_geometry(structure.frac_coords, structure.lattice.matrix, expected, 1e-3):
        raise VaspError(f"vasprun.xml in {directory} is not a label of the structure that was written")


def parse_vasp_output(directory: str | Path, atoms: Atoms) -> VaspResult:
    """Parse ``vasprun.xml`` (and ``OUTCAR``, ``custodian.json`` if present) in ``directory``.

    Parameters
    ----------
    directory
        The run directory (gzipped outputs are read too).
    atoms
        The structure in its original order; the run must hold the same atoms grouped by
        species as :func:`species_order` groups them.

    Returns
    -------
    VaspResult
        Free energy (eV), forces (eV/Å) in the order of ``atoms``, stress in GPa with the
        tensile-positive sign (``-0.1 ×`` VASP's kBar values).

    Raises
    ------
    VaspError
        When the output is missing or truncated, the SCF did not converge, or it describes
        another structure.
    """
    import warnings

    from pymatgen.io.vasp import Vasprun

    directory = Path(directory)
    path = _find(directory, "vasprun.xml")
    if path is None:
        raise VaspError(f"no vasprun.xml in {directory}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = Vasprun(str(path), parse_dos=False, parse_eigen=False, parse_potcar_file=False)
    except Exception as exc:  # pymatgen raises ParseError, KeyError, ... on broken files
        raise VaspError(f"cannot parse {path}: {type(exc).__name__}: {exc}") from exc
    if not run.ionic_steps:
        raise VaspError(f"vasprun.xml in {directory} holds no finished ionic step")
    if not run.converged_electronic:
        raise VaspError(f"SCF did not converge within NELM in {directory}")
    order = species_order(atoms)
    step = run.ionic_steps[-1]
    _check_same_structure(atoms[order], step["structure"], directory)

    forces = in_input_order(step["forces"], order)
    stress = None
    if step.get("stress") is not None:
        stress = -KBAR_TO_GPA * np.asarray(step["stress"], dtype=float)

    mesh = None
    kpts = getattr(run.kpoints, "kpts", None)
    if kpts is not None and len(kpts) == 1 and len(kpts[0]) == 3:
        mesh = tuple(int(n) for n in kpts[0])
    walltime = None
    outcar = _find(directory, "OUTCAR")
    if outcar is not None:
        from monty.io import zopen

        with zopen(outcar, "rt") as handle:
            found = re.search(r"Elapsed time \(sec\):\s+([\d.]+)", handle.read())
        walltime = float(found.group(1)) if found else None
    corrections: list[dict] = []
    log = _find(directory, "custodian.json")
    if log is not None:
        from monty.serialization import loadfn

        corrections = [
            json.loads(json.dumps(c, default=str))
            for run_log in loadfn(log)
            for c in run_log.get("corrections", [])
        ]
    return VaspResult(
        energy=float(step["e_fr_energy"]),
        energy_sigma0=float(step["e_0_energy"]),
        forces=forces,
        stress=stress,
        version=f"VASP {run.vasp_version}",
        kpoints=mesh,
        walltime=walltime,
        directory=str(directory),
        corrections=corrections,
    )
