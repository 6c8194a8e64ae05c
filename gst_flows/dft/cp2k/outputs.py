"""Parsing CP2K outputs into a :class:`Cp2kResult` (eV, eV/Å, GPa), and the CP2K error."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase.units import Bohr, GPa, Hartree

__all__ = ["HA_BOHR_TO_EV_ANG", "OUTPUT_FILE", "Cp2kError", "Cp2kResult", "parse_cp2k_output"]

OUTPUT_FILE = "cp2k.out"
HA_BOHR_TO_EV_ANG = Hartree / Bohr


class Cp2kError(RuntimeError):
    """CP2K failed, or its output could not be parsed, after all corrections."""


@dataclass
class Cp2kResult:
    """Parsed result of one CP2K energy-and-forces run (eV, eV/Å, GPa)."""

    energy: float
    forces: np.ndarray
    stress: np.ndarray | None
    scf_converged: bool
    version: str
    kpoints: tuple[int, int, int] | None
    walltime: float | None
    directory: str
    corrections: list[dict] = field(default_factory=list)

    def virial(self, volume: float) -> np.ndarray | None:
        """Virial in eV: ``-stress * volume`` (stress in the ASE sign convention)."""
        if self.stress is None:
            return None
        return -self.stress * GPa * volume


_FLOAT = r"[-+]?\d+\.\d+(?:[EeDd][-+]?\d+)?"


def parse_cp2k_output(directory: str | Path, natoms: int) -> Cp2kResult:
    """Parse energy, forces and stress from ``cp2k.out`` in ``directory``.

    Energies are converted from Ha to eV, forces from Ha/bohr to eV/Å; the stress is returned
    in GPa in the ASE sign convention (tensile positive), i.e. the negative of the pressure
    tensor CP2K prints.

    Raises
    ------
    Cp2kError
        When the output is missing, incomplete, or the SCF did not converge.
    """
    path = Path(directory) / OUTPUT_FILE
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise Cp2kError(f"no CP2K output in {directory}: {exc.strerror}") from None
    energies = re.findall(r"ENERGY\| Total FORCE_EVAL \( QS \) energy[^:]*:\s+(" + _FLOAT + ")", text)
    if not energies:
        abort = re.search(r"\[ABORT\].*?\n(.*?)\n", text, re.S)
        reason = abort.group(1).strip(" *\n") if abort else "no total energy in output"
        raise Cp2kError(f"CP2K did not finish in {directory}: {reason}")
    scf_failed = "SCF run NOT converged" in text or "*** SCF run NOT converged ***" in text
    if scf_failed:
        raise Cp2kError(f"SCF did not converge in {directory}")
    energy = float(energies[-1].replace("D", "E")) * Hartree

    block = text.rsplit("ATOMIC FORCES in [a.u.]", 1)
    if len(block) != 2:
        raise Cp2kError(f"no forces in CP2K output in {directory}")
    rows = re.findall(
        r"^\s+\d+\s+\d+\s+\S+\s+(" + _FLOAT + r")\s+(" + _FLOAT + r")\s+(" + _FLOAT + ")",
        block[1].split("SUM OF ATOMIC FORCES")[0],
        re.M,
    )
    if len(rows) != natoms:
        raise Cp2kError(f"expected forces on {natoms} atoms, found {len(rows)} in {directory}")
    forces = np.array(rows, dtype=float) * HA_BOHR_TO_EV_ANG

    stress = None
    stress_block = text.rsplit("STRESS| Analytical stress tensor [GPa]", 1)
    if len(stress_block) == 2:
        srows = re.findall(
            r"STRESS\|\s+[xyz]\s+(" + _FLOAT + r")\s+(" + _FLOAT + r")\s+(" + _FLOAT + ")",
            stress_block[1],
        )[:3]
        if len(srows) == 3:
            stress = -np.array(srows, dtype=float)

    version = re.search(r"CP2K\| version string:\s+(.*)", text)
    walltime = re.search(r"CP2K\s+1\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+([\d.]+)", text)
    mesh = re.search(r"BRILLOUIN\| K-point scheme\s+Monkhorst-Pack\s*\n.*?(\d+)\s+(\d+)\s+(\d+)", text, re.S)
    return Cp2kResult(
        energy=energy,
        forces=forces,
        stress=stress,
        scf_converged=not scf_failed,
        version=version.group(1).strip() if version else "unknown",
        kpoints=tuple(int(x) for x in mesh.groups()) if mesh else None,
        walltime=float(walltime.group(1)) if walltime else None,
        directory=str(directory),
    )
