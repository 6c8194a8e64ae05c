"""Neighbour lists and bond-cutoff tables.

All neighbour searches in :mod:`gst_flows.analysis` go through
:func:`matscipy.neighbours.neighbour_list`; this module only resolves cutoff
tables, checks species and orders atoms spatially so that the search stays
cache friendly at device scale.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols
from matscipy.neighbours import neighbour_list

from gst_flows.analysis.common import plane_spacings

#: Default bond cutoff (Å) used for every pair of Ge, Sb and Te.
DEFAULT_BOND_CUTOFF = 3.2

#: Default bond-cutoff table (Å) for Ge–Sb–Te, used when no table is given.
GST_BOND_CUTOFFS: dict[str, float] = {
    "Ge-Ge": DEFAULT_BOND_CUTOFF,
    "Ge-Sb": DEFAULT_BOND_CUTOFF,
    "Ge-Te": DEFAULT_BOND_CUTOFF,
    "Sb-Sb": DEFAULT_BOND_CUTOFF,
    "Sb-Te": DEFAULT_BOND_CUTOFF,
    "Te-Te": DEFAULT_BOND_CUTOFF,
}

#: A cutoff: one radius for all pairs, or a table keyed by ``"A-B"`` or ``("A", "B")``.
CutoffSpec = float | Mapping[str | tuple[str, str], float] | None

# Above this many atoms, neighbour searches run on a spatially sorted copy.
_SORT_THRESHOLD = 20_000


def pair_key(a: str, b: str) -> str:
    """Return the canonical ``"A-B"`` key of a species pair (lighter element first).

    Parameters
    ----------
    a, b
        Chemical symbols.

    Returns
    -------
    str
        For example ``pair_key("Te", "Ge") == "Ge-Te"``.
    """
    za, zb = atomic_numbers[a], atomic_numbers[b]
    return f"{a}-{b}" if (za, a) <= (zb, b) else f"{b}-{a}"


def species_mask(numbers: np.ndarray, species: Sequence[str], role: str) -> np.ndarray:
    """Atoms of the named species.

    Parameters
    ----------
    numbers
        Atomic numbers of the atoms.
    species
        Chemical symbols selected.
    role
        What the species are, for the error message (e.g. ``"anion"``).

    Returns
    -------
    numpy.ndarray
        Boolean mask, one entry per atom.

    Raises
    ------
    ValueError
        If a symbol is not a chemical element.
    """
    unknown = [s for s in species if s not in atomic_numbers]
    if unknown:
        raise ValueError(f"unknown {role} species {unknown}")
    return np.isin(numbers, [atomic_numbers[s] for s in species])


def species_pairs(numbers: np.ndarray) -> Iterator[tuple[int, int, str]]:
    """Every unordered pair of species, each once, with its key.

    Parameters
    ----------
    numbers
        Atomic numbers of the species present, sorted (as from :func:`numpy.unique`).

    Yields
    ------
    a, b
        Indices into ``numbers`` with ``a <= b``.
    key
        :func:`pair_key` of the two species.
    """
    for a in range(len(numbers)):
        for b in range(a, len(numbers)):
            yield a, b, pair_key(chemical_symbols[numbers[a]], chemical_symbols[numbers[b]])


def _split_key(key: str | tuple[str, str]) -> tuple[str, str]:
    if isinstance(key, str):
        parts = key.split("-")
        if len(parts) != 2:
            raise ValueError(f"bond-cutoff key {key!r} is not of the form 'A-B'")
        a, b = parts
    else:
        a, b = key
    for s in (a, b):
        if s not in atomic_numbers:
            raise ValueError(f"bond-cutoff key {key!r} names an unknown element {s!r}")
    return a, b


def resolve_cutoffs(atoms: Atoms, cutoffs: CutoffSpec = None) -> tuple[float | np.ndarray, float]:
    """Turn a cutoff specification into what matscipy expects, checking species.

    Parameters
    ----------
    atoms
        Structure whose species must all be covered.
    cutoffs
        ``None`` (use :data:`GST_BOND_CUTOFFS`), one radius in Å for every pair,
        or a table of radii in Å keyed by ``"A-B"`` or ``("A", "B")``.

    Returns
    -------
    cutoff
        A float, or a symmetric ``(Zmax + 1, Zmax + 1)`` array of radii in Å
        indexed by atomic number.
    max_cutoff
        The largest radius in Å.

    Raises
    ------
    ValueError
        If a species pair present in ``atoms`` has no entry in the table, or a
        radius is not positive.
    """
    if cutoffs is None:
        cutoffs = GST_BOND_CUTOFFS
    if np.ndim(cutoffs) == 0 and not isinstance(cutoffs, Mapping):
        value = float(cutoffs)  # type: ignore[arg-type]
        if not value > 0:
            raise ValueError(f"cutoff must be positive, got {value} Å")
        return value, value
    table: dict[tuple[int, int], float] = {}
    for key, value in cutoffs.items():  # type: ignore[union-attr]
        a, b = _split_key(key)
        if not float(value) > 0:
            raise ValueError(f"bond cutoff for {pair_key(a, b)} must be positive, got {value}")
        za, zb = atomic_numbers[a], atomic_numbers[b]
        table[(za, zb)] = table[(zb, za)] = float(value)
    present = np.unique(atoms.numbers)
    known = sorted({chemical_symbols[z] for pair in table for z in pair})
    for ia, za in enumerate(present):
        for zb in present[ia:]:
            if (za, zb) not in table:
                pair = pair_key(chemical_symbols[za], chemical_symbols[zb])
                raise ValueError(
                    f"no bond cutoff for species pair {pair}: the cutoff table covers "
                    f"{', '.join(known) or 'no species'}; add an entry for {pair!r}"
                )
    zmax = int(max(present.max(), *(z for pair in table for z in pair)))
    array = np.zeros((zmax + 1, zmax + 1))
    for (za, zb), value in table.items():
        array[za, zb] = value
    return array, float(array.max())


def spatial_order(atoms: Atoms, bin_size: float) -> np.ndarray:
    """Return a permutation that groups atoms by spatial bins.

    Neighbour searches on the permuted structure touch memory in order, which
    makes them several times faster for hundreds of thousands of atoms.

    Parameters
    ----------
    atoms
        Structure.
    bin_size
        Approximate edge of the sorting bins in Å (the search cutoff works well).

    Returns
    -------
    numpy.ndarray
        Indices ``order`` such that ``atoms[order]`` is spatially sorted.
    """
    cell = atoms.cell
    if cell.rank < 3:
        positions = atoms.positions
        lo = positions.min(axis=0)
        nbins = np.maximum(1, ((positions.max(axis=0) - lo) / bin_size).astype(int))
        frac = (positions - lo) / np.maximum(positions.max(axis=0) - lo, 1e-12)
    else:
        heights = plane_spacings(cell)
        nbins = np.maximum(1, (heights / bin_size).astype(int))
        frac = atoms.cell.scaled_positions(atoms.positions) % 1.0
    idx = np.minimum((frac * nbins).astype(np.int64), nbins - 1)
    flat = (idx[:, 0] * nbins[1] + idx[:, 1]) * nbins[2] + idx[:, 2]
    return np.argsort(flat, kind="stable")


def _search(quantities: str, atoms: Atoms, cutoff: float | np.ndarray) -> tuple[np.ndarray, ...]:
    result = _matscipy(quantities, atoms, cutoff)
    # matscipy returns a bare array for a single quantity.
    return (result,) if len(quantities) == 1 else tuple(result)


def _matscipy(quantities: str, atoms: Atoms, cutoff: float | np.ndarray) -> object:
    if atoms.cell.rank == 3:
        return neighbour_list(quantities, atoms, cutoff)
    if atoms.pbc.any():
        raise ValueError("a periodic structure needs a cell with three non-zero lattice vectors")
    # Isolated cluster without a cell: matscipy wants a box around the atoms.
    lo = atoms.positions.min(axis=0) - 1.0
    span = atoms.positions.max(axis=0) - lo + 1.0
    return neighbour_list(
        quantities,
        positions=atoms.positions,
        cell=np.diag(span),
        cell_origin=lo,
        pbc=np.zeros(3, dtype=bool),
        numbers=atoms.numbers.astype(np.int32),
        cutoff=cutoff,
    )


def neighbour_pairs(
    atoms: Atoms,
    cutoffs: CutoffSpec = None,
    quantities: str = "ij",
    *,
    sort_spatially: bool | None = None,
) -> tuple[np.ndarray, ...]:
    """Neighbour list (both directions of every pair) from matscipy.

    Parameters
    ----------
    atoms
        Structure (periodic or not).
    cutoffs
        Bond cutoff specification, see :func:`resolve_cutoffs`; ``None`` uses
        :data:`GST_BOND_CUTOFFS`.
    quantities
        Any of matscipy's ``"ijdDS"``: indices, distance (Å), distance vector (Å),
        cell shift.
    sort_spatially
        Run the search on a spatially sorted copy (faster for large systems);
        ``None`` decides from the number of atoms. Results always refer to the
        original atom order and are sorted by ``i``.

    Returns
    -------
    tuple of numpy.ndarray
        One array per requested quantity.
    """
    cutoff, max_cutoff = resolve_cutoffs(atoms, cutoffs)
    if sort_spatially is None:
        sort_spatially = len(atoms) > _SORT_THRESHOLD
    if not sort_spatially:
        return _search(quantities, atoms, cutoff)
    order = spatial_order(atoms, max(max_cutoff, 1.0))
    wanted = quantities if "i" in quantities else quantities + "i"
    result = dict(zip(wanted, _search(wanted, atoms[order], cutoff), strict=True))
    i_sorted = order[result["i"]]
    perm = np.argsort(i_sorted, kind="stable")
    out = []
    for q in quantities:
        if q == "i":
            out.append(i_sorted[perm].astype(np.int32))
        elif q == "j":
            out.append(order[result["j"]][perm].astype(np.int32))
        else:
            out.append(result[q][perm])
    return tuple(out)
