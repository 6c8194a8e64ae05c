"""RESET scenarios.

The mushroom cell (energy into a focal region) and the cross-point cell (graded vertical
pulse, then heat removal).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, Literal

import numpy as np
from jobflow import Job

from gst_flows.analysis.scenarios import AnalysisSettings
from gst_flows.flows.scenarios.base import PreparedRun, ScenarioError, ScenarioMaker, ScenarioRun
from gst_flows.makers.scenarios import CrossPointAnalysisMaker, MushroomResetAnalysisMaker
from gst_flows.md.protocol import FixAtoms, GradedInjection, InjectEnergy, RemoveHeat, Stage
from gst_flows.md.units import fj_to_ev
from gst_flows.structures.cells import CellSpec

__all__ = [
    "CROSS_POINT_ATOMS",
    "CROSS_POINT_ENERGY_FJ",
    "MUSHROOM_ATOMS",
    "MUSHROOM_ENERGY",
    "CrossPointMaker",
    "MushroomResetMaker",
]

#: Published pulse energies of the mushroom cell, eV (1,650 eV = 0.264 fJ; 3,900 eV =
#: 0.625 fJ), by focal-region size.
MUSHROOM_ENERGY: dict[str, float] = {"small": 1650.0, "large": 3900.0}
#: Atoms of the published mushroom cell (rock-salt Ge1Sb2Te4 33 × 5 × 20).
MUSHROOM_ATOMS = 23_100
#: Published energy of the cross-point heating pulse, fJ.
CROSS_POINT_ENERGY_FJ = 60.0
#: Atoms of the published cross-point cell.
CROSS_POINT_ATOMS = 532_980

_FULL_MD = {
    "thermo_interval": 50,
    "frame_interval": 1250,
    "checkpoint_interval": 5000,
    "walltime": 23 * 3600.0,
}
_SMALL_MD = {"thermo_interval": 5, "frame_interval": 25, "checkpoint_interval": 0}


@lru_cache(maxsize=8)
def _published_focal_atoms(composition: str, radius: float, seed: int) -> int:
    """Mobile focal-region atoms of the published mushroom cell with this focal radius."""
    from gst_flows.structures import build_mushroom

    atoms = build_mushroom(composition, (33, 5, 20), seed, focal_radius=radius)
    return int(((atoms.arrays["region"] == 1) & ~atoms.arrays["fixed"]).sum())


@dataclass
class MushroomResetMaker(ScenarioMaker):
    """Iterative RESET of a mushroom cell.

    Rock-salt GST, periodic in all three directions (no free surface, no vacuum), with its top
    ``fixed_layers`` atomic planes fixed: through the periodic z boundary they are the heat
    barrier between the top of the cell and the focal region at the bottom. A short NVT at
    ``temperature``, then NVE with kinetic energy injected into the half-cylinder focal region
    at the bottom of the xz plane (``region`` 1, its momentum conserved) during the pulse, then
    more NVE. The analysis maps the local temperature on the xz plane at every saved frame
    (Gaussian smoothing ``analysis.sigma``, 1.0 nm published), measures the length of the
    disordered area along the bottom from k̄, and checks the energy ledger (eV and fJ)
    against the requested energy.

    Parameters
    ----------
    composition
        Rock-salt composition.
    supercell
        Cubic rock-salt repeats (full: 33 × 5 × 20, 23,100 atoms of Ge1Sb2Te4, about
        20 × 12 nm in xz; small: 5 × 2 × 3, 210 atoms).
    pulse
        ``"small"``: the 1,650 eV pulse; ``"large"``: the 3,900 eV pulse on the larger focal
        area.
    focal_radius
        Radius of the focal half-cylinder, Å; None takes
        :data:`~gst_flows.structures.MUSHROOM_FOCAL_RADII` of the pulse times ``focal_scale``.
    focal_scale
        Factor on the published focal radius when ``focal_radius`` is None (full 1, small 0.2).
    fixed_layers
        Atomic planes fixed at the top (full 4, small 2).
    energy
        Energy injected over the pulse, eV; None takes the published energy of the pulse,
        scaled as ``energy_scaling`` says.
    energy_scaling
        ``"region"``: same energy per focal-region atom as the published cell (the same
        heating of the focal region); ``"atoms"``: same energy per atom of the cell; ``"none"``.
    temperature
        Temperature of the initial NVT, K.
    equilibrate_duration, pulse_duration, relax_duration
        Stage lengths, fs (full: 10, 30 and 70 ps).
    """

    name: str = "mushroom reset"
    composition: str = "Ge1Sb2Te4"
    supercell: tuple[int, int, int] | None = None
    pulse: Literal["small", "large"] = "small"
    focal_radius: float | None = None
    focal_scale: float | None = None
    fixed_layers: int | None = None
    energy: float | None = None
    energy_scaling: Literal["region", "atoms", "none"] = "region"
    temperature: float = 300.0
    equilibrate_duration: float | None = None
    pulse_duration: float | None = None
    relax_duration: float | None = None

    scenario: ClassVar[str] = "mushroom-reset"
    SIZES: ClassVar[dict[str, dict[str, Any]]] = {
        "full": {
            "supercell": (33, 5, 20),
            "focal_scale": 1.0,
            "fixed_layers": 4,
            "equilibrate_duration": 10_000.0,
            "pulse_duration": 30_000.0,
            "relax_duration": 70_000.0,
            "engine": "lammps",
            "md": _FULL_MD,
            "analysis": AnalysisSettings(bin_size=5.0, sigma=10.0, kbar_frames=10),
        },
        "small": {
            "supercell": (5, 2, 3),
            "focal_scale": 0.2,
            "fixed_layers": 2,
            "equilibrate_duration": 20.0,
            "pulse_duration": 160.0,
            "relax_duration": 80.0,
            "engine": "ase",
            "md": _SMALL_MD,
            "analysis": AnalysisSettings(bin_size=3.0, sigma=3.0),
        },
    }

    def radius(self) -> float:
        """Focal radius, Å (on the resolved maker)."""
        from gst_flows.structures import MUSHROOM_FOCAL_RADII

        if self.focal_radius is not None:
            return float(self.focal_radius)
        if self.pulse not in MUSHROOM_FOCAL_RADII:
            raise ScenarioError(f"{self.scenario}: pulse must be 'small' or 'large', got {self.pulse!r}")
        return round(MUSHROOM_FOCAL_RADII[self.pulse] * float(self.focal_scale), 2)

    def cell_spec(self) -> CellSpec:
        """The periodic cell (on the resolved maker)."""
        return CellSpec(
            "mushroom",
            {
                "composition": self.composition,
                "supercell": list(self.supercell),
                "seed": self.seed,
                "focal_radius": self.radius(),
                "fixed_layers": self.fixed_layers,
            },
        )

    def requested_energy(self, atoms: Any) -> float:
        """Energy of the pulse for this cell, eV (on the resolved maker)."""
        if self.energy is not None:
            return float(self.energy)
        from gst_flows.structures import MUSHROOM_FOCAL_RADII

        published = MUSHROOM_ENERGY[self.pulse]
        if self.energy_scaling == "none":
            return published
        if self.energy_scaling == "atoms":
            return published * len(atoms) / MUSHROOM_ATOMS
        focal = int(((atoms.arrays["region"] == 1) & ~atoms.arrays["fixed"]).sum())
        reference = _published_focal_atoms(self.composition, MUSHROOM_FOCAL_RADII[self.pulse], self.seed)
        return published * focal / reference

    def runs(self) -> list[ScenarioRun]:
        """One run: equilibrate (NVT), pulse (NVE + injection), relax (NVE)."""
        cell = self.cell_spec()
        try:
            atoms = cell.build()
        except ValueError as err:
            raise ScenarioError(f"{self.scenario} ({self.size}): cannot build the cell: {err}") from None
        self._check_focal(atoms)
        energy = self.requested_energy(atoms)
        fix = FixAtoms(array="fixed")
        common = {"timestep": self.timestep}
        protocol = self.protocol(
            name=f"mushroom_reset_{self.pulse}",
            description=f"mushroom-cell RESET, {energy:.6g} eV over "
            f"{self.pulse_duration / 1000:g} ps into the focal region (radius "
            f"{self.radius():g} Å)",
            initial_temperature=self.temperature,
            stages=[
                Stage(
                    name="equilibrate",
                    ensemble="nvt",
                    temperature=self.temperature,
                    duration=self.equilibrate_duration,
                    actions=[fix],
                    **common,
                ),
                Stage(
                    name="pulse",
                    ensemble="nve",
                    duration=self.pulse_duration,
                    tag="reset",
                    actions=[fix, InjectEnergy(region="region", region_value=1, energy=energy)],
                    **common,
                ),
                Stage(name="relax", ensemble="nve", duration=self.relax_duration, actions=[fix], **common),
            ],
        )
        return [ScenarioRun(f"{self.pulse} pulse", cell, protocol, {"energy": energy})]

    def _check_focal(self, atoms: Any) -> None:
        radius = self.radius()
        half_width = float(atoms.cell.lengths()[0]) / 2
        z = atoms.positions[:, 2]
        fixed = np.asarray(atoms.arrays["fixed"], bool)
        top = float(z[fixed].min()) if fixed.any() else float(z.max())
        height = top - float(z.min())
        if radius > half_width or radius >= height:
            raise ScenarioError(
                f"{self.scenario} ({self.size}): the focal region (half-cylinder of radius "
                f"{radius:g} Å) is larger than the cell: it needs a half-width of {radius:g} Å "
                f"along x (the cell has {half_width:.1f} Å) and {radius:g} Å of mobile slab "
                f"below the fixed layers (the cell has {height:.1f} Å); use a larger "
                "supercell or a smaller focal_radius"
            )

    def check_run(self, run: PreparedRun) -> None:
        """The focal region must fit inside the mobile part of the slab."""
        self._check_focal(run.atoms)

    def analysis_job(self, md_jobs: list[Job], runs: list[PreparedRun]) -> Job:
        """Temperature maps on the xz plane, base length, ledger."""
        params = self.parameters()
        params["focal_radius"] = self.radius()
        params["energy"] = runs[0].info["energy"]
        maker = MushroomResetAnalysisMaker(size=self.size, parameters=params, settings=self.analysis)
        return maker.make(md_jobs[0].output)


@dataclass
class CrossPointMaker(ScenarioMaker):
    """Melt–quench of a cross-point device cell.

    Layered trigonal GST; a short NVT at ``temperature``, then a vertical heating pulse (NVE)
    that injects ``energy`` with a gradient along z (power per atom ``ratio`` times higher at
    the bottom than at the top, ``n_slabs`` slabs, each slab's momentum conserved), then the
    added energy removed from every atom at a constant rate (NVE quench). The analysis gives
    T(z, t) profiles, k̄ by height (against the layered crystal), the RDF of the central
    region over time, and the energy ledger against the requested energy.

    Parameters
    ----------
    composition
        Layered composition.
    in_plane
        Orthogonal a × √3·a in-plane repeats; None uses ``size_nm`` (full: 20 × 20 nm,
        47 × 27 cells; small: 3 × 2).
    size_nm
        In-plane size when ``in_plane`` is None, nm.
    n_blocks
        Septuple-layer blocks along z (full 30: 532,980 atoms of Ge1Sb2Te4; small 3: 252).
    energy
        Energy of the pulse, eV; None takes 60 fJ scaled by the cell's atoms over 532,980.
    ratio
        Power per atom at the bottom over that at the top.
    n_slabs
        Slabs of the gradient (full 10, small 5).
    temperature
        Temperature of the initial NVT, K.
    equilibrate_duration, pulse_duration, quench_duration
        Stage lengths, fs (full: 5, 10 and 40 ps).
    removal_share
        Share of the injected energy removed in the quench (full 1: all of it). A removal
        can only take kinetic energy: when the quench is too short for the disordered cell
        to give back the potential energy it gained, removing everything would need a
        negative kinetic energy and the run stops. The small preset's 200 fs quench
        removes 0.75 of it.
    central_thickness
        Thickness of the central region whose RDF is followed, Å (full: the central 20 nm;
        small 20 Å).
    """

    name: str = "cross-point melt-quench"
    composition: str = "Ge1Sb2Te4"
    in_plane: tuple[int, int] | None = None
    size_nm: tuple[float, float] = (20.0, 20.0)
    n_blocks: int | None = None
    energy: float | None = None
    ratio: float = 3.0
    n_slabs: int | None = None
    temperature: float = 300.0
    equilibrate_duration: float | None = None
    pulse_duration: float | None = None
    quench_duration: float | None = None
    removal_share: float | None = None
    central_thickness: float | None = None

    scenario: ClassVar[str] = "cross-point"
    SIZES: ClassVar[dict[str, dict[str, Any]]] = {
        "full": {
            "n_blocks": 30,
            "n_slabs": 10,
            "equilibrate_duration": 5_000.0,
            "pulse_duration": 10_000.0,
            "quench_duration": 40_000.0,
            "removal_share": 1.0,
            "central_thickness": 200.0,
            "engine": "lammps",
            "md": _FULL_MD,
            "analysis": AnalysisSettings(bin_size=10.0, sigma=10.0, kbar_frames=4),
        },
        "small": {
            "in_plane": (3, 2),
            "n_blocks": 3,
            "n_slabs": 5,
            "equilibrate_duration": 40.0,
            "pulse_duration": 100.0,
            "quench_duration": 200.0,
            # half the pulse: part of it is latent heat held as potential energy, and a
            # 0.2 ps quench taking 75 % of it as kinetic energy drove the kinetic energy
            # below zero with the demo GAP (LAMMPS' fix heat stops there)
            "removal_share": 0.5,
            "central_thickness": 20.0,
            "engine": "ase",
            "md": _SMALL_MD,
            "analysis": AnalysisSettings(bin_size=4.0, sigma=4.0),
        },
    }

    def cell_spec(self) -> CellSpec:
        """The layered cell (on the resolved maker)."""
        params: dict[str, Any] = {
            "composition": self.composition,
            "n_blocks": self.n_blocks,
            "seed": self.seed,
        }
        if self.in_plane is not None:
            params["supercell"] = [int(self.in_plane[0]), int(self.in_plane[1]), 1]
        else:
            params["size"] = [float(x) for x in self.size_nm]
        return CellSpec("cross-point", params)

    def requested_energy(self, n_atoms: int) -> float:
        """Energy of the pulse for a cell of ``n_atoms``, eV."""
        if self.energy is not None:
            return float(self.energy)
        return fj_to_ev(CROSS_POINT_ENERGY_FJ) * n_atoms / CROSS_POINT_ATOMS

    def runs(self) -> list[ScenarioRun]:
        """One run: equilibrate (NVT), graded pulse (NVE), heat removal (NVE)."""
        cell = self.cell_spec()
        n_atoms = _cross_point_atoms(cell)
        energy = self.requested_energy(n_atoms)
        common = {"timestep": self.timestep}
        protocol = self.protocol(
            name="cross_point",
            description=f"cross-point melt-quench, {energy:.6g} eV graded pulse over "
            f"{self.pulse_duration / 1000:g} ps, removed over {self.quench_duration / 1000:g} ps",
            initial_temperature=self.temperature,
            stages=[
                Stage(
                    name="equilibrate",
                    ensemble="nvt",
                    temperature=self.temperature,
                    duration=self.equilibrate_duration,
                    **common,
                ),
                Stage(
                    name="pulse",
                    ensemble="nve",
                    duration=self.pulse_duration,
                    tag="reset",
                    actions=[
                        GradedInjection(axis="z", energy=energy, ratio=self.ratio, n_slabs=self.n_slabs)
                    ],
                    **common,
                ),
                Stage(
                    name="quench",
                    ensemble="nve",
                    duration=self.quench_duration,
                    tag="quench",
                    actions=[self._removal(energy)],
                    **common,
                ),
            ],
        )
        return [ScenarioRun("melt-quench", cell, protocol, {"energy": energy, "n_atoms": n_atoms})]

    def check_run(self, run: PreparedRun) -> None:
        """The pulse energy was computed for the cell's atom count; the RDF region fits."""
        if len(run.atoms) != run.info["n_atoms"]:
            raise ScenarioError(
                f"{self.scenario}: the cell has {len(run.atoms)} atoms, {run.info['n_atoms']} expected"
            )
        height = float(run.atoms.cell.lengths()[2])
        if not 0 < self.central_thickness <= height:
            raise ScenarioError(
                f"{self.scenario} ({self.size}): central_thickness must be in "
                f"(0, {height:.1f}] Å (the cell's height), got "
                f"{self.central_thickness:g}"
            )

    def _removal(self, energy: float) -> RemoveHeat:
        if not 0 < self.removal_share <= 1:
            raise ScenarioError(f"{self.scenario}: removal_share must be in (0, 1], got {self.removal_share}")
        if self.removal_share == 1:
            return RemoveHeat()
        return RemoveHeat(energy=energy * self.removal_share)

    def analysis_job(self, md_jobs: list[Job], runs: list[PreparedRun]) -> Job:
        """T(z, t), k̄ by height, central RDF, ledger."""
        params = self.parameters()
        params["energy"] = runs[0].info["energy"]
        maker = CrossPointAnalysisMaker(
            size=self.size,
            parameters=params,
            settings=self.analysis,
            central_thickness=self.central_thickness,
        )
        return maker.make(md_jobs[0].output)


def _cross_point_atoms(cell: CellSpec) -> int:
    """Atoms of a cross-point cell, counted without building it.

    Two sites per plane of an orthogonal in-plane cell, every plane of every block.
    """
    from gst_flows.structures import layered_block

    block = layered_block(cell.params.get("composition", "Ge1Sb2Te4"))
    if "supercell" in cell.params:
        n_a, n_b = cell.params["supercell"][:2]
    else:
        n_a = max(1, round(cell.params["size"][0] * 10 / block.a))
        n_b = max(1, round(cell.params["size"][1] * 10 / (block.a * np.sqrt(3))))
    return int(n_a * n_b * 2 * len(block.planes) * cell.params["n_blocks"])
