"""Errors of a potential against reference labels, per config_type."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from gst_flows.fit.data import (
    ENERGY_KEY,
    FORCES_KEY,
    VIRIAL_KEY,
    config_type_of,
    is_isolated_atom,
)

__all__ = [
    "ALL",
    "ErrorStats",
    "Predictions",
    "RatioInterval",
    "error_table",
    "format_error_table",
    "predict",
    "rmse_ratio",
]

#: Key of the row that pools every config_type.
ALL = "all"


@dataclass
class Predictions:
    """Reference and predicted labels of a set of frames.

    Parameters
    ----------
    config_types
        config_type per frame.
    n_atoms
        Atoms per frame.
    energy_ref, energy_pred
        Total energies per frame, eV.
    forces_ref, forces_pred
        Force arrays per frame, eV/Å (``None`` where the frame has no reference forces).
    virial_ref, virial_pred
        Virials per frame, 9 components, eV (``None`` where there is no reference virial).
    formulas
        Reduced formula per frame.
    """

    config_types: list[str]
    n_atoms: list[int]
    energy_ref: list[float]
    energy_pred: list[float]
    forces_ref: list[np.ndarray | None]
    forces_pred: list[np.ndarray | None]
    virial_ref: list[np.ndarray | None]
    virial_pred: list[np.ndarray | None]
    formulas: list[str] = field(default_factory=list)


def predict(frames: Sequence[Atoms], calculator: Calculator, skip_isolated: bool = True) -> Predictions:
    """Evaluate ``calculator`` on labelled frames.

    Parameters
    ----------
    frames
        Frames with ``REF_energy`` and, optionally, ``REF_forces`` and ``REF_virial``.
    calculator
        An ASE calculator (e.g. a quippy ``Potential``).
    skip_isolated
        Leave out isolated-atom frames (they set e0 and are fitted exactly).

    Returns
    -------
    Predictions
        Reference and predicted labels, frame by frame.
    """
    out = Predictions([], [], [], [], [], [], [], [])
    for frame in frames:
        if skip_isolated and is_isolated_atom(frame):
            continue
        atoms = frame.copy()
        has_f = FORCES_KEY in frame.arrays
        has_v = VIRIAL_KEY in frame.info and frame.pbc.all()
        # One call for every property: separate getters would each recompute.
        properties = ["energy", *(["forces"] if has_f else []), *(["stress"] if has_v else [])]
        calculator.calculate(atoms, properties, all_changes)
        results = calculator.results
        energy = float(results["energy"])
        forces = np.array(results["forces"]).reshape(len(atoms), 3) if has_f else None
        virial = None
        if has_v:
            stress = np.asarray(results["stress"], dtype=float)
            if stress.shape == (6,):
                xx, yy, zz, yz, xz, xy = stress
                stress = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
            virial = (-stress * atoms.get_volume()).reshape(9)
        out.config_types.append(config_type_of(frame))
        out.n_atoms.append(len(frame))
        out.energy_ref.append(float(frame.info[ENERGY_KEY]))
        out.energy_pred.append(energy)
        out.forces_ref.append(np.asarray(frame.arrays[FORCES_KEY]) if has_f else None)
        out.forces_pred.append(forces)
        out.virial_ref.append(np.asarray(frame.info[VIRIAL_KEY], float).reshape(9) if has_v else None)
        out.virial_pred.append(virial)
        out.formulas.append(frame.get_chemical_formula(mode="metal", empirical=True))
    return out


@dataclass
class ErrorStats:
    """RMSE and MAE of one set of frames.

    Parameters
    ----------
    n_structures
        Frames.
    n_atoms
        Atoms.
    energy_rmse, energy_mae
        Energy per atom errors, eV/atom.
    force_rmse, force_mae
        Force component errors, eV/Å (``None`` without forces).
    n_force_components
        Force components compared.
    virial_rmse, virial_mae
        Virial component errors per atom, eV/atom (``None`` without virials).
    n_virials
        Frames with a virial compared.
    """

    n_structures: int
    n_atoms: int
    energy_rmse: float
    energy_mae: float
    force_rmse: float | None
    force_mae: float | None
    n_force_components: int
    virial_rmse: float | None
    virial_mae: float | None
    n_virials: int

    def as_dict(self) -> dict:
        """Plain dictionary."""
        return dict(self.__dict__)


def _rmse_mae(diff: np.ndarray) -> tuple[float | None, float | None]:
    if diff.size == 0:
        return None, None
    return float(np.sqrt(np.mean(diff**2))), float(np.mean(np.abs(diff)))


def _stats(p: Predictions, idx: list[int]) -> ErrorStats:
    n_at = np.array([p.n_atoms[i] for i in idx], dtype=float)
    de = (np.array([p.energy_pred[i] for i in idx]) - np.array([p.energy_ref[i] for i in idx])) / n_at
    e_rmse, e_mae = _rmse_mae(de)
    f_diff = [(p.forces_pred[i] - p.forces_ref[i]).ravel() for i in idx if p.forces_ref[i] is not None]
    f = np.concatenate(f_diff) if f_diff else np.zeros(0)
    f_rmse, f_mae = _rmse_mae(f)
    v_diff = [(p.virial_pred[i] - p.virial_ref[i]) / p.n_atoms[i] for i in idx if p.virial_ref[i] is not None]
    v = np.concatenate(v_diff) if v_diff else np.zeros(0)
    v_rmse, v_mae = _rmse_mae(v)
    return ErrorStats(
        n_structures=len(idx),
        n_atoms=int(n_at.sum()),
        energy_rmse=e_rmse,
        energy_mae=e_mae,
        force_rmse=f_rmse,
        force_mae=f_mae,
        n_force_components=int(f.size),
        virial_rmse=v_rmse,
        virial_mae=v_mae,
        n_virials=len(v_diff),
    )


@dataclass
class RatioInterval:
    """RMSE of a potential over another's on the same frames, with a bootstrap interval.

    Parameters
    ----------
    ratio
        RMSE of ``a`` / RMSE of ``b`` on all the frames.
    low, high
        Bounds of the central ``level`` interval of the ratio when the frames are resampled
        with replacement (the same draw for both potentials).
    level
        Coverage of the interval (0.9: 5th to 95th percentile).
    n_structures
        Frames compared.
    """

    ratio: float
    low: float
    high: float
    level: float
    n_structures: int

    def __str__(self) -> str:
        return f"{self.ratio:.2f}x ({100 * self.level:g} %: {self.low:.2f}-{self.high:.2f})"


def _squared_errors(p: Predictions, quantity: str) -> np.ndarray:
    """Per frame: the squared energy error per atom, or the sum of squared force errors."""
    if quantity == "energy":
        return ((np.asarray(p.energy_pred) - np.asarray(p.energy_ref)) / np.asarray(p.n_atoms, float)) ** 2
    if any(f is None for f in p.forces_ref):
        raise ValueError("a force ratio needs reference forces on every frame")
    return np.array([((fp - fr) ** 2).sum() for fp, fr in zip(p.forces_pred, p.forces_ref, strict=True)])


def rmse_ratio(
    a: Predictions,
    b: Predictions,
    quantity: str = "energy",
    level: float = 0.9,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> RatioInterval:
    """RMSE of ``a`` over ``b`` (energy per atom or force components) on the same frames.

    The interval is a paired bootstrap over structures: each resample draws frames with
    replacement and takes both potentials' RMSE on that draw, so what the two share (a hard
    frame) cancels and what the frames cannot tell apart shows as a wide interval. With eight
    frames a ratio of 1.9 can be anything from about 1.2 to 3.4.

    Raises
    ------
    ValueError
        When ``a`` and ``b`` are not predictions of the same frames, there are none, or
        ``quantity`` is not ``energy`` or ``forces``.
    """
    if quantity not in ("energy", "forces"):
        raise ValueError(f"quantity must be 'energy' or 'forces', got {quantity!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    n = len(a.n_atoms)
    if n == 0 or a.n_atoms != b.n_atoms or not np.allclose(a.energy_ref, b.energy_ref, rtol=0, atol=1e-9):
        raise ValueError("the two predictions are not of the same frames (reference energies differ)")
    # both potentials see the same frames (and force components) in every draw: the counts cancel
    sa, sb = _squared_errors(a, quantity), _squared_errors(b, quantity)
    ratio = float(np.sqrt(sa.sum() / sb.sum()))
    draws = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        boot = np.sqrt(sa[draws].sum(axis=1) / sb[draws].sum(axis=1))
    low, high = np.percentile(boot[np.isfinite(boot)], [50 * (1 - level), 50 * (1 + level)])
    return RatioInterval(ratio, float(low), float(high), level, n)


def error_table(predictions: Predictions) -> dict[str, ErrorStats]:
    """Errors per config_type, plus the pooled row ``"all"``.

    Returns
    -------
    dict
        ``{config_type: ErrorStats}``; empty if there are no frames.
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ct in enumerate(predictions.config_types):
        groups[ct].append(i)
    if not groups:
        return {}
    table = {ct: _stats(predictions, idx) for ct, idx in sorted(groups.items())}
    table[ALL] = _stats(predictions, list(range(len(predictions.config_types))))
    return table


def format_error_table(table: dict, title: str = "") -> str:
    """Plain-text table: energies in meV/atom, forces in eV/Å, virials in meV/atom.

    ``table`` values may be :class:`ErrorStats` or dicts with the same keys.
    """

    def get(row, key):
        return row.get(key) if isinstance(row, dict) else getattr(row, key)

    def num(x, scale=1.0, fmt="{:8.3f}"):
        return " " * (len(fmt.format(0.0)) - 3) + "n/a" if x is None else fmt.format(x * scale)

    header = (
        f"{'config_type':<18}{'N':>5}{'E rmse':>9}{'E mae':>9}{'F rmse':>9}{'F mae':>9}"
        f"{'V rmse':>9}{'V mae':>9}"
    )
    units = f"{'':<18}{'':>5}{'meV/at':>9}{'meV/at':>9}{'eV/Å':>9}{'eV/Å':>9}{'meV/at':>9}{'meV/at':>9}"
    lines = [title] if title else []
    lines += [header, units]
    for ct, row in table.items():
        cells = [
            num(get(row, key), scale, fmt)
            for key, scale, fmt in (
                ("energy_rmse", 1e3, "{:9.2f}"),
                ("energy_mae", 1e3, "{:9.2f}"),
                ("force_rmse", 1.0, "{:9.3f}"),
                ("force_mae", 1.0, "{:9.3f}"),
                ("virial_rmse", 1e3, "{:9.2f}"),
                ("virial_mae", 1e3, "{:9.2f}"),
            )
        ]
        lines.append(f"{ct:<18}{get(row, 'n_structures'):>5}" + "".join(cells))
    return "\n".join(lines)
