"""Every named analysis and its pure function, in one table.

Structural analyses of frames (``rdf``, ``kbar``, ... run by ``gst-flows analyse`` and the
analysis makers through :func:`gst_flows.analysis.run.analyse`) and the device scenario
analyses (``mushroom-reset``, ``set-crystallisation``, ... run by the scenario analysis makers)
register here under their name, so a name means the same function wherever it is run.

>>> from gst_flows.analysis.registry import analysis_names, get_analysis
>>> "rdf" in analysis_names("structure") and "mushroom-reset" in analysis_names("scenario")
True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ANALYSES", "FAMILIES", "Analysis", "analysis_names", "get_analysis", "register_analysis"]

#: Kinds of analysis: ``structure`` functions take ``(frames, options, summary)`` and return an
#: :class:`~gst_flows.analysis.run.AnalysisResult`; ``scenario`` functions take the MD runs of
#: a device scenario (:class:`~gst_flows.analysis.scenarios.RunData`) and its
#: :class:`~gst_flows.analysis.scenarios.AnalysisSettings`, and return the scenario's result.
FAMILIES = ("structure", "scenario")

#: Modules whose import registers the analyses of each family.
_MODULES = {"structure": "gst_flows.analysis.run", "scenario": "gst_flows.analysis.scenarios"}


@dataclass(frozen=True)
class Analysis:
    """A registered analysis.

    Attributes
    ----------
    name
        Name it is run by (lower case, words joined by hyphens).
    family
        One of :data:`FAMILIES`.
    function
        The pure function.
    """

    name: str
    family: str
    function: Callable[..., Any]


#: Every registered analysis by name, in registration order.
ANALYSES: dict[str, Analysis] = {}


def register_analysis(name: str, family: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a pure function as analysis ``name`` of ``family``.

    Parameters
    ----------
    name
        Analysis name; must not be taken by another function.
    family
        One of :data:`FAMILIES`.

    Returns
    -------
    callable
        The decorator (it returns the function unchanged).
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown analysis family {family!r}; one of: {', '.join(FAMILIES)}")

    def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        known = ANALYSES.get(name)
        if known is not None and known.function is not function:
            raise ValueError(f"analysis {name!r} is already registered ({known.family})")
        ANALYSES[name] = Analysis(name, family, function)
        return function

    return decorator


def _load(family: str | None) -> None:
    for key, module in _MODULES.items():
        if family in (None, key):
            importlib.import_module(module)


def analysis_names(family: str | None = None) -> tuple[str, ...]:
    """Names of the registered analyses (of one family when given), in registration order."""
    _load(family)
    return tuple(a.name for a in ANALYSES.values() if family in (None, a.family))


def get_analysis(name: str, family: str | None = None) -> Callable[..., Any]:
    """The pure function of analysis ``name``.

    Parameters
    ----------
    name
        A registered name (see :func:`analysis_names`).
    family
        Refuse analyses of other families when given.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    """
    _load(family)
    entry = ANALYSES.get(name)
    if entry is None or family not in (None, entry.family):
        raise ValueError(f"unknown analysis {name!r}; one of: {', '.join(analysis_names(family))}")
    return entry.function
