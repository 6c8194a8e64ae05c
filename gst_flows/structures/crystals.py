"""Diamond Ge, elemental references and the crystal structures shipped with the package.

The shipped files live in ``gst_flows/data/structures`` with an ``index.json``
that records, for each structure, its file, space group and the published
source of its lattice data. :func:`write_shipped_crystals` regenerates them from
the builders, so files and code cannot drift apart unnoticed (a test compares
them).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

from ase import Atoms
from ase.spacegroup import crystal

from .errors import StructureError
from .layered import LAYERED_BLOCKS, build_layered
from .rocksalt import _check_supercell
from .roles import add_roles

__all__ = [
    "CRYSTALS",
    "build_diamond",
    "build_element",
    "crystal_data_dir",
    "list_crystals",
    "load_crystal",
    "write_shipped_crystals",
]

#: Diamond-cubic Ge lattice parameter in Å at room temperature.
GE_DIAMOND_A = 5.658
_GE_SOURCE = (
    "a = 5.658 Å at room temperature: CRC Handbook of Chemistry and Physics, "
    "'Lattice constants of semiconductors'"
)

_ELEMENTS: dict[str, dict] = {
    "Te": {
        "spacegroup": 152,
        "basis": [(0.2633, 0.0, 1 / 3)],
        "a": 4.4572,
        "c": 5.929,
        "space_group": "P3_121",
        "source": "a = 4.4572 Å, c = 5.929 Å, x = 0.2633: C. Adenis, V. Langer, "
        "O. Lindqvist, Acta Cryst. C45, 941 (1989)",
    },
    "Sb": {
        "spacegroup": 166,
        "basis": [(0.0, 0.0, 0.2335)],
        "a": 4.3084,
        "c": 11.274,
        "space_group": "R-3m",
        "source": "a = 4.3084 Å, c = 11.274 Å, z = 0.2335: C. S. Barrett, P. Cucka, "
        "K. Haefner, Acta Cryst. 16, 451 (1963)",
    },
}


def build_diamond(
    composition: str = "Ge",
    supercell: Sequence[int] = (1, 1, 1),
    seed: int | None = None,
    lattice_parameter: float | None = None,
) -> Atoms:
    """Build diamond-cubic Ge (8-atom conventional cells).

    Parameters
    ----------
    composition
        Element; only ``"Ge"`` has a default lattice parameter (5.658 Å), other
        diamond-structure elements need ``lattice_parameter``.
    supercell
        Repeats of the conventional cubic cell.
    seed
        Unused (the structure is ordered); recorded in ``info`` for uniformity.
    lattice_parameter
        Cubic lattice parameter in Å.

    Returns
    -------
    ase.Atoms
        Periodic diamond structure with ``info`` (composition, builder,
        parameters, seed, source) and role arrays.

    Raises
    ------
    StructureError
        For an element without a default lattice parameter, a non-positive
        lattice parameter or supercell.
    """
    from ase.build import bulk
    from ase.data import atomic_numbers

    supercell = _check_supercell(supercell)
    element = composition.strip()
    if element not in atomic_numbers or element == "X":
        raise StructureError(f"unknown element {element!r} for the diamond structure")
    if lattice_parameter is None:
        if element != "Ge":
            raise StructureError(f"diamond {element} needs an explicit lattice_parameter")
        lattice_parameter = GE_DIAMOND_A
    a = float(lattice_parameter)
    if not math.isfinite(a) or a <= 0:
        raise StructureError(f"lattice parameter must be positive, got {lattice_parameter!r}")
    atoms = bulk(element, "diamond", a=a, cubic=True).repeat(supercell)
    add_roles(atoms)
    atoms.info.update(
        {
            "composition": element,
            "builder": "build_diamond",
            "phase": "diamond",
            "parameters": {"supercell": list(supercell), "lattice_parameter": a},
            "seed": seed,
            "source": _GE_SOURCE if lattice_parameter == GE_DIAMOND_A else "user lattice parameter",
        }
    )
    return atoms


def build_element(
    composition: str = "Te", supercell: Sequence[int] = (1, 1, 1), seed: int | None = None
) -> Atoms:
    """Build trigonal Te or rhombohedral (A7) Sb from published data.

    Parameters
    ----------
    composition
        ``"Te"`` or ``"Sb"``.
    supercell
        Repeats of the conventional hexagonal cell.
    seed
        Unused (ordered structure); recorded in ``info``.

    Returns
    -------
    ase.Atoms
        Periodic crystal with ``info`` and role arrays.

    Raises
    ------
    StructureError
        For other elements.
    """
    supercell = _check_supercell(supercell)
    if composition not in _ELEMENTS:
        raise StructureError(f"no elemental crystal for {composition!r}; known: Te, Sb")
    d = _ELEMENTS[composition]
    atoms = crystal(
        composition,
        basis=d["basis"],
        spacegroup=d["spacegroup"],
        cellpar=[d["a"], d["a"], d["c"], 90, 90, 120],
    ).repeat(supercell)
    add_roles(atoms)
    atoms.info.update(
        {
            "composition": composition,
            "builder": "build_element",
            "phase": "crystal",
            "parameters": {"supercell": list(supercell), "space_group": d["space_group"]},
            "seed": seed,
            "source": d["source"],
        }
    )
    return atoms


def _shipped() -> dict[str, tuple[Callable[[], Atoms], str]]:
    """Name -> (builder call, space group) of every shipped crystal."""
    out: dict[str, tuple[Callable[[], Atoms], str]] = {}
    for name, block in LAYERED_BLOCKS.items():
        key = "GeTe-R3m" if name == "GeTe" else f"{name}-layered"
        out[key] = (lambda n=name: build_layered(n), block.space_group)
    out["Ge-diamond"] = (build_diamond, "Fd-3m")
    for el, d in _ELEMENTS.items():
        out[f"{el}-{'trigonal' if el == 'Te' else 'A7'}"] = (
            lambda e=el: build_element(e),
            d["space_group"],
        )
    return out


#: Names of the shipped crystal structures.
CRYSTALS: tuple[str, ...] = tuple(_shipped())


def crystal_data_dir() -> Path:
    """Directory of the shipped crystal files.

    Returns
    -------
    pathlib.Path
        ``gst_flows/data/structures`` inside the installed package.
    """
    return Path(str(resources.files("gst_flows"))) / "data" / "structures"


def write_shipped_crystals(directory: str | os.PathLike | None = None) -> Path:
    """Regenerate the shipped CIF files and their ``index.json``.

    Parameters
    ----------
    directory
        Target directory; default :func:`crystal_data_dir`.

    Returns
    -------
    pathlib.Path
        The directory written.
    """
    from ase.io import write

    target = Path(directory) if directory is not None else crystal_data_dir()
    target.mkdir(parents=True, exist_ok=True)
    index = {}
    for name, (make, space_group) in _shipped().items():
        atoms = make()
        filename = f"{name}.cif"
        path = target / filename
        write(path, atoms, format="cif")
        text = path.read_text()
        header = (
            f"# {name} ({atoms.get_chemical_formula(mode='metal')}), space group {space_group}\n"
            f"# source: {atoms.info['source']}\n"
            "# written by gst_flows.structures.write_shipped_crystals\n"
        )
        path.write_text(header + text)
        index[name] = {
            "file": filename,
            "formula": atoms.info["composition"],
            "atoms": len(atoms),
            "space_group": space_group,
            "cell_lengths": [round(x, 6) for x in atoms.cell.lengths()],
            "cell_angles": [round(x, 6) for x in atoms.cell.angles()],
            "source": atoms.info["source"],
        }
    (target / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    return target


def list_crystals() -> dict[str, dict]:
    """Describe the shipped crystal structures.

    Returns
    -------
    dict[str, dict]
        Name to record (``file``, ``formula``, ``atoms``, ``space_group``,
        ``cell_lengths`` in Å, ``cell_angles`` in degrees, ``source``).
    """
    path = crystal_data_dir() / "index.json"
    if not path.exists():
        raise StructureError(f"shipped crystal index missing: {path}")
    return json.loads(path.read_text())


def load_crystal(
    composition: str = "Ge1Sb2Te4-layered",
    supercell: Sequence[int] = (1, 1, 1),
    seed: int | None = None,
) -> Atoms:
    """Load a shipped crystal structure (offline; no database or network).

    Parameters
    ----------
    composition
        Name from :func:`list_crystals`, e.g. ``"Sb2Te3-layered"``,
        ``"GeTe-R3m"``, ``"Ge-diamond"``; a bare formula picks the single
        matching entry.
    supercell
        Repeats of the stored cell.
    seed
        Unused; recorded in ``info``.

    Returns
    -------
    ase.Atoms
        The crystal, with ``info["source"]`` giving the published data it was
        built from, and role arrays.

    Raises
    ------
    StructureError
        For an unknown name (the message lists the known ones).
    """
    from .io import read_structures

    supercell = _check_supercell(supercell)
    index = list_crystals()
    name = composition
    if name not in index:
        matches = [k for k, v in index.items() if v["formula"] == name or k.split("-")[0] == name]
        if len(matches) != 1:
            raise StructureError(f"unknown shipped crystal {composition!r}; known: {', '.join(index)}")
        name = matches[0]
    record = index[name]
    atoms = read_structures(crystal_data_dir() / record["file"])[0]
    atoms = atoms.repeat(supercell)
    atoms.info = {
        "composition": record["formula"],
        "builder": "load_crystal",
        "phase": "crystal",
        "parameters": {"name": name, "supercell": list(supercell)},
        "seed": seed,
        "source": record["source"],
        "space_group": record["space_group"],
    }
    for key in list(atoms.arrays):
        if key not in ("numbers", "positions"):
            del atoms.arrays[key]
    add_roles(atoms)
    return atoms
