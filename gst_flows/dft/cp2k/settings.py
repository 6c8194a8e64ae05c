"""The CP2K labelling protocol (:class:`Cp2kSettings`), its hash, and CP2K's data files.

The settings hash decides whether a stored label is reused: it must not change for settings
that already labelled structures (see :meth:`Cp2kSettings.settings_hash`).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from gst_flows.dft.common import ProtocolSettings, check_protocol, settings_digest

__all__ = ["BASIS_FILE", "POTENTIAL_FILE", "VALENCE", "Cp2kSettings"]

VALENCE = {"Ge": 4, "Sb": 5, "Te": 6}
BASIS_FILE = "BASIS_MOLOPT"
POTENTIAL_FILE = "GTH_POTENTIALS"

# Fields added to the protocol later, with the value that behaves as before they existed.
_LATER_FIELDS: dict[str, Any] = {"scf_method": "diagonalization"}


@dataclass(frozen=True)
class Cp2kSettings(ProtocolSettings):
    """The CP2K labelling protocol.

    Parameters
    ----------
    functional
        ``"PBESOL"`` or ``"PBE"`` (GGA through CP2K's ``&PBE`` section).
    cutoff, rel_cutoff
        Plane-wave cutoffs of the multigrid, Ry.
    eps_scf
        SCF convergence threshold (Ha).
    max_scf
        Maximum number of SCF iterations.
    kpoint_spacing
        Largest allowed spacing between k-points, Å⁻¹ (2π included). The mesh is never
        reduced to Γ for small cells: ``n_i = ceil(|b_i| / spacing)``. The default, 0.12, is
        the coarsest spacing within 0.5 meV/atom and 0.01 eV/Å RMS of 0.1 on a rattled
        14-atom rock-salt Ge1Sb2Te4 cell (measured with
        :class:`~gst_flows.flows.convergence.Cp2kConvergenceMaker`; docs/dft-codes.md,
        "Protocol convergence"); the earlier 0.25 was 1.1 meV/atom and 0.040 eV/Å off there.
    gamma_only
        Force a Γ-only calculation (only for large cells or isolated atoms).
    smearing_temperature
        Fermi-Dirac electronic temperature, K.
    added_mos_fraction
        Extra MOs as a fraction of the occupied ones (at least 8 are added).
    mixing_alpha, nbroyden
        Broyden mixing parameters (``nbroyden`` is CP2K's ``NBUFFER``, the keyword custodian's
        SCF handler adjusts).
    uks
        Spin-polarised (unrestricted) calculation.
    multiplicity
        Spin multiplicity (only with ``uks``; 0 lets CP2K choose).
    scf_method
        ``"diagonalization"`` (smearing, Broyden mixing; metals and k-points) or ``"ot"``
        (orbital transformation, integer occupations, Γ only; used for free atoms).
    basis, potential
        Basis-set and pseudopotential names per element.
    overrides
        Nested CP2K input sections merged over the generated input, e.g.
        ``{"FORCE_EVAL": {"DFT": {"SCF": {"MAX_SCF": 200}}}}``.
    """

    functional: str = "PBESOL"
    cutoff: float = 300.0
    rel_cutoff: float = 50.0
    eps_scf: float = 1e-6
    max_scf: int = 100
    kpoint_spacing: float = 0.12
    gamma_only: bool = False
    smearing_temperature: float = 500.0
    added_mos_fraction: float = 0.3
    mixing_alpha: float = 0.2
    nbroyden: int = 8
    uks: bool = False
    multiplicity: int = 0
    scf_method: str = "diagonalization"
    basis: dict[str, str] = field(default_factory=lambda: dict.fromkeys(VALENCE, "DZVP-MOLOPT-SR-GTH"))
    potential: dict[str, str] = field(
        default_factory=lambda: {el: f"GTH-PBE-q{q}" for el, q in VALENCE.items()}
    )
    overrides: dict[str, Any] = field(default_factory=dict)

    code_name: ClassVar[str] = "CP2K"

    def __post_init__(self) -> None:
        check_protocol(self, ("cutoff", "rel_cutoff", "eps_scf", "kpoint_spacing"))
        if self.scf_method not in {"diagonalization", "ot"}:
            raise ValueError(f"scf_method must be 'diagonalization' or 'ot', not {self.scf_method!r}")
        if self.scf_method == "ot" and not self.gamma_only:
            raise ValueError("scf_method 'ot' needs gamma_only (CP2K's OT has no k-points)")
        if self.max_scf < 1:
            raise ValueError(f"max_scf must be at least 1, got {self.max_scf}")

    def settings_hash(self) -> str:
        """Hash of everything that changes a label (SHA-1 of the canonical JSON).

        Fields added after labels were stored are left out while they hold the value that
        reproduces the earlier behaviour, so existing labels keep their hash.
        """
        values = {k: v for k, v in self.as_dict().items() if _LATER_FIELDS.get(k, object()) != v}
        return settings_digest(values)

    def missing_elements(self, symbols: Iterable[str]) -> dict[str, str]:
        """Elements this protocol cannot label, each with what it lacks.

        An element needs a basis set and a pseudopotential in the protocol; when CP2K's data
        files are found (``$CP2K_DATA_DIR`` or ``/usr/share/cp2k``) the named ones must also
        exist there for that element.

        Parameters
        ----------
        symbols
            Chemical symbols of the structures to label.

        Returns
        -------
        dict[str, str]
            Element to a short description of what is missing; empty when all can be labelled.
        """
        missing: dict[str, str] = {}
        for element in sorted(set(symbols)):
            lacks = []
            for kind, table, filename in (
                ("basis set", self.basis, BASIS_FILE),
                ("pseudopotential", self.potential, POTENTIAL_FILE),
            ):
                name = table.get(element)
                if name is None:
                    lacks.append(f"no {kind}")
                else:
                    known = _cp2k_data_names(filename)
                    if known is not None and (element, name) not in known:
                        lacks.append(f"no {kind} {name} in {filename}")
            if lacks:
                missing[element] = " and ".join(lacks)
        return missing


def _cp2k_data_dir() -> Path | None:
    for candidate in (os.environ.get("CP2K_DATA_DIR"), "/usr/share/cp2k/data", "/usr/share/cp2k"):
        if candidate and (Path(candidate) / BASIS_FILE).is_file():
            return Path(candidate)
    return None


@functools.cache
def _cp2k_data_names(filename: str) -> frozenset[tuple[str, str]] | None:
    """``(element, name)`` pairs defined in a CP2K basis or potential file (None: not found)."""
    directory = _cp2k_data_dir()
    if directory is None or not (directory / filename).is_file():
        return None
    names = set()
    # A definition starts with the element symbol and its names (aliases follow the first).
    header = re.compile(r"^\s*([A-Z][a-z]?)\s+([A-Za-z][\w.+-]*(?:\s+[A-Za-z][\w.+-]*)*)\s*$")
    for line in (directory / filename).read_text(errors="replace").splitlines():
        match = header.match(line)
        if match:
            names.update((match.group(1), name) for name in match.group(2).split())
    return frozenset(names)
