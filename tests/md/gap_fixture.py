"""Cheap Ge/Sb/Te stand-ins for MD tests: a pair potential and a small GAP fitted to it.

The pair potential (matscipy Lennard-Jones, smooth at the cutoff, species-dependent) is not a
model of GST: it is a fast, stable force field on fcc-packed Ge/Sb/Te cells for tests in which
the potential does not matter. The small GAP (2-body + SOAP) is fitted with ``gap_fit`` to
frames labelled with that pair potential, so it is a real GAP evaluated by quippy, with the
same cost structure as the production potential, that stays stable on the same cells.

Run ``python tests/md/gap_fixture.py OUTDIR`` to refit it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.io import write

SPECIES = {"Ge": 32, "Sb": 51, "Te": 52}
_SIGMA = {"Ge": 2.62, "Sb": 2.68, "Te": 2.72}
_EPSILON = {"Ge": 0.09, "Sb": 0.10, "Te": 0.11}
NN_DISTANCE = 3.0

GAP_COMMAND = (
    "at_file={train} gap={{distance_2b cutoff=5.0 n_sparse=15 covariance_type=ard_se delta=1.0 "
    "theta_uniform=1.0 sparse_method=uniform : soap l_max=3 n_max=4 atom_sigma=0.5 cutoff=5.0 "
    "cutoff_transition_width=1.0 delta=0.2 n_sparse=60 covariance_type=dot_product zeta=2 "
    "sparse_method=cur_points}} default_sigma={{0.002 0.05 0.05 0.0}} e0=0.0 "
    "energy_parameter_name=REF_energy force_parameter_name=REF_forces "
    "virial_parameter_name=REF_virial sparse_jitter=1e-8 rnd_seed=1 gp_file={gp_file}"
)


def pair_calculator(cutoff: float = 5.0):
    """Species-dependent Lennard-Jones (matscipy, energy and force zero at the cutoff)."""
    from matscipy.calculators.pair_potential import LennardJonesQuadratic, PairPotential

    pots = {}
    for a, za in SPECIES.items():
        for b, zb in SPECIES.items():
            if za <= zb:
                eps = float(np.sqrt(_EPSILON[a] * _EPSILON[b]))
                sig = 0.5 * (_SIGMA[a] + _SIGMA[b])
                pots[(za, zb)] = LennardJonesQuadratic(eps, sig, cutoff)
    return PairPotential(pots)


def gst_cell(
    repeat: int | tuple[int, int, int] = 3,
    seed: int = 0,
    fractions: tuple[float, float, float] = (1 / 7, 2 / 7, 4 / 7),
) -> Atoms:
    """An fcc-packed cell of Ge, Sb and Te (Ge1Sb2Te4 proportions) for the pair potential.

    Parameters
    ----------
    repeat
        Conventional fcc cells per direction (4 atoms each).
    seed
        Seed for the species order.
    fractions
        Fractions of Ge, Sb, Te.
    """
    atoms = bulk("Cu", "fcc", a=NN_DISTANCE * np.sqrt(2), cubic=True).repeat(repeat)
    rng = np.random.default_rng(seed)
    counts = np.floor(np.asarray(fractions) * len(atoms)).astype(int)
    counts[2] = len(atoms) - counts[:2].sum()
    symbols = np.repeat(list(SPECIES), counts)
    rng.shuffle(symbols)
    atoms.set_chemical_symbols(symbols)
    return atoms


def training_frames(n_per_temperature: int = 8, seed: int = 0) -> list[Atoms]:
    """Frames of pair-potential MD at 300, 800 and 1500 K, labelled for ``gap_fit``."""
    from gst_flows.md.ase_engine import AseMDEngine
    from gst_flows.md.protocol import Protocol, RunSettings, Stage

    calc = pair_calculator()
    frames = []
    for k, temperature in enumerate((300, 800, 1500)):
        atoms = gst_cell(repeat=(3, 3, 2), seed=seed + k)
        atoms.set_cell(atoms.cell * (1.0 + 0.02 * (k - 1)), scale_atoms=True)
        protocol = Protocol(
            initial_temperature=temperature,
            seed=seed + k,
            stages=[
                Stage(name="md", ensemble="nvt", temperature=temperature, duration=40.0 * n_per_temperature)
            ],
        )
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            result = AseMDEngine(calc, workdir=tmp, settings=RunSettings(frame_interval=20)).run(
                atoms, protocol
            )
            snaps = result.read_frames()[1:]
        for snap in snaps:
            labelled = Atoms(snap.numbers, snap.positions, cell=snap.cell, pbc=True)
            labelled.calc = calc
            energy = labelled.get_potential_energy()
            forces = labelled.get_forces()
            virial = -labelled.get_stress(voigt=False) * labelled.get_volume()
            labelled.calc = None
            labelled.info["REF_energy"] = energy
            labelled.info["REF_virial"] = virial.reshape(-1)
            labelled.info["config_type"] = f"md{temperature}"
            labelled.new_array("REF_forces", forces)
            frames.append(labelled)
    return frames


def fit_small_gap(outdir: str | Path) -> Path:
    """Fit the small test GAP into ``outdir``; return the path of ``gap.xml``."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    train = outdir / "train.xyz"
    write(train, training_frames(), format="extxyz")
    gap_fit = shutil.which("gap_fit") or str(Path(sys.executable).parent / "gap_fit")
    args = GAP_COMMAND.format(train=train.name, gp_file="gap.xml").split(" ")
    subprocess.run([gap_fit, *args], cwd=outdir, check=True, stdout=subprocess.DEVNULL)
    return outdir / "gap.xml"


if __name__ == "__main__":
    print(fit_small_gap(sys.argv[1] if len(sys.argv) > 1 else "small_gap"))
