"""Worker of :func:`gst_flows.fit.pod_lstsq.pod_design`: ``compute pod/global`` per frame.

Run as ``python -m gst_flows.fit.pod_design_worker SPEC`` with MPICH's library directory on
``LD_LIBRARY_PATH`` (:func:`gst_flows.md.lammps.plugin.lammps_env`). SPEC is JSON with
``frames`` (npz: ``numbers{k}``, ``positions{k}``, ``cell{k}``, ``pbc{k}``, ``forces{k}``),
``n_frames``, ``param``, ``coefficients``, ``species``, ``out`` (npz) and ``workdir``.
For frame ``k`` the output npz holds ``rows{k}`` (1 + 3N rows: the energy descriptors, then
the force derivatives of atoms 1..N, in the LAMMPS frame) and ``labels{k}`` (the frame's
reference forces rotated into that frame).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def main(spec: dict) -> None:
    """Write the design rows of every frame of ``spec['frames']`` to ``spec['out']``."""
    import lammps
    from ase import Atoms

    from gst_flows.md.lammps.data import write_lammps_data

    species = list(spec["species"])
    names = " ".join(species)
    param, coefficients = spec["param"], spec["coefficients"]
    data_file = Path(spec["workdir"]) / "frame.data"
    masses = "\n".join(f"mass {i + 1} 1.0" for i in range(len(species)))
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    out = {}
    try:
        with np.load(spec["frames"]) as frames:
            for k in range(spec["n_frames"]):
                atoms = Atoms(
                    numbers=frames[f"numbers{k}"],
                    positions=frames[f"positions{k}"],
                    cell=frames[f"cell{k}"],
                    pbc=frames[f"pbc{k}"],
                )
                prism = write_lammps_data(data_file, atoms, species, velocities=False)
                lmp.commands_string(
                    "clear\nunits metal\natom_style atomic\natom_modify map array sort 0 0.0\n"
                    f"boundary p p p\nread_data {data_file}\n{masses}\n"
                    f"pair_style pod\npair_coeff * * {param} {coefficients} {names}\n"
                    f"compute design all pod/global {param} {coefficients} {names}\nrun 0\n"
                )
                out[f"rows{k}"] = np.array(lmp.numpy.extract_compute("design", 0, 2), copy=True)
                out[f"labels{k}"] = prism.vector_to_lammps(frames[f"forces{k}"])
    finally:
        lmp.close()
    np.savez(spec["out"], **out)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
