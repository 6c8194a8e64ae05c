import pytest

from gst_flows.structures import (
    OFF_STOICHIOMETRIC,
    QUASI_BINARY,
    StructureError,
    composition_fractions,
    format_composition,
    parse_composition,
    quasi_binary_composition,
)


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("GeTe", {"Ge": 1.0, "Te": 1.0}),
        ("Ge2Sb2Te5", {"Ge": 2.0, "Sb": 2.0, "Te": 5.0}),
        ("Ge2Sb1.8Te5", {"Ge": 2.0, "Sb": 1.8, "Te": 5.0}),
        ("Ge2.2Sb2Te5", {"Ge": 2.2, "Sb": 2.0, "Te": 5.0}),
        ("Sb.5Te", {"Sb": 0.5, "Te": 1.0}),
        ("TeGeTe", {"Te": 2.0, "Ge": 1.0}),
        ("GST225", {"Ge": 2.0, "Sb": 2.0, "Te": 5.0}),
    ],
)
def test_parse_composition(formula, expected):
    assert parse_composition(formula) == pytest.approx(expected)


@pytest.mark.parametrize("bad", ["", "Ge2Xx3", "ge2te", "Ge-1Te", "Ge0Te", "Ge2 Sb", "X2Te", "Ge2Te)"])
def test_parse_composition_rejects(bad):
    with pytest.raises(StructureError):
        parse_composition(bad)


def test_unknown_element_named():
    with pytest.raises(StructureError, match="Qq"):
        parse_composition("Ge2Qq3")


def test_quasi_binary_line_is_on_the_line():
    # (GeTe)_n (Sb2Te3)_m: Te = Ge + 3/2 Sb for every named composition.
    assert len(QUASI_BINARY) == 8
    for name in QUASI_BINARY:
        c = parse_composition(name)
        assert c["Te"] == pytest.approx(c.get("Ge", 0) + 1.5 * c.get("Sb", 0)), name
    for name in OFF_STOICHIOMETRIC:
        c = parse_composition(name)
        assert c["Te"] != pytest.approx(c.get("Ge", 0) + 1.5 * c.get("Sb", 0)), name


def test_quasi_binary_composition_matches_named():
    frac = composition_fractions(quasi_binary_composition(2 / 3))
    assert frac == pytest.approx(composition_fractions("Ge2Sb2Te5"))
    with pytest.raises(StructureError):
        quasi_binary_composition(1.5)


def test_format_round_trip():
    for name in (*QUASI_BINARY, *OFF_STOICHIOMETRIC):
        c = parse_composition(name)
        assert parse_composition(format_composition(c)) == pytest.approx(c)
