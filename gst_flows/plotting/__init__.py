"""Matplotlib figures of the structural analyses (PNG and PDF)."""

from gst_flows.plotting.figures import (
    plot_altbc,
    plot_angles,
    plot_crystallinity_series,
    plot_rdf,
    plot_rings,
    plot_soap_map,
    plot_temperature_map,
    plot_temperature_profile,
    save_figure,
)

__all__ = [
    "plot_altbc",
    "plot_angles",
    "plot_crystallinity_series",
    "plot_rdf",
    "plot_rings",
    "plot_soap_map",
    "plot_temperature_map",
    "plot_temperature_profile",
    "save_figure",
]
