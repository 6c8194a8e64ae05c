"""Units of the MD layer and parsing of quantities written with a unit.

Every number inside :mod:`gst_flows.md` is in eV, Å, fs, K, GPa, e (charge) and V/Å (field);
injection rates are in eV/ps. Protocol files may also write a quantity as a string with a unit
(``"30 ps"``, ``"0.264 fJ"``, ``"55 eV/ps"``, ``"3 MV/cm"``); it is converted on loading.
"""

from __future__ import annotations

import re

from ase import units as _ase_units

__all__ = [
    "AMU_PER_A3_TO_G_PER_CM3",
    "EV_PER_A3_TO_GPA",
    "EV_TO_J",
    "FS",
    "J_TO_EV",
    "KB",
    "UNITS",
    "ev_to_fj",
    "fj_to_ev",
    "parse_quantity",
]

#: Joules per electronvolt (exact, SI 2019).
EV_TO_J = 1.602176634e-19
#: Electronvolts per joule.
J_TO_EV = 1.0 / EV_TO_J
#: Boltzmann constant, eV/K.
KB = _ase_units.kB
#: One femtosecond in ASE time units; velocity in Å/fs = ASE velocity × FS.
FS = _ase_units.fs
#: eV/Å³ to GPa.
EV_PER_A3_TO_GPA = 1.0 / _ase_units.GPa
#: amu/Å³ to g/cm³.
AMU_PER_A3_TO_G_PER_CM3 = 1.66053906660

#: Conversion factors to the internal unit of each dimension.
UNITS: dict[str, dict[str, float]] = {
    "time": {"fs": 1.0, "ps": 1e3, "ns": 1e6, "as": 1e-3},
    "energy": {
        "ev": 1.0,
        "mev": 1e-3,
        "kev": 1e3,
        "j": J_TO_EV,
        "fj": 1e-15 * J_TO_EV,
        "aj": 1e-18 * J_TO_EV,
        "pj": 1e-12 * J_TO_EV,
    },
    "power": {
        "ev/ps": 1.0,
        "ev/fs": 1e3,
        "kev/ps": 1e3,
        "fj/ps": 1e-15 * J_TO_EV,
        "w": J_TO_EV * 1e-12,
        "uw": J_TO_EV * 1e-18,
        "mw": J_TO_EV * 1e-15,
    },
    "temperature": {"k": 1.0},
    "rate": {"k/ps": 1.0, "k/fs": 1e3, "k/ns": 1e-3},
    "pressure": {"gpa": 1.0, "mpa": 1e-3, "kbar": 0.1, "bar": 1e-4, "pa": 1e-9, "atm": 1.01325e-4},
    "field": {"v/a": 1.0, "ev/a": 1.0, "v/å": 1.0, "ev/å": 1.0, "v/nm": 0.1, "mv/cm": 0.01},
    "length": {"a": 1.0, "å": 1.0, "nm": 10.0},
}

_DEFAULT_UNIT = {
    "time": "fs",
    "energy": "eV",
    "power": "eV/ps",
    "temperature": "K",
    "rate": "K/ps",
    "pressure": "GPa",
    "field": "V/Å",
    "length": "Å",
}

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\s].*?)?\s*$")


def parse_quantity(value: object, dimension: str) -> object:
    """Convert ``value`` to the internal unit of ``dimension``.

    Parameters
    ----------
    value
        A number (already in the internal unit) or a string ``"<number> <unit>"``; anything else
        is returned unchanged for the model's own type check.
    dimension
        One of the keys of :data:`UNITS` (``time``, ``energy``, ``power``, ...).

    Returns
    -------
    float or object
        The value in the internal unit.

    Raises
    ------
    ValueError
        On an unknown unit or a malformed string.
    """
    if not isinstance(value, str):
        return value
    match = _QUANTITY.match(value)
    if match is None:
        example = f"10 {_DEFAULT_UNIT[dimension]}"
        raise ValueError(f"cannot read {value!r} as a {dimension} (e.g. {example!r})")
    number, unit = float(match.group(1)), (match.group(2) or "").strip()
    if not unit:
        return number
    table = UNITS[dimension]
    factor = table.get(unit.lower().replace(" ", "").replace("µ", "u"))
    if factor is None:
        known = ", ".join(sorted(table))
        raise ValueError(f"unknown {dimension} unit {unit!r} in {value!r} (known: {known})")
    return number * factor


def fj_to_ev(energy_fj: float) -> float:
    """Convert femtojoules to electronvolts (1 fJ = 6241.509 eV)."""
    return energy_fj * 1e-15 * J_TO_EV


def ev_to_fj(energy_ev: float) -> float:
    """Convert electronvolts to femtojoules (1,650 eV = 0.264 fJ)."""
    return energy_ev * EV_TO_J * 1e15
