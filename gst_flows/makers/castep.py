"""A Maker that labels a structure with CASTEP through ASE."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from jobflow import Maker, job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.makers.dft import run_label
from gst_flows.schemas.label import LabelDoc

__all__ = ["CastepLabelMaker"]


@dataclass
class CastepLabelMaker(Maker):
    """Label a structure with CASTEP: energy, forces and stress, as a :class:`LabelDoc`.

    The protocol defaults to the published GST database's (PBEsol, 600 eV; see
    :mod:`gst_flows.dft.castep`). A run that fails or leaves no usable output gives a
    document with ``state="failed"`` and the error, so a batch carries on.

    Parameters
    ----------
    name
        Job name.
    settings
        Overrides of :class:`gst_flows.dft.castep.CastepSettings`.
    command
        CASTEP command (the seed name is appended), e.g. ``"mpirun -np 16 castep.mpi"``;
        ``$CASTEP_COMMAND`` on the worker, else ``castep.mpi``, when None.
    """

    name: str = "castep label"
    settings: dict[str, Any] = field(default_factory=dict)
    command: str | None = None

    fworker_category: ClassVar[str] = "dft"

    def resolved_settings(self):
        """The CASTEP protocol of this maker (defaults overridden by :attr:`settings`)."""
        from gst_flows.dft.castep import CastepSettings

        return CastepSettings.from_dict(self.settings)

    @job(output_schema=LabelDoc, data=["forces", "structure"])
    def make(self, structure: Structure, provenance: dict[str, Any] | None = None) -> LabelDoc:
        """Run CASTEP on ``structure`` in a folder of the job's directory.

        Parameters
        ----------
        structure
            Structure to label.
        provenance
            Keys of :class:`Provenance` (tag, iteration, generator, config_type, ...).
        """
        import shlex

        from gst_flows.dft.castep import CastepError, run_castep
        from gst_flows.structures import validate_structure

        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.info.clear()
        validate_structure(atoms)
        castep = self.resolved_settings()
        command = shlex.split(self.command) if self.command else None
        return run_label(
            atoms, code="castep", settings=castep.as_dict(), settings_hash=castep.settings_hash(),
            provenance=provenance, errors=(CastepError,),
            run=lambda run_dir: run_castep(atoms, castep, run_dir, command=command),
        )
