"""Structural analysis of Ge–Sb–Te models: pure functions on :class:`ase.Atoms` and arrays.

Nothing here needs jobflow or a database; makers wrap these functions.
"""

from gst_flows.analysis.altbc import ALTBC, altbc
from gst_flows.analysis.bonds import (
    GST_WRONG_PAIRS,
    AngleDistribution,
    bond_angle_distribution,
    bond_angles,
    bond_counts,
    bond_triplets,
    coordination_numbers,
    homopolar_bond_fraction,
    mass_density,
    number_density,
    partial_coordination,
)
from gst_flows.analysis.crystallinity import (
    DEFAULT_THRESHOLD,
    DEFAULT_ZETA,
    crystalline_fraction,
    crystallinity,
    crystallinity_series,
    find_antisites,
    neighbour_average,
    prepare_reference,
    reference_environments,
    rocksalt_reference,
    soap_similarity,
)
from gst_flows.analysis.growth import (
    GrowthFit,
    crystalline_profile,
    crystalline_thickness,
    equivalent_radius,
    grain_labels,
    growth_speed,
    seeded_grain_sizes,
)
from gst_flows.analysis.io import with_arrays, write_kbar_extxyz
from gst_flows.analysis.neighbours import (
    DEFAULT_BOND_CUTOFF,
    GST_BOND_CUTOFFS,
    neighbour_pairs,
    pair_key,
    resolve_cutoffs,
)
from gst_flows.analysis.rdf import RDF, radial_distribution
from gst_flows.analysis.rings import RingStatistics, ring_statistics
from gst_flows.analysis.soap import SoapSettings, iter_soap, mean_soap_vectors, soap_vectors
from gst_flows.analysis.soap_map import (
    SoapMap,
    average_kernel,
    embed_kernel,
    frame_labels,
    soap_kernel,
    soap_map,
)
from gst_flows.analysis.temperature import (
    TemperatureMap,
    binned_temperature,
    fixed_mask,
    kinetic_temperature,
    temperature_map,
    temperature_profile,
)

__all__ = [
    "ALTBC",
    "DEFAULT_BOND_CUTOFF",
    "DEFAULT_THRESHOLD",
    "DEFAULT_ZETA",
    "GST_BOND_CUTOFFS",
    "GST_WRONG_PAIRS",
    "RDF",
    "AngleDistribution",
    "GrowthFit",
    "RingStatistics",
    "SoapMap",
    "SoapSettings",
    "TemperatureMap",
    "altbc",
    "average_kernel",
    "binned_temperature",
    "bond_angle_distribution",
    "bond_angles",
    "bond_counts",
    "bond_triplets",
    "coordination_numbers",
    "crystalline_fraction",
    "crystalline_profile",
    "crystalline_thickness",
    "crystallinity",
    "crystallinity_series",
    "embed_kernel",
    "equivalent_radius",
    "find_antisites",
    "fixed_mask",
    "frame_labels",
    "grain_labels",
    "growth_speed",
    "homopolar_bond_fraction",
    "iter_soap",
    "kinetic_temperature",
    "mass_density",
    "mean_soap_vectors",
    "neighbour_average",
    "neighbour_pairs",
    "number_density",
    "pair_key",
    "partial_coordination",
    "prepare_reference",
    "radial_distribution",
    "reference_environments",
    "resolve_cutoffs",
    "ring_statistics",
    "rocksalt_reference",
    "seeded_grain_sizes",
    "soap_kernel",
    "soap_map",
    "soap_similarity",
    "soap_vectors",
    "temperature_map",
    "temperature_profile",
    "with_arrays",
    "write_kbar_extxyz",
]
