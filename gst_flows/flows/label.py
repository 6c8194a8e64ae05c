"""Flows that label sets of structures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ase import Atoms
from jobflow import Flow, Maker
from pymatgen.io.ase import AseAtomsAdaptor

__all__ = ["label_flow", "provenance_from_info"]

_PROVENANCE_KEYS = (
    "tag", "iteration", "generator", "config_type", "potential_id", "temperature", "md_step",
    "source",
)


def provenance_from_info(atoms: Atoms, **defaults: Any) -> dict[str, Any]:
    """Provenance of a frame: ``defaults`` overridden by matching keys of ``atoms.info``."""
    prov = {k: v for k, v in defaults.items() if v is not None}
    prov.update({k: atoms.info[k] for k in _PROVENANCE_KEYS if k in atoms.info})
    return prov


def label_flow(
    structures: Sequence[Atoms],
    maker: Maker | None = None,
    name: str = "label",
    **provenance: Any,
) -> Flow:
    """One labelling job per structure, gathered in a flow.

    Parameters
    ----------
    structures
        Structures to label (``info`` keys such as ``config_type`` become provenance).
    maker
        The labelling maker; :class:`~gst_flows.makers.dft.Cp2kLabelMaker` by default.
    name
        Flow name.
    **provenance
        Provenance shared by every structure (tag, iteration, generator, config_type, ...).
    """
    if maker is None:
        from gst_flows.makers.dft import Cp2kLabelMaker

        maker = Cp2kLabelMaker()
    jobs = []
    for index, atoms in enumerate(structures):
        prov = provenance_from_info(atoms, **provenance)
        job = maker.make(AseAtomsAdaptor.get_structure(atoms), provenance=prov)
        job.name = f"{maker.name} {index}"
        job.config.expose_store = True  # lets the job find an identical earlier label
        jobs.append(job)
    return Flow(jobs, output=[j.output for j in jobs], name=name)
