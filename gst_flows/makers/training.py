"""Training data of the fit makers: database selections and extxyz files.

:class:`TrainingSelection` and :func:`load_training_frames` are re-exported by
:mod:`gst_flows.makers.fit`, where stored fit jobs record them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from monty.json import MSONable

from gst_flows.fit import FitInputError, read_labelled_frames
from gst_flows.fit.data import ISOLATED_ATOM, is_isolated_atom
from gst_flows.store import current_store

__all__ = ["Source", "TrainingSelection", "load_training_frames"]


@dataclass
class TrainingSelection(MSONable):
    """Labelled structures chosen from the database.

    Parameters
    ----------
    tag
        Only labels with this provenance tag.
    iterations
        Only these active-learning iterations.
    config_types
        Only these config_types (isolated atoms are always included).
    settings_hash
        Only labels of this DFT protocol (and the isolated atoms computed for it), so a tag
        holding labels of two protocols still gives one consistent training set.
    subsample
        Keep this fraction of the structures (isolated atoms always kept), drawn at random
        with ``subsample_seed``: the training sets of a committee of fits.
    subsample_seed
        Seed of the subsample.
    synthetic
        False (default): DFT labels only; True: only synthetic labels (a teacher potential's);
        None: both (see :func:`gst_flows.db.label_filter`).
    repeat
        Each selected structure (not the isolated atoms) enters the training set this many
        times: the weight of these labels against those of another selection in the same fit
        (a list of selections is one source).
    """

    tag: str | None = None
    iterations: list[int] | None = None
    config_types: list[str] | None = None
    settings_hash: str | None = None
    subsample: float | None = None
    subsample_seed: int = 0
    synthetic: bool | None = False
    repeat: int = 1

    def __post_init__(self) -> None:
        if self.subsample is not None and not 0 < self.subsample <= 1:
            raise ValueError(f"subsample must be a fraction in (0, 1], got {self.subsample}")
        if int(self.repeat) != self.repeat or self.repeat < 1:
            raise ValueError(f"repeat must be a whole number >= 1, got {self.repeat}")

    def filters(self) -> dict[str, Any]:
        """Keyword arguments of :func:`gst_flows.db.find_labels` for this selection."""
        return {
            "tag": self.tag or None,
            "iteration": list(self.iterations) if self.iterations else None,
            "config_type": [*self.config_types, ISOLATED_ATOM] if self.config_types else None,
            "settings_hash": self.settings_hash or None,
            "synthetic": self.synthetic,
        }

    def criteria(self) -> dict:
        """MongoDB filter on the job documents of the store (see :func:`label_filter`)."""
        from gst_flows.db import label_filter

        return label_filter(**self.filters())

    def subsampled(self, frames: list[Atoms]) -> list[Atoms]:
        """The frames :attr:`subsample` keeps (all of them when it is None)."""
        if self.subsample is None or self.subsample >= 1:
            return frames
        structures = [k for k, f in enumerate(frames) if not is_isolated_atom(f)]
        n_keep = max(1, round(self.subsample * len(structures)))
        rng = np.random.default_rng(self.subsample_seed)
        keep = set(rng.choice(structures, size=n_keep, replace=False).tolist()) if structures else set()
        return [f for k, f in enumerate(frames) if is_isolated_atom(f) or k in keep]

    def repeated(self, frames: list[Atoms]) -> list[Atoms]:
        """The frames with every structure but the isolated atoms :attr:`repeat` times."""
        if self.repeat == 1:
            return frames
        return [f for f in frames if is_isolated_atom(f)] + [
            f.copy() for f in frames if not is_isolated_atom(f) for _ in range(int(self.repeat))
        ]

    def describe(self) -> str:
        """Short text for documents and logs."""
        defaults = {"synthetic": False, "repeat": 1}
        parts = [
            f"{k}={v}"
            for k, v in self.as_dict().items()
            if (v or (k == "synthetic" and v is None))
            and not k.startswith("@")
            and not (k in defaults and v == defaults[k])
        ]
        return "database: " + (", ".join(parts) or "all labels")


# Stored fit jobs name the class by its first home: keep decoding them (and new ones) alike.
TrainingSelection.__module__ = "gst_flows.makers.fit"

Source = str | os.PathLike | TrainingSelection | dict | list


def _load_one(source: Source, store) -> tuple[list[Atoms], str]:
    if isinstance(source, dict):
        source = TrainingSelection(**{k: v for k, v in source.items() if not k.startswith("@")})
    if isinstance(source, TrainingSelection):
        from gst_flows.db import find_labels

        store = store or current_store()
        labels = find_labels(store=store, **source.filters())
        # A content-defined order (not the order in which labels happened to finish) keeps
        # gap_fit's sparse-point choice and the subsamples the same from run to run.
        labels.sort(key=lambda label: (label.doc.structure_hash, label.doc.settings_hash))
        frames = [label.doc.to_atoms() for label in labels]
        if not frames:
            raise FitInputError(f"no successful labels match {source.describe()}")
        return source.repeated(source.subsampled(frames)), source.describe()
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"training data file {path} not found")
    return read_labelled_frames(path), str(path.resolve())


def load_training_frames(source: Source, store=None) -> tuple[list[Atoms], str]:
    """Labelled frames from an extxyz file or a database selection.

    Parameters
    ----------
    source
        Path of an extxyz file, or a :class:`TrainingSelection` (or its dict), or a list of
        those (their frames joined in order, e.g. synthetic labels and repeated DFT labels).
    store
        JobStore to query for a selection; the running job's store, else the configured one.

    Returns
    -------
    tuple
        ``(frames, description of the source)``.
    """
    if isinstance(source, list | tuple):
        if not source:
            raise FitInputError("an empty list of training sources")
        parts = [_load_one(s, store) for s in source]
        return [f for frames, _ in parts for f in frames], " + ".join(d for _, d in parts)
    return _load_one(source, store)
