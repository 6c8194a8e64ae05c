"""Labelled configurations for GAP fitting: reading, checking, splitting, writing.

A labelled frame is an :class:`ase.Atoms` with, in ``info``, ``REF_energy`` (eV),
``REF_virial`` (eV, 3×3 or flattened to 9 numbers; optional) and ``config_type``; and in
``arrays`` ``REF_forces`` (eV/Å). Isolated-atom frames carry ``config_type="isolated_atom"``,
one atom and an energy; they set the reference energies (e0) unless e0 is given explicitly.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read, write

from gst_flows.fit.exceptions import FitInputError
from gst_flows.hashing import structure_hash

__all__ = [
    "CONFIG_TYPE_KEY",
    "ENERGY_KEY",
    "FORCES_KEY",
    "HASH_KEY",
    "ISOLATED_ATOM",
    "VIRIAL_KEY",
    "config_type_of",
    "group_label",
    "is_isolated_atom",
    "isolated_atom_energies",
    "kfold_by_structure",
    "make_labelled_frame",
    "read_labelled_frames",
    "resolve_e0",
    "split_by_structure",
    "structure_hash",
    "summarise_frames",
    "validate_frames",
    "write_gap_fit_extxyz",
]

ENERGY_KEY = "REF_energy"
FORCES_KEY = "REF_forces"
VIRIAL_KEY = "REF_virial"
CONFIG_TYPE_KEY = "config_type"
ISOLATED_ATOM = "isolated_atom"
DEFAULT_CONFIG_TYPE = "default"


# --------------------------------------------------------------------------- frames
def make_labelled_frame(
    atoms: Atoms,
    energy: float,
    *,
    forces: np.ndarray | None = None,
    virial: np.ndarray | None = None,
    stress: np.ndarray | None = None,
    config_type: str = DEFAULT_CONFIG_TYPE,
    **info,
) -> Atoms:
    """Return a copy of ``atoms`` carrying reference labels in the keys gap_fit reads.

    Parameters
    ----------
    atoms
        The configuration.
    energy
        Total energy, eV.
    forces
        Forces, eV/Å, shape ``(N, 3)``.
    virial
        Virial, eV, shape ``(3, 3)`` or ``(9,)``. Mutually exclusive with ``stress``.
    stress
        Stress, eV/Å³, ASE sign convention (Voigt ``(6,)`` or ``(3, 3)``); converted to the
        virial ``-stress × volume``.
    config_type
        Phase or origin label used for per-config-type regularisation and error tables.
    **info
        Extra provenance stored in ``atoms.info``.

    Returns
    -------
    ase.Atoms
        A new frame without a calculator.
    """
    frame = Atoms(
        numbers=atoms.get_atomic_numbers(),
        positions=atoms.get_positions(),
        cell=atoms.get_cell(),
        pbc=atoms.get_pbc(),
    )
    frame.info[ENERGY_KEY] = float(energy)
    frame.info[CONFIG_TYPE_KEY] = str(config_type)
    if forces is not None:
        frame.arrays[FORCES_KEY] = np.asarray(forces, dtype=float).reshape(len(frame), 3)
    if virial is not None and stress is not None:
        raise ValueError("give either virial or stress, not both")
    if stress is not None:
        s = np.asarray(stress, dtype=float)
        if s.shape == (6,):
            xx, yy, zz, yz, xz, xy = s
            s = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
        virial = -s.reshape(3, 3) * frame.get_volume()
    if virial is not None:
        frame.info[VIRIAL_KEY] = np.asarray(virial, dtype=float).reshape(9)
    frame.info.update(info)
    return frame


def read_labelled_frames(path: str | Path, index: str = ":") -> list[Atoms]:
    """Read labelled frames from an extxyz file.

    The virial is normalised to a flat array of 9 numbers whatever form the file holds.
    """
    frames = read(str(path), index=index, format="extxyz")
    if isinstance(frames, Atoms):
        frames = [frames]
    for frame in frames:
        _normalise_frame(frame)
    return list(frames)


def _normalise_frame(frame: Atoms) -> None:
    if VIRIAL_KEY in frame.info:
        frame.info[VIRIAL_KEY] = np.asarray(frame.info[VIRIAL_KEY], dtype=float).reshape(9)
    # Labels sometimes arrive on a SinglePointCalculator only.
    if frame.calc is not None and ENERGY_KEY not in frame.info:
        results = frame.calc.results
        if "energy" in results:
            frame.info[ENERGY_KEY] = float(results["energy"])
        if "forces" in results and FORCES_KEY not in frame.arrays:
            frame.arrays[FORCES_KEY] = np.asarray(results["forces"], dtype=float)
        if "stress" in results and VIRIAL_KEY not in frame.info and frame.pbc.all():
            tmp = make_labelled_frame(frame, 0.0, stress=results["stress"])
            frame.info[VIRIAL_KEY] = tmp.info[VIRIAL_KEY]
    frame.calc = None


def config_type_of(frame: Atoms) -> str:
    """Return the frame's ``config_type`` (``"default"`` when absent)."""
    return str(frame.info.get(CONFIG_TYPE_KEY, DEFAULT_CONFIG_TYPE))


def is_isolated_atom(frame: Atoms) -> bool:
    """Tell whether a frame is a single-atom reference (``config_type == "isolated_atom"``)."""
    return config_type_of(frame) == ISOLATED_ATOM


def write_gap_fit_extxyz(frames: Iterable[Atoms], path: str | Path) -> Path:
    """Write frames in the extxyz dialect gap_fit reads.

    Only species, positions, ``REF_forces``, ``REF_energy``, ``REF_virial`` (flattened to 9
    numbers: QUIP cannot read ASE's 3×3 form) and ``config_type`` are written.
    """
    out = []
    for frame in frames:
        clean = Atoms(
            numbers=frame.get_atomic_numbers(),
            positions=frame.get_positions(),
            cell=frame.get_cell(),
            pbc=frame.get_pbc(),
        )
        if is_isolated_atom(frame) and not clean.cell.any():
            clean.cell = np.eye(3) * 20.0
        for key in (ENERGY_KEY, CONFIG_TYPE_KEY):
            if key in frame.info:
                clean.info[key] = frame.info[key]
        if VIRIAL_KEY in frame.info:
            clean.info[VIRIAL_KEY] = np.asarray(frame.info[VIRIAL_KEY], dtype=float).reshape(9)
        if FORCES_KEY in frame.arrays:
            clean.arrays[FORCES_KEY] = np.asarray(frame.arrays[FORCES_KEY], dtype=float)
        out.append(clean)
    path = Path(path)
    write(str(path), out, format="extxyz")
    return path


# ------------------------------------------------------------------------ checking
def isolated_atom_energies(frames: Iterable[Atoms]) -> dict[str, float]:
    """Return the energies of the ``isolated_atom`` frames per element symbol, eV.

    Raises
    ------
    FitInputError
        If one element has isolated-atom frames with different energies.
    """
    e0: dict[str, float] = {}
    for frame in frames:
        if not is_isolated_atom(frame):
            continue
        if len(frame) != 1 or ENERGY_KEY not in frame.info:
            raise FitInputError("an isolated_atom frame must hold exactly one atom and REF_energy")
        symbol = frame.get_chemical_symbols()[0]
        energy = float(frame.info[ENERGY_KEY])
        if symbol in e0 and abs(e0[symbol] - energy) > 1e-6:
            raise FitInputError(f"isolated_atom frames for {symbol} disagree: {e0[symbol]} vs {energy} eV")
        e0[symbol] = energy
    return e0


def resolve_e0(frames: Sequence[Atoms], e0: dict[str, float] | None = None) -> dict[str, float]:
    """Return the reference energy per species present in ``frames``, eV.

    Explicit values in ``e0`` win over isolated-atom frames.

    Raises
    ------
    FitInputError
        If a species of the data has neither an explicit e0 nor an isolated-atom frame.
    """
    species = sorted({s for f in frames for s in f.get_chemical_symbols()})
    resolved = isolated_atom_energies(frames)
    resolved.update(e0 or {})
    missing = [s for s in species if s not in resolved]
    if missing:
        raise FitInputError(
            f"no e0 (isolated-atom energy) for species {', '.join(missing)}: add "
            f"config_type={ISOLATED_ATOM} frames for them or give e0 explicitly "
            f"(e.g. --set e0.{missing[0]}=<energy in eV>)"
        )
    return {s: float(resolved[s]) for s in species}


def validate_frames(frames: Sequence[Atoms], e0: dict[str, float] | None = None) -> dict[str, float]:
    """Check that frames can be fitted and return the resolved e0 per species (eV).

    Raises
    ------
    FitInputError
        Frames without energy or forces, non-finite labels, wrongly shaped arrays, a
        species that only occurs in isolated-atom frames, or a species without e0.
    """
    if not frames:
        raise FitInputError("no training frames")
    condensed_species: set[str] = set()
    n_condensed = 0
    for index, frame in enumerate(frames):
        where = f"frame {index} ({frame.get_chemical_formula()}, config_type={config_type_of(frame)})"
        if ENERGY_KEY not in frame.info:
            raise FitInputError(f"{where} has no {ENERGY_KEY}")
        if not np.isfinite(float(frame.info[ENERGY_KEY])):
            raise FitInputError(f"{where} has a non-finite energy")
        if is_isolated_atom(frame):
            continue
        n_condensed += 1
        if FORCES_KEY not in frame.arrays:
            raise FitInputError(
                f"{where} has no {FORCES_KEY}: every configuration except isolated atoms "
                "needs forces (label it again, or drop it)"
            )
        forces = np.asarray(frame.arrays[FORCES_KEY])
        if forces.shape != (len(frame), 3) or not np.isfinite(forces).all():
            raise FitInputError(f"{where} has forces of shape {forces.shape} or non-finite values")
        if VIRIAL_KEY in frame.info:
            virial = np.asarray(frame.info[VIRIAL_KEY], dtype=float)
            if virial.size != 9 or not np.isfinite(virial).all():
                raise FitInputError(f"{where} has a virial that is not 9 finite numbers")
            if not frame.pbc.all():
                raise FitInputError(f"{where} has a virial but is not periodic")
        condensed_species.update(frame.get_chemical_symbols())
    if n_condensed == 0:
        raise FitInputError("only isolated-atom frames: no configurations to fit")
    all_species = {s for f in frames for s in f.get_chemical_symbols()}
    lonely = sorted(all_species - condensed_species)
    if lonely:
        raise FitInputError(
            f"species {', '.join(lonely)} only occur in isolated-atom frames: there is no "
            "data to fit their interactions (add configurations containing them, or drop "
            "their isolated-atom frames)"
        )
    return resolve_e0(frames, e0)


# ------------------------------------------------------------------------ hashing
HASH_KEY = "structure_hash"


def group_label(frame: Atoms, group_key: str | None = None) -> str:
    """Return the key that keeps frames together when splitting.

    ``info[group_key]`` when given and present (e.g. all snapshots of one trajectory share
    an id), else the ``structure_hash`` the frame carries from the database, else
    :func:`gst_flows.hashing.structure_hash` of the frame.
    """
    if group_key and group_key in frame.info:
        return f"{group_key}:{frame.info[group_key]}"
    if HASH_KEY in frame.info:
        return str(frame.info[HASH_KEY])
    return structure_hash(frame)


def _groups(
    frames: Sequence[Atoms], group_key: str | None
) -> tuple[dict[str, list[int]], dict[str, list[str]], list[int]]:
    """Group frame indices; return groups, group labels per config_type, isolated indices."""
    groups: dict[str, list[int]] = defaultdict(list)
    isolated: list[int] = []
    for i, frame in enumerate(frames):
        if is_isolated_atom(frame):
            isolated.append(i)
        else:
            groups[group_label(frame, group_key)].append(i)
    by_type: dict[str, list[str]] = defaultdict(list)
    for label, members in groups.items():
        counts = Counter(config_type_of(frames[i]) for i in members)
        by_type[sorted(counts, key=lambda c: (-counts[c], c))[0]].append(label)
    for labels in by_type.values():
        labels.sort()
    return groups, by_type, isolated


def split_by_structure(
    frames: Sequence[Atoms],
    test_fraction: float = 0.1,
    seed: int = 0,
    group_key: str | None = None,
) -> tuple[list[Atoms], list[Atoms]]:
    """Split frames into train and test sets with no structure on both sides.

    Frames are grouped by :func:`group_label`; whole groups are drawn for the test set,
    separately for each ``config_type`` so every phase is represented. Isolated-atom frames
    always go to the training set.

    Parameters
    ----------
    frames
        Labelled frames.
    test_fraction
        Fraction of groups (per config_type) for the test set, in ``[0, 1)``.
    seed
        Seed of the random draw.
    group_key
        ``info`` key that groups frames; otherwise frames are grouped by structure hash
        (see :func:`group_label`).

    Returns
    -------
    tuple of list of ase.Atoms
        ``(train, test)``.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise FitInputError(f"test_fraction must be in [0, 1), got {test_fraction}")
    groups, by_type, isolated = _groups(frames, group_key)
    rng = np.random.default_rng(seed)
    test_labels: set[str] = set()
    for config_type in sorted(by_type):
        labels = list(by_type[config_type])
        rng.shuffle(labels)
        n_test = round(test_fraction * len(labels))
        if test_fraction > 0 and n_test == 0 and len(labels) >= 2:
            n_test = 1
        n_test = min(n_test, len(labels) - 1)
        test_labels.update(labels[:n_test])
    train = [frames[i] for i in isolated]
    test = []
    for label in sorted(groups):
        target = test if label in test_labels else train
        target.extend(frames[i] for i in groups[label])
    return train, test


def kfold_by_structure(
    frames: Sequence[Atoms],
    n_folds: int = 5,
    seed: int = 0,
    group_key: str | None = None,
) -> list[tuple[list[Atoms], list[Atoms]]]:
    """k-fold split with no structure in two folds.

    Groups (see :func:`split_by_structure`) of each ``config_type`` are shuffled and dealt
    round-robin over the folds; isolated-atom frames are in every training set.

    Returns
    -------
    list of tuple
        ``n_folds`` pairs ``(train, test)``; the test sets are disjoint and cover all
        non-isolated frames.
    """
    if n_folds < 2:
        raise FitInputError(f"n_folds must be >= 2, got {n_folds}")
    groups, by_type, isolated = _groups(frames, group_key)
    if len(groups) < n_folds:
        raise FitInputError(f"{len(groups)} distinct structures cannot fill {n_folds} folds")
    rng = np.random.default_rng(seed)
    fold_of: dict[str, int] = {}
    offset = 0
    for config_type in sorted(by_type):
        labels = list(by_type[config_type])
        rng.shuffle(labels)
        for j, label in enumerate(labels):
            fold_of[label] = (j + offset) % n_folds
        offset += len(labels)
    folds = []
    for k in range(n_folds):
        train = [frames[i] for i in isolated]
        test = []
        for label in sorted(groups):
            target = test if fold_of[label] == k else train
            target.extend(frames[i] for i in groups[label])
        folds.append((train, test))
    return folds


# ------------------------------------------------------------------------ summary
def summarise_frames(frames: Sequence[Atoms]) -> dict:
    """Count a labelled set, per config_type and per composition.

    Returns
    -------
    dict
        ``n_structures``, ``n_atoms``, ``n_force_components``, ``n_virials``, ``species``,
        ``per_config_type`` (``{config_type: {"n_structures", "n_atoms"}}``) and
        ``per_composition`` (``{reduced formula: {"n_structures", "n_atoms"}}``).
    """
    per_type: dict[str, dict[str, int]] = defaultdict(lambda: {"n_structures": 0, "n_atoms": 0})
    per_comp: dict[str, dict[str, int]] = defaultdict(lambda: {"n_structures": 0, "n_atoms": 0})
    n_forces = n_virials = n_atoms = 0
    species: set[str] = set()
    for frame in frames:
        n = len(frame)
        n_atoms += n
        species.update(frame.get_chemical_symbols())
        t = per_type[config_type_of(frame)]
        t["n_structures"] += 1
        t["n_atoms"] += n
        c = per_comp[frame.get_chemical_formula(mode="metal", empirical=True)]
        c["n_structures"] += 1
        c["n_atoms"] += n
        if FORCES_KEY in frame.arrays:
            n_forces += 3 * n
        if VIRIAL_KEY in frame.info:
            n_virials += 1
    return {
        "n_structures": len(frames),
        "n_atoms": n_atoms,
        "n_force_components": n_forces,
        "n_virials": n_virials,
        "species": sorted(species),
        "per_config_type": {k: dict(v) for k, v in sorted(per_type.items())},
        "per_composition": {k: dict(v) for k, v in sorted(per_comp.items())},
    }
