"""Label structures with a stored GAP (a teacher): synthetic labels for indirect learning."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, ClassVar

from ase import Atoms
from ase.units import GPa

from gst_flows.makers.dft import BaseLabelMaker, run_label
from gst_flows.schemas.label import LabelDoc
from gst_flows.schemas.potential import PotentialRef, as_potential_ref

__all__ = ["KEEP_LOADED", "TEACHER_CODE", "TeacherLabelMaker", "loaded_teacher", "teacher_ref"]

#: ``LabelDoc.code`` of labels computed by a teacher potential.
TEACHER_CODE = "teacher"

#: How many teachers a process keeps loaded (a GAP can take hundreds of MB).
KEEP_LOADED = 2

_LOADED: OrderedDict[str, Any] = OrderedDict()
_LOADED_LOCK = threading.Lock()


def loaded_teacher(ref: PotentialRef, store=None):
    """The teacher's calculator, loaded once per process and reused by the next labels.

    Loading a GAP (fetching its files, checking their SHA-256, parsing the XML) takes
    about a second, ten times the teacher's evaluation of a small cell. The calculator is
    kept, keyed by the teacher's settings hash (its id and the SHA-256 of every file, checked
    when it was loaded), for the next label jobs in the same process (``run_locally``,
    ``rlaunch rapidfire``); the :data:`KEEP_LOADED` most recent teachers stay loaded.
    Call it, and use the calculator, from one thread at a time.
    """
    from gst_flows.md.potential import gap_calculator
    from gst_flows.potentials import fetch_potential_ref
    from gst_flows.store import current_store

    key = TeacherLabelMaker.settings_hash_for(ref)
    with _LOADED_LOCK:
        calc = _LOADED.pop(key, None)
        if calc is None:
            calc = gap_calculator(
                fetch_potential_ref(ref, store=store if store is not None else current_store())
            )
        _LOADED[key] = calc
        while len(_LOADED) > KEEP_LOADED:
            _LOADED.popitem(last=False)
    calc.reset()
    return calc


def teacher_ref(teacher: Any, store=None) -> PotentialRef:
    """The reference of a stored GAP named by a reference, its JSON form, an id or a tag.

    Parameters
    ----------
    teacher
        A :class:`~gst_flows.schemas.potential.PotentialRef` (or its JSON form), or the id
        (or unique prefix, or tag) of a stored potential.
    store
        JobStore; the running job's (when exposed) or the configured one when omitted.

    Raises
    ------
    gst_flows.errors.InputError
        When the store has no such potential, it is not a GAP, or it was stored without a
        reference (no SHA-256 to key its labels by).
    """
    from gst_flows.errors import InputError
    from gst_flows.potentials import find_potential
    from gst_flows.store import current_store

    ref = as_potential_ref(teacher)
    if ref is None:
        if not isinstance(teacher, str) or not teacher:
            raise InputError(
                f"the teacher must be a PotentialRef or a potential id, got {teacher!r}", where="teacher"
            )
        try:
            info = find_potential(teacher, store=store if store is not None else current_store())
        except KeyError as exc:
            raise InputError(
                f"no stored potential with id or tag {teacher!r}",
                where="teacher",
                fix="give the potential_id or a tag of a stored GAP fit (its GapFitDoc)",
            ) from exc
        ref = as_potential_ref(info["potential_ref"])
        if ref is None:
            raise InputError(
                f"potential {teacher} was stored without a reference (no SHA-256 of its files)",
                where="teacher",
                fix="refit it, or import it again, so its labels can name the exact potential",
            )
    if ref.backend != "gap":
        raise InputError(
            f"potential {ref.potential_id} is a {ref.backend.upper()}; the teacher must be a GAP",
            where="teacher",
        )
    return ref


@dataclass
class TeacherLabelMaker(BaseLabelMaker):
    """Label a structure with a stored GAP: energy, forces and stress as a :class:`LabelDoc`.

    The labels are synthetic: ``code="teacher"``, provenance ``teacher`` (the potential id)
    and ``synthetic=True``, so the default label query, export and training selections leave
    them out (:func:`gst_flows.db.label_filter`). The settings name the potential and the
    SHA-256 of every file of it, so labels of two teachers never count as the same label,
    while labelling a structure again with the same teacher reuses the stored label. The
    files are fetched from the store and checked against that SHA-256 before use.

    Parameters
    ----------
    name
        Job name.
    teacher
        The GAP: a :class:`~gst_flows.schemas.potential.PotentialRef` (a fit document's
        ``potential_ref``) or a stored potential's id. An id is resolved to its reference when
        the job runs; :class:`~gst_flows.flows.indirect.IndirectLearningMaker` resolves it
        when the flow is made.
    """

    name: str = "teacher label"
    teacher: Any = None

    fworker_category: ClassVar[str] = "md"

    def __post_init__(self) -> None:
        ref = as_potential_ref(self.teacher)
        if ref is not None:
            self.teacher = ref

    @staticmethod
    def settings_for(ref: PotentialRef) -> dict[str, Any]:
        """The labelling protocol of a teacher: backend, id and SHA-256 of each file."""
        return {
            "potential": ref.backend,
            "potential_id": ref.potential_id,
            "sha256": ref.sha256,
            "files": dict(sorted(ref.files.items())),
        }

    @classmethod
    def settings_hash_for(cls, ref: PotentialRef) -> str:
        """SHA-1 of :meth:`settings_for` (the label key with the structure hash)."""
        text = json.dumps(cls.settings_for(ref), sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()

    def label(self, atoms: Atoms, provenance: dict[str, Any] | None) -> LabelDoc:
        """Evaluate the teacher on ``atoms`` (eV, eV/Å; stress in GPa, tensile positive)."""
        ref = teacher_ref(self.teacher)
        prov = {**(provenance or {}), "teacher": ref.potential_id, "synthetic": True}

        def run(run_dir):
            start = time.perf_counter()
            probe = atoms.copy()
            probe.calc = loaded_teacher(ref)
            energy = probe.get_potential_energy()
            forces = probe.get_forces()
            stress = probe.get_stress(voigt=False) / GPa if all(probe.pbc) else None
            return SimpleNamespace(
                energy=energy,
                forces=forces,
                stress=stress,
                version=f"gap {ref.potential_id}",
                kpoints=None,
                walltime=time.perf_counter() - start,
            )

        return run_label(
            atoms,
            code=TEACHER_CODE,
            settings=self.settings_for(ref),
            settings_hash=self.settings_hash_for(ref),
            provenance=prov,
            run=run,
            errors=(),
        )
