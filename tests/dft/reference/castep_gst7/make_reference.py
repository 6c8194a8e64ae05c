"""Regenerate the CASTEP replay reference of a 7-atom rock-salt Ge1Sb2Te4 cell.

SYNTHETIC FIXTURE. CASTEP is licensed and not installed here, so ``outputs/castep.castep`` is
written by this script in the layout of a CASTEP 23 single-point output, not by CASTEP. Its
numbers are self-consistent (forces and stress of a Lennard-Jones stand-in on the same cell,
energies shifted to a plausible magnitude) but are not DFT results. It exists to replay a run:
the test checks the ``.cell``/``.param`` gst-flows writes against ``inputs/`` and parses this
output with ``ase.io.read(..., format="castep-castep")``.

Run from the repository root:

    .venv/bin/python tests/dft/reference/castep_gst7/make_reference.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase.calculators.lj import LennardJones
from ase.io import read, write
from ase.units import GPa

HERE = Path(__file__).parent
E_SHIFT = -1163.47  # eV
TS = 0.0042  # eV, electronic entropy term T·S


def build_structure():
    from gst_flows.structures import build_rocksalt

    atoms = build_rocksalt("Ge1Sb2Te4", seed=0)
    atoms.rattle(0.05, seed=11)
    atoms.info.clear()
    for name in list(atoms.arrays):
        if name not in ("numbers", "positions"):
            del atoms.arrays[name]
    return atoms


def _box(lines: list[str], width: int = 83) -> list[str]:
    return [" * " + line.ljust(width - 5) + " *" for line in lines]


def write_outputs(atoms) -> dict:
    from gst_flows.dft.castep import CastepSettings
    from gst_flows.dft.cp2k import kpoint_mesh

    order = np.argsort(atoms.numbers, kind="stable")
    grouped = atoms[order]
    grouped.calc = LennardJones(sigma=2.75, epsilon=0.07, rc=5.5, smooth=True)
    free = grouped.get_potential_energy() + E_SHIFT
    forces = grouped.get_forces()
    stress = grouped.get_stress(voigt=False) / GPa  # GPa, tensile positive (CASTEP's sign)
    final = free + TS
    zero_k = free + 0.5 * TS
    settings = CastepSettings()
    mesh = kpoint_mesh(atoms, settings.kpoint_spacing)
    cell = grouped.cell.array
    rec = 2 * np.pi * grouped.cell.reciprocal()
    symbols = grouped.get_chemical_symbols()
    species = list(dict.fromkeys(symbols))
    most = max(symbols.count(s) for s in species)
    out = [
        " +-------------------------------------------------+",
        " |                                                 |",
        " |      CCC   AA    SSS  TTTTT  EEEEE  PPPP        |",
        " |     C     A  A  S       T    E      P   P       |",
        " |     C     AAAA   SS     T    EEE    PPPP        |",
        " |     C     A  A     S    T    E      P           |",
        " |      CCC  A  A  SSS     T    EEEEE  P           |",
        " |                                                 |",
        " +-------------------------------------------------+",
        " |                                                 |",
        " | Welcome to Academic Release CASTEP version 23.1 |",
        " | Ab Initio Total Energy Program                  |",
        " |                                                 |",
        " | SYNTHETIC replay fixture written by             |",
        " | make_reference.py in gst-flows' tests, not by   |",
        " | CASTEP: the numbers are not DFT results.        |",
        " +-------------------------------------------------+",
        "",
        " Run started: Mon, 02 Nov 2026 10:00:00 +0000",
        "",
        " ************************************ Title ************************************",
        " ",
        "",
        " ***************************** General Parameters ******************************",
        "  ",
        " output verbosity                               : normal  (1)",
        " type of calculation                            : single point energy",
        " stress calculation                             : on",
        "",
        " *********************** Exchange-Correlation Parameters ***********************",
        "  ",
        " using functional                               : PBE for solids (2008)",
        " DFT+D: Semi-empirical dispersion correction    : off",
        "",
        " **************************** Basis Set Parameters *****************************",
        "  ",
        f" plane wave basis set cut-off                   :   {settings.cutoff:.4f}   eV",
        " finite basis set correction                    : none",
        "",
        " **************************** Electronic Parameters ****************************",
        "  ",
        " treating system as non-spin-polarized",
        "",
        " ********************* Electronic Minimization Parameters **********************",
        "  ",
        " Method: Treating system as metallic with density mixing treatment of electrons,",
        f" total energy / atom convergence tol.           : {settings.elec_energy_tol:.4E}   eV",
        f" max. number of SCF cycles:                           {settings.max_scf_cycles}",
        " smearing scheme                                : Fermi-Dirac",
        f" smearing width                                 :  {settings.smearing_width:.4f}       eV",
        "",
        " ************************** Density Mixing Parameters **************************",
        "  ",
        " density-mixing scheme                          : Broyden",
        "",
        " *******************************************************************************",
        "  ",
        " ",
        "                           -------------------------------",
        "                                      Unit Cell",
        "                           -------------------------------",
        "        Real Lattice(A)                      Reciprocal Lattice(1/A)",
    ]
    out += [
        "   " + "".join(f"{x:14.7f}" for x in cell[i]) + "   " + "".join(f"{x:14.9f}" for x in rec[i])
        for i in range(3)
    ]
    a, b, c, alpha, beta, gamma = grouped.cell.cellpar()
    out += [
        " ",
        "                       Lattice parameters(A)       Cell Angles",
        f"                    a =     {a:10.6f}          alpha =  {alpha:10.6f}",
        f"                    b =     {b:10.6f}          beta  =  {beta:10.6f}",
        f"                    c =     {c:10.6f}          gamma =  {gamma:10.6f}",
        " ",
        f"                       Current cell volume =           {grouped.get_volume():.6f}       A**3",
        " ",
        "                           -------------------------------",
        "                                     Cell Contents",
        "                           -------------------------------",
        f"                         Total number of ions in cell =    {len(grouped)}",
        f"                      Total number of species in cell =    {len(species)}",
        f"                        Max number of any one species =    {most}",
        " ",
        "            xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "            x  Element    Atom        Fractional coordinates of atoms  x",
        "            x            Number           u          v          w      x",
        "            x----------------------------------------------------------x",
    ]
    counter = dict.fromkeys(species, 0)
    labels = []
    for s, frac in zip(symbols, grouped.get_scaled_positions(wrap=False), strict=True):
        counter[s] += 1
        labels.append((s, counter[s]))
        out.append(
            f"            x  {s:2s}     {counter[s]:6d}         "
            + " ".join(f"{x:10.6f}" for x in frac)
            + "   x "
        )
    out += [
        "            xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        " ",
        "                           -------------------------------",
        "                              k-Points For BZ Sampling",
        "                           -------------------------------",
        f"                       MP grid size for SCF calculation is  {mesh[0]}  {mesh[1]}  {mesh[2]}",
        "                            with an offset of   0.000  0.000  0.000",
        f"                       Number of kpoints used =           {int(np.prod(mesh))}",
        " ",
        "------------------------------------------------------------------------ <-- SCF",
        "SCF loop      Energy           Fermi           Energy gain       Timer   <-- SCF",
        "                               energy          per atom          (sec)   <-- SCF",
        "------------------------------------------------------------------------ <-- SCF",
        f"Initial  {final + 41.3:.8E}  0.00000000E+000                         3.11  <-- SCF",
        f"      1  {final + 0.52:.8E}  5.10214402E+000   5.82357143E+000       9.02  <-- SCF",
        f"      2  {final + 0.0004:.8E}  5.10541770E+000   7.37142857E-002      14.87  <-- SCF",
        f"      3  {final:.8E}  5.10540021E+000   5.71428571E-005      20.75  <-- SCF",
        "------------------------------------------------------------------------ <-- SCF",
        " ",
        f"Final energy, E             =  {final:.9f}     eV",
        f"Final free energy (E-TS)    =  {free:.9f}     eV",
        "(energies not corrected for finite basis set)",
        " ",
        f"NB est. 0K energy (E-0.5TS)      =  {zero_k:.9f}     eV",
        " ",
        " ************************************ Forces ************************************",
    ]
    out += _box(
        [
            "",
            "                         Cartesian components (eV/A)",
            "-" * 76,
            "                       x                    y                    z",
            "",
        ]
    )
    out += [
        f" * {s:2s}  {n:13d}   " + "".join(f"{f:21.5f}" for f in force) + "         *"
        for (s, n), force in zip(labels, forces, strict=True)
    ]
    out += [
        *_box([""]),
        " " + "*" * 82,
        " ",
        " ***************** Stress Tensor *****************",
        " *                                               *",
        " *          Cartesian components (GPa)           *",
        " * --------------------------------------------- *",
        " *             x             y             z     *",
        " *                                               *",
    ]
    out += [
        f" *  {axis}  " + "".join(f"{x:14.6f}" for x in row) + "  *"
        for axis, row in zip("xyz", stress, strict=True)
    ]
    out += [
        " *                                               *",
        f" *  Pressure:  {-np.trace(stress) / 3:8.4f}                          *",
        " *                                               *",
        " *************************************************",
        " ",
        "Initialisation time =      2.91 s",
        "Calculation time    =     21.37 s",
        "Finalisation time   =      0.05 s",
        "Total time          =     24.33 s",
        "Peak Memory Use     = 612344 kB",
        "",
    ]
    (HERE / "outputs").mkdir(exist_ok=True)
    (HERE / "outputs" / "castep.castep").write_text("\n".join(out))
    return {"free_energy": free, "forces": forces, "stress": stress}


if __name__ == "__main__":
    from gst_flows.dft.castep import write_castep_input

    structure = build_structure()
    write(HERE / "structure.extxyz", structure)
    structure = read(HERE / "structure.extxyz")
    _, param = write_castep_input(structure, directory=HERE / "inputs")
    param.write_text(param.read_text().replace(str(param), param.name))
    np.set_printoptions(precision=6, suppress=True)
    print(write_outputs(structure))
