"""Errors raised by the GAP fitting layer."""

from __future__ import annotations

__all__ = ["FitInputError", "FitMemoryError", "GapFitError", "GapFitTimeoutError"]


class FitInputError(ValueError):
    """Training data or hyperparameters that cannot give a meaningful fit."""


class FitMemoryError(RuntimeError):
    """The predicted peak memory of ``gap_fit`` exceeds the configured limit.

    Parameters
    ----------
    message
        Human-readable explanation, including what to reduce.
    estimate
        The :class:`~gst_flows.fit.memory.MemoryEstimate` that triggered the refusal.
    limit_bytes
        The configured limit, in bytes.
    """

    def __init__(self, message: str, estimate: object = None, limit_bytes: int | None = None):
        super().__init__(message)
        self.estimate = estimate
        self.limit_bytes = limit_bytes


class GapFitError(RuntimeError):
    """``gap_fit`` exited with an error; the message carries the end of its log."""


class GapFitTimeoutError(GapFitError):
    """``gap_fit`` ran longer than the allowed wall time and was stopped."""
