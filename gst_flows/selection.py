"""Choosing configurations to label: diversity in SOAP space, optionally weighted by uncertainty.

Pure functions on descriptor matrices (one row per configuration, e.g. the mean normalised
SOAP vector of each structure from :func:`gst_flows.analysis.soap.mean_soap_vectors`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "committee_spread",
    "cur_selection",
    "farthest_point_sampling",
    "near_duplicates",
    "select_across_fractions",
    "select_diverse",
    "uncertainty_weights",
]


def _normalised(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"descriptors must be a 2D array (configurations × features), got {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _kernel_distance(a: np.ndarray, b: np.ndarray, zeta: float) -> np.ndarray:
    """SOAP kernel distance sqrt(2 - 2 k) with k = (a·b)^ζ, between rows of a and b."""
    k = np.clip(a @ b.T, 0.0, 1.0) ** zeta
    return np.sqrt(np.maximum(2.0 - 2.0 * k, 0.0))


def farthest_point_sampling(
    descriptors: np.ndarray,
    n_select: int,
    existing: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    zeta: float = 4.0,
) -> list[int]:
    """Greedy farthest-point sampling in SOAP-kernel distance.

    Each step picks the candidate whose distance to everything already chosen (and to the
    ``existing`` database) is largest, multiplied by its weight (e.g. the potential's
    predicted uncertainty).

    Parameters
    ----------
    descriptors
        Candidate descriptors, one row per configuration.
    n_select
        How many to pick (fewer are returned when there are fewer candidates).
    existing
        Descriptors already in the database; candidates close to them are picked last.
    weights
        Non-negative per-candidate weights; None weighs all alike.
    zeta
        Kernel exponent.

    Returns
    -------
    list of int
        Indices into ``descriptors`` in the order chosen.
    """
    x = _normalised(descriptors)
    n = len(x)
    if n_select < 0:
        raise ValueError(f"n_select must be non-negative, got {n_select}")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (n,) or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite, non-negative, one per candidate")
    if existing is not None and len(existing):
        dist = _kernel_distance(x, _normalised(existing), zeta).min(axis=1)
    else:
        # Nothing chosen yet: start from the candidate farthest from the centroid.
        centre = _normalised(x.mean(axis=0, keepdims=True))
        dist = _kernel_distance(x, centre, zeta)[:, 0] + 1e-12
    chosen: list[int] = []
    for _ in range(min(n_select, n)):
        score = dist * w
        score[chosen] = -np.inf
        pick = int(np.argmax(score))
        chosen.append(pick)
        dist = np.minimum(dist, _kernel_distance(x, x[pick : pick + 1], zeta)[:, 0])
    return chosen


def cur_selection(descriptors: np.ndarray, n_select: int, rank: int | None = None) -> list[int]:
    """Deterministic CUR row selection by leverage scores with orthogonalisation.

    At each step the row with the largest leverage score in the top-``rank`` left singular
    subspace (``rank`` 1 by default, as in iterative CUR) is taken, then every row is
    orthogonalised against it, so the next pick adds a new direction.

    Returns
    -------
    list of int
        Indices into ``descriptors`` in the order chosen.
    """
    x = _normalised(descriptors).copy()
    n = len(x)
    chosen: list[int] = []
    for _ in range(min(n_select, n)):
        k = rank or 1
        u, _, _ = np.linalg.svd(x, full_matrices=False)
        scores = np.sum(u[:, :k] ** 2, axis=1)
        scores[chosen] = -np.inf
        pick = int(np.argmax(scores))
        chosen.append(pick)
        v = x[pick].copy()
        norm = v @ v
        if norm > 1e-12:
            x -= np.outer(x @ v, v) / norm
    return chosen


def near_duplicates(
    descriptors: np.ndarray,
    existing: np.ndarray | None,
    threshold: float = 1e-4,
    zeta: float = 4.0,
) -> np.ndarray:
    """Mask of candidates that duplicate an existing configuration or an earlier candidate.

    A candidate within ``threshold`` kernel distance of either is marked, so each cluster of
    duplicates keeps its first member.
    """
    x = _normalised(descriptors)
    dup = np.zeros(len(x), dtype=bool)
    if existing is not None and len(existing):
        dup |= _kernel_distance(x, _normalised(existing), zeta).min(axis=1) < threshold
    if len(x) > 1:
        d = _kernel_distance(x, x, zeta)
        earlier = np.tril(d < threshold, k=-1)
        dup |= earlier.any(axis=1)
    return dup


def select_diverse(
    descriptors: np.ndarray,
    n_select: int,
    method: str = "fps",
    existing: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    duplicate_threshold: float = 1e-4,
    zeta: float = 4.0,
) -> list[int]:
    """Pick up to ``n_select`` diverse candidates after dropping near-duplicates.

    Parameters
    ----------
    descriptors
        Candidate descriptors, one row per configuration.
    n_select
        The labelling budget.
    method
        ``"fps"`` (farthest-point sampling, uses ``existing`` and ``weights``) or ``"cur"``.
    existing
        Descriptors of configurations already labelled.
    weights
        Uncertainty weights (FPS only).
    duplicate_threshold
        Kernel distance under which a candidate counts as already present.
    zeta
        Kernel exponent.

    Returns
    -------
    list of int
        Indices into ``descriptors``.
    """
    if method not in {"fps", "cur"}:
        raise ValueError(f"unknown selection method {method!r}; use 'fps' or 'cur'")
    keep = np.flatnonzero(~near_duplicates(descriptors, existing, duplicate_threshold, zeta))
    if len(keep) == 0:
        return []
    x = np.asarray(descriptors)[keep]
    if method == "fps":
        w = None if weights is None else np.asarray(weights, dtype=float)[keep]
        picked = farthest_point_sampling(x, n_select, existing, w, zeta)
    else:
        picked = cur_selection(x, n_select)
    return [int(keep[i]) for i in picked]


def select_across_fractions(
    descriptors: np.ndarray,
    fractions: Sequence[float | None],
    n_select: int,
    window: tuple[float, float] = (0.2, 0.8),
    share: float = 1.0,
    existing: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    duplicate_threshold: float = 1e-4,
    zeta: float = 4.0,
) -> list[int]:
    """Farthest-point sampling with part of the budget spread over crystalline fraction.

    ``round(share * n_select)`` slots go to the window of crystalline fractions where
    crystalline and disordered regions coexist: the window is cut into that many equal bins,
    and each bin gives the candidate in it farthest (weighted) from the labelled
    configurations and from the picks so far. An empty bin passes its slot on; the slots left
    are filled by plain farthest-point sampling over every candidate. Near-duplicates are
    never picked.

    Parameters
    ----------
    descriptors
        Candidate descriptors, one row per configuration.
    fractions
        Measured crystalline fraction of each candidate (None: unmeasured, never in a bin).
    n_select
        The labelling budget.
    window
        ``(low, high)`` crystalline fractions of the binned slots.
    share
        Fraction of the budget given to the window's bins (0: plain farthest-point sampling).
    existing, weights, duplicate_threshold, zeta
        As in :func:`select_diverse`.

    Returns
    -------
    list of int
        Indices into ``descriptors`` in the order chosen (binned picks first, low to high).
    """
    low, high = window
    if not 0 <= low < high <= 1:
        raise ValueError(f"window must be (low, high) with 0 <= low < high <= 1, got {window}")
    if not 0 <= share <= 1:
        raise ValueError(f"share must be in [0, 1], got {share}")
    x = np.asarray(descriptors, dtype=float)
    if len(fractions) != len(x):
        raise ValueError(f"{len(fractions)} fractions for {len(x)} candidates")
    frac = np.array([np.nan if f is None else float(f) for f in fractions])
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    free = ~near_duplicates(x, existing, duplicate_threshold, zeta)
    picked: list[int] = []

    def farthest(pool: np.ndarray, n: int) -> list[int]:
        known = [existing] if existing is not None and len(existing) else []
        if picked:
            known.append(x[picked])
        ref = np.vstack(known) if known else None
        return [int(pool[i]) for i in farthest_point_sampling(x[pool], n, ref, w[pool], zeta)]

    n_bins = min(n_select, round(share * n_select))
    edges = np.linspace(low, high, n_bins + 1)
    for b in range(n_bins):
        upper = frac <= edges[b + 1] if b == n_bins - 1 else frac < edges[b + 1]
        pool = np.flatnonzero(free & (frac >= edges[b]) & upper)
        if len(pool):
            picked += farthest(pool, 1)
            free[picked[-1]] = False
    pool = np.flatnonzero(free)
    if n_select > len(picked) and len(pool):
        picked += farthest(pool, n_select - len(picked))
    return picked


def committee_spread(forces: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    """Disagreement of a committee of potentials on each configuration, eV/Å.

    Parameters
    ----------
    forces
        ``forces[m][c]``: forces (atoms × 3, eV/Å) that member ``m`` predicts for
        configuration ``c``; at least two members.

    Returns
    -------
    numpy.ndarray
        Per configuration, the root mean square over atoms and components of the standard
        deviation across members.
    """
    if len(forces) < 2:
        raise ValueError(f"a committee needs at least two members, got {len(forces)}")
    n = {len(member) for member in forces}
    if len(n) != 1:
        raise ValueError("every committee member must predict every configuration")
    spread = []
    for c in range(n.pop()):
        stacked = np.stack([np.asarray(member[c], dtype=float) for member in forces])
        spread.append(float(np.sqrt(np.mean(stacked.var(axis=0)))))
    return np.asarray(spread)


def uncertainty_weights(spread: np.ndarray, power: float = 1.0) -> np.ndarray:
    """Selection weights from uncertainties: ``(spread / mean spread) ** power``.

    A candidate the committee disagrees on twice as much as average gets twice the weight
    (``power`` 1); with no disagreement at all every weight is 1.
    """
    spread = np.asarray(spread, dtype=float)
    if spread.ndim != 1 or np.any(spread < 0) or not np.all(np.isfinite(spread)):
        raise ValueError("uncertainties must be finite and non-negative, one per candidate")
    mean = spread.mean() if len(spread) else 0.0
    if mean <= 0:
        return np.ones_like(spread)
    return (spread / mean) ** power
