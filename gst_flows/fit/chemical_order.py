"""Energy against wrong-bond count: whether a potential prices chemical disorder as DFT does.

One of the physical checks of a potential (SPEC: "energy against homopolar bond count"). In
GST every good bond joins a cation (Ge, Sb) to Te; homopolar bonds and Ge–Sb bonds are
"wrong" and cost energy. A potential that puts them too low lets its liquid gather Ge–Ge and
Sb–Sb clusters and demix in MD while its error table looks fine (measured: a GAP fitted
without such frames lowered its 90-atom Ge2Sb2Te5 liquid by 76 meV/atom on demixing, which
DFT puts 117 meV/atom higher; ``benchmarks/teacher_liquid_order.py``).

The check regresses the energy per atom on the wrong bonds per atom over frames of the same
composition (a within-composition fit: each composition keeps its own intercept, the slope is
shared), once with the reference (DFT) energies and once with the potential's, and compares
the slopes (eV per wrong bond) and the errors of the energies relative to each composition's
mean, which is what decides the chemical order a potential's MD settles on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from gst_flows.analysis.bonds import GST_WRONG_PAIRS, homopolar_bond_fraction
from gst_flows.analysis.neighbours import CutoffSpec
from gst_flows.fit.exceptions import FitInputError
from gst_flows.fit.metrics import Predictions
from gst_flows.schemas.fit import ChemicalOrderCheck, ChemicalOrderEntry

__all__ = [
    "ChemicalOrderCheck",
    "chemical_order_check",
    "format_chemical_order",
    "wrong_bonds_per_atom",
]

#: Config types the check uses by default: disordered frames, where chemical order is free.
DISORDERED = ("liquid", "amorphous", "phase_transition")


def wrong_bonds_per_atom(
    atoms: Atoms, cutoffs: CutoffSpec = None, wrong_pairs: Sequence[str] = GST_WRONG_PAIRS
) -> float:
    """Homopolar bonds plus ``wrong_pairs`` bonds (Ge–Sb in GST), per atom."""
    fractions = homopolar_bond_fraction(atoms, cutoffs, wrong_pairs)
    return fractions["wrong"] * fractions["n_bonds"] / len(atoms)


def _within_slope(x: np.ndarray, y: np.ndarray, groups: list[np.ndarray]) -> float:
    dx = np.concatenate([x[g] - x[g].mean() for g in groups])
    dy = np.concatenate([y[g] - y[g].mean() for g in groups])
    return float(dx @ dy / (dx @ dx))


def chemical_order_check(
    frames: Sequence[Atoms],
    predictions: Predictions,
    config_types: Sequence[str] | None = DISORDERED,
    min_frames: int = 3,
    min_spread: float = 0.1,
    cutoffs: CutoffSpec = None,
    required: bool = True,
) -> ChemicalOrderCheck | None:
    """Slopes of energy per atom against wrong bonds per atom, reference and predicted.

    Parameters
    ----------
    frames
        The frames of ``predictions``, in the same order.
    predictions
        Reference and predicted energies (:func:`~gst_flows.fit.metrics.predict`).
    config_types
        Frames used (None: all); by default the disordered ones.
    min_frames
        Frames a composition needs to enter the fit.
    min_spread
        Range of wrong bonds per atom a composition needs to enter the fit.
    cutoffs
        Bond cutoffs in Å (default: the package's GST bond cutoffs).
    required
        False: return None instead of raising when no composition qualifies.

    Returns
    -------
    ChemicalOrderCheck or None
        The shared slopes, the relative-energy errors and one entry per composition used.

    Raises
    ------
    FitInputError
        When ``frames`` and ``predictions`` differ in length, or no composition has
        ``min_frames`` frames spanning ``min_spread`` wrong bonds per atom (``required`` only).
    """
    if len(frames) != len(predictions.energy_ref):
        raise FitInputError(f"{len(frames)} frames for {len(predictions.energy_ref)} predictions")
    keep = [
        i
        for i, atoms in enumerate(frames)
        if len(set(atoms.get_chemical_symbols())) > 1
        and (config_types is None or predictions.config_types[i] in config_types)
    ]
    formulas = [frames[i].get_chemical_formula(empirical=True) for i in keep]
    wrong = np.array([wrong_bonds_per_atom(frames[i], cutoffs) for i in keep])
    n_atoms = np.asarray(predictions.n_atoms, dtype=float)[keep]
    ref = np.asarray(predictions.energy_ref, dtype=float)[keep] / n_atoms
    pred = np.asarray(predictions.energy_pred, dtype=float)[keep] / n_atoms
    groups: dict[str, np.ndarray] = {}
    for formula in sorted(set(formulas)):
        rows = np.array([k for k, f in enumerate(formulas) if f == formula])
        if len(rows) >= min_frames and np.ptp(wrong[rows]) >= min_spread:
            groups[formula] = rows
    if not groups:
        if not required:
            return None
        raise FitInputError(
            f"no composition has {min_frames} frames spanning {min_spread} wrong bonds per atom "
            f"among the {len(keep)} frames of config_type {', '.join(config_types or ['any'])}"
        )
    rows = list(groups.values())
    relative = np.concatenate([(pred[g] - pred[g].mean()) - (ref[g] - ref[g].mean()) for g in rows])
    by_formula = {
        formula: ChemicalOrderEntry(
            n_frames=len(g),
            wrong_min=float(wrong[g].min()),
            wrong_max=float(wrong[g].max()),
            slope_dft=_within_slope(wrong, ref, [g]),
            slope_predicted=_within_slope(wrong, pred, [g]),
        )
        for formula, g in groups.items()
    }
    return ChemicalOrderCheck(
        n_frames=int(sum(len(g) for g in rows)),
        slope_dft=_within_slope(wrong, ref, rows),
        slope_predicted=_within_slope(wrong, pred, rows),
        relative_rmse=float(np.sqrt(np.mean(relative**2))),
        by_formula=by_formula,
    )


def format_chemical_order(
    result: ChemicalOrderCheck, title: str = "", name: str = "potential", reference: str = "DFT"
) -> str:
    """The slopes per composition and shared, in meV per wrong bond, ``reference`` and ``name``.

    ``reference`` names the labels' energies: DFT, or another potential's (a teacher's).
    """
    lines = [title] if title else []
    lines.append(f"{'composition':<14}{'frames':>7}{'wrong/atom':>14}{reference:>9} {name:>11}")
    for formula, entry in result.by_formula.items():
        span = f"{entry.wrong_min:.2f}-{entry.wrong_max:.2f}"
        lines.append(
            f"{formula:<14}{entry.n_frames:>7}{span:>14}{1000 * entry.slope_dft:9.0f}"
            f"{1000 * entry.slope_predicted:12.0f}"
        )
    lines.append(
        f"shared slope over {result.n_frames} frames: {reference} {1000 * result.slope_dft:.0f}, {name} "
        f"{1000 * result.slope_predicted:.0f} meV per wrong bond; energies relative to each "
        f"composition's mean off by {1000 * result.relative_rmse:.1f} meV/atom RMS"
    )
    return "\n".join(lines)
