"""Translate one protocol stage into a LAMMPS input script.

Each stage runs as one LAMMPS invocation that starts from the data file (first stage) or
from the binary restart file the previous stage wrote, so atom groups that depend on the
state at the start of a stage (graded slabs) come from the same Python helpers as in the
ASE engine (:func:`~gst_flows.md.protocol.graded_groups`). The mapping:

=====================  ==========================================================
protocol               LAMMPS
=====================  ==========================================================
cell                   ``boundary p p p``; a slab open along z ``boundary p p f``
nvt, langevin          ``fix nve`` + ``fix langevin ... zero yes tally yes``
nvt, nose-hoover       ``fix nvt ... tchain 3`` (temperature of the mobile atoms)
npt, nose-hoover       ``fix npt ... iso P P pdamp tchain 3`` (Martyna–Tobias–Klein)
npt, langevin          ``fix nph ... iso P P pdamp`` + ``fix langevin``
nve                    ``fix nve``
temperature pieces     one ``run N upto start S stop E`` per linear piece
fixed atoms            left out of every integrator, thermostat and temperature;
                       velocities zeroed
inject_energy,         ``fix heat`` on (region ∩ mobile): velocities rescaled about
graded_injection,      the group's centre-of-mass velocity, momentum unchanged,
remove_heat            exactly rate × dt per step (negative flux removes heat)
electric_field         ``fix addforce`` q·E per species group (field vector rotated
                       into the LAMMPS frame)
thermodynamic series   ``thermo`` in YAML lines (step, T of mobile atoms, pe, ke,
                       press, vol, density, ecouple, field potential)
frames                 ``dump custom`` with unwrapped positions and velocities
checkpoints            ``restart N ckpt.a ckpt.b`` (two alternating files)
blow-up detection      ``fix halt ... error hard`` on max force, temperature and
                       the closest pair distance (``compute pair/local dist``)
walltime               ``timer timeout``
=====================  ==========================================================

Temperatures count three degrees of freedom per mobile atom (``extra/dof 0``), as the
ASE engine does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gst_flows.md.engine import mobile_temperature
from gst_flows.md.lammps.data import group_id_commands
from gst_flows.md.protocol import ElectricField, RunSettings, Stage, fixed_mask, heat_groups
from gst_flows.md.units import KB

if TYPE_CHECKING:
    from ase import Atoms

__all__ = ["GROUP_LIMIT", "HeatGroup", "StageGroups", "StagePlan", "stage_groups", "stage_script"]

#: LAMMPS allows 32 groups including ``all``; a stage uses at most this many.
GROUP_LIMIT = 28

#: Names of the thermo YAML columns written by :func:`stage_script`, in order.
THERMO_KEYWORDS = (
    "Step",
    "c_gst_tmob",
    "PotEng",
    "c_gst_ke",
    "Press",
    "Volume",
    "Density",
    "Ecouple",
    "v_gst_fieldpot",
)

_BAR_PER_GPA = 1.0e4
_PS_PER_FS = 1.0e-3


@dataclass
class HeatGroup:
    """Atoms whose kinetic energy changes at a constant rate (``fix heat``).

    Attributes
    ----------
    mask
        Boolean per-atom mask (already restricted to mobile atoms).
    rate
        eV/fs; negative removes energy.
    """

    mask: np.ndarray
    rate: float


@dataclass
class StageGroups:
    """Atom groups of a stage, fixed at its start (the fields of :class:`StagePlan` they fill).

    Attributes
    ----------
    fixed, heat
        :attr:`StagePlan.fixed` and :attr:`StagePlan.heat`.
    field
        :attr:`StagePlan.field_forces`.
    t_ref
        :attr:`StagePlan.t_ref`: temperature of the mobile atoms at the stage start, K.
    """

    fixed: np.ndarray
    heat: list[HeatGroup]
    field: list[tuple[np.ndarray, np.ndarray]]
    t_ref: float


def stage_groups(
    atoms: Atoms, stage: Stage, species: Sequence[str], rot: np.ndarray, removal_rate: float, v_fs: np.ndarray
) -> StageGroups:
    """Fixed atoms, heat groups, field forces and temperature of a stage from its start state.

    Parameters
    ----------
    atoms
        Structure at the start of the stage, with its role arrays.
    stage
        The stage.
    species
        Symbols of atom types 1, 2, ...
    rot
        Rotation from the ASE into the LAMMPS frame (``Prism.rot_mat``).
    removal_rate
        Power a ``remove_heat`` action takes out, eV/fs.
    v_fs
        Velocities at the start of the stage, Å/fs (for ``t_ref``).

    Returns
    -------
    StageGroups
        The groups.
    """
    fixed = fixed_mask(atoms, stage)
    mobile = ~fixed
    heat = [HeatGroup(m, r) for m, r in heat_groups(atoms, stage, mobile, removal_rate)]
    forces: list[tuple[np.ndarray, np.ndarray]] = []
    fields = stage.actions_of(ElectricField)
    if fields:
        symbols = np.array(atoms.get_chemical_symbols())
        for symbol in species:
            force = sum((a.charges.get(symbol, 0.0) * a.field_vector() for a in fields), np.zeros(3))
            mask = (symbols == symbol) & mobile
            if np.any(force != 0.0) and mask.any():
                forces.append((mask, force @ rot))  # into the LAMMPS frame
    t_ref = mobile_temperature(atoms.get_masses(), v_fs, mobile)
    return StageGroups(fixed, heat, forces, t_ref)


@dataclass
class StagePlan:
    """Everything one stage's LAMMPS input needs, decided in Python.

    Attributes
    ----------
    index, stage
        Position in the protocol and the stage.
    start_step, end_step
        Global steps at which the stage starts and ends.
    from_step
        Global step the run resumes from (``start_step`` unless resuming).
    stop_step
        Global step to stop at (``end_step`` unless a step budget stops earlier).
    source
        ``read_data FILE`` or ``read_restart FILE`` command.
    potential
        Potential commands (``plugin load``, ``pair_style``, ``pair_coeff``).
    fixed
        Per-atom mask of fixed atoms.
    heat
        Energy injection/removal groups.
    field_forces
        Per-species (mask, force vector in the LAMMPS frame, eV/Å) of the electric field.
    seed
        Seed of this stage's random numbers (Langevin).
    t_ref
        Temperature of the mobile atoms at the stage start, K (expected temperature in
        ``nve`` is ``t_ref`` plus the injected energy).
    injected
        Energy the stage injects, eV (for the expected temperature).
    frames_file
        Dump file of this attempt.
    skin
        Neighbour-list skin, Å.
    timeout
        Wall seconds before LAMMPS stops cleanly; None for no limit.
    group_dir
        Directory (the run directory of the stage) where large atom groups are written as
        LAMMPS atomfiles; None writes every group as ID ranges in the script.
    boundary
        LAMMPS ``boundary`` arguments (``"p p p"``; ``"p p f"`` for a slab open along z).
    """

    index: int
    stage: Stage
    start_step: int
    end_step: int
    from_step: int
    stop_step: int
    source: str
    potential: Sequence[str]
    fixed: np.ndarray
    heat: list[HeatGroup] = field(default_factory=list)
    field_forces: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    seed: int = 12345
    t_ref: float = 0.0
    injected: float = 0.0
    frames_file: str = "frames.dump"
    skin: float = 1.0
    timeout: float | None = None
    group_dir: Path | None = None
    boundary: str = "p p p"


def _checkpoint_every(settings: RunSettings) -> int:
    """Checkpoint interval rounded up to a multiple of the thermo interval.

    Every checkpoint step then has a thermo row, so the energy ledger of a resumed run
    continues exactly.
    """
    every, thermo = settings.checkpoint_interval, settings.thermo_interval
    if every <= 0:
        return 0
    return -(-every // thermo) * thermo


def _pieces(plan: StagePlan) -> list[tuple[int, int, float | None, float | None]]:
    """Linear temperature pieces as (global start, global end, T start, T end)."""
    stage = plan.stage
    if stage.ensemble == "nve":
        return [(plan.start_step, plan.end_step, None, None)]
    return [
        (plan.start_step + p.start_step, plan.start_step + p.start_step + p.n_steps, p.start, p.end)
        for p in stage.temperature_pieces()
    ]


def stage_script(plan: StagePlan, settings: RunSettings) -> str:
    """LAMMPS input for one stage (metal units).

    Parameters
    ----------
    plan
        What to run.
    settings
        Output, checkpoint and safety settings.

    Returns
    -------
    str
        The script (large groups also go to atomfiles in ``plan.group_dir``). It ends by
        writing ``final.restart`` and ``final.dump`` (full precision,
        unwrapped positions, velocities) at the step it reached.
    """
    stage = plan.stage
    n_groups = 2 + len(plan.heat) + len(plan.field_forces)
    if n_groups > GROUP_LIMIT:
        raise ValueError(
            f"stage {stage.name!r} needs {n_groups} LAMMPS groups (limit {GROUP_LIMIT}): use fewer slabs"
        )
    dt_ps = stage.timestep * _PS_PER_FS
    mobile_count = int((~plan.fixed).sum())
    out: list[str] = [
        f"# gst-flows: stage {plan.index} {stage.name!r} ({stage.ensemble}), "
        f"steps {plan.start_step}-{plan.end_step}",
        "units metal",
        "atom_style atomic",
        "atom_modify map array",
        f"boundary {plan.boundary}",
        plan.source,
        *plan.potential,
        f"neighbor {plan.skin:g} bin",
        "neigh_modify every 1 delay 0 check yes",
        f"timestep {dt_ps:.17g}",
    ]
    if plan.timeout is not None:
        out.append(f"timer timeout {max(plan.timeout, 1.0):.0f} every 10")

    # groups: fixed and mobile atoms
    out += group_id_commands("gst_fixed", plan.fixed, directory=plan.group_dir)
    out.append("group gst_mobile subtract all gst_fixed")
    if plan.fixed.any():
        out.append("velocity gst_fixed set 0.0 0.0 0.0")
    out += [
        "compute gst_tmob gst_mobile temp",
        "compute_modify gst_tmob extra/dof 0",
        "compute_modify thermo_temp extra/dof 0",
        "compute gst_ke all ke",
    ]

    # integrator, thermostat, barostat
    fixes: list[str] = []
    tdamp_ps = stage.tdamp * _PS_PER_FS
    p_bar = stage.pressure * _BAR_PER_GPA
    barostat = f"iso {p_bar:.10g} {p_bar:.10g} {stage.pdamp * _PS_PER_FS:.10g}"
    if stage.ensemble == "npt" and stage.thermostat == "langevin":
        out += [f"fix gst_nve gst_mobile nph {barostat}", "fix_modify gst_nve temp gst_tmob"]
        fixes.append("gst_nve")
    elif stage.ensemble == "nve" or stage.thermostat == "langevin":
        out.append("fix gst_nve gst_mobile nve")
        fixes.append("gst_nve")

    # energy injection / removal
    for j, group in enumerate(plan.heat):
        name = f"gst_heat{j}"
        out += group_id_commands(name, group.mask, directory=plan.group_dir)
        out.append(f"fix {name} {name} heat 1 {group.rate * 1000.0:.17g}")
        fixes.append(name)

    # electric field
    field_vars = []
    for j, (mask, force) in enumerate(plan.field_forces):
        name = f"gst_field{j}"
        out += group_id_commands(name, mask, directory=plan.group_dir)
        fx, fy, fz = (float(v) for v in force)
        out.append(f"fix {name} {name} addforce {fx:.17g} {fy:.17g} {fz:.17g}")
        fixes.append(name)
        field_vars.append(f"f_{name}")
    out.append(f"variable gst_fieldpot equal {'+'.join(field_vars) or '0.0'}")

    # safety: fix halt on force, temperature, closest distance
    limits = settings.safety
    out += [
        "variable gst_fnorm atom sqrt(fx*fx+fy*fy+fz*fz)",
        "compute gst_fmax all reduce max v_gst_fnorm",
        "variable gst_fmax equal c_gst_fmax",
        f"fix gst_halt_force all halt 1 v_gst_fmax > {limits.max_force:.10g} error hard message yes",
        "variable gst_tlimit equal 1.0e30",
        "variable gst_tover equal c_gst_tmob-v_gst_tlimit",
        "fix gst_halt_temp all halt 1 v_gst_tover > 0.0 error hard message yes",
    ]
    fixes += ["gst_halt_force", "gst_halt_temp"]
    if limits.min_distance > 0:
        out += [
            "compute gst_pairs all pair/local dist",
            "compute gst_dmin all reduce min c_gst_pairs inputs local",
            "variable gst_dmin equal c_gst_dmin",
            f"fix gst_halt_dist all halt {limits.check_interval} v_gst_dmin < "
            f"{limits.min_distance:.10g} error hard message yes",
        ]
        fixes.append("gst_halt_dist")

    # output
    out += [
        "thermo_style custom step c_gst_tmob pe c_gst_ke press vol density ecouple v_gst_fieldpot",
        "thermo_modify format float %.15g line yaml flush yes",
        f"thermo {settings.thermo_interval}",
    ]
    if settings.frame_interval > 0:
        out += [
            f"dump gst_frames all custom {settings.frame_interval} {plan.frames_file} "
            "id type xu yu zu vx vy vz",
            "dump_modify gst_frames sort id format float %.10g",
        ]
    ckpt = _checkpoint_every(settings)
    if ckpt:
        out.append(f"restart {ckpt} ckpt.a ckpt.b")

    # runs, one per linear temperature piece
    factor = limits.temperature_factor
    inj_coef = 2.0 * plan.injected / (3.0 * KB * max(mobile_count, 1))
    # temperature of the mobile atoms at the stage start: as in the ASE engine, a thermostat
    # cools a hot start gradually, so the expected temperature under a schedule is never below
    # it. A fresh stage evaluates it as the script starts ($() needs no run; a dry run's later
    # stages cannot know it); a resumed stage uses the one saved with its groups, not the
    # temperature at the resume point.
    if plan.from_step > plan.start_step:
        out.append(f"variable gst_tstart equal {plan.t_ref:.10g}")
    else:
        dof_kb = 3.0 * KB * max(mobile_count, 1)
        out.append(f"variable gst_tstart equal $(2.0*ke(gst_mobile)/{dof_kb:.10g}:%.10g)")
    n = plan.end_step - plan.start_step
    for k, (s0, s1, t0, t1) in enumerate(_pieces(plan)):
        if s1 <= plan.from_step:
            continue
        if s0 >= plan.stop_step:
            break
        piece_fixes = []
        if t0 is not None:
            if stage.thermostat == "langevin":
                seed = (plan.seed + 7919 * k) % 900_000_000 + 1
                out.append(
                    f"fix gst_thermo gst_mobile langevin {t0:.10g} {t1:.10g} {tdamp_ps:.10g} "
                    f"{seed} zero yes tally yes"
                )
            else:
                style = "npt" if stage.ensemble == "npt" else "nvt"
                extra = f" {barostat}" if stage.ensemble == "npt" else ""
                out += [
                    f"fix gst_thermo gst_mobile {style} temp {t0:.10g} {t1:.10g} "
                    f"{tdamp_ps:.10g}{extra} tchain 3",
                    "fix_modify gst_thermo temp gst_tmob",
                ]
            piece_fixes.append("gst_thermo")
            ramp = f"ramp({t0:.10g},{t1:.10g})"
            expected = f"ternary({ramp}>v_gst_tstart,{ramp},v_gst_tstart)"
        else:
            expected = f"({plan.t_ref:.10g}+{inj_coef:.10g}*(step-{plan.start_step})/{n})"
        out.append(f"variable gst_tlimit equal {factor:.10g}*ternary({expected}>300,{expected},300)")
        out.append(f"run {min(s1, plan.stop_step)} upto start {s0} stop {s1}")
        out += [f"unfix {name}" for name in piece_fixes]

    # tidy up so the restart file carries no stage-specific groups or fixes
    out += [f"unfix {name}" for name in fixes]
    if settings.frame_interval > 0:
        out.append("undump gst_frames")
    out += ["thermo_style one", "uncompute gst_tmob"]
    groups = ["gst_mobile", "gst_fixed"]
    groups += [f"gst_heat{j}" for j in range(len(plan.heat))]
    groups += [f"gst_field{j}" for j in range(len(plan.field_forces))]
    out += [f"group {name} delete" for name in groups]
    out += [
        "write_restart final.restart",
        "write_dump all custom final.dump id type xu yu zu vx vy vz modify sort id format float %.17g",
    ]
    return "\n".join(out) + "\n"
