"""TEST STAND-IN FOR A DFT LABELLER, shared by the flow tests that must not run real DFT."""

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

from ase.units import GPa

from gst_flows.makers.dft import BaseLabelMaker, run_label


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
class StandInLabelMaker(BaseLabelMaker):
    """TEST STAND-IN FOR A DFT LABELLER: species-aware Lennard-Jones energy, forces, stress.

    Implements only the label step of the real base class, so reuse, the label registry and
    failure documents run the production path. Produces label documents with
    ``code="test-stand-in"``; ``sigma`` plays the part of the protocol (a "functional"), so
    two makers with different ``sigma`` are two protocols. ``delay`` (s) makes a label take
    time, as a DFT run does; while the file ``hold_file`` exists the label does not finish (a
    long calculation whose worker a test can kill).
    """

    name: str = "stand-in label"
    sigma: float = 2.7
    delay: float = 0.0
    hold_file: str | None = None
    calls: ClassVar[list[str]] = []

    def label(self, atoms, provenance):
        from gst_flows.hashing import structure_hash

        settings = {"potential": "ionic-lennard-jones", "sigma": self.sigma, "epsilon": 0.08}
        settings_hash = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()

        def run(run_dir):
            StandInLabelMaker.calls.append(structure_hash(atoms))
            time.sleep(self.delay)
            while self.hold_file and Path(self.hold_file).exists():
                time.sleep(0.2)
            probe = atoms.copy()
            probe.calc = ionic_pair_potential(self.sigma)
            return SimpleNamespace(
                energy=probe.get_potential_energy(),
                forces=probe.get_forces(),
                stress=probe.get_stress(voigt=False) / GPa,
                version="stand-in",
                kpoints=None,
                walltime=self.delay,
            )

        return run_label(
            atoms,
            code="test-stand-in",
            settings=settings,
            settings_hash=settings_hash,
            provenance=provenance,
            run=run,
            errors=(),
        )
