"""TEST STAND-IN FOR A DFT LABELLER, shared by the flow tests that must not run real DFT."""

import hashlib
import json
from dataclasses import dataclass
from typing import ClassVar

from ase.units import GPa
from jobflow import Maker, job
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.makers.dft import find_existing_label
from gst_flows.schemas.label import LabelDoc, Provenance


def ionic_pair_potential(sigma: float = 2.7, epsilon: float = 0.08):
    """Species-aware Lennard-Jones: cation-Te attraction (minimum near 1.12 sigma), weak
    like-pair terms with a minimum near the second-neighbour distance, so rock-salt GST is
    mechanically stable. A stand-in for DFT in tests, not a model of GST."""
    from matscipy.calculators.pair_potential import LennardJonesCut, PairPotential

    numbers = {"Ge": 32, "Sb": 51, "Te": 52}
    pairs = {}
    for a in ("Ge", "Sb", "Te"):
        for b in ("Ge", "Sb", "Te"):
            i, j = sorted((numbers[a], numbers[b]))
            unlike = (a == "Te") != (b == "Te")
            pairs[(i, j)] = LennardJonesCut(
                epsilon=epsilon if unlike else 0.25 * epsilon,
                sigma=sigma if unlike else 1.41 * sigma,
                cutoff=5.5,
            )
    return PairPotential(pairs)


@dataclass
class StandInLabelMaker(Maker):
    """TEST STAND-IN FOR A DFT LABELLER: species-aware Lennard-Jones energy, forces, stress.

    Produces label documents with ``code="test-stand-in"``; ``sigma`` plays the part of the
    protocol (a "functional"), so two makers with different ``sigma`` are two protocols.
    """

    name: str = "stand-in label"
    sigma: float = 2.7
    calls: ClassVar[list[str]] = []

    @job(output_schema=LabelDoc, data=["forces", "structure"])
    def make(self, structure, provenance=None):
        from gst_flows.hashing import structure_hash

        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.info.clear()
        settings = {"potential": "ionic-lennard-jones", "sigma": self.sigma, "epsilon": 0.08}
        settings_hash = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()
        existing = find_existing_label(structure_hash(atoms), settings_hash, provenance)
        if existing is not None:
            return existing
        StandInLabelMaker.calls.append(structure_hash(atoms))
        probe = atoms.copy()
        probe.calc = ionic_pair_potential(self.sigma)
        return LabelDoc.from_result(
            atoms, code="test-stand-in", settings=settings, settings_hash=settings_hash,
            energy=probe.get_potential_energy(), forces=probe.get_forces(),
            stress=probe.get_stress(voigt=False) / GPa, provenance=Provenance(**(provenance or {})),
        )
