"""Makers that label structures with DFT."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from jobflow import Maker, job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.schemas.aimd import AimdDoc
from gst_flows.schemas.label import LabelDoc, Provenance

logger = logging.getLogger(__name__)

__all__ = [
    "ATOM_MULTIPLICITY",
    "BaseLabelMaker",
    "Cp2kAimdMaker",
    "Cp2kIsolatedAtomMaker",
    "Cp2kLabelMaker",
    "current_job_uuid",
    "find_existing_label",
    "labelled_snapshot",
]

# Spin multiplicity of the free atoms' ground states: Ge s2p2 (3P), Sb s2p3 (4S), Te s2p4 (3P).
ATOM_MULTIPLICITY = {"Ge": 3, "Sb": 4, "Te": 3}


def _exposed_store():
    """The store jobflow exposes to the running job (``expose_store``), else None."""
    from jobflow import CURRENT_JOB

    return getattr(CURRENT_JOB, "store", None)


def find_existing_label(
    structure_hash: str, settings_hash: str, provenance: dict[str, Any] | None = None
) -> LabelDoc | None:
    """A successful label of the same structure with the same settings, if the store has one.

    Looks in the store of the running job (exposed by jobflow when the job's config has
    ``expose_store``); returns None outside a job or when nothing matches. The copy returned
    carries ``provenance`` when given (the new context it is used in) and ``reused_from``.
    This only reads; :func:`gst_flows.db.reuse.acquire_label` also claims the label.
    """
    from gst_flows.db.reuse import computed_label, load_label, reused_copy

    store = _exposed_store()
    if store is None:
        return None
    found = load_label(store, computed_label(structure_hash, settings_hash))
    return reused_copy(found, provenance) if found else None


def run_label(
    atoms: Any,
    *,
    code: str,
    settings: dict[str, Any],
    settings_hash: str,
    provenance: dict[str, Any] | None,
    run: Any,
    errors: tuple[type[Exception], ...],
    describe_error: Any = str,
    extra: dict[str, Any] | None = None,
) -> LabelDoc:
    """The body every label maker shares: reuse, run folder, success or failure document.

    Parameters
    ----------
    atoms
        The structure to label (validated).
    code, settings, settings_hash
        The code and its protocol.
    provenance
        Keys of :class:`Provenance`.
    run
        ``run(run_dir)`` runs the code in ``run_dir`` and returns a parsed result with
        ``energy`` (eV), ``forces`` (eV/Å), ``stress`` (GPa), ``version``, ``kpoints``,
        ``walltime`` and, if the code reports them, ``corrections``.
    errors
        Exceptions that mean the calculation failed (a failed-label document is returned).
    describe_error
        Turns such an exception into the document's error text.
    extra
        Further document fields.
    """
    from gst_flows.db import registry as reg
    from gst_flows.db.reuse import acquire_label
    from gst_flows.hashing import structure_hash

    store = _exposed_store()
    me = current_job_uuid()
    s_hash = structure_hash(atoms)
    if store is not None:
        existing = acquire_label(store, s_hash, settings_hash, me, provenance)
        if existing is not None:
            return existing
    # Several jobs may share a launch directory (packed Fireworks): one folder each.
    run_dir = Path.cwd() / f"{code}-{me[:8]}"
    common = {
        "code": code,
        "settings": settings,
        "settings_hash": settings_hash,
        "provenance": Provenance(**(provenance or {})),
        "dir_name": str(run_dir),
        **(extra or {}),
    }
    key = reg.label_key(s_hash, settings_hash)
    try:
        with reg.heartbeat(store, key, me) if store is not None else nullcontext():
            result = run(run_dir)
    except errors as exc:
        if store is not None:
            reg.release_claim(store, key, me)
        return LabelDoc.from_result(atoms, error=describe_error(exc), **common)
    except BaseException:
        if store is not None:
            reg.release_claim(store, key, me)
        raise
    return LabelDoc.from_result(
        atoms,
        energy=result.energy,
        forces=result.forces,
        stress=result.stress,
        code_version=result.version,
        kpoints=list(result.kpoints) if result.kpoints else None,
        walltime=result.walltime,
        **({"corrections": result.corrections} if hasattr(result, "corrections") else {}),
        **common,
    )


def _report(doc: LabelDoc) -> LabelDoc:
    """Log one line of batch progress for a finished label and return it."""
    from jobflow import CURRENT_JOB

    running = getattr(CURRENT_JOB, "job", None)
    meta = running.metadata if running is not None else {}
    where = f"{meta['batch_index'] + 1}/{meta['batch_size']} " if "batch_size" in meta else ""
    how = "reused" if doc.reused_from else doc.state
    detail = f"E = {doc.energy_per_atom:.4f} eV/atom" if doc.energy_per_atom is not None else doc.error
    logger.info("label %s%s (%d atoms): %s, %s", where, doc.formula, doc.natoms, how, detail)
    return doc


def current_job_uuid() -> str:
    """Uuid of the running jobflow job, or a fresh one outside a job."""
    import uuid

    from jobflow import CURRENT_JOB

    running = getattr(CURRENT_JOB, "job", None)
    return running.uuid if running is not None else str(uuid.uuid4())


def _validated_atoms(structure: Structure) -> Atoms:
    """``structure`` as ASE atoms without extra info, refused if no code should be run on it."""
    from gst_flows.structures import validate_structure

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.info.clear()
    validate_structure(atoms)
    return atoms


def resolve_cp2k_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    """The whole CP2K protocol: defaults, then the configuration's ``dft`` section, then ``settings``.

    Unknown keys and bad values are refused here, with a clear error, before anything runs.
    """
    from gst_flows.dft.cp2k import Cp2kSettings
    from gst_flows.settings import get_settings

    return Cp2kSettings.from_dict({**get_settings().dft, **(settings or {})}).as_dict()


@dataclass
class BaseLabelMaker(Maker):
    """Label a structure with a DFT code: energy, forces and stress, as a :class:`LabelDoc`.

    The job validates the structure and calls :meth:`label`, which each code's maker
    implements (usually with :func:`run_label`). Label jobs run on ``dft`` fworkers.
    """

    fworker_category: ClassVar[str] = "dft"

    @job(output_schema=LabelDoc, data=["forces", "structure"])
    def make(self, structure: Structure, provenance: dict[str, Any] | None = None) -> LabelDoc:
        """Run the code on ``structure`` in a folder of the job's directory.

        Parameters
        ----------
        structure
            Structure to label.
        provenance
            Keys of :class:`Provenance` (tag, iteration, generator, config_type, ...).
        """
        return self.label(_validated_atoms(structure), provenance)

    def label(self, atoms: Atoms, provenance: dict[str, Any] | None) -> LabelDoc:
        """Run the code on validated ``atoms`` and return the label document.

        Parameters
        ----------
        atoms
            Structure to label.
        provenance
            Keys of :class:`Provenance`.
        """
        raise NotImplementedError


@dataclass
class Cp2kLabelMaker(BaseLabelMaker):
    """Label a structure with CP2K: energy, forces and stress, as a :class:`LabelDoc`.

    A CP2K failure that custodian cannot correct gives a document with ``state="failed"`` and
    the error, not a failed job, so a batch of labels carries on.

    Parameters
    ----------
    name
        Job name.
    settings
        Overrides of :class:`gst_flows.dft.cp2k.Cp2kSettings`, applied over the ``dft`` section
        of the gst-flows configuration. The protocol is resolved when the maker is made (where
        the flow is built) and kept whole in this field, so a worker with another configuration
        computes the same protocol; a worker's configuration supplies only the command and the
        thread count.
    command
        CP2K command (``-i cp2k.inp`` is appended); the configured ``cp2k_cmd`` when None.
    omp_threads
        ``OMP_NUM_THREADS`` for CP2K; the configured value when None.
    use_custodian
        Run CP2K under custodian with its CP2K error handlers.
    max_errors
        Corrections custodian may apply before the label is stored as failed.
    walltime
        Seconds available to the job (enables custodian's walltime handler).
    """

    name: str = "cp2k label"
    settings: dict[str, Any] = field(default_factory=dict)
    command: str | None = None
    omp_threads: int | None = None
    use_custodian: bool = True
    max_errors: int = 5
    walltime: float | None = None

    def __post_init__(self) -> None:
        self.settings = resolve_cp2k_settings(self.settings)

    def resolved_settings(self):
        """The CP2K protocol of this maker (fixed when the maker was made)."""
        from gst_flows.dft.cp2k import Cp2kSettings

        return Cp2kSettings.from_dict(self.settings)

    def protocol_for(self, atoms) -> tuple[Any, dict[str, Any]]:
        """The CP2K settings for ``atoms`` and extra document fields (none for bulk labels)."""
        return self.resolved_settings(), {}

    def label(self, atoms: Atoms, provenance: dict[str, Any] | None) -> LabelDoc:
        """Run CP2K on ``atoms`` in a folder of the job's directory."""
        import shlex

        from gst_flows.dft.cp2k import Cp2kError, run_cp2k
        from gst_flows.settings import get_settings

        cp2k, extra = self.protocol_for(atoms)
        config = get_settings()
        command = shlex.split(self.command) if self.command else config.cp2k_command
        omp = self.omp_threads or config.cp2k_omp_threads
        if "config_type" in extra:
            provenance = {**(provenance or {}), "config_type": extra.pop("config_type")}
        return _report(
            run_label(
                atoms,
                code="cp2k",
                settings=cp2k.as_dict(),
                settings_hash=cp2k.settings_hash(),
                provenance=provenance,
                errors=(Cp2kError,),
                extra=extra,
                run=lambda run_dir: run_cp2k(
                    atoms,
                    cp2k,
                    directory=run_dir,
                    command=command,
                    omp_threads=omp,
                    use_custodian=self.use_custodian,
                    max_errors=self.max_errors,
                    walltime=self.walltime,
                ),
            )
        )


@dataclass
class Cp2kIsolatedAtomMaker(Cp2kLabelMaker):
    """Reference energy of one isolated atom for the fit's e0, with the bulk protocol.

    The bulk settings (basis, pseudopotential, functional, cutoffs, smearing) are kept;
    the calculation is spin-polarised at the atom's ground-state multiplicity, Γ-only, with
    integer occupations (orbital transformation), as free atoms need.
    The document records the bulk protocol's settings hash as ``reference_settings_hash`` and
    ``config_type = "isolated_atom"``; an identical earlier run is reused, so each element is
    computed once per protocol. Give the atom a large, slightly asymmetric box (see
    :func:`gst_flows.flows.label.isolated_atoms_flow`).
    """

    name: str = "cp2k isolated atom"

    def protocol_for(self, atoms) -> tuple[Any, dict[str, Any]]:
        """Spin-polarised Γ-only settings derived from the bulk protocol."""
        if len(atoms) != 1:
            raise ValueError(f"an isolated-atom calculation takes one atom, got {len(atoms)}")
        bulk = self.resolved_settings()
        element = atoms.get_chemical_symbols()[0]
        # Open p shells slosh under smearing and Broyden mixing: integer occupations with OT.
        atom = bulk.update(
            uks=True,
            gamma_only=True,
            multiplicity=ATOM_MULTIPLICITY.get(element, 0),
            scf_method="ot",
        )
        return atom, {
            "reference_settings_hash": bulk.settings_hash(),
            "config_type": "isolated_atom",
        }


@job(output_schema=LabelDoc, data=["forces", "structure"])
def labelled_snapshot(
    structure: Structure,
    energy: float,
    forces: list[list[float]],
    stress: list[list[float]] | None,
    settings: dict[str, Any],
    settings_hash: str,
    code_version: str | None = None,
    provenance: dict[str, Any] | None = None,
) -> LabelDoc:
    """Store an MD frame that is labelled by construction (AIMD) as a :class:`LabelDoc`.

    A frame already labelled with these settings (the same AIMD run again) is reused.
    """
    from gst_flows.db.reuse import acquire_label
    from gst_flows.hashing import structure_hash

    atoms = AseAtomsAdaptor.get_atoms(structure)
    store = _exposed_store()
    if store is not None:
        existing = acquire_label(store, structure_hash(atoms), settings_hash, current_job_uuid(), provenance)
        if existing is not None:
            return existing
    return LabelDoc.from_result(
        atoms,
        code="cp2k",
        code_version=code_version,
        settings=settings,
        settings_hash=settings_hash,
        energy=energy,
        forces=np.asarray(forces),
        stress=None if stress is None else np.asarray(stress),
        provenance=Provenance(**(provenance or {})),
    )


@dataclass
class Cp2kAimdMaker(Maker):
    """Ab initio MD with CP2K (NVT, CSVR) through temperature stages; emits labelled snapshots.

    The run melts, holds and quenches a cell (iter-0 liquid and amorphous data). Frames every
    ``snapshot_interval`` steps are stored as :class:`LabelDoc` documents (their DFT labels come
    with the MD) by jobs added to the flow; the series and trajectory go to the data store.
    :meth:`from_protocol` builds the stages from an MD protocol (the description GAP-MD runs),
    :meth:`melt_quench` from the shared :func:`gst_flows.md.protocol.melt_quench`.

    Parameters
    ----------
    name
        Job name.
    stages
        ``[(temperature K, steps), ...]`` run in order (see :meth:`from_protocol`).
    timestep
        fs (2 fs default).
    snapshot_interval
        Steps between saved frames; every stage length must be a multiple of it.
    thermostat_timecon
        CSVR time constant, fs.
    settings
        Overrides of the CP2K protocol (as :class:`Cp2kLabelMaker`).
    skip_first
        Saved frames at the start of the run not emitted as snapshots (equilibration).
    config_types
        Map from stage index to config_type of its snapshots (default: ``liquid`` for stages
        at or above ``liquid_above`` K, else ``amorphous``).
    liquid_above
        Temperature (K) from which snapshots count as liquid.
    """

    name: str = "cp2k aimd"
    stages: list[tuple[float, int]] = field(
        default_factory=lambda: [(1200.0, 1000), (900.0, 1000), (600.0, 500), (300.0, 500)]
    )
    timestep: float = 2.0
    snapshot_interval: int = 50
    thermostat_timecon: float = 100.0
    settings: dict[str, Any] = field(default_factory=dict)
    command: str | None = None
    omp_threads: int | None = None
    skip_first: int = 1
    config_types: dict[int, str] | None = None
    liquid_above: float = 900.0

    fworker_category: ClassVar[str] = "dft"

    @classmethod
    def from_protocol(
        cls,
        protocol: Any,
        timestep: float | None = None,
        *,
        ramp_stages: int = 4,
        **kwargs: Any,
    ) -> Cp2kAimdMaker:
        """AIMD through the temperature stages of an MD protocol (:mod:`gst_flows.md.protocol`).

        Holds become stages, a linear ramp ``ramp_stages`` equal stages at the ramp's temperature
        at the end of each interval, durations kept in fs; what CP2K AIMD cannot run (actions such
        as fixed atoms or energy pulses, barostats, ``nve``) raises a ``ProtocolError`` here,
        before any compute (:func:`gst_flows.dft.cp2k_md.stages_from_protocol`). The CSVR time
        constant is the protocol's ``tdamp`` unless ``thermostat_timecon`` is given.

        Parameters
        ----------
        protocol
            A :class:`~gst_flows.md.protocol.Protocol`, a shipped name, a YAML path or a mapping.
        timestep
            AIMD timestep, fs; the protocol's when None.
        ramp_stages
            Stages per linear ramp.
        **kwargs
            Further fields of the maker (``snapshot_interval``, ``settings``, ...).
        """
        from gst_flows.dft.cp2k_md import protocol_timecon, stages_from_protocol
        from gst_flows.md.protocol import load_protocol

        if "stages" in kwargs:
            raise TypeError("give a protocol or stages, not both")
        protocol = load_protocol(protocol)
        stages = stages_from_protocol(protocol, timestep, ramp_stages)
        timestep = protocol.stages[0].timestep if timestep is None else timestep
        if "thermostat_timecon" not in kwargs:
            kwargs["thermostat_timecon"] = protocol_timecon(protocol)
        return cls(stages=[(s.temperature, s.steps) for s in stages], timestep=timestep, **kwargs)

    @classmethod
    def melt_quench(
        cls,
        melt_temperature: float = 1200.0,
        melt_steps: int = 1000,
        final_temperature: float = 300.0,
        quench_steps: int = 1000,
        n_quench_stages: int = 4,
        **kwargs: Any,
    ) -> Cp2kAimdMaker:
        """Melt at ``melt_temperature``, then quench in equal stages to ``final_temperature``.

        Built through the shared :func:`gst_flows.md.protocol.melt_quench` (no heating, no
        anneal): its quench ramp becomes ``n_quench_stages`` stages (see :meth:`from_protocol`).
        """
        from gst_flows.md.protocol import melt_quench

        if melt_temperature == final_temperature:
            raise ValueError(f"final_temperature must differ from the melt ({melt_temperature} K)")
        timestep = kwargs.pop("timestep", cls.timestep)
        protocol = melt_quench(
            melt_temperature=melt_temperature,
            melt_duration=melt_steps * timestep,
            quench_temperature=final_temperature,
            quench_rate=(melt_temperature - final_temperature) / (quench_steps * timestep) * 1000.0,
            heat_from=None,
            anneal_duration=0.0,
            timestep=timestep,
        )
        kwargs.setdefault("thermostat_timecon", cls.thermostat_timecon)
        return cls.from_protocol(protocol, timestep, ramp_stages=n_quench_stages, **kwargs)

    def __post_init__(self) -> None:
        from gst_flows.dft.cp2k_md import AimdStage

        self.settings = resolve_cp2k_settings(self.settings)
        for temperature, steps in self.stages:
            AimdStage(float(temperature), int(steps))
            if steps % self.snapshot_interval:
                raise ValueError(
                    f"stage length {steps} is not a multiple of snapshot_interval {self.snapshot_interval}"
                )

    def _config_type(self, stage_index: int, temperature: float) -> str:
        if self.config_types and stage_index in self.config_types:
            return self.config_types[stage_index]
        return "liquid" if temperature >= self.liquid_above else "amorphous"

    @job(
        output_schema=AimdDoc,
        data=["trajectory", "steps", "times", "temperatures", "target_temperatures", "potential_energies"],
    )
    def make(self, structure: Structure, provenance: dict[str, Any] | None = None):
        """Run the stages and add one snapshot-storing job per saved frame."""
        import shlex

        from jobflow import Flow, Response

        from gst_flows.dft.cp2k_md import AimdStage, run_aimd
        from gst_flows.settings import get_settings

        atoms = _validated_atoms(structure)
        cp2k = Cp2kLabelMaker(settings=self.settings).resolved_settings()
        config = get_settings()
        command = shlex.split(self.command) if self.command else config.cp2k_command
        stages = [AimdStage(float(t), int(n)) for t, n in self.stages]
        run_dir = Path.cwd() / f"aimd-{current_job_uuid()[:8]}"
        result = run_aimd(
            atoms,
            stages,
            cp2k,
            run_dir,
            timestep=self.timestep,
            every=self.snapshot_interval,
            timecon=self.thermostat_timecon,
            command=command,
            omp_threads=self.omp_threads or config.cp2k_omp_threads,
        )
        bounds = np.cumsum([0] + [s.steps for s in stages])
        snapshots = []
        for frame in result.frames[self.skip_first :]:
            stage_index = int(np.searchsorted(bounds, frame.step, side="left")) - 1
            stage_index = min(max(stage_index, 0), len(stages) - 1)
            snap = atoms.copy()
            snap.positions = frame.positions
            prov = {
                **(provenance or {}),
                "generator": f"cp2k aimd {current_job_uuid()}",
                "temperature": stages[stage_index].temperature,
                "md_step": frame.step,
                "config_type": (provenance or {}).get("config_type")
                or self._config_type(stage_index, stages[stage_index].temperature),
            }
            snapshot = labelled_snapshot(
                AseAtomsAdaptor.get_structure(snap),
                frame.energy,
                frame.forces.tolist(),
                None if frame.stress is None else frame.stress.tolist(),
                cp2k.as_dict(),
                cp2k.settings_hash(),
                provenance=prov,
            )
            snapshot.config.expose_store = True  # one label per frame, also when run again
            snapshots.append(snapshot)
        final = atoms.copy()
        final.positions = result.final_positions
        conserved = result.conserved
        doc = AimdDoc(
            settings=cp2k.as_dict(),
            settings_hash=cp2k.settings_hash(),
            stages=[{"temperature": s.temperature, "steps": s.steps} for s in stages],
            timestep=self.timestep,
            snapshot_interval=self.snapshot_interval,
            natoms=len(atoms),
            formula=atoms.get_chemical_formula(mode="metal", empirical=True),
            n_steps=int(bounds[-1]),
            n_snapshots=len(snapshots),
            final_temperature=result.temperatures[-1],
            conserved_drift=(conserved[-1] - conserved[0]) / len(atoms),
            steps=result.steps,
            times=result.times,
            temperatures=result.temperatures,
            target_temperatures=result.target_temperatures,
            potential_energies=result.potential_energies,
            trajectory=[
                {"step": f.step, "positions": f.positions.tolist(), "velocities": f.velocities.tolist()}
                for f in result.frames
            ],
            final_structure=AseAtomsAdaptor.get_structure(final),
            dir_name=str(run_dir),
        )
        # A detour, not an addition: jobs that use this run wait for the snapshots to be stored.
        return Response(output=doc, detour=Flow(snapshots, name="aimd snapshots"))
