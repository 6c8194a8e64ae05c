"""LAMMPS files for the LAMMPS engine: data files in, custom dumps and thermo tables out.

Pure functions on :class:`ase.Atoms` and numpy arrays. LAMMPS keeps a lower-triangular
cell; :class:`ase.calculators.lammps.Prism` rotates between it and the ASE cell, and every
vector read back (positions, velocities, forces) is rotated back to the ASE frame.
Units are LAMMPS ``metal`` (Å, ps, eV, bar) on the LAMMPS side and ASE units on the other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.lammps import Prism
from ase.data import atomic_masses, atomic_numbers

__all__ = [
    "SLAB_MARGIN",
    "VELOCITY_METAL_PER_ASE",
    "DumpFrame",
    "check_slab",
    "group_id_commands",
    "iter_lammps_dump",
    "lammps_boundary",
    "lammps_species",
    "read_print_table",
    "write_lammps_data",
]

#: LAMMPS metal velocity (Å/ps) of one ASE velocity unit.
VELOCITY_METAL_PER_ASE = 1000.0 * units.fs


#: Smallest distance, Å, between an atom and a face of the box along a non-periodic axis.
SLAB_MARGIN = 2.0


def lammps_boundary(pbc: Sequence[bool]) -> str:
    """The LAMMPS ``boundary`` arguments of a cell: ``p`` periodic, ``f`` fixed walls.

    Parameters
    ----------
    pbc
        Periodicity along the three cell axes.

    Returns
    -------
    str
        E.g. ``"p p p"`` or, for a slab open along z, ``"p p f"``.
    """
    return " ".join("p" if periodic else "f" for periodic in np.asarray(pbc, bool))


def check_slab(atoms: Atoms, margin: float = SLAB_MARGIN) -> None:
    """Check that a cell open along some axes keeps its atoms inside the LAMMPS box.

    Along an axis that is not periodic LAMMPS uses fixed walls (``boundary f``) at the cell's
    faces and loses an atom that crosses one, so every atom must start at least ``margin``
    inside them.

    Parameters
    ----------
    atoms
        The structure.
    margin
        Smallest distance from a face, Å.

    Raises
    ------
    ValueError
        Naming the axis and the closest atom.
    """
    pbc = np.asarray(atoms.pbc, bool)
    if pbc.all():
        return
    cell = np.asarray(atoms.get_cell())
    if abs(np.linalg.det(cell)) < 1e-9:
        raise ValueError(
            "a cell open along an axis still needs three cell vectors on the "
            "LAMMPS engine: they give the box (leave empty space along the open "
            "axis)"
        )
    frac = np.linalg.solve(cell.T, atoms.get_positions().T).T
    for axis in np.flatnonzero(~pbc):
        # distance of each atom to the two faces normal to the axis
        normal = np.linalg.inv(cell)[:, axis]
        spacing = 1.0 / np.linalg.norm(normal)
        depth = np.minimum(frac[:, axis], 1.0 - frac[:, axis]) * spacing
        worst = int(np.argmin(depth))
        if depth[worst] < margin:
            name = "xyz"[axis]
            raise ValueError(
                f"the cell is open along {name} (boundary f on the LAMMPS engine, which "
                f"loses atoms that leave the box) but atom {worst} is "
                f"{depth[worst]:.2f} Å from a face of the box along {name}; keep every atom "
                f"at least {margin:g} Å inside (e.g. atoms.center(vacuum=5.0, axis={axis}))"
            )


def lammps_species(atoms: Atoms) -> list[str]:
    """Species of ``atoms`` in LAMMPS type order (type 1 first): by atomic number.

    Parameters
    ----------
    atoms
        The structure.

    Returns
    -------
    list of str
        Chemical symbols, one per atom type.
    """
    return sorted(set(atoms.get_chemical_symbols()), key=lambda s: atomic_numbers[s])


def write_lammps_data(
    path: str | Path,
    atoms: Atoms,
    species: Sequence[str],
    velocities: bool = True,
) -> Prism:
    """Write ``atoms`` as a LAMMPS ``atomic`` data file (metal units) with image flags.

    Positions are wrapped into the (rotated) cell with image flags, so unwrapped
    coordinates (``xu``) in dumps continue the input positions; along an axis that is not
    periodic every atom must lie inside the box (:func:`check_slab`). The box is written as
    triclinic only when the cell is skewed (the isotropic barostat keeps an orthogonal
    box).

    Parameters
    ----------
    path
        Output file.
    atoms
        Structure; velocities from ``atoms.get_velocities()`` when ``velocities``.
    species
        Symbols in type order (see :func:`lammps_species`).
    velocities
        Write a Velocities section.

    Returns
    -------
    Prism
        The ASE↔LAMMPS rotation, needed to read results back.
    """
    check_slab(atoms)
    prism = Prism(np.asarray(atoms.get_cell()), pbc=atoms.pbc)
    xhi, yhi, zhi, xy, xz, yz = prism.get_lammps_prism()
    symbols = np.array(atoms.get_chemical_symbols())
    type_of = {s: i + 1 for i, s in enumerate(species)}
    missing = set(symbols) - set(type_of)
    if missing:
        raise ValueError(f"species {sorted(missing)} not in {list(species)}")
    types = np.array([type_of[s] for s in symbols], dtype=int)

    masses = atoms.get_masses()
    type_mass = []
    for s in species:
        sel = symbols == s
        type_mass.append(float(masses[sel][0]) if sel.any() else atomic_masses[atomic_numbers[s]])

    pos = prism.vector_to_lammps(atoms.get_positions())
    lcell = prism.cell
    frac = np.linalg.solve(lcell.T, pos.T).T
    image = np.floor(frac).astype(int)
    frac -= image
    wrapped = frac @ lcell

    n = len(atoms)
    ids = np.arange(1, n + 1)
    path = Path(path)
    with path.open("w") as fd:
        fd.write("LAMMPS data file (gst-flows)\n\n")
        fd.write(f"{n} atoms\n{len(species)} atom types\n\n")
        fd.write(f"0.0 {xhi:.17g} xlo xhi\n0.0 {yhi:.17g} ylo yhi\n0.0 {zhi:.17g} zlo zhi\n")
        if prism.is_skewed():
            fd.write(f"{xy:.17g} {xz:.17g} {yz:.17g} xy xz yz\n")
        fd.write("\nMasses\n\n")
        for i, (s, m) in enumerate(zip(species, type_mass, strict=True)):
            fd.write(f"{i + 1} {m:.17g} # {s}\n")
        fd.write("\nAtoms # atomic\n\n")
        np.savetxt(
            fd,
            np.column_stack([ids, types, wrapped, image]),
            fmt=["%d", "%d", "%.17g", "%.17g", "%.17g", "%d", "%d", "%d"],
        )
        if velocities:
            vel = prism.vector_to_lammps(atoms.get_velocities()) * VELOCITY_METAL_PER_ASE
            fd.write("\nVelocities\n\n")
            np.savetxt(fd, np.column_stack([ids, vel]), fmt=["%d", "%.17g", "%.17g", "%.17g"])
    return prism


def group_id_commands(
    name: str,
    mask: np.ndarray,
    per_line: int = 400,
    directory: str | Path | None = None,
    max_ranges: int = 50,
) -> list[str]:
    """LAMMPS commands defining group ``name`` as the atoms where ``mask`` is True.

    Atom IDs are 1-based positions in the data file. A mask made of a few runs of
    consecutive atoms becomes ``group NAME id A:B ...`` commands (at most ``per_line``
    ranges each; a group command adds to an existing group). A scattered mask (more than
    ``max_ranges`` runs) is written to ``directory/NAME.atomfile`` and read as an
    ``atomfile`` variable, which costs LAMMPS O(N) instead of O(N × ranges); that needs
    ``atom_modify map array`` (or ``yes``) in the input. An empty mask gives an empty group.

    Parameters
    ----------
    name
        Group name.
    mask
        Boolean array, one entry per atom.
    per_line
        Ranges per ``group ... id`` command.
    directory
        Where atomfiles may be written; None always uses ID ranges.
    max_ranges
        Most runs written as ID ranges when ``directory`` is given.

    Returns
    -------
    list of str
        Commands.
    """
    idx = np.flatnonzero(np.asarray(mask, dtype=bool)) + 1
    if idx.size == 0:
        return [f"group {name} empty"]
    breaks = np.flatnonzero(np.diff(idx) != 1)
    starts = np.concatenate([idx[:1], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], idx[-1:]])
    if directory is not None and len(starts) > max_ranges:
        path = Path(directory) / f"{name}.atomfile"
        with path.open("w") as fd:
            fd.write(f"# atoms of group {name} (ID 1)\n{idx.size}\n")
            np.savetxt(fd, np.column_stack([idx, np.ones_like(idx)]), fmt="%d")
        var = f"{name}_mask"
        return [
            f"variable {var} atomfile {path.name}",
            f"group {name} variable {var}",
            f"variable {var} delete",
        ]
    ranges = [f"{a}" if a == b else f"{a}:{b}" for a, b in zip(starts, ends, strict=True)]
    return [f"group {name} id " + " ".join(ranges[k : k + per_line]) for k in range(0, len(ranges), per_line)]


@dataclass
class DumpFrame:
    """One frame of a custom dump, rotated back to the ASE frame and sorted by atom ID.

    Attributes
    ----------
    step
        Global timestep.
    positions
        (N, 3) unwrapped positions (Å) if the dump had ``xu yu zu``, else wrapped.
    velocities
        (N, 3) velocities in ASE units, or None.
    forces
        (N, 3) forces (eV/Å), or None.
    columns
        Every column by name, as read (LAMMPS frame, LAMMPS units).
    cell
        (3, 3) cell of the frame in the ASE frame (Å).
    """

    step: int
    positions: np.ndarray | None
    velocities: np.ndarray | None
    forces: np.ndarray | None
    columns: dict[str, np.ndarray]
    cell: np.ndarray


def _vectors(columns: dict[str, np.ndarray], names: Sequence[str]) -> np.ndarray | None:
    if all(n in columns for n in names):
        return np.column_stack([columns[n] for n in names])
    return None


def iter_lammps_dump(path: str | Path, prism: Prism | None = None) -> Iterator[DumpFrame]:
    """Read a LAMMPS text ``custom`` dump frame by frame.

    Parameters
    ----------
    path
        Dump file (one or many frames).
    prism
        Rotation of the run's data file; None means the LAMMPS frame is the ASE frame.

    Yields
    ------
    DumpFrame
        Frames in file order.
    """
    with Path(path).open() as fd:
        while True:
            line = fd.readline()
            if not line:
                return
            if not line.startswith("ITEM: TIMESTEP"):
                continue
            step = int(fd.readline())
            fd.readline()
            n = int(fd.readline())
            header = fd.readline().split()
            bounds = np.array([fd.readline().split() for _ in range(3)], dtype=float)
            if "xy" in header:
                (xlo_b, xhi_b, xy), (ylo_b, yhi_b, xz), (zlo_b, zhi_b, yz) = bounds
                xlo = xlo_b - min(0.0, xy, xz, xy + xz)
                xhi = xhi_b - max(0.0, xy, xz, xy + xz)
                ylo = ylo_b - min(0.0, yz)
                yhi = yhi_b - max(0.0, yz)
                zlo, zhi = zlo_b, zhi_b
            else:
                (xlo, xhi), (ylo, yhi), (zlo, zhi) = bounds[:, :2]
                xy = xz = yz = 0.0
            lcell = np.array([[xhi - xlo, 0, 0], [xy, yhi - ylo, 0], [xz, yz, zhi - zlo]])
            names = fd.readline().split()[2:]
            try:
                data = np.loadtxt(fd, max_rows=n, ndmin=2) if n else np.empty((0, len(names)))
            except ValueError:
                return  # a frame cut short (the writer was killed): stop here
            if data.shape[0] != n:
                return
            cols = {name: data[:, k] for k, name in enumerate(names)}
            if "id" in cols:
                order = np.argsort(cols["id"], kind="stable")
                cols = {k: v[order] for k, v in cols.items()}
            pos = _vectors(cols, ("xu", "yu", "zu"))
            if pos is None:
                pos = _vectors(cols, ("x", "y", "z"))
                if pos is not None:
                    pos = pos - np.array([xlo, ylo, zlo])
            vel = _vectors(cols, ("vx", "vy", "vz"))
            frc = _vectors(cols, ("fx", "fy", "fz"))
            if vel is not None:
                vel = vel / VELOCITY_METAL_PER_ASE
            if prism is not None:
                pos = None if pos is None else prism.vector_to_ase(pos)
                vel = None if vel is None else prism.vector_to_ase(vel)
                frc = None if frc is None else prism.vector_to_ase(frc)
                cell = lcell @ prism.rot_mat.T
            else:
                cell = lcell
            yield DumpFrame(step, pos, vel, frc, cols, cell)


def read_print_table(path: str | Path) -> dict[str, np.ndarray]:
    """Read a whitespace table whose first line is ``# name1 name2 ...``.

    Used for the thermo series written by ``fix print``. Repeated steps (a run resumed
    from a checkpoint re-prints the checkpoint step) keep their last occurrence.

    Parameters
    ----------
    path
        Table file.

    Returns
    -------
    dict
        Column name to 1-D array, sorted by the first column.
    """
    path = Path(path)
    names: list[str] = []
    rows: list[list[float]] = []
    with path.open() as fd:
        for line in fd:
            text = line.strip()
            if not text:
                continue
            if text.startswith("#"):
                if not names:
                    names = text.lstrip("#").split()
                continue
            rows.append([float(v) for v in text.split()])
    if not names:
        raise ValueError(f"{path}: no header line")
    arr = np.array(rows, dtype=float).reshape(-1, len(names))
    if arr.size:
        # keep the last occurrence of each step
        _, last = np.unique(arr[::-1, 0], return_index=True)
        arr = arr[::-1][last]
    return {name: arr[:, k] for k, name in enumerate(names)}
