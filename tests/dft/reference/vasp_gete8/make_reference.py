"""Regenerate the VASP replay reference of an 8-atom rock-salt GeTe cell.

SYNTHETIC FIXTURE. VASP is licensed and not installed here, so ``outputs/vasprun.xml`` and
``outputs/OUTCAR`` are written by this script in VASP 6 format, not by VASP. Their numbers are
self-consistent (forces and stress of a Lennard-Jones stand-in on the same cell, shifted to a
GeTe-like total energy) but are not DFT results. They exist to replay a run: the test checks
the inputs gst-flows writes against ``inputs/`` and parses these outputs.

``inputs/`` holds what ``GstVaspInputGenerator`` writes for ``structure.extxyz`` (atoms
grouped by species, POTCAR.spec instead of the licensed POTCAR). Run from the repository root:

    .venv/bin/python tests/dft/reference/vasp_gete8/make_reference.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase.calculators.lj import LennardJones
from ase.io import read, write
from ase.units import GPa
from pymatgen.io.ase import AseAtomsAdaptor

HERE = Path(__file__).parent
E_SHIFT = -34.52  # eV, a GeTe-like total energy for 8 atoms
SIGMA0_SHIFT = 0.00031  # eV, e_0_energy - e_fr_energy
NELM = 120
SCF = (-30.9, -34.1, -34.49, -34.5201)  # electronic steps, < NELM: converged


def build_structure():
    from gst_flows.structures import build_rocksalt

    atoms = build_rocksalt("GeTe", seed=0)
    atoms.rattle(0.06, seed=4)
    atoms.info.clear()
    return atoms


def write_inputs(atoms) -> None:
    from gst_flows.dft.vasp import GstVaspInputGenerator, species_order

    grouped = AseAtomsAdaptor.get_structure(atoms[species_order(atoms)])
    vis = GstVaspInputGenerator().get_input_set(grouped, potcar_spec=True)
    vis.write_input(HERE / "inputs")


def _v(values, fmt="%16.8f") -> str:
    return "<v>" + " ".join(fmt % x for x in values) + " </v>"


def _structure(name, atoms) -> str:
    cell = atoms.cell.array
    rec = atoms.cell.reciprocal()
    lines = [
        f' <structure name="{name}" >' if name else " <structure>",
        "  <crystal>",
        '   <varray name="basis" >',
    ]
    lines += ["    " + _v(row) for row in cell]
    lines += [
        "   </varray>",
        f'   <i name="volume">{atoms.get_volume():18.8f} </i>',
        '   <varray name="rec_basis" >',
    ]
    lines += ["    " + _v(row) for row in rec]
    lines += ["   </varray>", "  </crystal>", '  <varray name="positions" >']
    lines += ["   " + _v(p) for p in atoms.get_scaled_positions(wrap=False)]
    lines += ["  </varray>", " </structure>"]
    return "\n".join(lines)


def write_outputs(atoms) -> dict:
    from gst_flows.dft.vasp import species_order

    grouped = atoms[species_order(atoms)]
    calc = LennardJones(sigma=2.7, epsilon=0.08, rc=5.5, smooth=True)
    grouped.calc = calc
    e_fr = grouped.get_potential_energy() + E_SHIFT
    forces = grouped.get_forces()
    stress_ase = grouped.get_stress(voigt=False)  # eV/Å³, tensile positive
    stress_kbar = -stress_ase / GPa * 10.0  # VASP's sign and unit
    e0 = e_fr + SIGMA0_SHIFT
    symbols = grouped.get_chemical_symbols()
    species = list(dict.fromkeys(symbols))
    potcar = {
        "Ge": ("72.63000000", "14.00000000", "PAW_PBE Ge_d 06Sep2000"),
        "Te": ("127.60000000", "6.00000000", "PAW_PBE Te 08Apr2002"),
    }
    incar = (HERE / "inputs" / "INCAR").read_text().splitlines()
    out = [
        '<?xml version="1.0" encoding="ISO-8859-1"?>',
        "<modeling>",
        " <generator>",
        '  <i name="program" type="string">vasp </i>',
        '  <i name="version" type="string">6.4.2  </i>',
        '  <i name="subversion" type="string">20Jul23 (build Jul 20 2023) complex  parallel </i>',
        '  <i name="platform" type="string">LinuxIFC </i>',
        '  <i name="date" type="string">2026 11 02 </i>',
        '  <i name="time" type="string">10:00:00 </i>',
        " </generator>",
        " <incar>",
    ]
    for line in incar:
        key, value = (s.strip() for s in line.split("=", 1))
        kind = {"PREC": "string", "ALGO": "string", "GGA": "string"}.get(key)
        if value in ("True", "False"):
            out.append(f'  <i type="logical" name="{key}"> {"T" if value == "True" else "F"}  </i>')
        elif kind:
            out.append(f'  <i type="string" name="{key}">{value}</i>')
        elif "." in value or "e" in value:
            out.append(f'  <i name="{key}">{float(value):16.8f}</i>')
        else:
            out.append(f'  <i type="int" name="{key}">{int(value):6d}</i>')
    mesh = [int(x) for x in (HERE / "inputs" / "KPOINTS").read_text().split("\n")[3].split()]
    out += [
        " </incar>",
        " <kpoints>",
        '  <generation param="Gamma">',
        '   <v type="int" name="divisions">' + " ".join(f"{n:8d}" for n in mesh) + " </v>",
        '   <v name="usershift">      0.00000000      0.00000000      0.00000000 </v>',
        "  </generation>",
        '  <varray name="kpointlist" >',
        "   <v>       0.00000000       0.00000000       0.00000000 </v>",
        "  </varray>",
        '  <varray name="weights" >',
        "   <v>       1.00000000 </v>",
        "  </varray>",
        " </kpoints>",
        " <parameters>",
        '  <separator name="electronic" >',
        '   <i type="string" name="PREC">accura</i>',
        '   <i name="ENCUT">    450.00000000</i>',
        f'   <i type="int" name="NELM">   {NELM}</i>',
        '   <i name="EDIFF">      0.00000100</i>',
        '   <i type="int" name="ISPIN">     1</i>',
        '   <i type="logical" name="LNONCOLLINEAR"> F  </i>',
        '   <i type="logical" name="LSORBIT"> F  </i>',
        '   <i type="int" name="ISMEAR">    -1</i>',
        '   <i name="SIGMA">      0.04310000</i>',
        "  </separator>",
        '  <separator name="ionic" >',
        '   <i type="int" name="NSW">     0</i>',
        '   <i type="int" name="IBRION">    -1</i>',
        '   <i type="int" name="ISIF">     2</i>',
        "  </separator>",
        " </parameters>",
        " <atominfo>",
        f"  <atoms>{len(grouped):8d} </atoms>",
        f"  <types>{len(species):8d} </types>",
        '  <array name="atoms" >',
        '   <dimension dim="1">ion</dimension>',
        '   <field type="string">element</field>',
        '   <field type="int">atomtype</field>',
        "   <set>",
    ]
    out += [f"    <rc><c>{s:2s}</c><c>{species.index(s) + 1:4d}</c></rc>" for s in symbols]
    out += [
        "   </set>",
        "  </array>",
        '  <array name="atomtypes" >',
        '   <dimension dim="1">type</dimension>',
        '   <field type="int">atomspertype</field>',
        '   <field type="string">element</field>',
        "   <field>mass</field>",
        "   <field>valence</field>",
        '   <field type="string">pseudopotential</field>',
        "   <set>",
    ]
    for s in species:
        mass, zval, title = potcar[s]
        out.append(
            f"    <rc><c>{symbols.count(s):4d}</c><c>{s:2s}</c><c>{mass}</c><c>{zval}</c>"
            f"<c>  {title}</c></rc>"
        )
    out += ["   </set>", "  </array>", " </atominfo>", _structure("initialpos", grouped), " <calculation>"]
    for k, e in enumerate(SCF):
        last = k == len(SCF) - 1
        e_step = e_fr if last else e
        out += [
            "  <scstep>",
            "   <energy>",
            f'    <i name="e_fr_energy">{e_step:18.8f} </i>',
            f'    <i name="e_wo_entrp">{e_step + 2 * SIGMA0_SHIFT:18.8f} </i>',
            f'    <i name="e_0_energy">{e_step + SIGMA0_SHIFT:18.8f} </i>',
            "   </energy>",
            "  </scstep>",
        ]
    out += [_structure(None, grouped), '  <varray name="forces" >']
    out += ["   " + _v(f) for f in forces]
    out += ["  </varray>", '  <varray name="stress" >']
    out += ["   " + _v(s) for s in stress_kbar]
    out += [
        "  </varray>",
        "  <energy>",
        f'   <i name="e_fr_energy">{e_fr:18.8f} </i>',
        f'   <i name="e_wo_entrp">{e_fr + 2 * SIGMA0_SHIFT:18.8f} </i>',
        f'   <i name="e_0_energy">{e0:18.8f} </i>',
        "  </energy>",
        '  <time name="totalsc">   41.20   42.02</time>',
        " </calculation>",
        _structure("finalpos", grouped),
        "</modeling>",
        "",
    ]
    (HERE / "outputs").mkdir(exist_ok=True)
    (HERE / "outputs" / "vasprun.xml").write_text("\n".join(out))
    (HERE / "outputs" / "OUTCAR").write_text(
        " vasp.6.4.2 20Jul23 (build Jul 20 2023) complex  parallel\n"
        " SYNTHETIC replay fixture written by make_reference.py, not by VASP.\n\n"
        f"  free  energy   TOTEN  = {e_fr:18.8f} eV\n"
        f"  energy  without entropy= {e_fr + 2 * SIGMA0_SHIFT:18.8f}"
        f"  energy(sigma->0) = {e0:18.8f}\n\n"
        " General timing and accounting informations for this job:\n"
        " ========================================================\n\n"
        "                  Total CPU time used (sec):       81.904\n"
        "                            User time (sec):       80.112\n"
        "                          System time (sec):        1.792\n"
        "                         Elapsed time (sec):       42.731\n"
    )
    return {"energy": e_fr, "forces": forces, "stress_kbar": stress_kbar}


if __name__ == "__main__":
    structure = build_structure()
    write(HERE / "structure.extxyz", structure)
    structure = read(HERE / "structure.extxyz")
    write_inputs(structure)
    values = write_outputs(structure)
    np.set_printoptions(precision=6, suppress=True)
    print(values)
