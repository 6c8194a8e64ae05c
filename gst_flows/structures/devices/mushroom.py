"""The mushroom cell of the iterative RESET simulations.

Rock-salt slab with a half-cylinder focal region at the bottom of the xz plane (``region`` 1)
and the top atomic layers ``fixed``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from ase import Atoms

from gst_flows.structures.errors import StructureError
from gst_flows.structures.rocksalt import _check_supercell, build_rocksalt
from gst_flows.structures.roles import add_roles

__all__ = ["MUSHROOM_FOCAL_RADII", "build_mushroom"]

#: Radii (Å) of the half-cylinder focal region of the mushroom cell for the
#: 1,650 eV ("small") and 3,900 eV ("large") pulses. Chosen so both pulses put
#: about the same energy per focal atom: the radius ratio is √(3900/1650).
MUSHROOM_FOCAL_RADII: dict[str, float] = {
    "small": 35.0,
    "large": round(35.0 * math.sqrt(3900 / 1650), 1),
}


def build_mushroom(
    composition: str | Mapping[str, float] = "Ge1Sb2Te4",
    supercell: Sequence[int] = (33, 5, 20),
    seed: int | None = 0,
    lattice_parameter: float | None = None,
    *,
    focal: str = "small",
    focal_radius: float | None = None,
    fixed_layers: int = 4,
    periodic_z: bool = True,
) -> Atoms:
    """Build the mushroom cell for iterative RESET simulations.

    Rock-salt GST (cubic axes along x, y, z), periodic in all three directions:
    no free surface, no vacuum. The focal region, where kinetic energy is
    injected, is a half-cylinder with its axis along y through the middle of the
    bottom face (x = Lx/2, z = 0): atoms with ``(x - Lx/2)² + z² ≤ r²`` are
    ``region`` 1. The top ``fixed_layers`` atomic (001) planes are ``fixed``:
    through the periodic z boundary they sit right above the focal region and
    are the heat barrier between it and the top of the cell (a device's thermal
    barrier), so no heat reaches the focal region from above.

    Parameters
    ----------
    composition
        Rock-salt composition.
    supercell
        Repeats of the cubic cell; (33, 5, 20) gives 23,100 Ge1Sb2Te4 atoms,
        about 20 × 12 nm in xz.
    seed
        Random seed for the cation sublattice.
    lattice_parameter
        Cubic lattice parameter in Å.
    focal
        ``"small"`` (1,650 eV pulse) or ``"large"`` (3,900 eV pulse), see
        :data:`MUSHROOM_FOCAL_RADII`.
    focal_radius
        Radius in Å, overriding ``focal``.
    fixed_layers
        Number of atomic planes at the top held fixed.
    periodic_z
        Periodic along z (the published cell); False gives a slab open along z
        (x and y periodic) with two free surfaces.

    Returns
    -------
    ase.Atoms
        Cell with ``region`` (1 in the focal half-cylinder), ``fixed`` (top
        layers), and ``info["focal_radius"]``, ``info["focal_axis"]``.

    Raises
    ------
    StructureError
        For an unknown focal size, a non-positive radius, or more fixed layers
        than the slab has.
    """
    supercell = _check_supercell(supercell)
    if focal_radius is None:
        if focal not in MUSHROOM_FOCAL_RADII:
            raise StructureError(f"focal must be one of {', '.join(MUSHROOM_FOCAL_RADII)}, got {focal!r}")
        focal_radius = MUSHROOM_FOCAL_RADII[focal]
    radius = float(focal_radius)
    if not math.isfinite(radius) or radius <= 0:
        raise StructureError(f"focal_radius must be positive, got {focal_radius!r}")
    n_layers = 2 * supercell[2]
    if not 0 <= fixed_layers <= n_layers:
        raise StructureError(f"fixed_layers must be between 0 and {n_layers}, got {fixed_layers}")
    atoms = build_rocksalt(composition, supercell, seed, lattice_parameter)
    a = atoms.info["parameters"]["lattice_parameter"]
    lx = atoms.cell[0, 0]
    pos = atoms.positions
    layer = np.rint(pos[:, 2] / (a / 2)).astype(np.int64)
    fixed = layer >= n_layers - fixed_layers
    centre_x = lx / 2
    region = ((pos[:, 0] - centre_x) ** 2 + pos[:, 2] ** 2 <= radius**2).astype(np.int32)
    add_roles(atoms, fixed=fixed, region=region)
    atoms.pbc = (True, True, bool(periodic_z))
    atoms.info.update(
        {
            "builder": "build_mushroom",
            "focal_radius": radius,
            "focal_axis": [float(centre_x), 0.0, 0.0],
            "focal_axis_direction": "y",
        }
    )
    atoms.info["parameters"] = dict(
        atoms.info["parameters"],
        focal=focal if focal_radius is None or focal in MUSHROOM_FOCAL_RADII else None,
        focal_radius=radius,
        fixed_layers=fixed_layers,
        periodic_z=periodic_z,
    )
    return atoms
