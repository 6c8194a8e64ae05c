"""When the loop stops: the held-out errors of a fit and the stopping rules."""

from collections.abc import Sequence
from typing import Any

__all__ = ["convergence_decision", "overall_errors"]


def convergence_decision(
    history: Sequence[dict[str, Any]],
    max_iterations: int,
    target_force_rmse: float | None,
    min_improvement: float | None,
) -> str | None:
    """Why the loop should stop after the last entry of ``history``, or None to continue.

    Parameters
    ----------
    history
        One entry per finished iteration with ``iteration`` and ``force_rmse`` (eV/Å).
    max_iterations
        Last iteration to run (iterations count from 0).
    target_force_rmse
        Stop once the held-out force RMSE is at or below this, eV/Å.
    min_improvement
        Stop when the relative improvement over the previous iteration is smaller.
    """
    last = history[-1]
    rmse = last.get("force_rmse")
    if target_force_rmse is not None and rmse is not None and rmse <= target_force_rmse:
        return f"held-out force RMSE {rmse:.4f} eV/Å reached the target {target_force_rmse} eV/Å"
    if min_improvement is not None and len(history) >= 2 and rmse is not None:
        before = history[-2].get("force_rmse")
        if before:
            gain = (before - rmse) / before
            if gain < min_improvement:
                return f"improvement {gain:.1%} of the held-out force RMSE is below {min_improvement:.0%}"
    if last["iteration"] >= max_iterations:
        return f"reached the maximum of {max_iterations} iterations"
    return None


def overall_errors(errors: dict[str, Any] | None) -> dict[str, Any]:
    """The pooled error row of a fit's error table.

    Parameters
    ----------
    errors
        Errors per config_type with the pooled row ``"all"`` (older documents:
        ``"overall"``); empty or None when the fit had no such set.

    Returns
    -------
    dict
        The pooled row; empty when there are no errors at all.

    Raises
    ------
    ValueError
        When there are errors but no pooled row: one config_type's errors must not stand in
        for the whole set.
    """
    from gst_flows.fit.metrics import ALL

    if not errors:
        return {}
    entry = errors.get(ALL) or errors.get("overall")
    if entry is None:
        raise ValueError(
            f"the error table has rows for {', '.join(sorted(errors))} but no pooled row "
            f"'{ALL}': the loop judges convergence on the whole held-out set only"
        )
    return entry if isinstance(entry, dict) else entry.model_dump()
