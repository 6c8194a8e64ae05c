from fractions import Fraction

import numpy as np
import pytest

from gst_flows.structures import (
    QUASI_BINARY,
    ROCKSALT_LATTICE_PARAMETERS,
    StructureError,
    build_rocksalt,
    minimum_distance,
    parse_composition,
    smallest_supercell,
)


def _counts(atoms):
    symbols, counts = np.unique(atoms.get_chemical_symbols(), return_counts=True)
    return dict(zip(symbols.tolist(), counts.tolist(), strict=True))


def _expected(formula, n_te_sites):
    """Counts per element from the composition: x/z of the Te sites each."""
    comp = {el: Fraction(str(x)) for el, x in parse_composition(formula).items()}
    out = {el: x / comp["Te"] * n_te_sites for el, x in comp.items()}
    assert all(v.denominator == 1 for v in out.values())
    return {el: int(v) for el, v in out.items()}


def test_ge1sb2te4_conventional_cell():
    atoms = build_rocksalt("Ge1Sb2Te4", (1, 1, 1))
    assert len(atoms) == 7
    assert _counts(atoms) == {"Ge": 1, "Sb": 2, "Te": 4}
    assert atoms.cell.lengths() == pytest.approx([6.0] * 3, abs=0.06)
    assert atoms.cell.angles() == pytest.approx([90] * 3)
    assert atoms.info["vacancies"] == 1
    assert atoms.info["composition"] == "Ge1Sb2Te4"
    assert atoms.info["builder"] == "build_rocksalt"
    assert atoms.info["seed"] == 0
    assert atoms.info["parameters"]["supercell"] == [1, 1, 1]


def test_gete_full_cell():
    atoms = build_rocksalt("GeTe", (1, 1, 1))
    assert len(atoms) == 8
    assert _counts(atoms) == {"Ge": 4, "Te": 4}
    assert atoms.info["vacancies"] == 0


def test_te_on_anion_sublattice_only():
    atoms = build_rocksalt("Ge2Sb2Te5", (5, 2, 2), seed=3)
    a = atoms.info["parameters"]["lattice_parameter"]
    frac2 = np.rint(atoms.get_scaled_positions() * 2 * np.array([5, 2, 2])).astype(int)
    parity = frac2.sum(axis=1) % 2  # 0 on the cation fcc lattice, 1 on the anion one
    te = np.array(atoms.get_chemical_symbols()) == "Te"
    assert (parity[te] == 1).all()
    assert (parity[~te] == 0).all()
    assert (atoms.arrays["sublattice"][te] == 0).all()
    assert minimum_distance(atoms) == pytest.approx(a / 2)


@pytest.mark.parametrize("name", QUASI_BINARY)
@pytest.mark.parametrize("repeat", [1, 2, 3])
def test_exact_counts_every_named_composition(name, repeat):
    comp = parse_composition(name)
    multiple = smallest_supercell(
        int(
            np.lcm.reduce(
                [Fraction(str(x / comp["Te"] * 4)).limit_denominator(100).denominator for x in comp.values()]
            )
        )
    )
    supercell = tuple(m * repeat if k == 0 else m for k, m in enumerate(multiple))
    atoms = build_rocksalt(name, supercell, seed=repeat)
    n_sites = 4 * int(np.prod(supercell))
    expected = _expected(name, n_sites)
    assert _counts(atoms) == expected
    assert atoms.info["vacancies"] == n_sites - sum(v for k, v in expected.items() if k != "Te")
    assert minimum_distance(atoms) > 2.9


@pytest.mark.parametrize(
    ("formula", "supercell"),
    [
        ("Ge2Sb2Te5", (5, 2, 1)),
        ("Ge2Sb2Te5", (5, 5, 5)),
        ("Ge1Sb2Te4", (3, 3, 3)),
        ("Ge2Sb1.8Te5", (5, 5, 2)),
        ("Ge8Sb2Te11", (11, 1, 1)),
    ],
)
def test_exact_counts_several_supercells(formula, supercell):
    atoms = build_rocksalt(formula, supercell)
    assert _counts(atoms) == _expected(formula, 4 * int(np.prod(supercell)))


def test_cation_deficient_adds_vacancies():
    stoich = build_rocksalt("Ge2Sb2Te5", (5, 5, 1))
    deficient = build_rocksalt("Ge2Sb1.8Te5", (5, 5, 1))
    assert deficient.info["stoichiometry"] == "cation-deficient"
    assert stoich.info["stoichiometry"] == "quasi-binary"
    assert deficient.info["vacancies"] == stoich.info["vacancies"] + 4  # 0.2 Sb per 5 Te
    assert _counts(deficient)["Te"] == _counts(stoich)["Te"] == 100


def test_cation_rich_placements():
    on_cations = build_rocksalt("Ge2.2Sb2Te5", (5, 5, 1))
    assert on_cations.info["stoichiometry"] == "cation-rich"
    assert _counts(on_cations) == {"Ge": 44, "Sb": 40, "Te": 100}

    inter = build_rocksalt("Ge2.2Sb2Te5", (5, 5, 1), excess="interstitial")
    assert inter.info["excess"] == "interstitial"
    assert inter.info["parameters"]["excess_species"] == "Ge"
    assert _counts(inter) == {"Ge": 44, "Sb": 40, "Te": 100}
    sub = inter.arrays["sublattice"]
    assert (sub == 2).sum() == 4
    assert set(np.array(inter.get_chemical_symbols())[sub == 2]) == {"Ge"}
    assert minimum_distance(inter) > 2.5  # tetrahedral sites are a*sqrt(3)/4 from their neighbours

    anti = build_rocksalt("Ge2.2Sb2Te5", (13, 1, 1), excess="antisite")
    counts = _counts(anti)
    assert counts["Te"] * 2.2 == pytest.approx(counts["Ge"] * 5)
    on_anion = anti.arrays["sublattice"] == 0
    assert set(np.array(anti.get_chemical_symbols())[on_anion]) == {"Te", "Ge"}
    assert on_anion.sum() == 4 * 13


def test_too_many_cations_is_clear():
    with pytest.raises(StructureError, match="more cations than cation sites"):
        build_rocksalt("Ge3Sb2Te4", (4, 1, 1))


def test_smallest_supercell_error():
    with pytest.raises(StructureError, match=r"multiple of 5.*\(5, 1, 1\)"):
        build_rocksalt("Ge2Sb2Te5", (2, 2, 2))
    with pytest.raises(StructureError, match=r"multiple of 25.*\(5, 5, 1\)"):
        build_rocksalt("Ge2Sb1.8Te5", (2, 2, 2))


def test_inexact_rounding_when_allowed():
    atoms = build_rocksalt("Ge2Sb2Te5", (2, 2, 2), exact=False)
    counts = _counts(atoms)
    assert counts["Te"] == 32
    assert counts["Ge"] == counts["Sb"] == 13


@pytest.mark.parametrize("supercell", [(0, 1, 1), (1, -2, 1), (1, 1), (1.5, 1, 1)])
def test_non_positive_supercell(supercell):
    with pytest.raises(StructureError, match="supercell"):
        build_rocksalt("Ge1Sb2Te4", supercell)


@pytest.mark.parametrize("bad", ["Ge2Sb2", "Qq2Te", ""])
def test_impossible_composition(bad):
    with pytest.raises(StructureError):
        build_rocksalt(bad, (2, 2, 2))


def test_seeds():
    a = build_rocksalt("Ge1Sb2Te4", (3, 3, 3), seed=7)
    b = build_rocksalt("Ge1Sb2Te4", (3, 3, 3), seed=7)
    c = build_rocksalt("Ge1Sb2Te4", (3, 3, 3), seed=8)
    assert (a.numbers == b.numbers).all()
    assert np.allclose(a.positions, b.positions)
    assert (a.numbers != c.numbers).any()
    assert _counts(a) == _counts(c)


def test_lattice_parameter_table_and_override():
    for name, a in ROCKSALT_LATTICE_PARAMETERS.items():
        assert name in QUASI_BINARY
        assert 5.9 < a < 6.2
    atoms = build_rocksalt("Ge1Sb2Te4", (2, 1, 1), lattice_parameter=6.2)
    assert atoms.cell.lengths() == pytest.approx([12.4, 6.2, 6.2])
    with pytest.raises(StructureError):
        build_rocksalt("Ge1Sb2Te4", lattice_parameter=-1.0)


def test_vacancy_ordering_fills_planes():
    atoms = build_rocksalt("Ge1Sb2Te4", (4, 4, 4), vacancy_order="111", seed=1)
    a = atoms.info["parameters"]["lattice_parameter"]
    # every cation-site (111) plane of the random cell still holds vacancies; ordered cells
    # empty one whole plane in four and keep the others full
    cations = atoms.arrays["sublattice"] == 1
    plane = np.rint(atoms.positions[cations].sum(axis=1) / a).astype(int) % 4
    per_plane = np.bincount(plane, minlength=4)
    assert sorted(per_plane.tolist()) == [0, 64, 64, 64]
    random = build_rocksalt("Ge1Sb2Te4", (4, 4, 4), seed=1)
    cations = random.arrays["sublattice"] == 1
    plane = np.rint(random.positions[cations].sum(axis=1) / a).astype(int) % 4
    assert np.bincount(plane, minlength=4).min() > 0


def test_vacancy_ordering_001():
    atoms = build_rocksalt("Ge2Sb2Te5", (5, 5, 5), vacancy_order="001")
    cations = atoms.arrays["sublattice"] == 1
    a = atoms.info["parameters"]["lattice_parameter"]
    layer = np.rint(atoms.positions[cations, 2] / (a / 2)).astype(int) % 10
    per_layer = np.bincount(layer, minlength=10)
    assert (per_layer == 50).sum() >= 8  # vacancies (100) gathered in two of ten (001) planes


def test_orientation_111():
    atoms = build_rocksalt("Ge1Sb2Te4", (6, 4, 4), orientation="111")
    assert len(atoms) == 1008
    a = atoms.info["parameters"]["lattice_parameter"]
    assert atoms.cell.lengths() == pytest.approx(
        [6 * a / np.sqrt(2), 4 * a * np.sqrt(1.5), 4 * a * np.sqrt(3)]
    )
    assert minimum_distance(atoms) == pytest.approx(a / 2)
    # planes alternate Te / cation along z
    z = np.rint(atoms.positions[:, 2] / (a / np.sqrt(3) / 2)).astype(int)
    te = np.array(atoms.get_chemical_symbols()) == "Te"
    assert (z[te] % 2 == 1).all()
    assert (z[~te] % 2 == 0).all()


def test_vacancy_ordering_needs_planes():
    with pytest.raises(StructureError, match="distinct periodic"):
        build_rocksalt("Ge1Sb2Te4", (3, 2, 1), vacancy_order="111")
    with pytest.raises(StructureError, match="vacancy_order"):
        build_rocksalt("Ge1Sb2Te4", (2, 2, 2), vacancy_order="110")
