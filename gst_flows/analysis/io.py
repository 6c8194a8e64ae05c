"""Writing analysed structures for visualisation (OVITO colours by per-atom arrays)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read, write


def read_frames(path: str | os.PathLike, index: str = ":", fmt: str | None = None) -> list[Atoms]:
    """Read the frames of a structure or trajectory file with ASE.

    Parameters
    ----------
    path
        Any file ASE reads.
    index
        Frames to read, ASE slice syntax (``":"`` all, ``"-1"`` the last, ``"::10"``).
    fmt
        ASE format name when the file name does not tell.

    Raises
    ------
    FileNotFoundError
        For a missing file.
    ValueError
        When the selection holds no frame.
    """
    if not Path(path).exists():
        raise FileNotFoundError(f"no such file: {path}")
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty")
    try:
        frames = read(os.fspath(path), index=index, format=fmt)
    except Exception as exc:  # ASE raises many exception types for unreadable input
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"{path}: cannot read it as a structure file ({message})") from None
    frames = frames if isinstance(frames, list) else [frames]
    if not frames:
        raise ValueError(f"no frames selected from {path} with index {index!r}")
    return frames


def with_arrays(atoms: Atoms, arrays: Mapping[str, np.ndarray]) -> Atoms:
    """Copy ``atoms`` and attach per-atom arrays.

    Parameters
    ----------
    atoms
        Structure.
    arrays
        Name → one value per atom.

    Returns
    -------
    ase.Atoms
        A copy with the arrays set (calculator and constraints dropped).
    """
    out = atoms.copy()
    out.calc = None
    out.set_constraint()
    for name, values in arrays.items():
        values = np.asarray(values)
        if len(values) != len(atoms):
            raise ValueError(f"array {name!r} has {len(values)} entries for {len(atoms)} atoms")
        out.arrays[name] = values.copy()
    return out


def write_kbar_extxyz(
    path: str | os.PathLike,
    atoms: Atoms | Sequence[Atoms],
    kbar: np.ndarray | Sequence[np.ndarray],
    *,
    threshold: float | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Write frames as extended XYZ with a per-atom ``kbar`` column.

    Parameters
    ----------
    path
        Output file (``.xyz`` / ``.extxyz``); missing folders are created.
    atoms
        One frame or a sequence of frames.
    kbar
        k̄ per atom for each frame.
    threshold
        If given, also write a boolean ``crystalline`` column (k̄ > threshold).
    extra
        Further per-atom arrays for a single frame (e.g. ``antisite``).
    """
    frames = [atoms] if isinstance(atoms, Atoms) else list(atoms)
    values = [kbar] if isinstance(atoms, Atoms) else list(kbar)
    if len(values) != len(frames):
        raise ValueError("need one kbar array per frame")
    out = []
    for frame, k in zip(frames, values, strict=True):
        arrays: dict[str, np.ndarray] = {"kbar": np.asarray(k, dtype=float)}
        if threshold is not None:
            arrays["crystalline"] = np.asarray(k) > threshold
        if extra and len(frames) == 1:
            arrays.update(extra)
        out.append(with_arrays(frame, arrays))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write(os.fspath(path), out, format="extxyz")
