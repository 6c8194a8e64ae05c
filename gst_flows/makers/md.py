"""Maker for GAP-driven MD: run a protocol on a structure with the ASE or LAMMPS engine."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from ase import Atoms
from jobflow import Maker, Response, job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.md.protocol import Protocol, RunSettings, SafetyLimits, load_protocol
from gst_flows.schemas.md import MDDoc

__all__ = ["GapMDMaker", "as_md_doc", "structure_to_atoms"]

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
        ``ase`` (default) or ``lammps`` (device-scale runs; needs a GAP XML potential).
    potential
        GAP XML path, database id, or ``"module:factory"`` returning an ASE calculator (see
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
    engine_kwargs
        Extra arguments of the engine: ``seed`` for both; for LAMMPS also ``nprocs``,
        ``command``, ``timeout``, ``env`` (how LAMMPS is started) and ``skin``.
    chunk_bytes
        Largest stored chunk of frames or series, bytes.
    summary_points
        Rows of the series kept in the document itself.
    max_structure_atoms
        Largest cell stored as ``final_structure``.
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
    engine_kwargs: dict[str, Any] = field(default_factory=dict)
    chunk_bytes: int = 8_000_000
    summary_points: int = 1000
    max_structure_atoms: int = 20_000

    fworker_category: ClassVar[str] = "md"

    def resolved_protocol(self, atoms: Atoms | None = None) -> Protocol:
        """Return the protocol object, scaled to ``atoms`` when ``scale_energies`` is set."""
        protocol = load_protocol(self.protocol)
        if self.scale_energies and atoms is not None and protocol.reference_atoms:
            protocol = protocol.scaled_to(len(atoms))
        return protocol

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
            On a protocol that cannot run, or a missing potential.
        """
        if require_potential and self.potential is None:
            raise ValueError("GapMDMaker needs a potential (GAP XML path, id or factory)")
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
        if self.engine == "ase":
            from gst_flows.md.ase_engine import AseMDEngine
            from gst_flows.md.potential import resolve_potential

            calculator, info = resolve_potential(self.potential, workdir, **self.potential_kwargs)
            engine = AseMDEngine(
                calculator,
                workdir=workdir,
                settings=self.run_settings(),
                potential_id=info.id,
                **self.engine_kwargs,
            )
            return engine, info
        if self.engine != "lammps":
            raise ValueError(f"unknown engine {self.engine!r} (ase or lammps)")
        from gst_flows.md.lammps import LammpsMDEngine, LammpsRunner
        from gst_flows.md.potential import potential_file

        xml, info = potential_file(self.potential, workdir)
        kwargs = dict(self.engine_kwargs)
        runner_keys = {"nprocs", "command", "timeout", "env"}
        runner = {k: kwargs.pop(k) for k in list(kwargs) if k in runner_keys}
        if runner:
            kwargs["runner"] = LammpsRunner(**runner)
        engine = LammpsMDEngine(
            xml, workdir=workdir, settings=self.run_settings(), potential_id=info.id, **kwargs
        )
        return engine, info
