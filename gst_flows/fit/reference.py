"""The shipped quasi-binary reference test set, and a potential's errors on it.

``data/reference/quasi_binary.extxyz`` holds CP2K labels (default protocol, k-spacing
0.12 Å⁻¹) of rock-salt and trigonal GeTe, Ge2Sb2Te5, Ge1Sb2Te4 and Sb2Te3, diamond Ge, and
liquid GeTe and Ge2Sb2Te5 near 1,000 K (``benchmarks/build_reference_set.py`` made it). No flow
trains on it: it measures how far a potential reaches beyond its own training data.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ase import Atoms
from ase.calculators.calculator import Calculator

from gst_flows.fit.data import is_isolated_atom, read_labelled_frames
from gst_flows.fit.metrics import ErrorStats, error_table, predict

__all__ = ["REFERENCE_SET", "load_reference_set", "reference_errors"]

#: The labelled reference set shipped with the package.
REFERENCE_SET = Path(__file__).resolve().parents[1] / "data" / "reference" / "quasi_binary.extxyz"


def load_reference_set(path: str | Path | None = None) -> list[Atoms]:
    """The labelled frames (``REF_energy``, ``REF_forces``; ``config_type`` and ``name`` in info)."""
    return read_labelled_frames(path or REFERENCE_SET)


def reference_errors(
    calculator: Calculator, by: str | tuple[str, ...] = "config_type", path: str | Path | None = None
):
    """Errors of ``calculator`` on the reference set, per group and pooled (row ``"all"``).

    Parameters
    ----------
    calculator
        An ASE calculator (a quippy ``Potential`` for a GAP).
    by
        ``"config_type"`` (rocksalt, trigonal, diamond, liquid) or ``"name"`` (one row per
        composition and phase); a tuple of both gives ``{grouping: table}`` from one evaluation.
    path
        Another labelled set in the same form.

    Returns
    -------
    dict
        ``{group: ErrorStats}``, or ``{grouping: {group: ErrorStats}}`` when ``by`` is a tuple.
    """
    groupings = (by,) if isinstance(by, str) else tuple(by)
    for grouping in groupings:
        if grouping not in {"config_type", "name"}:
            raise ValueError(f"group the reference errors by 'config_type' or 'name', not {grouping!r}")
    frames = load_reference_set(path)
    predictions = predict(frames, calculator)  # the expensive part, done once for every grouping
    names = [str(f.info.get("name", "unnamed")).replace(" ", "_") for f in frames if not is_isolated_atom(f)]
    tables: dict[str, dict[str, ErrorStats]] = {}
    for grouping in groupings:
        groups = predictions.config_types if grouping == "config_type" else names
        tables[grouping] = error_table(replace(predictions, config_types=list(groups)))
    return tables[by] if isinstance(by, str) else tables
