"""Parity plots of predicted against reference labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gst_flows.fit.metrics import Predictions

__all__ = ["parity_plots"]


def parity_plots(
    predictions: Predictions, directory: str | Path, prefix: str = "parity", title: str = ""
) -> dict[str, Path]:
    """Write energy and force-component parity plots as PNG.

    Parameters
    ----------
    predictions
        Reference and predicted labels (see :func:`gst_flows.fit.metrics.predict`).
    directory
        Where to write the files.
    prefix
        File-name prefix: ``{prefix}_energy.png`` and ``{prefix}_forces.png``.
    title
        Title shown above each plot.

    Returns
    -------
    dict
        ``{"energy": path, "forces": path}`` (``forces`` only when forces exist).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    types = sorted(set(predictions.config_types))
    colours = {ct: plt.cm.tab10(i % 10) for i, ct in enumerate(types)}
    paths: dict[str, Path] = {}

    n_at = np.array(predictions.n_atoms, dtype=float)
    e_ref = np.array(predictions.energy_ref) / n_at
    e_pred = np.array(predictions.energy_pred) / n_at
    # Per-atom energies of different compositions differ by eV: shift each composition by its
    # mean reference so the plot shows the spread that matters (errors are unchanged).
    formulas = np.array(predictions.formulas or [""] * len(e_ref))
    for formula in set(formulas):
        m = formulas == formula
        offset = e_ref[m].mean()
        e_ref[m] -= offset
        e_pred[m] -= offset
    ct_arr = np.array(predictions.config_types)

    def finish(ax, ref, pred, labels, unit):
        unit_scale, unit = unit
        xlabel, ylabel = labels
        lo = float(min(ref.min(), pred.min()))
        hi = float(max(ref.max(), pred.max()))
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_aspect("equal")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        rmse = float(np.sqrt(np.mean((pred - ref) ** 2)))
        ax.set_title(f"{title + ': ' if title else ''}RMSE {rmse * unit_scale:.3g} {unit}")
        ax.legend(fontsize=7, loc="upper left")

    if len(e_ref):
        fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=120)
        for ct in types:
            m = ct_arr == ct
            ax.scatter(e_ref[m], e_pred[m], s=12, color=colours[ct], label=ct)
        labels = (
            "reference energy − composition mean (eV/atom)",
            "GAP energy − composition mean (eV/atom)",
        )
        finish(ax, e_ref, e_pred, labels, (1e3, "meV/atom"))
        fig.tight_layout()
        paths["energy"] = directory / f"{prefix}_energy.png"
        fig.savefig(paths["energy"])
        plt.close(fig)

    f_ref, f_pred, f_ct = [], [], []
    for ref, pred, ct in zip(
        predictions.forces_ref, predictions.forces_pred, predictions.config_types, strict=True
    ):
        if ref is None:
            continue
        f_ref.append(ref.ravel())
        f_pred.append(pred.ravel())
        f_ct.extend([ct] * ref.size)
    if f_ref:
        fr, fp, fc = np.concatenate(f_ref), np.concatenate(f_pred), np.array(f_ct)
        fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=120)
        for ct in types:
            m = fc == ct
            if m.any():
                ax.scatter(fr[m], fp[m], s=4, alpha=0.6, color=colours[ct], label=ct)
        labels = ("reference force component (eV/Å)", "GAP force component (eV/Å)")
        finish(ax, fr, fp, labels, (1.0, "eV/Å"))
        fig.tight_layout()
        paths["forces"] = directory / f"{prefix}_forces.png"
        fig.savefig(paths["forces"])
        plt.close(fig)
    return paths
