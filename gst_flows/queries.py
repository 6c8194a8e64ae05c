"""Queries on the job store that several flows and commands share."""

from __future__ import annotations

__all__ = ["isolated_atom_energies"]


def isolated_atom_energies(store, settings_hash: str) -> dict[str, float]:
    """Isolated-atom energies (eV) computed for the bulk protocol with ``settings_hash``.

    Parameters
    ----------
    store
        A connected jobflow ``JobStore`` (or maggma store of job documents).
    settings_hash
        Settings hash of the bulk labels the energies serve as e0 for.
    """
    from gst_flows.dataset import label_filter

    docs = store.query(
        label_filter(
            config_type="isolated_atom",
            query={"output.reference_settings_hash": settings_hash},
        ),
        properties=["output.composition", "output.energy"],
    )
    energies: dict[str, float] = {}
    for doc in docs:
        (element,) = doc["output"]["composition"]
        energies.setdefault(element, doc["output"]["energy"])
    return energies
