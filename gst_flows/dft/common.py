"""What the DFT labelling protocols share: settings checks and hashes, species grouping.

CP2K, CASTEP and VASP labels use one functional family (PBEsol or PBE) and are hashed the
same way (SHA-1 of canonical JSON), so a label is reused only under the same protocol. CASTEP
and VASP want the atoms of one species together: inputs are written grouped by species and
the results are mapped back to the original order of the atoms.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, fields, replace
from typing import Any, ClassVar, Self

import numpy as np
from ase import Atoms

__all__ = [
    "FUNCTIONALS",
    "ProtocolSettings",
    "check_protocol",
    "in_input_order",
    "mismatched_geometry",
    "settings_digest",
    "species_order",
]

#: Exchange-correlation functionals of the labelling protocols.
FUNCTIONALS = ("PBESOL", "PBE")


def check_protocol(settings: Any, positive: Iterable[str] = ()) -> None:
    """Refuse a functional other than PBEsol or PBE, and non-positive values.

    Parameters
    ----------
    settings
        An object with a ``functional`` attribute and the attributes named in ``positive``.
    positive
        Attributes that must be greater than zero.

    Raises
    ------
    ValueError
        Naming the offending value.
    """
    if not isinstance(settings.functional, str) or settings.functional.upper() not in FUNCTIONALS:
        raise ValueError(f"functional must be PBESOL or PBE, not {settings.functional!r}")
    for name in positive:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")


def settings_digest(values: dict[str, Any]) -> str:
    """SHA-1 of ``values`` as canonical JSON (sorted keys, other objects as their text)."""
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()


class ProtocolSettings:
    """Construction and copying of a frozen dataclass that holds a labelling protocol.

    Subclasses set ``code_name`` to the program's name as users know it (``"CP2K"``).
    """

    code_name: ClassVar[str]

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> Self:
        """Build settings from a dict, refusing unknown keys with a clear error."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown {cls.code_name} setting(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    def update(self, **changes: Any) -> Self:
        """Return a copy with some fields changed."""
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict of the settings (JSON-serialisable)."""
        return asdict(self)


def species_order(atoms: Atoms) -> np.ndarray:
    """Indices that group the atoms by species (ascending atomic number, stable).

    VASP and CASTEP want atoms of one species together; the label is mapped back to the
    original order with this permutation (``original[order] = grouped``).
    """
    return np.argsort(atoms.numbers, kind="stable")


def in_input_order(grouped: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Per-atom values of ``atoms[order]`` (e.g. forces) in the order of ``atoms``."""
    grouped = np.asarray(grouped, dtype=float)
    values = np.empty_like(grouped)
    values[order] = grouped
    return values


def mismatched_geometry(scaled_positions: Any, cell: Any, expected: Atoms, tolerance: float) -> bool:
    """Whether a code's output describes other positions or another cell than ``expected``.

    Parameters
    ----------
    scaled_positions
        Fractional coordinates read back from the output, in the order of ``expected``.
    cell
        Lattice vectors read back from the output (rows), Å.
    expected
        The structure that was written.
    tolerance
        Largest accepted difference of fractional coordinates (up to lattice translations)
        and of cell components (Å).
    """
    delta = np.asarray(scaled_positions) - expected.get_scaled_positions(wrap=False)
    delta -= np.round(delta)
    return bool(np.abs(delta).max() > tolerance or not np.allclose(cell, expected.cell.array, atol=tolerance))
