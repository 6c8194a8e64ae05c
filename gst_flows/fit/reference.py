"""The shipped quasi-binary reference test set, and a potential's errors on it.

``data/reference/quasi_binary.extxyz`` holds CP2K labels (default protocol, k-spacing
0.12 Å⁻¹) of rock-salt and trigonal GeTe, Ge2Sb2Te5, Ge1Sb2Te4 and Sb2Te3, diamond Ge, and
liquid GeTe and Ge2Sb2Te5 near 1,000 K (``benchmarks/build_reference_set.py`` made it). No flow
trains on it: it measures how far a potential reaches beyond its own training data.
"""

from __future__ import annotations

from pathlib import Path

from ase import Atoms
from ase.calculators.calculator import Calculator

from gst_flows.fit.data import read_labelled_frames
from gst_flows.fit.metrics import ErrorStats, error_table, predict

__all__ = ["REFERENCE_SET", "load_reference_set", "reference_errors"]

#: The labelled reference set shipped with the package.
REFERENCE_SET = Path(__file__).resolve().parents[1] / "data" / "reference" / "quasi_binary.extxyz"


def load_reference_set(path: str | Path | None = None) -> list[Atoms]:
    """The labelled frames (``REF_energy``, ``REF_forces``; ``config_type`` and ``name`` in info)."""
    return read_labelled_frames(path or REFERENCE_SET)


def reference_errors(
    calculator: Calculator, by: str = "config_type", path: str | Path | None = None
) -> dict[str, ErrorStats]:
    """Errors of ``calculator`` on the reference set, per group and pooled (row ``"all"``).

    Parameters
    ----------
    calculator
        An ASE calculator (a quippy ``Potential`` for a GAP).
    by
        ``"config_type"`` (rocksalt, trigonal, diamond, liquid) or ``"name"`` (one row per
        composition and phase).
    path
        Another labelled set in the same form.
    """
    if by not in {"config_type", "name"}:
        raise ValueError(f"group the reference errors by 'config_type' or 'name', not {by!r}")
    frames = load_reference_set(path)
    if by == "name":
        for frame in frames:
            frame.info["config_type"] = str(frame.info.get("name", "unnamed")).replace(" ", "_")
    return error_table(predict(frames, calculator))
