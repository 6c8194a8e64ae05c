"""A Maker that labels a structure with CASTEP through ASE."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ase import Atoms

from gst_flows.makers.dft import BaseLabelMaker, run_label
from gst_flows.schemas.label import LabelDoc

__all__ = ["CastepLabelMaker"]


@dataclass
class CastepLabelMaker(BaseLabelMaker):
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

    def resolved_settings(self):
        """The CASTEP protocol of this maker (defaults overridden by :attr:`settings`)."""
        from gst_flows.dft.castep import CastepSettings

        return CastepSettings.from_dict(self.settings)

    def label(self, atoms: Atoms, provenance: dict[str, Any] | None) -> LabelDoc:
        """Run CASTEP on ``atoms`` in a folder of the job's directory."""
        import shlex

        from gst_flows.dft.castep import CastepError, run_castep

        castep = self.resolved_settings()
        command = shlex.split(self.command) if self.command else None
        return run_label(
            atoms,
            code="castep",
            settings=castep.as_dict(),
            settings_hash=castep.settings_hash(),
            provenance=provenance,
            errors=(CastepError,),
            run=lambda run_dir: run_castep(atoms, castep, run_dir, command=command),
        )
