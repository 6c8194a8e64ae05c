"""A Maker that labels a structure with VASP through atomate2's static maker."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ase import Atoms
from atomate2.vasp.sets.base import VaspInputGenerator
from custodian.custodian import CustodianError
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.dft.vasp import GstVaspInputGenerator, VaspError
from gst_flows.makers.dft import BaseLabelMaker, run_label
from gst_flows.schemas.label import LabelDoc

__all__ = ["VaspLabelMaker"]


@dataclass
class VaspLabelMaker(BaseLabelMaker):
    """Label a structure with VASP: energy, forces and stress, as a :class:`LabelDoc`.

    atomate2's static-calculation path with the GST input set: inputs are written by atomate2
    (``write_vasp_input_set``), VASP runs under custodian with atomate2's handlers
    (``run_vasp``; command from atomate2's ``VASP_CMD`` setting), and the outputs are parsed
    into the same document CP2K labels produce (not into atomate2's
    ``TaskDoc``). A run that custodian cannot correct, or whose output is not a finished
    label, gives a document with ``state="failed"``, so a batch carries on; anything else (a
    missing VASP executable, a bug) fails the job.

    Parameters
    ----------
    name
        Job name.
    input_set_generator
        The input set; it must describe its protocol (``protocol()``, ``settings_hash()``),
        as :class:`~gst_flows.dft.vasp.GstVaspInputGenerator` does. Change the protocol with
        its fields (``functional``, ``kpoint_spacing``, ``user_incar_settings``, ...).
    write_input_set_kwargs
        Keyword arguments of atomate2's ``write_vasp_input_set``.
    run_vasp_kwargs
        Keyword arguments of atomate2's ``run_vasp`` (``vasp_cmd``, ``handlers``,
        ``max_errors``, ``wall_time``, ``custodian_kwargs``, ...).
    """

    name: str = "vasp label"
    input_set_generator: VaspInputGenerator = field(default_factory=GstVaspInputGenerator)
    write_input_set_kwargs: dict[str, Any] = field(default_factory=dict)
    run_vasp_kwargs: dict[str, Any] = field(default_factory=dict)

    def label(self, atoms: Atoms, provenance: dict[str, Any] | None) -> LabelDoc:
        """Write the inputs, run VASP in a folder of the job's directory, parse the label."""
        from atomate2 import SETTINGS
        from atomate2.common.files import gzip_output_folder
        from atomate2.vasp import run as vasp_run
        from atomate2.vasp.files import write_vasp_input_set
        from atomate2.vasp.jobs.base import _FILES_TO_ZIP

        from gst_flows.dft.vasp import parse_vasp_output, species_order

        generator = self.input_set_generator
        if not hasattr(generator, "protocol"):
            raise TypeError(
                f"{type(generator).__name__} does not describe its protocol: use "
                "GstVaspInputGenerator (or a subclass) so labels can be hashed and reused"
            )
        grouped = AseAtomsAdaptor.get_structure(atoms[species_order(atoms)])

        def run(run_dir: Path):
            run_dir.mkdir(parents=True, exist_ok=True)
            # atomate2 writes, runs and gzips in the working directory.
            with contextlib.chdir(run_dir):
                write_vasp_input_set(grouped, generator, **self.write_input_set_kwargs)
                try:
                    # Looked up on the module at call time, so atomate2's test doubles apply.
                    vasp_run.run_vasp(**self.run_vasp_kwargs)
                    return parse_vasp_output(run_dir, atoms)
                finally:
                    gzip_output_folder(
                        directory=run_dir, setting=SETTINGS.VASP_ZIP_FILES, files_list=_FILES_TO_ZIP
                    )

        return run_label(
            atoms,
            code="vasp",
            settings=generator.protocol(),
            settings_hash=generator.settings_hash(),
            provenance=provenance,
            run=run,
            errors=(CustodianError, VaspError),
            describe_error=lambda exc: f"{type(exc).__name__}: {exc}",
        )
