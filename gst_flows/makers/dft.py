"""Makers that label structures with DFT."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from jobflow import Maker, job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.schemas.label import LabelDoc, Provenance

__all__ = ["Cp2kLabelMaker", "find_existing_label"]


def find_existing_label(structure_hash: str, settings_hash: str) -> LabelDoc | None:
    """A successful label of the same structure with the same settings, if the store has one.

    Looks in the store of the running job (exposed by jobflow when the job's config has
    ``expose_store``); returns None outside a job or when nothing matches.
    """
    from jobflow import CURRENT_JOB

    store = getattr(CURRENT_JOB, "store", None)
    if store is None:
        return None
    found = store.query_one(
        {
            "output.@class": "LabelDoc",
            "output.state": "successful",
            "output.structure_hash": structure_hash,
            "output.settings_hash": settings_hash,
        },
        properties=["output", "uuid"],
        load=True,
    )
    if not found:
        return None
    output = {k: v for k, v in found["output"].items() if not k.startswith("@")}
    doc = LabelDoc.model_validate(output)
    doc.reused_from = found["uuid"]
    return doc


@dataclass
class Cp2kLabelMaker(Maker):
    """Label a structure with CP2K: energy, forces and stress, as a :class:`LabelDoc`.

    A CP2K failure that custodian cannot correct gives a document with ``state="failed"`` and
    the error, not a failed job, so a batch of labels carries on.

    Parameters
    ----------
    name
        Job name.
    settings
        Overrides of :class:`gst_flows.dft.cp2k.Cp2kSettings`, applied over the ``dft`` section
        of the gst-flows configuration (resolved where the job runs).
    command
        CP2K command (``-i cp2k.inp`` is appended); the configured ``cp2k_cmd`` when None.
    omp_threads
        ``OMP_NUM_THREADS`` for CP2K; the configured value when None.
    use_custodian
        Run CP2K under custodian with its CP2K error handlers.
    max_errors
        Corrections custodian may apply before the label is stored as failed.
    walltime
        Seconds available to the job (enables custodian's walltime handler).
    """

    name: str = "cp2k label"
    settings: dict[str, Any] = field(default_factory=dict)
    command: str | None = None
    omp_threads: int | None = None
    use_custodian: bool = True
    max_errors: int = 5
    walltime: float | None = None

    fworker_category: ClassVar[str] = "dft"

    def resolved_settings(self):
        """The CP2K protocol this maker uses here: defaults, then configuration, then fields."""
        from gst_flows.dft.cp2k import Cp2kSettings
        from gst_flows.settings import get_settings

        return Cp2kSettings.from_dict({**get_settings().dft, **self.settings})

    @job(output_schema=LabelDoc, data=["forces", "structure"])
    def make(self, structure: Structure, provenance: dict[str, Any] | None = None) -> LabelDoc:
        """Run CP2K on ``structure`` in the job's directory.

        Parameters
        ----------
        structure
            Structure to label.
        provenance
            Keys of :class:`Provenance` (tag, iteration, generator, config_type, ...).
        """
        import shlex

        from gst_flows.dft.cp2k import Cp2kError, run_cp2k
        from gst_flows.hashing import structure_hash
        from gst_flows.settings import get_settings
        from gst_flows.structures import validate_structure

        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.info.clear()
        validate_structure(atoms)
        cp2k = self.resolved_settings()
        config = get_settings()
        command = shlex.split(self.command) if self.command else config.cp2k_command
        omp = self.omp_threads or config.cp2k_omp_threads
        existing = find_existing_label(structure_hash(atoms), cp2k.settings_hash())
        if existing is not None:
            return existing
        common = {
            "code": "cp2k",
            "settings": cp2k.as_dict(),
            "settings_hash": cp2k.settings_hash(),
            "provenance": Provenance(**(provenance or {})),
            "dir_name": str(Path.cwd()),
        }
        try:
            result = run_cp2k(
                atoms,
                cp2k,
                directory=".",
                command=command,
                omp_threads=omp,
                use_custodian=self.use_custodian,
                max_errors=self.max_errors,
                walltime=self.walltime,
            )
        except Cp2kError as exc:
            return LabelDoc.from_result(atoms, error=str(exc), **common)
        return LabelDoc.from_result(
            atoms,
            energy=result.energy,
            forces=result.forces,
            stress=result.stress,
            code_version=result.version,
            kpoints=list(result.kpoints) if result.kpoints else None,
            walltime=result.walltime,
            corrections=result.corrections,
            **common,
        )
