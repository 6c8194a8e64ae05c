"""Writing CP2K inputs: energy, forces and stress (or MD with a ``&MOTION`` section)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.units import Bohr

from gst_flows.dft.cp2k.settings import BASIS_FILE, POTENTIAL_FILE, VALENCE, Cp2kSettings

__all__ = ["AU_TIME_FS", "INPUT_FILE", "PROJECT", "kpoint_mesh", "write_cp2k_input"]

INPUT_FILE = "cp2k.inp"
PROJECT = "gst"
AU_TIME_FS = 2.4188843265857e-2  # atomic unit of time, fs


def kpoint_mesh(atoms: Atoms, spacing: float) -> tuple[int, int, int]:
    """Monkhorst-Pack mesh with k-point spacing at most ``spacing`` Å⁻¹ (2π included)."""
    recip = 2 * math.pi * np.linalg.norm(atoms.cell.reciprocal(), axis=1)
    return tuple(max(1, math.ceil(length / spacing - 1e-9)) for length in recip)


def _section(name: str, body: list[str], param: str = "") -> list[str]:
    head = f"&{name} {param}".rstrip()
    return [head, *("  " + line for line in body), f"&END {name}"]


def _render_overrides(values: dict[str, Any]) -> dict[str, Any]:
    return {k.upper(): (_render_overrides(v) if isinstance(v, dict) else v) for k, v in values.items()}


def write_cp2k_input(
    atoms: Atoms,
    settings: Cp2kSettings | None = None,
    directory: str | Path = ".",
    motion: list[str] | None = None,
    velocities: np.ndarray | None = None,
) -> Path:
    """Write ``cp2k.inp`` for an energy, forces and stress calculation (or MD).

    Parameters
    ----------
    atoms
        A periodic structure with Ge, Sb, Te (or elements given basis and potential).
    settings
        The protocol; the defaults when omitted.
    directory
        Directory to write into (created when missing).
    motion
        Lines of a ``&MOTION`` section; when given the run type is ``MD``.
    velocities
        Initial velocities, Å/fs (MD only).

    Returns
    -------
    Path
        The input file.
    """
    settings = settings or Cp2kSettings()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    symbols = sorted(set(atoms.get_chemical_symbols()))
    missing = [s for s in symbols if s not in settings.basis or s not in settings.potential]
    if missing:
        raise ValueError(f"no basis set or pseudopotential configured for {missing}")
    nelec = sum(VALENCE.get(s, 0) for s in atoms.get_chemical_symbols())
    added_mos = max(8, math.ceil(settings.added_mos_fraction * nelec / 2))

    if settings.scf_method == "ot":
        # Integer occupations with orbital transformation: robust for open-shell free atoms.
        solver = [
            "SCF_GUESS ATOMIC",
            *_section("OT", ["MINIMIZER DIIS", "PRECONDITIONER FULL_ALL"], "ON"),
            *_section("OUTER_SCF", [f"EPS_SCF {settings.eps_scf:.3e}", "MAX_SCF 20"], "ON"),
        ]
        max_scf = min(settings.max_scf, 50)
    else:
        solver = [
            f"ADDED_MOS {added_mos}",
            *_section(
                "SMEAR",
                [
                    "METHOD FERMI_DIRAC",
                    f"ELECTRONIC_TEMPERATURE [K] {settings.smearing_temperature}",
                ],
                "ON",
            ),
            *_section("DIAGONALIZATION", ["ALGORITHM STANDARD"], "ON"),
            *_section(
                "MIXING",
                [
                    "METHOD BROYDEN_MIXING",
                    f"ALPHA {settings.mixing_alpha}",
                    f"NBUFFER {settings.nbroyden}",
                ],
                "T",
            ),
        ]
        max_scf = settings.max_scf
    scf = [
        f"EPS_SCF {settings.eps_scf:.3e}",
        f"MAX_SCF {max_scf}",
        *solver,
        *_section("PRINT", _section("RESTART", [], "OFF")),
    ]
    dft = [
        f"BASIS_SET_FILE_NAME {BASIS_FILE}",
        f"POTENTIAL_FILE_NAME {POTENTIAL_FILE}",
        f"UKS {'T' if settings.uks else 'F'}",
        *([f"MULTIPLICITY {settings.multiplicity}"] if settings.uks and settings.multiplicity else []),
        *_section("MGRID", [f"CUTOFF {settings.cutoff}", f"REL_CUTOFF {settings.rel_cutoff}"]),
        *_section("QS", ["EPS_DEFAULT 1.0E-12"]),
        *_section("SCF", scf),
        *_section(
            "XC",
            _section(
                "XC_FUNCTIONAL",
                _section(
                    "PBE",
                    [f"PARAMETRIZATION {'PBESOL' if settings.functional.upper() == 'PBESOL' else 'ORIG'}"],
                ),
            ),
        ),
    ]
    mesh = None if settings.gamma_only else kpoint_mesh(atoms, settings.kpoint_spacing)
    if mesh is not None and mesh != (1, 1, 1):
        dft += _section(
            "KPOINTS",
            [
                "SCHEME MONKHORST-PACK " + " ".join(map(str, mesh)),
                "SYMMETRY F",
                "FULL_GRID F",
                "PARALLEL_GROUP_SIZE -1",
            ],
        )
    cell = atoms.cell.array
    subsys = _section(
        "CELL",
        [
            *(f"{v} {x:.10f} {y:.10f} {z:.10f}" for v, (x, y, z) in zip("ABC", cell, strict=True)),
            "PERIODIC " + ("XYZ" if all(atoms.pbc) else "NONE"),
        ],
    )
    subsys += _section(
        "COORD",
        [
            f"{s} {x:.10f} {y:.10f} {z:.10f}"
            for s, (x, y, z) in zip(atoms.get_chemical_symbols(), atoms.positions, strict=True)
        ],
    )
    if velocities is not None:
        v_au = np.asarray(velocities) / Bohr * AU_TIME_FS
        subsys += _section("VELOCITY", [f"{x:.12e} {y:.12e} {z:.12e}" for x, y, z in v_au])
    for s in symbols:
        subsys += _section(
            "KIND", [f"BASIS_SET {settings.basis[s]}", f"POTENTIAL {settings.potential[s]}"], s
        )
    force_eval = [
        "METHOD QS",
        "STRESS_TENSOR ANALYTICAL",
        *_section("DFT", dft),
        *_section("SUBSYS", subsys),
        *_section(
            "PRINT",
            [
                *_section("FORCES", [], "ON"),
                *_section("STRESS_TENSOR", [], "ON"),
            ],
        ),
    ]
    run_type = "MD" if motion else "ENERGY_FORCE"
    glob = [f"PROJECT {PROJECT}", f"RUN_TYPE {run_type}", "PRINT_LEVEL MEDIUM"]
    sections = [*_section("GLOBAL", glob), *_section("FORCE_EVAL", force_eval)]
    if motion:
        sections += _section("MOTION", motion)
    text = "\n".join(sections) + "\n"
    path = directory / INPUT_FILE
    if settings.overrides:
        from pymatgen.io.cp2k.inputs import Cp2kInput

        cp2k_input = Cp2kInput.from_str(text)
        cp2k_input.update(_render_overrides(settings.overrides), strict=False)
        cp2k_input.write_file(input_filename=INPUT_FILE, output_dir=str(directory))
    else:
        path.write_text(text)
    return path
