"""Predict the peak memory of gap_fit before running it.

gap_fit (one process) keeps every descriptor vector and every partial derivative in memory,
``8 × d × (n_descriptors + n_cross)`` bytes per species combination (``d`` the descriptor
length, ``n_cross`` the derivative entries: 3 per gradient for forces, 6 more for virials),
and, while they are still resident, builds covariance matrices between the ``M`` sparse points
and the ``T`` fitted values (energies + force components + virial components):

    peak ≈ base + Σ 8 d (n_descriptors + n_cross) + a · 8 M T + b · 8 M²

with ``a = 1.2`` and ``b = 1.25`` fitted to measured peaks of gap_fit 0.10.3 (quippy-ase) on
fits from 60 MiB to 1.4 GiB where either term dominates, and checked on held-out fits of 3.4 and
6.6 GiB (within 3 %; benchmarks/bench_fit_memory.py). The
derivative term dominates SOAP fits: it grows with the square of ``n_max × n_species``, with
``l_max + 1``, with the number of neighbours (cutoff³ × density) and with the number of atoms.
gap_fit's own estimate (printed in its log) takes the larger of the two terms instead of their
sum and double-counts some covariance copies; it is recorded for comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import psutil
from ase import Atoms

from gst_flows.fit.descriptors import DataCounts, count_descriptors
from gst_flows.fit.exceptions import FitMemoryError
from gst_flows.fit.hyperparameters import GapHyperparameters

__all__ = [
    "BASE_BYTES",
    "MemoryEstimate",
    "check_memory",
    "default_memory_limit",
    "estimate_fit_memory",
    "estimate_from_counts",
    "format_bytes",
]

#: Resident size of gap_fit besides the descriptor and covariance arrays, bytes.
BASE_BYTES = 40 * 1024**2
#: Copies of the sparse-by-target covariance (8 M T bytes) resident at the peak.
SPARSE_TARGET_COPIES = 1.2
#: Copies of the sparse-by-sparse covariance (8 M² bytes) resident at the peak.
SPARSE_SPARSE_COPIES = 1.25
GiB = 1024**3


def format_bytes(n: float) -> str:
    """Human-readable size with binary prefixes."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{int(n)} B"


@dataclass
class MemoryEstimate:
    """Predicted peak memory of one gap_fit run.

    Parameters
    ----------
    total_bytes
        Predicted peak resident memory, bytes.
    descriptor_bytes
        Descriptor vectors and derivatives, bytes.
    covariance_bytes
        Covariance matrices between sparse points and targets, bytes.
    base_bytes
        Resident size of the program itself, bytes.
    n_sparse_total
        Sparse points ``M``.
    n_targets
        Fitted values ``T``.
    per_descriptor
        Bytes of each species combination's descriptors and derivatives.
    """

    total_bytes: int
    descriptor_bytes: int
    covariance_bytes: int
    base_bytes: int
    n_sparse_total: int
    n_targets: int
    per_descriptor: dict[str, int] = field(default_factory=dict)

    @property
    def dominant(self) -> str:
        """``"descriptors"`` or ``"covariance"``: the larger share of the peak."""
        return "descriptors" if self.descriptor_bytes >= self.covariance_bytes else "covariance"

    def advice(self) -> str:
        """Say what to reduce to lower the peak, largest lever first."""
        if self.dominant == "descriptors":
            worst = sorted(self.per_descriptor.items(), key=lambda kv: -kv[1])[:3]
            parts = ", ".join(f"{k} {format_bytes(v)}" for k, v in worst)
            return (
                f"descriptor derivatives dominate ({parts}): reduce soap.n_max or soap.l_max "
                "(the SOAP length grows with (n_max × n_species)² × (l_max + 1)), soap.cutoff "
                "(neighbours grow with cutoff³), or the number or size of training structures"
            )
        return (
            f"covariance matrices dominate ({self.n_sparse_total} sparse points × "
            f"{self.n_targets} targets): reduce n_sparse (soap.n_sparse, two_body.n_sparse, "
            "three_body.n_sparse) or the number of training structures"
        )

    def as_dict(self) -> dict:
        """Plain dictionary for documents."""
        return {
            "total_bytes": self.total_bytes,
            "descriptor_bytes": self.descriptor_bytes,
            "covariance_bytes": self.covariance_bytes,
            "base_bytes": self.base_bytes,
            "n_sparse_total": self.n_sparse_total,
            "n_targets": self.n_targets,
            "per_descriptor": dict(self.per_descriptor),
        }


def estimate_from_counts(counts: DataCounts) -> MemoryEstimate:
    """Predict the gap_fit peak from descriptor and target counts."""
    m = counts.n_sparse_total
    t = counts.n_targets
    per = {d.label: d.bytes_x + d.bytes_x_prime for d in counts.descriptors}
    descriptor_bytes = sum(per.values())
    covariance_bytes = int(SPARSE_TARGET_COPIES * 8 * m * t + SPARSE_SPARSE_COPIES * 8 * m * m)
    return MemoryEstimate(
        total_bytes=BASE_BYTES + descriptor_bytes + covariance_bytes,
        descriptor_bytes=descriptor_bytes,
        covariance_bytes=covariance_bytes,
        base_bytes=BASE_BYTES,
        n_sparse_total=m,
        n_targets=t,
        per_descriptor=per,
    )


def estimate_fit_memory(frames: Sequence[Atoms], hyperparameters: GapHyperparameters) -> MemoryEstimate:
    """Predict the peak resident memory of gap_fit for a training set.

    Parameters
    ----------
    frames
        Training frames, isolated atoms included.
    hyperparameters
        The fit settings.

    Returns
    -------
    MemoryEstimate
        Prediction with its breakdown.
    """
    return estimate_from_counts(count_descriptors(frames, hyperparameters))


def default_memory_limit() -> int:
    """Default limit for one fit: 90 % of this machine's physical memory, bytes."""
    return int(0.9 * psutil.virtual_memory().total)


def check_memory(estimate: MemoryEstimate, limit_bytes: int | None) -> None:
    """Refuse a fit predicted to exceed ``limit_bytes``.

    Raises
    ------
    FitMemoryError
        With the estimate, the limit and what to reduce.
    """
    if limit_bytes is None or estimate.total_bytes <= limit_bytes:
        return
    raise FitMemoryError(
        f"gap_fit would need about {format_bytes(estimate.total_bytes)} of memory "
        f"(descriptors and derivatives {format_bytes(estimate.descriptor_bytes)}, covariance "
        f"matrices {format_bytes(estimate.covariance_bytes)}), above the limit of "
        f"{format_bytes(limit_bytes)}. To fit, {estimate.advice()}; or raise the limit "
        "(memory_limit_gb) on a node that has the memory.",
        estimate=estimate,
        limit_bytes=limit_bytes,
    )
