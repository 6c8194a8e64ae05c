"""Explored frames as selection candidates: crystalline fractions, config_type, committee spread."""

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

__all__ = [
    "calculator_spread",
    "committee_force_spread",
    "format_histogram",
    "fraction_histogram",
    "measured_config_type",
    "select_liquid_order",
]

logger = logging.getLogger(__name__)


def measured_config_type(
    fraction: float | None,
    temperature: float | None,
    coexistence: tuple[float, float] = (0.2, 0.8),
    liquid_temperature: float = 900.0,
) -> str:
    """config_type of an explored frame from its measured crystalline fraction.

    Parameters
    ----------
    fraction
        Crystalline fraction of the frame (k̄ above the crystallinity threshold), or None
        when it could not be measured.
    temperature
        Thermostat (or, without one, instantaneous) temperature of the frame, K.
    coexistence
        ``(low, high)``: above ``high`` the frame is ``crystal``; between the two both
        crystalline and non-crystalline atoms are substantial (``phase_transition``); below
        ``low`` it is ``liquid`` at or above ``liquid_temperature`` and ``amorphous`` under it.
    liquid_temperature
        Temperature from which a non-crystalline frame counts as liquid, K.

    Returns
    -------
    str
        ``crystal``, ``phase_transition``, ``liquid``, ``amorphous``, or ``default`` when the
        fraction is unknown.
    """
    if fraction is None:
        return "default"
    low, high = coexistence
    if fraction > high:
        return "crystal"
    if fraction >= low:
        return "phase_transition"
    return "liquid" if (temperature or 0.0) >= liquid_temperature else "amorphous"


def fraction_histogram(fractions: Sequence[float | None], bins: int = 10) -> dict[str, list]:
    """Histogram of crystalline fractions on [0, 1] (unmeasured values left out).

    Returns
    -------
    dict
        ``edges`` (``bins + 1`` values) and ``counts`` (``bins`` values).
    """
    values = np.asarray([f for f in fractions if f is not None], dtype=float)
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    return {"edges": [round(float(e), 6) for e in edges], "counts": counts.tolist()}


def format_histogram(histogram: dict[str, list], width: int = 30) -> str:
    """Text rendering of :func:`fraction_histogram`, one line per bin."""
    counts, edges = histogram["counts"], histogram["edges"]
    top = max(counts) if counts and max(counts) > 0 else 1
    return "\n".join(
        f"{lo:4.2f}-{hi:4.2f} {'#' * round(width * c / top):<{width}} {c}"
        for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)
    )


def _frame_fractions(frames: Sequence[Any]) -> list[float | None]:
    """Crystalline fraction (k̄, the module's default threshold) of every frame of one run."""
    from gst_flows.analysis.crystallinity import crystallinity_series

    if not frames:
        return []
    try:
        fractions = crystallinity_series(list(frames))["crystalline_fraction"]
    except ValueError as exc:  # e.g. no anion: no rock-salt reference for the composition
        logger.warning("crystalline fraction not measured: %s", exc)
        return [None] * len(frames)
    return [float(f) for f in fractions]


def _target_temperature(protocol, frame) -> float | None:
    """Thermostat target of a saved frame, K (None in NVE stages)."""
    name = frame.info.get("stage_name")
    step = frame.info.get("step")
    if name is None or step is None:
        return None
    index = [s.name for s in protocol.stages].index(name)
    stage = protocol.stages[index]
    if stage.ensemble == "nve":
        return None
    within = int(step) - protocol.stage_start_steps()[index]
    return stage.temperature_at_step(min(max(within, 0), stage.n_steps))


def _candidates(
    md_runs: list[Any],
    iteration: int,
    potential_id: str,
    min_distance: float = 1.8,
    coexistence: tuple[float, float] = (0.2, 0.8),
    liquid_temperature: float = 900.0,
    first_run: int = 0,
):
    """Frames of the exploration runs with their provenance in ``info``.

    ``config_type`` comes from each frame's measured crystalline fraction
    (:func:`measured_config_type`). Frames with atoms closer than ``min_distance`` Å (debris of
    a failed run) are dropped. Runs are numbered from ``first_run`` in the ``generator``.
    """
    from gst_flows.structures import minimum_distance

    frames = []
    for run_index, run in enumerate(md_runs, start=first_run):
        if run is None:
            logger.warning(
                "iteration %d: exploration run %d failed; its frames are skipped", iteration, run_index
            )
            continue
        for frame in run["frames"]:
            structure = frame["structure"]
            if not isinstance(structure, Structure):
                structure = Structure.from_dict(structure)
            atoms = AseAtomsAdaptor.get_atoms(structure)
            atoms.info.clear()
            atoms.arrays = {k: v for k, v in atoms.arrays.items() if k in ("numbers", "positions")}
            if minimum_distance(atoms) < min_distance:
                continue
            temperature = frame.get("target_temperature")
            if temperature is None:
                temperature = frame.get("temperature")
            fraction = frame.get("crystalline_fraction")
            atoms.info.update(
                {
                    "generator": f"gap md run {run_index} ({run['protocol']}, stage {frame['stage']})",
                    "potential_id": potential_id,
                    "md_step": frame.get("step"),
                    "md_seed": run.get("seed"),
                    "temperature": temperature,
                    "iteration": iteration,
                    "crystalline_fraction": fraction,
                    "config_type": measured_config_type(
                        fraction, temperature, coexistence, liquid_temperature
                    ),
                }
            )
            frames.append(atoms)
    return frames


def committee_force_spread(potential_ids: Sequence[str], frames: Sequence[Any], store=None) -> np.ndarray:
    """Force spread (eV/Å) of a committee of stored potentials on each frame.

    See :func:`gst_flows.selection.committee_spread`.
    """
    from gst_flows.potentials import load_potential

    return calculator_spread([load_potential(p, store=store) for p in potential_ids], frames)


def calculator_spread(calculators: Sequence[Any], frames: Sequence[Any]) -> np.ndarray:
    """Force spread (eV/Å) of a committee of ASE calculators on each frame."""
    from gst_flows.selection import committee_spread

    forces = []
    for calculator in calculators:
        member = []
        for frame in frames:
            atoms = frame.copy()
            atoms.calc = calculator
            member.append(atoms.get_forces())
        forces.append(member)
    return committee_spread(forces)


def select_liquid_order(
    descriptors: np.ndarray,
    frames: Sequence[Any],
    n_select: int,
    existing: np.ndarray | None = None,
    liquid_temperature: float = 900.0,
) -> list[int]:
    """Frames of a held liquid spread over their wrong-bond fraction, least to most.

    Only frames at or above ``liquid_temperature`` (their ``temperature`` in ``info``) compete.
    Each one's wrong-bond fraction (homopolar and Ge–Sb bonds among all bonds,
    :func:`gst_flows.analysis.homopolar_bond_fraction`) is stored in its ``info`` as
    ``wrong_bond_fraction``; the range the frames span is cut into ``n_select`` equal bins and
    each bin gives the frame farthest in SOAP space from ``existing`` and the picks so far
    (:func:`gst_flows.selection.select_across_fractions`). A liquid whose chemical order does not
    change is sampled by diversity alone.

    Returns
    -------
    list of int
        Indices into ``frames``.
    """
    from gst_flows.analysis import homopolar_bond_fraction
    from gst_flows.selection import select_across_fractions, select_diverse

    hot = [i for i, a in enumerate(frames) if (a.info.get("temperature") or 0.0) >= liquid_temperature]
    if not hot or n_select <= 0:
        return []
    wrong = []
    for i in hot:
        fraction = float(homopolar_bond_fraction(frames[i])["wrong"])
        frames[i].info["wrong_bond_fraction"] = fraction
        wrong.append(fraction)
    x = np.asarray(descriptors, dtype=float)[hot]
    low, high = min(wrong), max(wrong)
    if high - low > 1e-9:
        picked = select_across_fractions(x, wrong, n_select, (low, high), 1.0, existing=existing)
    else:
        picked = select_diverse(x, n_select, existing=existing)
    return [hot[i] for i in picked]


#: Per-frame provenance kept in the selection document.
_SELECTION_PROVENANCE = (
    "generator",
    "potential_id",
    "temperature",
    "md_step",
    "md_seed",
    "crystalline_fraction",
    "wrong_bond_fraction",
    "config_type",
)
