"""Convergence of the CP2K labelling protocol on a user's structure.

One ordinary label job per distinct setting of each ladder (k-point spacing, cutoff, smearing
temperature; a label computed before with the same settings is reused), then a summary job
that compares every label with the tightest one of its ladder (:class:`ConvergenceDoc`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from jobflow import Flow, Maker, job
from jobflow.core.reference import OnMissing
from pymatgen.core import Structure

from gst_flows.dft.convergence import (
    DEFAULT_KPOINT_LADDER,
    coarsest_converged,
    label_difference,
    order_ladder,
)
from gst_flows.schemas.convergence import ConvergenceDoc, ConvergencePoint

__all__ = ["DEFAULT_KPOINT_LADDER", "Cp2kConvergenceMaker", "summarise_convergence"]

logger = logging.getLogger(__name__)


def _default_ladders() -> dict[str, list[float]]:
    return {"kpoint_spacing": list(DEFAULT_KPOINT_LADDER)}


def _label_maker():
    from gst_flows.makers.dft import Cp2kLabelMaker

    return Cp2kLabelMaker()


@dataclass
class Cp2kConvergenceMaker(Maker):
    """Label one structure along ladders of CP2K settings and compare with the tightest.

    Parameters
    ----------
    name
        Flow name.
    label_maker
        The labeller; its ``settings`` are the base protocol every ladder starts from.
    ladders
        Values per setting, e.g. ``{"kpoint_spacing": [0.3, 0.2, 0.12], "cutoff": [300, 400],
        "smearing_temperature": [1000, 500, 300]}``. Each ladder varies one setting with the
        others at the base protocol; its tightest value (smallest spacing or temperature,
        largest cutoff) is the reference. k-point spacings that give one mesh on this
        structure are computed once, as the largest of them.
    energy_tolerance
        meV/atom.
    force_tolerance
        eV/Å, on the RMS of the force-component differences.
    provenance
        Provenance of the labels (``tag`` defaults to ``convergence``, so these labels stay
        out of training sets that select by tag).
    """

    name: str = "cp2k convergence"
    label_maker: Any = field(default_factory=_label_maker)
    ladders: dict[str, list[float]] = field(default_factory=_default_ladders)
    energy_tolerance: float = 0.5
    force_tolerance: float = 0.01
    provenance: dict[str, Any] = field(default_factory=lambda: {"tag": "convergence"})

    def __post_init__(self) -> None:
        if not self.ladders:
            raise ValueError("give at least one ladder (kpoint_spacing, cutoff, smearing_temperature)")
        for parameter, values in self.ladders.items():
            order_ladder(parameter, values)
        if self.energy_tolerance <= 0 or self.force_tolerance <= 0:
            raise ValueError(
                f"tolerances must be positive, got {self.energy_tolerance} meV/atom and "
                f"{self.force_tolerance} eV/Å"
            )

    def points(self, structure: Structure) -> list[tuple[str, float, float]]:
        """``(setting, value, reference value)`` of every point, coarsest first per ladder."""
        from pymatgen.io.ase import AseAtomsAdaptor

        from gst_flows.dft.cp2k import kpoint_mesh

        atoms = AseAtomsAdaptor.get_atoms(structure)
        points = []
        for parameter, values in self.ladders.items():
            ladder = order_ladder(parameter, values)
            if parameter == "kpoint_spacing":
                by_mesh: dict[tuple[int, ...], float] = {}
                for value in ladder:  # coarsest first: the first of a mesh is the largest
                    by_mesh.setdefault(kpoint_mesh(atoms, value), value)
                kept = list(by_mesh.values())
                if len(kept) < 2:
                    raise ValueError(
                        f"k-point spacings {ladder} all give the mesh {next(iter(by_mesh))} on "
                        "this structure; give smaller spacings"
                    )
                if len(kept) < len(ladder):
                    logger.info(
                        "k-point spacings %s give meshes of others; computed once",
                        sorted(set(ladder) - set(kept)),
                    )
                ladder = kept
            points += [(parameter, value, ladder[-1]) for value in ladder]
        return points

    def make(self, structure: Structure) -> Flow:
        """The label jobs (one per distinct protocol) and the summary job.

        Parameters
        ----------
        structure
            The structure to converge the protocol on (validated before any job is made).

        Returns
        -------
        Flow
            Its output is the :class:`ConvergenceDoc` of the summary job.
        """
        from pymatgen.io.ase import AseAtomsAdaptor

        from gst_flows.hashing import structure_hash
        from gst_flows.structures import validate_structure

        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.info.clear()
        validate_structure(atoms)
        base = self.label_maker.resolved_settings()
        jobs: dict[str, Any] = {}
        specs = []
        for parameter, value, reference in self.points(structure):
            overrides = {**self.label_maker.settings, parameter: value}
            key = base.update(**{parameter: value}).settings_hash()
            if key not in jobs:
                maker = replace(
                    self.label_maker,
                    settings=overrides,
                    name=f"{self.label_maker.name} {parameter}={value:g}",
                )
                label = maker.make(structure, provenance=dict(self.provenance))
                label.config.expose_store = True  # an identical stored label is reused
                jobs[key] = label
            specs.append({"parameter": parameter, "value": value, "reference_value": reference, "key": key})
        labels = {
            key: {
                "uuid": label.uuid,
                "state": label.output.state,
                "error": label.output.error,
                "energy": label.output.energy,
                "forces": label.output.forces,
                "stress": label.output.stress,
                "kpoints": label.output.kpoints,
                "walltime": label.output.walltime,
                "reused_from": label.output.reused_from,
            }
            for key, label in jobs.items()
        }
        summary = summarise_convergence(
            specs,
            labels,
            code="cp2k",
            formula=atoms.get_chemical_formula(mode="metal", empirical=True),
            natoms=len(atoms),
            structure_hash=structure_hash(atoms),
            base_settings=base.as_dict(),
            energy_tolerance=self.energy_tolerance,
            force_tolerance=self.force_tolerance,
        )
        summary.name = f"{self.name} summary"
        summary.config.on_missing_references = OnMissing.NONE
        return Flow([*jobs.values(), summary], output=summary.output, name=self.name)


@job(output_schema=ConvergenceDoc)
def summarise_convergence(
    specs: list[dict[str, Any]],
    labels: dict[str, dict[str, Any]],
    *,
    code: str,
    formula: str,
    natoms: int,
    structure_hash: str,
    base_settings: dict[str, Any],
    energy_tolerance: float,
    force_tolerance: float,
) -> ConvergenceDoc:
    """Compare every label of each ladder with the ladder's tightest label.

    Parameters
    ----------
    specs
        One dict per point: ``parameter``, ``value``, ``reference_value`` and ``key`` (the
        settings hash naming its label in ``labels``), coarsest first per ladder.
    labels
        Per settings hash: ``uuid``, ``state``, ``error``, ``energy`` (eV), ``forces``
        (eV/Å), ``stress`` (GPa), ``kpoints``, ``walltime`` (s), ``reused_from``. A label job
        that died without a document has None in every output field.
    code, formula, natoms, structure_hash, base_settings
        What the document records about the structure and protocol.
    energy_tolerance, force_tolerance
        meV/atom and eV/Å.
    """

    def usable(label: dict[str, Any]) -> bool:
        return label.get("state") == "successful" and label.get("forces") is not None

    points, diffs = [], []
    for spec in specs:
        label = labels[spec["key"]]
        reference_key = next(
            s["key"]
            for s in specs
            if s["parameter"] == spec["parameter"] and s["value"] == spec["reference_value"]
        )
        reference = labels[reference_key]
        point = ConvergencePoint(
            parameter=spec["parameter"],
            value=spec["value"],
            reference_value=spec["reference_value"],
            settings_hash=spec["key"],
            label_uuid=label["uuid"],
            state=label.get("state"),
            error=label.get("error") or (None if label.get("state") else "job ended without a document"),
            kpoints=label.get("kpoints"),
            walltime=label.get("walltime"),
            reused=label.get("reused_from") is not None,
            energy_per_atom=None if label.get("energy") is None else label["energy"] / natoms,
        )
        diff = None
        if usable(label) and usable(reference):
            diff = label_difference(
                label["energy"],
                label["forces"],
                reference["energy"],
                reference["forces"],
                label.get("stress"),
                reference.get("stress"),
            )
            point.energy_difference = diff.energy
            point.force_rms_difference = diff.force_rms
            point.force_max_difference = diff.force_max
            point.stress_max_difference = diff.stress_max
            if spec["value"] != spec["reference_value"]:
                point.within_tolerance = diff.within(energy_tolerance, force_tolerance)
        points.append(point)
        diffs.append(diff)
    recommended = {}
    for parameter in dict.fromkeys(s["parameter"] for s in specs):
        ladder = [(p.value, d) for p, d in zip(points, diffs, strict=True) if p.parameter == parameter]
        recommended[parameter] = coarsest_converged(
            [v for v, _ in ladder], [d for _, d in ladder], energy_tolerance, force_tolerance
        )
    return ConvergenceDoc(
        code=code,
        formula=formula,
        natoms=natoms,
        structure_hash=structure_hash,
        base_settings=base_settings,
        energy_tolerance=energy_tolerance,
        force_tolerance=force_tolerance,
        points=points,
        recommended=recommended,
    )
