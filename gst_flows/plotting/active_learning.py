"""Figures of the active-learning loop: learning curve, SOAP map, crystalline fractions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ase import Atoms

__all__ = ["crystalline_fraction_figure", "learning_curve_figure", "soap_map_figure"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def learning_curve_figure(history: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Held-out force RMSE (eV/Å) against the number of labels, one point per iteration.

    Writes ``path`` (PNG) and the same figure as PDF beside it.
    """
    plt = _pyplot()
    path = Path(path)
    n = [h["n_labels"] for h in history]
    rmse = [h.get("force_rmse") for h in history]
    fig, ax = plt.subplots(figsize=(4.5, 3.4), constrained_layout=True)
    ax.plot(n, rmse, "o-", color="tab:blue")
    for h, x, y in zip(history, n, rmse, strict=True):
        if y is not None:
            ax.annotate(
                f"iter {h['iteration']}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8
            )
    ax.set_xlabel("labelled structures in the training set")
    ax.set_ylabel("held-out force RMSE (eV/Å)")
    ax.set_title("learning curve")
    fig.savefig(path, dpi=150)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)
    return path


def soap_map_figure(frames: Sequence[Atoms], path: str | Path, method: str = "kpca") -> Path:
    """2D embedding of the configurations' average SOAP kernel, coloured by iteration and phase.

    Parameters
    ----------
    frames
        Configurations with ``iteration`` and ``config_type`` in ``info``.
    path
        PNG to write (a PDF is written beside it).
    method
        ``kpca`` or ``mds`` (see :func:`gst_flows.analysis.soap_map.soap_map`).
    """
    from gst_flows.analysis.soap_map import soap_map

    plt = _pyplot()
    path = Path(path)
    # Species-agnostic SOAP: the map separates structure (crystal, liquid, amorphous) rather
    # than composition, which a species-resolved kernel puts first.
    embedding = soap_map(list(frames), method)
    xy = embedding.coordinates
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.6), constrained_layout=True)
    for ax, key in zip(axes, ("iteration", "config_type"), strict=True):
        values = [str(a.info.get(key, "?")) for a in frames]
        for value in sorted(set(values)):
            mask = [v == value for v in values]
            ax.scatter(xy[mask, 0], xy[mask, 1], s=18, label=value, alpha=0.8)
        ax.set_title(f"SOAP map by {key}")
        ax.set_xlabel("component 1")
        ax.set_ylabel("component 2")
        ax.legend(fontsize=7, frameon=False)
    fig.savefig(path, dpi=150)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)
    return path


def crystalline_fraction_figure(selections: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Histograms of the explored frames' crystalline fractions, one panel per iteration.

    Parameters
    ----------
    selections
        Selection documents (:class:`~gst_flows.schemas.active_learning.SelectionDoc` or their
        dicts) with ``iteration``, ``exploration``, ``candidate_fractions`` and the chosen
        frames' fractions in ``provenance``.
    path
        PNG to write (a PDF is written beside it).
    """
    import numpy as np

    plt = _pyplot()
    path = Path(path)
    docs = [d if isinstance(d, dict) else d.model_dump() for d in selections]
    docs = sorted(docs, key=lambda d: d["iteration"])
    if not docs:
        raise ValueError("no selection documents to plot")
    fig, axes = plt.subplots(
        1, len(docs), figsize=(3.2 * len(docs), 3.0), constrained_layout=True, squeeze=False
    )
    bins = np.linspace(0.0, 1.0, 11)
    for ax, doc in zip(axes[0], docs, strict=True):
        candidates = [f for f in doc.get("candidate_fractions", []) if f is not None]
        chosen = [p.get("crystalline_fraction") for p in doc.get("provenance", [])]
        chosen = [f for f in chosen if f is not None]
        ax.hist(candidates, bins=bins, color="0.75", label=f"candidates ({len(candidates)})")
        ax.hist(chosen, bins=bins, color="tab:red", alpha=0.8, label=f"selected ({len(chosen)})")
        ax.set_title(f"iter {doc['iteration']}: {doc.get('exploration') or ''}", fontsize=9)
        ax.set_xlabel("crystalline fraction (k̄)")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.legend(fontsize=7, frameon=False)
    axes[0][0].set_ylabel("frames")
    fig.savefig(path, dpi=150)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)
    return path
