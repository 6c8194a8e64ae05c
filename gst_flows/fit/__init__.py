"""GAP fitting layer: hyperparameters, training data, gap_fit, memory guard, errors.

Pure functions and dataclasses; no jobflow and no database. :mod:`gst_flows.makers.fit`
wraps them into jobs.
"""

from gst_flows.fit.data import (
    CONFIG_TYPE_KEY,
    ENERGY_KEY,
    FORCES_KEY,
    ISOLATED_ATOM,
    VIRIAL_KEY,
    isolated_atom_energies,
    kfold_by_structure,
    make_labelled_frame,
    read_labelled_frames,
    resolve_e0,
    split_by_structure,
    structure_hash,
    summarise_frames,
    validate_frames,
    write_gap_fit_extxyz,
)
from gst_flows.fit.descriptors import DataCounts, DescriptorCount, count_descriptors
from gst_flows.fit.exceptions import (
    FitInputError,
    FitMemoryError,
    GapFitError,
    GapFitTimeoutError,
)
from gst_flows.fit.fit import GapFitResult, fit_gap, load_gap_calculator, prepare_fit
from gst_flows.fit.gap_fit import GapFitRun, gap_fit_executable, run_gap_fit
from gst_flows.fit.hyperparameters import (
    GapHyperparameters,
    Sigma,
    SoapParams,
    ThreeBodyParams,
    TwoBodyParams,
)
from gst_flows.fit.memory import (
    MemoryEstimate,
    check_memory,
    default_memory_limit,
    estimate_fit_memory,
    format_bytes,
)
from gst_flows.fit.metrics import (
    ErrorStats,
    Predictions,
    RatioInterval,
    error_table,
    format_error_table,
    predict,
    rmse_ratio,
)
from gst_flows.fit.plots import parity_plots

__all__ = [
    "CONFIG_TYPE_KEY",
    "ENERGY_KEY",
    "FORCES_KEY",
    "ISOLATED_ATOM",
    "VIRIAL_KEY",
    "DataCounts",
    "DescriptorCount",
    "ErrorStats",
    "FitInputError",
    "FitMemoryError",
    "GapFitError",
    "GapFitResult",
    "GapFitRun",
    "GapFitTimeoutError",
    "GapHyperparameters",
    "MemoryEstimate",
    "Predictions",
    "RatioInterval",
    "Sigma",
    "SoapParams",
    "ThreeBodyParams",
    "TwoBodyParams",
    "check_memory",
    "count_descriptors",
    "default_memory_limit",
    "error_table",
    "estimate_fit_memory",
    "fit_gap",
    "format_bytes",
    "format_error_table",
    "gap_fit_executable",
    "isolated_atom_energies",
    "kfold_by_structure",
    "load_gap_calculator",
    "make_labelled_frame",
    "parity_plots",
    "predict",
    "prepare_fit",
    "read_labelled_frames",
    "resolve_e0",
    "rmse_ratio",
    "run_gap_fit",
    "split_by_structure",
    "structure_hash",
    "summarise_frames",
    "validate_frames",
    "write_gap_fit_extxyz",
]
