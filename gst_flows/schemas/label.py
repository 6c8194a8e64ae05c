"""The labelled-structure document: one DFT label of one structure, with its provenance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from ase import Atoms
from ase.units import GPa
from pydantic import BaseModel, Field
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.hashing import structure_hash

__all__ = ["LabelBatchDoc", "LabelDoc", "Provenance"]


class Provenance(BaseModel):
    """Where a configuration came from."""

    tag: str | None = Field(None, description="User tag grouping a data set, e.g. 'gst-db'.")
    iteration: int | None = Field(None, description="Active-learning iteration (0, 1, 2, ...).")
    generator: str | None = Field(
        None, description="What produced the configuration (builder, MD job uuid, file, ...)."
    )
    config_type: str | None = Field(
        None, description="Phase label used for regularisation: crystal, liquid, amorphous, ..."
    )
    potential_id: str | None = Field(None, description="Potential that generated it, if any.")
    temperature: float | None = Field(None, description="MD temperature when generated, K.")
    md_step: int | None = Field(None, description="MD step when generated.")
    md_seed: int | None = Field(None, description="Seed of the MD run that generated it.")
    crystalline_fraction: float | None = Field(
        None, description="Measured SOAP crystalline fraction (k̄) when generated."
    )
    wrong_bond_fraction: float | None = Field(
        None, description="Homopolar and Ge-Sb bonds among all bonds when generated (liquid-order frames)."
    )
    source: str | None = Field(None, description="File or data set it was read from.")
    teacher: str | None = Field(
        None, description="Potential id of the teacher that labelled it (synthetic labels only)."
    )
    synthetic: bool | None = Field(
        None, description="True for labels computed by a potential, not DFT (indirect learning)."
    )


class LabelDoc(BaseModel):
    """A DFT label (energy, forces, stress) of one structure.

    Forces and the structure grow with the number of atoms and are kept in the ``data`` store;
    the document holds scalars, the 3×3 stress and virial, and the provenance.
    Sign convention: ``stress`` is in GPa with tensile positive (ASE convention; CP2K prints the
    negative, the pressure tensor); ``virial = -stress × volume`` in eV.
    """

    state: Literal["successful", "failed"] = Field(description="Whether the label exists.")
    error: str | None = Field(None, description="Why the label failed, if it did.")
    code: str = Field(description="DFT code that labelled it: cp2k, vasp, castep.")
    code_version: str | None = Field(None, description="Version string of the DFT code.")
    settings: dict[str, Any] = Field(description="DFT protocol used (code-specific).")
    settings_hash: str = Field(description="SHA-1 of the protocol; with structure_hash, a key.")
    structure_hash: str = Field(description="SHA-1 of species, positions, cell (see hashing).")
    formula: str = Field(description="Reduced chemical formula.")
    composition: dict[str, float] = Field(description="Atom counts per element.")
    natoms: int = Field(description="Number of atoms.")
    volume: float = Field(description="Cell volume, Å³.")
    energy: float | None = Field(None, description="Total energy, eV.")
    energy_per_atom: float | None = Field(None, description="Total energy per atom, eV/atom.")
    max_force: float | None = Field(None, description="Largest force norm, eV/Å.")
    stress: list[list[float]] | None = Field(None, description="Stress, GPa, tensile positive.")
    virial: list[list[float]] | None = Field(None, description="Virial, eV (-stress × volume).")
    forces: list[list[float]] | None = Field(None, description="Forces, eV/Å (data store).")
    structure: Structure | None = Field(None, description="The labelled structure (data store).")
    kpoints: list[int] | None = Field(None, description="Monkhorst-Pack mesh used.")
    walltime: float | None = Field(None, description="DFT wall time, s.")
    corrections: list[dict[str, Any]] = Field(
        default_factory=list, description="Corrections applied by custodian."
    )
    dir_name: str | None = Field(None, description="Run directory.")
    reference_settings_hash: str | None = Field(
        None, description="For isolated atoms: settings hash of the bulk protocol they are e0 for."
    )
    reused_from: str | None = Field(
        None, description="uuid of the job whose identical label was reused (no recompute)."
    )
    provenance: Provenance = Field(default_factory=Provenance, description="Where it came from.")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def from_result(
        cls,
        atoms: Atoms,
        *,
        code: str,
        settings: dict[str, Any],
        settings_hash: str,
        energy: float | None = None,
        forces: np.ndarray | None = None,
        stress: np.ndarray | None = None,
        code_version: str | None = None,
        error: str | None = None,
        provenance: Provenance | None = None,
        **extra: Any,
    ) -> LabelDoc:
        """Build a document from a structure and a parsed result (eV, eV/Å, GPa).

        A document with ``error`` set (or without an energy) is a failed label.
        """
        natoms = len(atoms)
        volume = float(atoms.get_volume()) if all(atoms.pbc) else 0.0
        failed = error is not None or energy is None
        doc = {
            "state": "failed" if failed else "successful",
            "error": error,
            "code": code,
            "code_version": code_version,
            "settings": settings,
            "settings_hash": settings_hash,
            "structure_hash": structure_hash(atoms),
            "formula": atoms.get_chemical_formula(mode="metal", empirical=True),
            "composition": {
                s: float(n)
                for s, n in zip(*np.unique(atoms.get_chemical_symbols(), return_counts=True), strict=True)
            },
            "natoms": natoms,
            "volume": volume,
            "structure": AseAtomsAdaptor.get_structure(atoms) if all(atoms.pbc) else None,
            "provenance": provenance or Provenance(),
            **extra,
        }
        if not failed:
            doc["energy"] = float(energy)
            doc["energy_per_atom"] = float(energy) / natoms
            if forces is not None:
                forces = np.asarray(forces, dtype=float)
                doc["forces"] = forces.tolist()
                doc["max_force"] = float(np.linalg.norm(forces, axis=1).max())
            if stress is not None:
                stress = np.asarray(stress, dtype=float)
                doc["stress"] = stress.tolist()
                doc["virial"] = (-stress * GPa * volume).tolist()
        return cls(**doc)

    def to_atoms(self) -> Atoms:
        """The labelled structure as ``ase.Atoms`` with its labels in ``info``/``arrays``.

        Labels use the names ``gap_fit`` reads: ``REF_energy``, ``REF_forces``, ``REF_virial``
        (flattened 9 numbers), ``config_type``.
        """
        if self.structure is None:
            raise ValueError("document has no structure (was it loaded from the data store?)")
        atoms = AseAtomsAdaptor.get_atoms(self.structure)
        atoms.info.clear()
        atoms.arrays.pop("magmoms", None)
        if self.state == "successful":
            atoms.info["REF_energy"] = self.energy
            if self.forces is not None:
                atoms.arrays["REF_forces"] = np.asarray(self.forces)
            if self.virial is not None:
                atoms.info["REF_virial"] = np.asarray(self.virial).reshape(-1)
        prov = self.provenance.model_dump(exclude_none=True)
        atoms.info.update({k: v for k, v in prov.items() if k != "config_type"})
        atoms.info["config_type"] = self.provenance.config_type or "default"
        atoms.info["structure_hash"] = self.structure_hash
        atoms.info["settings_hash"] = self.settings_hash
        return atoms


class LabelBatchDoc(BaseModel):
    """Summary of a batch of labels: how many succeeded, failed, or reused an earlier label."""

    batch: str = Field(description="Identifier of the batch (the labelling flow's uuid).")
    n_total: int = Field(description="Structures in the batch.")
    n_successful: int = Field(description="Labels computed or reused successfully.")
    n_failed: int = Field(description="Labels that failed (after custodian's corrections).")
    n_reused: int = Field(description="Labels reused from identical earlier calculations.")
    failed_fraction: float = Field(description="n_failed / n_total.")
    max_failed_fraction: float | None = Field(
        None, description="Largest failed fraction tolerated before the flow stops."
    )
    failures: list[dict[str, Any]] = Field(
        default_factory=list, description="Failed labels: index, structure_hash, error."
    )
