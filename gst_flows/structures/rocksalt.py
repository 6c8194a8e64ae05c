"""Rock-salt-like (metastable cubic) Ge–Sb–Te.

Te fills the anion sublattice of a rock-salt lattice; Ge, Sb and vacancies
share the cation sublattice at random. Per ``z`` Te sites a composition
``GexSbyTez`` puts ``x`` Ge, ``y`` Sb and ``z - x - y`` vacancies. Counts are
exact: a supercell that cannot hold the composition with whole atoms is
rejected with the smallest supercell that can.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from .composition import (
    QUASI_BINARY,
    VALENCES,
    as_composition,
    composition_fractions,
    format_composition,
    parse_composition,
    to_fractions,
)
from .errors import StructureError
from .roles import add_roles

__all__ = [
    "ROCKSALT_LATTICE_PARAMETERS",
    "build_rocksalt",
    "default_lattice_parameter",
    "rocksalt_counts",
    "smallest_supercell",
]

#: Default cubic lattice parameters (Å) of the rock-salt-like phase. Values are
#: rounded room-temperature values of the metastable cubic phase of thin films
#: along the GeTe–Sb2Te3 line (about 6.0 Å throughout; N. Yamada et al.,
#: J. Appl. Phys. 69, 2849 (1991); T. Matsunaga, N. Yamada, Phys. Rev. B 69,
#: 104111 (2004)). GeTe is the pseudo-cubic cell of the rhombohedral phase
#: (a = 5.996 Å; J. Goldak et al., J. Chem. Phys. 44, 3323 (1966)) and Sb2Te3 a
#: hypothetical cubic end member, extrapolated. Other compositions are
#: interpolated linearly in the GeTe fraction.
ROCKSALT_LATTICE_PARAMETERS: dict[str, float] = {
    "GeTe": 5.99,
    "Ge8Sb2Te11": 6.00,
    "Ge4Sb2Te7": 6.01,
    "Ge3Sb2Te6": 6.01,
    "Ge2Sb2Te5": 6.02,
    "Ge1Sb2Te4": 6.04,
    "Ge1Sb4Te7": 6.07,
    "Sb2Te3": 6.10,
}

_CONVENTIONAL_CATION = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
_CONVENTIONAL_ANION = _CONVENTIONAL_CATION + np.array([0.5, 0.0, 0.0])
_EXCESS_MODES = ("cation", "antisite", "interstitial")
_ORIENTATIONS = ("001", "111")
_SITES_PER_CELL = {"001": 4, "111": 6}


def _named_match(composition: Mapping[str, float]) -> str | None:
    """Name of the quasi-binary composition with the same atomic fractions."""
    frac = composition_fractions(composition)
    for name in QUASI_BINARY:
        ref = composition_fractions(parse_composition(name))
        if set(ref) == set(frac) and all(abs(ref[k] - frac[k]) < 1e-9 for k in ref):
            return name
    return None


def default_lattice_parameter(composition: str | Mapping[str, float]) -> float:
    """Default rock-salt lattice parameter for a composition.

    Parameters
    ----------
    composition
        Formula or amounts.

    Returns
    -------
    float
        Cubic lattice parameter in Å: the table value for named compositions of
        :data:`ROCKSALT_LATTICE_PARAMETERS`, otherwise a linear interpolation in
        the GeTe fraction ``Ge / (Ge + Sb/2)`` (6.0 Å if there is no Ge or Sb).
    """
    comp = as_composition(composition)
    name = _named_match(comp)
    if name is not None:
        return ROCKSALT_LATTICE_PARAMETERS[name]
    ge, sb = comp.get("Ge", 0.0), comp.get("Sb", 0.0)
    if ge + sb == 0:
        return 6.0
    x = ge / (ge + sb / 2)
    return float(x * ROCKSALT_LATTICE_PARAMETERS["GeTe"] + (1 - x) * ROCKSALT_LATTICE_PARAMETERS["Sb2Te3"])


def _factorisations(m: int) -> list[tuple[int, int, int]]:
    """All ordered triples of positive integers with product ``m``."""
    out = []
    for a in range(1, m + 1):
        if m % a:
            continue
        for b in range(1, m // a + 1):
            if (m // a) % b == 0:
                out.append((a, b, m // (a * b)))
    return out


def smallest_supercell(multiple: int) -> tuple[int, int, int]:
    """Most compact supercell whose number of cells equals ``multiple``.

    Parameters
    ----------
    multiple
        Required number of cells ``n1 * n2 * n3``.

    Returns
    -------
    tuple[int, int, int]
        Repeats in decreasing order, as close to equal as possible.
    """
    triples = _factorisations(multiple)
    best = min(triples, key=lambda t: (max(t) / min(t), tuple(-x for x in t)))
    return tuple(sorted(best, reverse=True))  # type: ignore[return-value]


def _check_supercell(supercell: Sequence[int], name: str = "supercell") -> tuple[int, int, int]:
    """Validate a repeat triple of positive integers."""
    try:
        values = tuple(supercell)
    except TypeError:
        values = (supercell,) * 3  # type: ignore[assignment]
    if len(values) != 3:
        raise StructureError(f"{name} must have three entries, got {list(values)}")
    out = []
    for v in values:
        if isinstance(v, bool) or not float(v).is_integer():
            raise StructureError(f"{name} entries must be positive integers, got {list(values)}")
        if int(v) < 1:
            raise StructureError(f"{name} entries must be positive integers, got {list(values)}")
        out.append(int(v))
    return out[0], out[1], out[2]


def _choose_excess_species(cations: dict[str, Fraction], excess_valence: Fraction, order: list[str]) -> str:
    """Cation species that carries the charge excess, the simplest balanced result."""
    best: tuple[int, int, str] | None = None
    for rank, el in enumerate(order):
        if el not in cations:
            continue
        amount = excess_valence / VALENCES.get(el, 2)
        if amount > cations[el]:
            continue
        remaining = dict(cations)
        remaining[el] -= amount
        denominator = max(v.denominator for v in remaining.values())
        key = (denominator, rank, el)
        if best is None or key < best:
            best = key
    if best is None:
        raise StructureError("cannot assign the cation excess to a single species")
    return best[2]


def rocksalt_counts(
    composition: str | Mapping[str, float],
    n_cells: int,
    *,
    sites_per_cell: int = 4,
    anion: str = "Te",
    excess: str = "cation",
    excess_species: str | None = None,
    exact: bool = True,
    supercell: Sequence[int] | None = None,
) -> dict:
    """Count the atoms of each kind on each sublattice of a rock-salt supercell.

    Parameters
    ----------
    composition
        Formula or amounts; ``anion`` must be present.
    n_cells
        Number of cells of the supercell.
    sites_per_cell
        Anion sites (= cation sites) per cell: 4 for the cubic conventional
        cell, 6 for the [111]-oriented orthogonal cell.
    anion
        Element on the anion sublattice.
    excess
        Where cations beyond charge balance go: ``"cation"`` (on cation sites,
        using up vacancies), ``"antisite"`` (on anion sites) or
        ``"interstitial"`` (tetrahedral interstitial sites).
    excess_species
        Species carrying the excess; default picks the one whose removal leaves
        the simplest (quasi-binary) composition.
    exact
        Require whole-number counts; if False, counts are rounded.
    supercell
        Repeats, only used to word the error message.

    Returns
    -------
    dict
        ``anion_sites`` ({element: count} on anion sites), ``cation_sites``
        ({element: count} on cation sites), ``interstitial`` ({element: count}),
        ``vacancies`` (int), ``n_sites`` (anion sites), ``multiple`` (the number
        of cells must be a multiple of it for exact counts), ``stoichiometry``
        (``"quasi-binary"``, ``"cation-deficient"`` or ``"cation-rich"``),
        ``excess_species`` and ``excess_amount`` (per formula unit).

    Raises
    ------
    StructureError
        For a composition without the anion, more cations than cation sites,
        an unknown excess mode, or a supercell that cannot hold exact counts.
    """
    comp = as_composition(composition)
    if excess not in _EXCESS_MODES:
        raise StructureError(f"excess must be one of {', '.join(_EXCESS_MODES)}, got {excess!r}")
    if anion not in comp:
        raise StructureError(
            f"rock-salt composition {format_composition(comp)} has no {anion} for the anion sublattice"
        )
    frac = to_fractions(comp)
    z = frac[anion]
    cations = {el: x for el, x in frac.items() if el != anion}
    order = list(cations)
    valence = sum(VALENCES.get(el, 2) * x for el, x in cations.items())
    balance = valence - VALENCES.get(anion, 2) * z
    stoichiometry = "quasi-binary" if balance == 0 else ("cation-rich" if balance > 0 else "cation-deficient")
    excess_amount = Fraction(0)
    chosen = None
    if excess != "cation" and balance > 0:
        if excess_species is None:
            chosen = _choose_excess_species(cations, balance, order)
        else:
            if excess_species not in cations:
                raise StructureError(
                    f"excess species {excess_species!r} is not a cation of {format_composition(comp)}"
                )
            chosen = excess_species
        excess_amount = balance / VALENCES.get(chosen, 2)
        if excess_amount > cations[chosen]:
            raise StructureError(
                f"{chosen} amount {float(cations[chosen]):g} is smaller than the excess "
                f"{float(excess_amount):g} of {format_composition(comp)}"
            )
    on_cation = dict(cations)
    on_anion = {anion: z}
    interstitial: dict[str, Fraction] = {}
    if chosen is not None:
        on_cation[chosen] -= excess_amount
        if excess == "antisite":
            on_anion[chosen] = excess_amount
        else:
            interstitial[chosen] = excess_amount
    per_site = sum(on_anion.values())
    if sum(on_cation.values()) > per_site:
        raise StructureError(
            f"{format_composition(comp)} has more cations than cation sites "
            f"({float(sum(on_cation.values())):g} per {float(per_site):g} {anion} sites); "
            "use excess='antisite' or excess='interstitial'"
        )
    if sum(interstitial.values()) > 2 * per_site:
        raise StructureError("more interstitials than tetrahedral sites")
    ratios = {("a", el): x / per_site for el, x in on_anion.items()} | {
        ("c", el): x / per_site for el, x in on_cation.items()
    }
    ratios |= {("i", el): x / per_site for el, x in interstitial.items()}
    multiple = 1
    for r in ratios.values():
        multiple = math.lcm(multiple, (r * sites_per_cell).denominator)
    n_sites = sites_per_cell * n_cells
    if n_cells % multiple:
        if exact:
            where = f"supercell {tuple(supercell)}" if supercell is not None else "this supercell"
            raise StructureError(
                f"{format_composition(comp)} needs a number of cells that is a multiple of "
                f"{multiple} for exact counts ({where} has {n_cells}); smallest supercell "
                f"that can: {smallest_supercell(multiple)}"
            )
        counts = _rounded_counts(ratios, n_sites, anion)
    else:
        counts = {key: int(r * n_sites) for key, r in ratios.items()}
    anion_sites = {el: c for (kind, el), c in counts.items() if kind == "a"}
    cation_sites = {el: c for (kind, el), c in counts.items() if kind == "c"}
    inter = {el: c for (kind, el), c in counts.items() if kind == "i"}
    return {
        "anion_sites": anion_sites,
        "cation_sites": cation_sites,
        "interstitial": inter,
        "vacancies": n_sites - sum(cation_sites.values()),
        "n_sites": n_sites,
        "multiple": multiple,
        "stoichiometry": stoichiometry,
        "excess_species": chosen,
        "excess_amount": float(excess_amount),
    }


def _rounded_counts(
    ratios: dict[tuple[str, str], Fraction], n_sites: int, anion: str
) -> dict[tuple[str, str], int]:
    """Round counts; anion sites stay completely filled, cations never overflow."""
    counts = {key: round(float(r * n_sites)) for key, r in ratios.items()}
    others = sum(c for (kind, el), c in counts.items() if kind == "a" and el != anion)
    counts[("a", anion)] = n_sites - others
    overflow = sum(c for (kind, _), c in counts.items() if kind == "c") - n_sites
    for key in sorted((k for k in counts if k[0] == "c"), key=lambda k: -counts[k]):
        if overflow <= 0:
            break
        take = min(overflow, counts[key])
        counts[key] -= take
        overflow -= take
    return counts


def rocksalt_sites(
    supercell: Sequence[int], lattice_parameter: float, orientation: str = "001"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sites of a rock-salt supercell.

    Parameters
    ----------
    supercell
        Repeats. For ``orientation="001"``: cubic conventional cells along x,
        y, z. For ``"111"``: orthogonal cells ``a/√2 × a·√(3/2) × a·√3`` with
        [111] along z (6 anion + 6 cation sites each).
    lattice_parameter
        Cubic lattice parameter in Å.
    orientation
        ``"001"`` or ``"111"``.

    Returns
    -------
    cell : numpy.ndarray
        3 × 3 cell in Å.
    anion, cation : numpy.ndarray
        Site positions in Å, shape (n, 3) each, ordered by cell then basis site.
    normal_111 : numpy.ndarray
        Unit vector along the cubic [111] direction in the lab frame.
    """
    n1, n2, n3 = _check_supercell(supercell)
    a = float(lattice_parameter)
    if orientation == "001":
        cell_1 = np.eye(3) * a
        cation_basis = _CONVENTIONAL_CATION * a
        anion_basis = _CONVENTIONAL_ANION * a
        normal = np.ones(3) / math.sqrt(3)
    elif orientation == "111":
        ah = a / math.sqrt(2)
        bh = ah * math.sqrt(3)
        c = a * math.sqrt(3)
        cell_1 = np.diag([ah, bh, c])
        shifts = np.array([[0, 0], [ah / 2, ah / (2 * math.sqrt(3))], [0, ah / math.sqrt(3)]])
        in_plane = np.array([[0.0, 0.0], [ah / 2, bh / 2]])
        planes = []
        for j in range(6):
            xy = in_plane + shifts[j % 3]
            planes.append(np.column_stack([xy, np.full(2, j * c / 6)]))
        cation_basis = np.concatenate(planes[0::2])
        anion_basis = np.concatenate(planes[1::2])
        normal = np.array([0.0, 0.0, 1.0])
    else:
        raise StructureError(f"orientation must be one of {', '.join(_ORIENTATIONS)}, got {orientation!r}")
    grid = np.indices((n1, n2, n3)).reshape(3, -1).T.astype(float) @ cell_1
    cation = (grid[:, None, :] + cation_basis[None, :, :]).reshape(-1, 3)
    anion = (grid[:, None, :] + anion_basis[None, :, :]).reshape(-1, 3)
    cell = cell_1 * np.array([n1, n2, n3])[:, None]
    return cell, anion, cation, normal


def _plane_keys(positions: np.ndarray, normal: np.ndarray, spacing: float, n_planes: int) -> np.ndarray:
    """Index of the periodic lattice plane each site lies in."""
    return np.rint(positions @ normal / spacing).astype(np.int64) % n_planes


def _ordered_vacancies(
    positions: np.ndarray,
    n_vacancies: int,
    keys: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Choose vacancy sites filling whole planes, spread evenly along the normal."""
    planes, sizes = np.unique(keys, return_counts=True)
    chosen: list[np.ndarray] = []
    if n_vacancies == 0:
        return np.zeros(0, dtype=np.int64)
    size = int(sizes.min())
    n_needed = min(len(planes), -(-n_vacancies // size))
    picks = planes[np.floor((np.arange(n_needed) + 0.5) * len(planes) / n_needed).astype(int)]
    remaining = n_vacancies
    for p in picks:
        members = np.flatnonzero(keys == p)
        if len(members) > remaining:
            members = rng.choice(members, size=remaining, replace=False)
        chosen.append(members)
        remaining -= len(members)
        if remaining == 0:
            break
    if remaining:
        rest = np.setdiff1d(np.arange(len(positions)), np.concatenate(chosen))
        chosen.append(rng.choice(rest, size=remaining, replace=False))
    return np.sort(np.concatenate(chosen))


def _numbers(counts: Mapping[str, int]) -> np.ndarray:
    """Atomic numbers repeated by count, in the order of the mapping."""
    return np.repeat(
        np.array([atomic_numbers[el] for el in counts], dtype=np.int64),
        np.array(list(counts.values()), dtype=np.int64),
    )


def build_rocksalt(
    composition: str | Mapping[str, float] = "Ge1Sb2Te4",
    supercell: Sequence[int] = (1, 1, 1),
    seed: int | None = 0,
    lattice_parameter: float | None = None,
    *,
    orientation: str = "001",
    anion: str = "Te",
    excess: str = "cation",
    excess_species: str | None = None,
    vacancy_order: str | None = None,
    exact: bool = True,
) -> Atoms:
    """Build rock-salt-like GST with a random (seeded) cation sublattice.

    Parameters
    ----------
    composition
        Formula (``"Ge1Sb2Te4"``, ``"Ge2Sb1.8Te5"``) or amounts. Per ``z`` anion
        sites, ``x`` Ge + ``y`` Sb + ``(z - x - y)`` vacancies; cation-deficient
        compositions simply carry more vacancies.
    supercell
        Repeats of the cubic conventional cell (4 anion + 4 cation sites), or of
        the [111]-oriented orthogonal cell (6 + 6) when ``orientation="111"``.
    seed
        Seed of the numpy random generator that places cations and vacancies.
    lattice_parameter
        Cubic lattice parameter in Å; default from
        :data:`ROCKSALT_LATTICE_PARAMETERS`.
    orientation
        ``"001"`` (cubic axes along x, y, z) or ``"111"`` ([111] along z,
        orthogonal cell).
    anion
        Element on the anion sublattice.
    excess
        Placement of cations beyond charge balance in cation-rich compositions
        (``Ge2.2Sb2Te5``): ``"cation"`` (on cation sites, fewer vacancies),
        ``"antisite"`` (on anion sites) or ``"interstitial"`` (tetrahedral sites).
    excess_species
        Species carrying the excess (default: the one leaving the simplest
        composition, e.g. Ge for ``Ge2.2Sb2Te5``).
    vacancy_order
        None for random vacancies; ``"111"`` (or ``"001"`` for the cubic
        orientation) gathers the vacancies in whole lattice planes normal to that
        direction, spread evenly through the cell.
    exact
        If True (default), reject supercells that cannot hold the composition in
        whole atoms; if False, round the counts.

    Returns
    -------
    ase.Atoms
        Periodic structure. ``info`` holds ``composition``, ``builder``,
        ``parameters``, ``seed``, ``counts``, ``vacancies``, ``stoichiometry`` and
        ``excess``; arrays ``sublattice`` (0 anion, 1 cation, 2 interstitial) and
        the role arrays ``fixed``, ``region``, ``seed_id``.

    Raises
    ------
    StructureError
        For impossible compositions, non-positive supercells, or supercells that
        cannot hold exact counts (the message names the smallest one that can).
    """
    comp = as_composition(composition)
    supercell = _check_supercell(supercell)
    if orientation not in _ORIENTATIONS:
        raise StructureError(f"orientation must be one of {', '.join(_ORIENTATIONS)}, got {orientation!r}")
    a = default_lattice_parameter(comp) if lattice_parameter is None else float(lattice_parameter)
    if not math.isfinite(a) or a <= 0:
        raise StructureError(f"lattice parameter must be positive, got {lattice_parameter!r}")
    n_cells = supercell[0] * supercell[1] * supercell[2]
    counts = rocksalt_counts(
        comp,
        n_cells,
        sites_per_cell=_SITES_PER_CELL[orientation],
        anion=anion,
        excess=excess,
        excess_species=excess_species,
        exact=exact,
        supercell=supercell,
    )
    rng = np.random.default_rng(seed)
    cell, anion_pos, cation_pos, normal = rocksalt_sites(supercell, a, orientation)

    anion_species = rng.permutation(_numbers(counts["anion_sites"]))

    n_vac = counts["vacancies"]
    if vacancy_order is None:
        occupied = np.sort(rng.permutation(len(cation_pos))[: len(cation_pos) - n_vac])
    else:
        if orientation == "111" and vacancy_order != "111":
            raise StructureError("orientation='111' supports vacancy_order='111' only")
        if vacancy_order == "111":
            spacing = a / math.sqrt(3)
            n_planes = math.gcd(*supercell) if orientation == "001" else 3 * supercell[2]
            if n_planes < 2:
                raise StructureError(
                    f"vacancy_order='111' needs distinct periodic (111) planes: use cubic "
                    f"repeats with a common factor, e.g. (4, 4, 4), not {supercell}"
                )
            keys = _plane_keys(cation_pos, normal, spacing, n_planes)
        elif vacancy_order == "001":
            keys = _plane_keys(cation_pos, np.array([0.0, 0.0, 1.0]), a / 2, 2 * supercell[2])
        else:
            raise StructureError(f"vacancy_order must be None, '111' or '001', got {vacancy_order!r}")
        vacant = _ordered_vacancies(cation_pos, n_vac, keys, rng)
        occupied = np.setdiff1d(np.arange(len(cation_pos)), vacant)
    cation_species = rng.permutation(_numbers(counts["cation_sites"]))

    positions = [anion_pos, cation_pos[occupied]]
    symbols = [anion_species, cation_species]
    sublattice = [np.zeros(len(anion_pos), np.int8), np.ones(len(occupied), np.int8)]
    n_inter = sum(counts["interstitial"].values())
    if n_inter:
        shift = normal * a * math.sqrt(3) / 4
        tetra = np.concatenate([cation_pos + shift, cation_pos - shift])
        pick = rng.choice(len(tetra), size=n_inter, replace=False)
        positions.append(tetra[pick])
        symbols.append(_numbers(counts["interstitial"]))
        sublattice.append(np.full(n_inter, 2, np.int8))
    atoms = Atoms(
        numbers=np.concatenate(symbols),
        positions=np.concatenate(positions),
        cell=cell,
        pbc=True,
    )
    atoms.wrap()
    atoms.new_array("sublattice", np.concatenate(sublattice))
    add_roles(atoms)
    totals: dict[str, int] = {}
    for group in ("anion_sites", "cation_sites", "interstitial"):
        for el, c in counts[group].items():
            totals[el] = totals.get(el, 0) + int(c)
    atoms.info.update(
        {
            "composition": format_composition(comp),
            "builder": "build_rocksalt",
            "phase": "rocksalt",
            "parameters": {
                "supercell": list(supercell),
                "lattice_parameter": a,
                "orientation": orientation,
                "anion": anion,
                "excess": excess,
                "excess_species": counts["excess_species"],
                "vacancy_order": vacancy_order,
                "exact": exact,
            },
            "seed": seed,
            "counts": totals,
            "vacancies": int(n_vac),
            "stoichiometry": counts["stoichiometry"],
            "excess": excess,
        }
    )
    return atoms
