"""Chemical compositions of the Ge–Sb–Te family.

Formulas are parsed into ``{element: amount}`` dictionaries; amounts may be
fractional (``Ge2Sb1.8Te5``). The named compositions of the GeTe–Sb2Te3
quasi-binary line are listed in :data:`QUASI_BINARY`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from fractions import Fraction

from ase.data import atomic_masses, atomic_numbers

from .errors import StructureError

__all__ = [
    "ALIASES",
    "OFF_STOICHIOMETRIC",
    "QUASI_BINARY",
    "VALENCES",
    "as_composition",
    "composition_fractions",
    "format_composition",
    "formula_mass",
    "parse_composition",
    "quasi_binary_composition",
    "to_fractions",
]

#: Named compositions of the GeTe–Sb2Te3 quasi-binary line, Ge-richest first.
QUASI_BINARY: tuple[str, ...] = (
    "GeTe",
    "Ge8Sb2Te11",
    "Ge4Sb2Te7",
    "Ge3Sb2Te6",
    "Ge2Sb2Te5",
    "Ge1Sb2Te4",
    "Ge1Sb4Te7",
    "Sb2Te3",
)

#: Off-line compositions of interest: cation-deficient (p-type) and cation-rich (n-type).
OFF_STOICHIOMETRIC: tuple[str, ...] = ("Ge2Sb1.8Te5", "Ge2.2Sb2Te5")

#: Common short names accepted wherever a formula is.
ALIASES: dict[str, str] = {
    "GST225": "Ge2Sb2Te5",
    "GST124": "Ge1Sb2Te4",
    "GST147": "Ge1Sb4Te7",
    "GST326": "Ge3Sb2Te6",
    "GST427": "Ge4Sb2Te7",
    "GST8211": "Ge8Sb2Te11",
}

#: Nominal valences used to tell cation-rich from cation-deficient compositions
#: (Te is the anion, valence 2).
VALENCES: dict[str, int] = {
    "Ge": 2,
    "Sn": 2,
    "Pb": 2,
    "Sb": 3,
    "Bi": 3,
    "In": 3,
    "Ga": 3,
    "Ag": 1,
    "Cu": 1,
    "Te": 2,
    "Se": 2,
    "S": 2,
}

_TOKEN = re.compile(r"([A-Z][a-z]?)((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)?")


def parse_composition(formula: str) -> dict[str, float]:
    """Parse a chemical formula into element amounts.

    Parameters
    ----------
    formula
        Formula such as ``"Ge2Sb2Te5"``, ``"Ge2Sb1.8Te5"`` or ``"GeTe"``; a
        missing amount means 1. Repeated elements are summed. The aliases of
        :data:`ALIASES` (``"GST225"``) are accepted.

    Returns
    -------
    dict[str, float]
        Amount per element (formula units, not fractions), in order of first
        appearance.

    Raises
    ------
    StructureError
        If the formula is empty, malformed, names an element that does not
        exist, or has a non-positive amount.
    """
    if not isinstance(formula, str):
        raise StructureError(f"composition must be a formula string, got {formula!r}")
    text = ALIASES.get(formula.strip().upper().replace("-", ""), formula.strip())
    if not text:
        raise StructureError("empty composition formula")
    result: dict[str, float] = {}
    pos = 0
    for match in _TOKEN.finditer(text):
        if match.start() != pos:
            break
        symbol, amount = match.group(1), match.group(2)
        if symbol not in atomic_numbers or symbol == "X":
            raise StructureError(f"unknown element {symbol!r} in composition {formula!r}")
        value = float(amount) if amount else 1.0
        if not math.isfinite(value) or value <= 0:
            raise StructureError(f"amount of {symbol} must be positive in composition {formula!r}")
        result[symbol] = result.get(symbol, 0.0) + value
        pos = match.end()
    if pos != len(text):
        raise StructureError(
            f"cannot parse composition {formula!r} at {text[pos:]!r} "
            "(expected element symbols with optional amounts, e.g. Ge2Sb1.8Te5)"
        )
    return result


def as_composition(composition: str | Mapping[str, float]) -> dict[str, float]:
    """Return a composition dictionary from a formula or a mapping.

    Parameters
    ----------
    composition
        Formula string or ``{element: amount}`` mapping.

    Returns
    -------
    dict[str, float]
        Validated amounts per element.

    Raises
    ------
    StructureError
        For unknown elements or non-positive amounts.
    """
    if isinstance(composition, str):
        return parse_composition(composition)
    result: dict[str, float] = {}
    for symbol, amount in dict(composition).items():
        if symbol not in atomic_numbers or symbol == "X":
            raise StructureError(f"unknown element {symbol!r} in composition")
        value = float(amount)
        if not math.isfinite(value) or value <= 0:
            raise StructureError(f"amount of {symbol} must be positive, got {amount!r}")
        result[symbol] = value
    if not result:
        raise StructureError("empty composition")
    return result


def to_fractions(composition: Mapping[str, float]) -> dict[str, Fraction]:
    """Convert amounts to exact fractions (``1.8`` becomes ``9/5``).

    Parameters
    ----------
    composition
        Amount per element.

    Returns
    -------
    dict[str, Fraction]
        The same amounts as fractions with denominators of at most 10,000.
    """
    return {el: Fraction(repr(float(x))).limit_denominator(10_000) for el, x in composition.items()}


def composition_fractions(composition: str | Mapping[str, float]) -> dict[str, float]:
    """Return atomic fractions (summing to one).

    Parameters
    ----------
    composition
        Formula string or mapping of amounts.

    Returns
    -------
    dict[str, float]
        Atomic fraction per element.
    """
    comp = as_composition(composition)
    total = sum(comp.values())
    return {el: x / total for el, x in comp.items()}


def format_composition(composition: Mapping[str, float]) -> str:
    """Write a composition as a formula string.

    Parameters
    ----------
    composition
        Amount (or count) per element; zero amounts are skipped.

    Returns
    -------
    str
        Formula with amounts written compactly (``Ge2Sb1.8Te5``, ``Ge144Sb288Te576``).
    """
    parts = []
    for el, x in composition.items():
        if x == 0:
            continue
        value = float(x)
        text = str(round(value)) if abs(value - round(value)) < 1e-9 else f"{value:g}"
        parts.append(f"{el}{text}")
    return "".join(parts)


def formula_mass(composition: Mapping[str, float]) -> float:
    """Mass of one formula unit.

    Parameters
    ----------
    composition
        Amount per element.

    Returns
    -------
    float
        Mass in atomic mass units (Da).
    """
    return float(sum(atomic_masses[atomic_numbers[el]] * x for el, x in composition.items()))


def quasi_binary_composition(ge_te_fraction: float) -> dict[str, float]:
    """Composition on the GeTe–Sb2Te3 line, ``(GeTe)_n (Sb2Te3)_m``.

    Parameters
    ----------
    ge_te_fraction
        Molar fraction ``n / (n + m)`` of GeTe units, between 0 and 1.

    Returns
    -------
    dict[str, float]
        Amounts per element for ``n + m = 1`` (zero amounts omitted).

    Raises
    ------
    StructureError
        If the fraction lies outside [0, 1].
    """
    if not 0.0 <= ge_te_fraction <= 1.0:
        raise StructureError(f"GeTe fraction must lie in [0, 1], got {ge_te_fraction}")
    n, m = ge_te_fraction, 1.0 - ge_te_fraction
    result = {"Ge": n, "Sb": 2 * m, "Te": n + 3 * m}
    return {el: x for el, x in result.items() if x > 0}
