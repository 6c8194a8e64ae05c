"""A tiny GAP fitted in seconds, for tests and benchmarks of the MD engines.

The potential is a **test stand-in**, not a model of GST: its labels come from a
species-blind Lennard-Jones calculator on rattled rock-salt-like Ge/Sb/Te cells. It has
the structure of a real GST GAP (three species, a two-body term and SOAP), so engines,
plugins and cross-checks exercise the same code paths at a small cost.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.lj import LennardJones
from ase.io import write

__all__ = ["TEST_GAP_SPECIES", "fit_test_gap", "rocksalt_test_cell"]

TEST_GAP_SPECIES = ("Ge", "Sb", "Te")

_GAP_ARGS = (
    "gap={distance_2b cutoff=4.5 n_sparse=15 covariance_type=ard_se delta=0.5 "
    "theta_uniform=1.0 sparse_method=uniform : soap l_max=2 n_max=3 atom_sigma=0.5 "
    "cutoff=4.0 cutoff_transition_width=1.0 delta=0.1 n_sparse=20 "
    "covariance_type=dot_product zeta=2 sparse_method=cur_points}"
)


def rocksalt_test_cell(repeat: int = 2, a: float = 6.0, seed: int = 0) -> Atoms:
    """A rock-salt-like cell: Te on one sublattice, Ge and Sb at random on the other.

    Parameters
    ----------
    repeat
        Conventional cells per direction (8 atoms each).
    a
        Lattice parameter (Å).
    seed
        Random seed for the cation order.

    Returns
    -------
    Atoms
        ``8 * repeat**3`` atoms.
    """
    atoms = bulk("GeTe", "rocksalt", a=a, cubic=True).repeat(repeat)
    rng = np.random.default_rng(seed)
    symbols = np.array(atoms.get_chemical_symbols())
    cation = symbols == "Ge"
    symbols[cation] = rng.choice(["Ge", "Sb"], size=int(cation.sum()))
    atoms.set_chemical_symbols(symbols.tolist())
    return atoms


def _gap_fit_command() -> list[str]:
    beside = Path(sys.executable).parent / "gap_fit"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("gap_fit")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from quippy.cli import gap_fit; sys.exit(gap_fit())"]


def fit_test_gap(directory: str | Path, n_frames: int = 6, seed: int = 0) -> Path:
    """Fit the test stand-in GAP into ``directory`` (a few seconds); reuse it if present.

    Parameters
    ----------
    directory
        Where ``train.xyz``, ``gap.xml`` and its sparseX files go.
    n_frames
        Training cells (64 atoms each), rattled by 0.03-0.25 Å and strained by ±3 %.
    seed
        Random seed.

    Returns
    -------
    Path
        The potential XML file.
    """
    directory = Path(directory)
    xml = directory / "gap.xml"
    if xml.is_file():
        return xml
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n_frames):
        atoms = rocksalt_test_cell(repeat=2, seed=seed + k)
        atoms.rattle(stdev=0.03 + 0.22 * k / max(n_frames - 1, 1), seed=seed + 100 + k)
        strain = 1.0 + rng.uniform(-0.03, 0.03)
        atoms.set_cell(atoms.cell * strain, scale_atoms=True)
        atoms.calc = LennardJones(sigma=2.7, epsilon=0.05, rc=5.0, smooth=True)
        atoms.info["REF_energy"] = atoms.get_potential_energy()
        atoms.arrays["REF_forces"] = atoms.get_forces()
        stress = atoms.get_stress(voigt=False)
        atoms.info["REF_virial"] = (-stress * atoms.get_volume()).reshape(-1)
        atoms.info["config_type"] = "lj_standin"
        atoms.calc = None
        frames.append(atoms)
    write(directory / "train.xyz", frames, format="extxyz")
    cmd = [
        *_gap_fit_command(),
        "at_file=train.xyz",
        _GAP_ARGS,
        "default_sigma={0.002 0.05 0.05 0.0}",
        "e0=0.0",
        "energy_parameter_name=REF_energy",
        "force_parameter_name=REF_forces",
        "virial_parameter_name=REF_virial",
        "config_type_parameter_name=config_type",
        "sparse_jitter=1e-8",
        f"rnd_seed={seed + 1}",
        "gp_file=gap.xml",
    ]
    proc = subprocess.run(cmd, cwd=directory, capture_output=True, text=True, check=False, timeout=600)
    (directory / "gap_fit.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0 or not xml.is_file():
        raise RuntimeError(f"gap_fit failed (exit {proc.returncode}); see {directory}/gap_fit.log")
    return xml
