"""Structure builders for the Ge–Sb–Te family and the device geometries.

Pure functions on :class:`ase.Atoms`: no jobflow, no database.
"""

from .cells import SEED_ARRAY, CellSpec, boundary_gap_shift, boundary_planes, open_along_z
from .composition import (
    ALIASES,
    OFF_STOICHIOMETRIC,
    QUASI_BINARY,
    as_composition,
    composition_fractions,
    format_composition,
    parse_composition,
    quasi_binary_composition,
)
from .crystals import (
    CRYSTALS,
    build_diamond,
    build_element,
    crystal_data_dir,
    list_crystals,
    load_crystal,
    write_shipped_crystals,
)
from .devices import (
    AMORPHOUS_DENSITY_RATIO,
    MUSHROOM_FOCAL_RADII,
    build_cross_point,
    build_crystallisation_cell,
    build_heating_cell,
    build_mushroom,
    build_seeded,
    density,
    random_packing,
)
from .errors import StructureError
from .io import lammps_groups, read_structures, write_extxyz, write_lammps_data, write_structure
from .layered import LAYERED_BLOCKS, LayeredBlock, build_layered, layered_block
from .perturb import perturbed_copies
from .registry import BUILDERS, build, builder_parameters, register
from .rocksalt import (
    ROCKSALT_LATTICE_PARAMETERS,
    build_rocksalt,
    default_lattice_parameter,
    rocksalt_counts,
    smallest_supercell,
)
from .roles import ROLE_ARRAYS, add_roles
from .validate import closest_pair, minimum_distance, validate_structure

register("rocksalt", build_rocksalt)
register("layered", build_layered)
register("diamond", build_diamond)
register("element", build_element)
register("crystal", load_crystal)
register("crystallisation-cell", build_crystallisation_cell)
register("heating-cell", build_heating_cell)
register("mushroom", build_mushroom)
register("cross-point", build_cross_point)
register("seeded", build_seeded)

__all__ = [
    "ALIASES",
    "AMORPHOUS_DENSITY_RATIO",
    "BUILDERS",
    "CRYSTALS",
    "LAYERED_BLOCKS",
    "MUSHROOM_FOCAL_RADII",
    "OFF_STOICHIOMETRIC",
    "QUASI_BINARY",
    "ROCKSALT_LATTICE_PARAMETERS",
    "ROLE_ARRAYS",
    "SEED_ARRAY",
    "CellSpec",
    "LayeredBlock",
    "StructureError",
    "add_roles",
    "as_composition",
    "boundary_gap_shift",
    "boundary_planes",
    "build",
    "build_cross_point",
    "build_crystallisation_cell",
    "build_diamond",
    "build_element",
    "build_heating_cell",
    "build_layered",
    "build_mushroom",
    "build_rocksalt",
    "build_seeded",
    "builder_parameters",
    "closest_pair",
    "composition_fractions",
    "crystal_data_dir",
    "default_lattice_parameter",
    "density",
    "format_composition",
    "lammps_groups",
    "layered_block",
    "list_crystals",
    "load_crystal",
    "minimum_distance",
    "open_along_z",
    "parse_composition",
    "perturbed_copies",
    "quasi_binary_composition",
    "random_packing",
    "read_structures",
    "register",
    "rocksalt_counts",
    "smallest_supercell",
    "validate_structure",
    "write_extxyz",
    "write_lammps_data",
    "write_shipped_crystals",
    "write_structure",
]
