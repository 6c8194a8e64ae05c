"""Formation energies from the elements, DFT against a potential, on the same structures.

One of the physical checks of a potential (relative phase energies): a GST compound is lower
in energy than the elements it is made of (DFT: about -120 to -160 meV/atom for the layered
compounds against diamond Ge, A7 Sb and trigonal Te). A potential fitted to the compounds
alone can miss the elements' own environments by most of an eV per atom and put the compounds
above them; its liquid then lowers its energy by demixing in MD while its error table looks
fine. Each set of energies takes its own lowest-energy structure of each element among the
frames as reference (pymatgen's :class:`~pymatgen.analysis.phase_diagram.PhaseDiagram`), so
the check needs a crystal of every element (``gst_flows.flows.profiles.element_crystals``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gst_flows.fit.exceptions import FitInputError
from gst_flows.fit.metrics import Predictions
from gst_flows.schemas.fit import FormationEnergies, FormationEntry

__all__ = [
    "FormationEnergies",
    "FormationEntry",
    "format_formation_table",
    "formation_energies",
    "formation_per_atom",
]


def formation_per_atom(
    formulas: Sequence[str], energies_per_atom: Sequence[float]
) -> tuple[np.ndarray, dict[str, float]]:
    """Formation energy per atom of each structure from the lowest-energy structure of each element.

    Parameters
    ----------
    formulas
        Chemical formula of each structure (pure elements among them).
    energies_per_atom
        Energy per atom of each, eV/atom.

    Returns
    -------
    tuple
        ``(formation energies, eV/atom; element -> reference energy per atom)``.
    """
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    compositions = [Composition(formula) for formula in formulas]
    entries = [
        PDEntry(composition, energy * composition.num_atoms)
        for composition, energy in zip(compositions, energies_per_atom, strict=True)
    ]
    diagram = PhaseDiagram(entries)
    references = {str(el): float(entry.energy_per_atom) for el, entry in diagram.el_refs.items()}
    return np.array([diagram.get_form_energy_per_atom(entry) for entry in entries]), references


def formation_energies(predictions: Predictions, required: bool = True) -> FormationEnergies | None:
    """Formation energies per atom of every frame from the elements, reference and predicted.

    Parameters
    ----------
    predictions
        Reference (DFT) and predicted energies of labelled frames (:func:`predict`), among them
        at least one frame of each pure element that occurs in a compound frame.
    required
        False: return None instead of raising when the frames cannot give formation energies.

    Returns
    -------
    FormationEnergies or None
        Errors over the compound frames and the lowest formation energy per composition.

    Raises
    ------
    FitInputError
        When an element of a compound has no pure frame, or no frame holds two elements
        (``required`` only).
    """
    from pymatgen.core import Composition

    formulas = list(predictions.formulas)
    compositions = [Composition(f) for f in formulas]
    pure = {str(c.elements[0]) for c in compositions if len(c.elements) == 1}
    needed = {str(el) for c in compositions for el in c.elements}
    compounds = [i for i, c in enumerate(compositions) if len(c.elements) > 1]
    if not required and (needed - pure or not compounds):
        return None
    if needed - pure:
        raise FitInputError(
            f"formation energies need a structure of each pure element; none of "
            f"{', '.join(sorted(needed - pure))} among the frames (add their crystals, e.g. "
            "gst_flows.flows.profiles.element_crystals)"
        )
    if not compounds:
        raise FitInputError("formation energies need at least one frame holding two elements")
    n_atoms = np.asarray(predictions.n_atoms, dtype=float)
    dft, references = formation_per_atom(formulas, np.asarray(predictions.energy_ref) / n_atoms)
    predicted, _ = formation_per_atom(formulas, np.asarray(predictions.energy_pred) / n_atoms)
    error = (predicted - dft)[compounds]
    by_formula: dict[str, FormationEntry] = {}
    for formula in sorted({formulas[i] for i in compounds}):
        rows = [i for i in compounds if formulas[i] == formula]
        by_formula[formula] = FormationEntry(
            n_frames=len(rows), dft=float(dft[rows].min()), predicted=float(predicted[rows].min())
        )
    return FormationEnergies(
        references=references,
        n_compounds=len(compounds),
        rmse=float(np.sqrt(np.mean(error**2))),
        mae=float(np.mean(np.abs(error))),
        wrong_sign=int(np.sum(np.sign(dft[compounds]) != np.sign(predicted[compounds]))),
        by_formula=by_formula,
    )


def format_formation_table(result: FormationEnergies, title: str = "", name: str = "potential") -> str:
    """The lowest formation energy per composition, DFT and ``name``, in meV/atom."""
    lines = [title] if title else []
    lines.append(f"{'composition':<14}{'frames':>7}{'DFT':>10}{name:>12}{'error':>10}")
    for formula, entry in result.by_formula.items():
        lines.append(
            f"{formula:<14}{entry.n_frames:>7}{1000 * entry.dft:10.1f}{1000 * entry.predicted:12.1f}"
            f"{1000 * (entry.predicted - entry.dft):10.1f}"
        )
    lines.append(
        f"over {result.n_compounds} compound frames: RMSE {1000 * result.rmse:.1f} meV/atom; "
        f"{result.wrong_sign} with the opposite sign to DFT's (above the elements where DFT puts "
        "them below, or the reverse)"
    )
    return "\n".join(lines)
