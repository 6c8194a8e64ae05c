"""Reading structures from files and writing large cells quickly."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, chemical_symbols

from .errors import StructureError
from .validate import validate_structure

__all__ = [
    "lammps_groups",
    "read_structures",
    "write_extxyz",
    "write_lammps_data",
    "write_structure",
]

_EXTXYZ_SUFFIXES = {".xyz", ".extxyz"}
_LAMMPS_SUFFIXES = {".data", ".lmp", ".lammps"}


def _read_with_pymatgen(path: Path) -> list[Atoms]:
    """Fallback reader through pymatgen (CIF with partial occupancies, POSCAR)."""
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    structure = Structure.from_file(str(path))
    return [AseAtomsAdaptor.get_atoms(structure)]


def read_structures(
    path: str | os.PathLike,
    *,
    format: str | None = None,
    index: str | int | slice = ":",
    min_distance: float = 0.5,
    allowed_elements: Iterable[str] | None = None,
    validate: bool = True,
) -> list[Atoms]:
    """Read every frame of a structure file and validate it.

    Parameters
    ----------
    path
        File in any format ASE reads (extxyz, CIF, POSCAR/CONTCAR, ...); CIF and
        POSCAR files ASE cannot read are retried with pymatgen.
    format
        ASE format name; guessed from the file name and contents by default.
    index
        Frames to read (ASE syntax); all by default.
    min_distance
        Smallest acceptable interatomic distance in Å (see
        :func:`~gst_flows.structures.validate_structure`).
    allowed_elements
        Optional set of allowed element symbols.
    validate
        Check every frame with :func:`~gst_flows.structures.validate_structure`.

    Returns
    -------
    list[ase.Atoms]
        One entry per frame; ``info["source"]`` holds the path and
        ``info["frame"]`` the frame index.

    Raises
    ------
    StructureError
        If the file is missing, empty or unreadable (the message names the file),
        or a frame fails validation (the message names the file and frame).
    """
    p = Path(path)
    if not p.exists():
        raise StructureError(f"structure file not found: {p} (check the path)")
    if p.is_dir():
        raise StructureError(f"structure path is a directory, not a file: {p} (give a file inside it)")
    with open(p, "rb") as fh:
        head = fh.read(65536)
    if not head.strip():
        raise StructureError(
            f"structure file is empty: {p} (write frames into it, e.g. with 'gst-flows build')"
        )
    from ase.io import read

    try:
        frames = read(str(p), index=index, format=format)
    except Exception as exc:  # ASE raises many exception types for bad input
        frames = None
        error = exc
        suffix = p.suffix.lower()
        if suffix == ".cif" or "POSCAR" in p.name or "CONTCAR" in p.name or suffix == ".vasp":
            try:
                frames = _read_with_pymatgen(p)
            except Exception:  # keep ASE's message: it is the primary reader
                frames = None
        if frames is None:
            from ase.data import atomic_numbers

            if isinstance(error, StopIteration | IndexError) and isinstance(index, int):
                raise StructureError(
                    f"{p}: the file has no frame {index} (give a frame it has; -1 is the last)"
                ) from None
            if isinstance(error, KeyError) and str(error.args[0]) not in atomic_numbers:
                raise StructureError(
                    f"cannot read structure file {p}: unknown element {error.args[0]!r}"
                ) from None
            message = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise StructureError(
                f"cannot read structure file {p}: {type(error).__name__}"
                + (f": {message}" if message else "")
                + " (give an extxyz, CIF or POSCAR file, or name the format)"
            ) from error
    if isinstance(frames, Atoms):
        frames = [frames]
    frames = list(frames)
    if not frames:
        raise StructureError(f"structure file contains no structures: {p} (check the file and its format)")
    for k, atoms in enumerate(frames):
        if validate:
            try:
                validate_structure(atoms, min_distance, allowed_elements)
            except StructureError as exc:
                raise StructureError(f"{p}, frame {k}: {exc}") from None
        atoms.info.setdefault("source", str(p))
        atoms.info["frame"] = k
    return frames


def _info_value(value: object) -> str:
    """Encode one info value for the extxyz comment line."""
    if isinstance(value, bool | np.bool_):
        return "T" if value else "F"
    if isinstance(value, int | float | np.integer | np.floating):
        return repr(value.item() if hasattr(value, "item") else value)
    if isinstance(value, str) and value and not any(c in value for c in ' "=\\\n'):
        return value
    # ASE's extxyz reader decodes values carrying the "_JSON " prefix.
    text = value if isinstance(value, str) else "_JSON " + json.dumps(value, default=_json_default)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _json_default(value: object) -> object:
    """Make numpy values JSON serialisable."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _format_rows(columns: list[tuple[np.ndarray, str]]) -> str:
    """Fast text table: one format string applied to all rows at once."""
    n = len(columns[0][0])
    fmt = " ".join(f for _, f in columns) + "\n"
    arrays = [values.tolist() if values.dtype != object else list(values) for values, _ in columns]
    # Interleaving column lists and one big %-format is far faster than per-row calls.
    flat: list[object] = [None] * (n * len(arrays))
    for k, col in enumerate(arrays):
        flat[k :: len(arrays)] = col
    return (fmt * n) % tuple(flat)


def _chunks(n: int, size: int = 200_000) -> Iterable[slice]:
    """Slices covering range(n) in chunks."""
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def write_extxyz(path: str | os.PathLike, atoms: Atoms) -> Path:
    """Write one structure as extended XYZ, fast for large cells.

    Columns are species, positions and every 1-D per-atom array of int, float
    or bool type (e.g. ``fixed``, ``region``, ``seed_id``); ``info`` goes to the
    comment line (non-scalar values JSON-encoded). The file reads back with
    ``ase.io.read``.

    Parameters
    ----------
    path
        Output file.
    atoms
        Structure.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    p = Path(path)
    n = len(atoms)
    symbols = np.array(chemical_symbols, dtype=object)[atoms.numbers]
    columns: list[tuple[np.ndarray, str]] = [(symbols, "%s")]
    props = ["species:S:1", "pos:R:3"]
    pos = atoms.get_positions()
    columns += [(pos[:, k], "%.8f") for k in range(3)]
    for name, values in atoms.arrays.items():
        if name in ("numbers", "positions"):
            continue
        array = np.asarray(values)
        if array.ndim == 1 and array.dtype.kind == "b":
            props.append(f"{name}:L:1")
            columns.append((np.where(array, "T", "F").astype(object), "%s"))
        elif array.ndim == 1 and array.dtype.kind in "iu":
            props.append(f"{name}:I:1")
            columns.append((array.astype(np.int64), "%d"))
        elif array.ndim in (1, 2) and array.dtype.kind == "f":
            width = 1 if array.ndim == 1 else array.shape[1]
            props.append(f"{name}:R:{width}")
            cols = array.reshape(n, -1)
            columns += [(cols[:, k], "%.8f") for k in range(width)]
    cell = np.asarray(atoms.cell[:], dtype=float)
    header = [
        'Lattice="' + " ".join(f"{x:.10f}" for x in cell.reshape(-1)) + '"',
        "Properties=" + ":".join(props),
    ]
    for key, value in atoms.info.items():
        if key in ("Lattice", "Properties", "pbc"):
            continue
        header.append(f"{key}={_info_value(value)}")
    header.append('pbc="' + " ".join("T" if b else "F" for b in atoms.pbc) + '"')
    with open(p, "w", encoding="utf-8") as fh:
        fh.write(f"{n}\n{' '.join(header)}\n")
        for part in _chunks(n):
            fh.write(_format_rows([(values[part], f) for values, f in columns]))
    return p


def _lammps_cell(cell: np.ndarray) -> np.ndarray:
    """Lower-triangular LAMMPS cell (rows a, b, c) with the same lengths and angles."""
    a, b, c = cell
    lx = np.linalg.norm(a)
    ax = a / lx
    xy = float(b @ ax)
    ly = float(np.linalg.norm(np.cross(ax, b)))
    xz = float(c @ ax)
    yz = float((b @ c - xy * xz) / ly)
    lz = float(np.sqrt(max(c @ c - xz**2 - yz**2, 0.0)))
    return np.array([[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]])


def _id_ranges(mask: np.ndarray) -> list[str]:
    """LAMMPS atom-ID ranges (``"1:10"``, ``"15"``) covering the True entries of ``mask``."""
    padded = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    starts, ends = edges[0::2] + 1, edges[1::2]
    return [f"{s}" if s == e else f"{s}:{e}" for s, e in zip(starts, ends, strict=True)]


def lammps_groups(atoms: Atoms) -> str:
    """LAMMPS ``group`` commands for the role arrays of a structure.

    Atom IDs are the 1-based positions in ``atoms`` (as written by
    :func:`write_lammps_data`). Groups: ``fixed``; ``region_<k>`` for every
    non-zero region label; ``seed_<k>`` for every crystalline seed.

    Parameters
    ----------
    atoms
        Structure with role arrays (missing arrays give no groups).

    Returns
    -------
    str
        LAMMPS input lines (empty if there is nothing to group).
    """
    masks: list[tuple[str, np.ndarray]] = []
    if "fixed" in atoms.arrays:
        masks.append(("fixed", atoms.arrays["fixed"]))
    if "region" in atoms.arrays:
        for label in np.unique(atoms.arrays["region"]):
            if label != 0:
                masks.append((f"region_{label}", atoms.arrays["region"] == label))
    if "seed_id" in atoms.arrays:
        for label in np.unique(atoms.arrays["seed_id"]):
            if label >= 0:
                masks.append((f"seed_{label}", atoms.arrays["seed_id"] == label))
    lines = []
    for name, mask in masks:
        ranges = _id_ranges(np.asarray(mask))
        if not ranges:
            continue
        chunks = [" ".join(ranges[k : k + 12]) for k in range(0, len(ranges), 12)]
        lines.append(f"group {name} id " + " &\n    ".join(chunks))
    return "\n".join(lines) + ("\n" if lines else "")


def write_lammps_data(
    path: str | os.PathLike,
    atoms: Atoms,
    species: Iterable[str] | None = None,
    groups: bool = True,
) -> Path:
    """Write a LAMMPS data file (``atom_style atomic``), fast for large cells.

    The role arrays (``fixed``, ``region``, ``seed_id``) cannot live in an
    ``atomic`` data file; with ``groups=True`` they are written next to it as
    LAMMPS ``group`` commands in ``<path>.groups`` (see :func:`lammps_groups`),
    to be read with ``include``.

    Parameters
    ----------
    path
        Output file.
    atoms
        Structure with a non-degenerate cell; a cell that is not lower triangular
        is rotated into LAMMPS' convention.
    species
        Element of each LAMMPS atom type, in type order; default the elements
        of ``atoms`` sorted by atomic number. Listed in the header comment and in
        the ``Masses`` section comments.
    groups
        Also write ``<path>.groups`` when the structure has role arrays.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    p = Path(path)
    cell = np.asarray(atoms.cell[:], dtype=float)
    if abs(np.linalg.det(cell)) < 1e-9:
        raise StructureError("LAMMPS data needs a cell with non-zero volume")
    if species is None:
        species = [chemical_symbols[z] for z in np.unique(atoms.numbers)]
    species = list(species)
    type_of = np.zeros(max(119, int(atoms.numbers.max()) + 1), dtype=np.int64)
    for t, el in enumerate(species, start=1):
        type_of[chemical_symbols.index(el)] = t
    types = type_of[atoms.numbers]
    if (types == 0).any():
        missing = sorted({chemical_symbols[z] for z in atoms.numbers[types == 0]})
        raise StructureError(f"species list lacks {', '.join(missing)}")
    lcell = _lammps_cell(cell)
    frac = np.linalg.solve(cell.T, atoms.get_positions().T).T
    pos = frac @ lcell
    n = len(atoms)
    lines = [
        f"LAMMPS data file (gst-flows) species {' '.join(species)}",
        "",
        f"{n} atoms",
        f"{len(species)} atom types",
        "",
        f"0.0 {lcell[0, 0]:.10f} xlo xhi",
        f"0.0 {lcell[1, 1]:.10f} ylo yhi",
        f"0.0 {lcell[2, 2]:.10f} zlo zhi",
    ]
    if np.abs([lcell[1, 0], lcell[2, 0], lcell[2, 1]]).max() > 1e-10:
        lines.append(f"{lcell[1, 0]:.10f} {lcell[2, 0]:.10f} {lcell[2, 1]:.10f} xy xz yz")
    lines += ["", "Masses", ""]
    for t, el in enumerate(species, start=1):
        lines.append(f"{t} {atomic_masses[chemical_symbols.index(el)]:.6f}  # {el}")
    lines += ["", "Atoms  # atomic", ""]
    ids = np.arange(1, n + 1)
    with open(p, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
        for part in _chunks(n):
            fh.write(
                _format_rows(
                    [
                        (ids[part], "%d"),
                        (types[part], "%d"),
                        (pos[part, 0], "%.8f"),
                        (pos[part, 1], "%.8f"),
                        (pos[part, 2], "%.8f"),
                    ]
                )
            )
    if groups:
        text = lammps_groups(atoms)
        if text:
            Path(f"{p}.groups").write_text(text, encoding="utf-8")
    return p


def write_structure(path: str | os.PathLike, atoms: Atoms, format: str | None = None) -> Path:
    """Write a structure, choosing the fast writers for extxyz and LAMMPS data.

    Parameters
    ----------
    path
        Output file; ``.xyz``/``.extxyz`` go through :func:`write_extxyz`,
        ``.data``/``.lmp``/``.lammps`` through :func:`write_lammps_data`, other
        names (``.cif``, ``POSCAR``, ...) through ``ase.io.write``.
    atoms
        Structure.
    format
        Force a format: ``"extxyz"``, ``"lammps-data"`` or any ASE format name.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    p = Path(path)
    if p.parent and not p.parent.exists():
        raise StructureError(f"output directory does not exist: {p.parent}")
    suffix = p.suffix.lower()
    if format == "extxyz" or (format is None and suffix in _EXTXYZ_SUFFIXES):
        return write_extxyz(p, atoms)
    if format == "lammps-data" or (format is None and suffix in _LAMMPS_SUFFIXES):
        return write_lammps_data(p, atoms)
    from ase.io import write

    try:
        write(str(p), atoms, format=format)
    except Exception as exc:  # ASE raises many exception types
        raise StructureError(f"cannot write {p}: {exc}") from exc
    return p
