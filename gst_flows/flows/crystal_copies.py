"""Teacher labels of distorted copies of the DFT training crystals (indirect learning).

A student fitted to MD frames and a few DFT crystals predicts the energies of strongly
distorted small crystal cells poorly: a 0.15 Å rattle of a 5-atom cell is a collective
distortion costing 0.1-0.2 eV/atom, and one such held-out cell can dominate a student's energy
error. The teacher labels copies of every DFT training crystal, rattled and strained, in
milliseconds each; :class:`~gst_flows.flows.indirect.IndirectLearningMaker` adds them to the
student's synthetic training labels with ``crystal_copies=CrystalCopies(...)``
(measurements in ``docs/fast-potentials.md``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ase import Atoms
from jobflow import Response, job

from gst_flows.errors import InputError

__all__ = [
    "CrystalCopies",
    "as_crystal_copies",
    "check_crystal_copies",
    "crystal_copies_job",
    "dft_crystals",
    "teacher_label_crystal_copies",
]

#: ``config_type`` of the copies' labels.
COPY_CONFIG_TYPE = "crystal_copy"


@dataclass(frozen=True)
class CrystalCopies:
    """Distorted copies of every DFT training crystal, labelled by the teacher.

    Attributes
    ----------
    n_copies
        Copies per crystal.
    rattle
        Standard deviation of the Gaussian displacement of every atom, Å.
    strain
        Largest absolute entry of the symmetric strain tensor applied to each copy's cell.
    config_type
        The DFT labels (of the flow's ``dft_tag``) that count as crystals.
    min_distance
        A copy with a closer pair is redrawn, Å.
    seed
        Seed of the first crystal's copies (crystal ``k`` uses ``seed + k``).
    """

    n_copies: int = 200
    rattle: float = 0.15
    strain: float = 0.03
    config_type: str = "crystal"
    min_distance: float = 2.0
    seed: int = 0

    def check(self) -> None:
        """Refuse settings that cannot give copies, before any job."""
        where = "crystal_copies"
        if int(self.n_copies) != self.n_copies or self.n_copies < 1:
            raise InputError(f"n_copies must be a whole number >= 1, got {self.n_copies}", where=where)
        if not 0 <= self.rattle <= 0.5:
            raise InputError(f"rattle must be in [0, 0.5] Å, got {self.rattle}", where=where)
        if not 0 <= self.strain < 0.2:
            raise InputError(f"strain must be in [0, 0.2), got {self.strain}", where=where)
        if self.rattle == 0 and self.strain == 0:
            raise InputError("rattle and strain are both 0: every copy would be the crystal", where=where)
        if not self.config_type:
            raise InputError("config_type must name the DFT labels that are crystals", where=where)

    def copies(self, crystals: list[tuple[str, Atoms]]) -> list[Atoms]:
        """The copies of ``crystals`` (structure hash, cell), each naming its crystal."""
        from gst_flows.structures import perturbed_copies

        frames = []
        for k, (key, atoms) in enumerate(crystals):
            bare = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
            drawn = perturbed_copies(
                bare,
                int(self.n_copies),
                rattle=self.rattle,
                strain=self.strain,
                seed=int(self.seed) + k,
                min_distance=self.min_distance,
            )
            for j, copy in enumerate(drawn):
                copy.info = {
                    "config_type": COPY_CONFIG_TYPE,
                    "generator": f"copy {j} of DFT crystal {key[:12]} "
                    f"(rattle {self.rattle:g} Å, strain {self.strain:g})",
                }
                frames.append(copy)
        return frames


def as_crystal_copies(value: Any) -> CrystalCopies | None:
    """A :class:`CrystalCopies` from itself, its dict (as stored with a maker) or None."""
    if value is None or isinstance(value, CrystalCopies):
        return value
    if isinstance(value, dict):
        return CrystalCopies(**{k: v for k, v in value.items() if not k.startswith("@")})
    kind = type(value).__name__
    raise InputError(f"crystal_copies must be a CrystalCopies, got {kind}", where="crystal_copies")


def dft_crystals(
    dft_tag: str, config_type: str, store=None, load: bool = True
) -> list[tuple[str, Atoms | None]]:
    """The DFT labels of ``dft_tag`` of ``config_type`` (periodic cells of 2 or more atoms).

    Returns (structure hash, cell) pairs, oldest first; the cell is None when ``load`` is False.
    """
    from gst_flows.db import find_labels

    labels = find_labels(store=store, load=load, forces=False, tag=dft_tag, config_type=config_type)
    return [
        (lab.doc.structure_hash, lab.doc.to_atoms() if load else None) for lab in labels if lab.doc.natoms > 1
    ]


@job
def teacher_label_crystal_copies(
    dft_tag: str, settings: dict[str, Any], labeller: Any, provenance: dict[str, Any], name: str
) -> Response:
    """Replace itself by a label flow of the teacher over copies of the DFT crystals.

    ``settings`` is the :class:`CrystalCopies` as a dict. The replacement's output is the
    batch's :class:`~gst_flows.schemas.label.LabelBatchDoc`.
    """
    from gst_flows.flows.label import label_flow
    from gst_flows.store import current_store

    copies = as_crystal_copies(settings)
    crystals = dft_crystals(dft_tag, copies.config_type, store=current_store())
    if not crystals:
        raise ValueError(_no_crystals(dft_tag, copies.config_type))
    frames = copies.copies(crystals)
    return Response(replace=label_flow(frames, labeller, name=name, max_failed_fraction=0.0, **provenance))


def check_crystal_copies(value: Any, dft_tag: str | None, store=None) -> None:
    """Refuse bad copy settings, or a DFT tag without crystals to copy, before any job."""
    copies = as_crystal_copies(value)
    if copies is None:
        return
    copies.check()
    if not dft_tag:
        raise InputError("crystal copies are made of the DFT crystals: give dft_tag", where="dft_tag")
    if not dft_crystals(dft_tag, copies.config_type, store=store, load=False):
        raise InputError(_no_crystals(dft_tag, copies.config_type), where="crystal_copies")


def _no_crystals(dft_tag: str, config_type: str) -> str:
    return f"no DFT labels of config_type {config_type!r} under tag {dft_tag!r} to copy"


def crystal_copies_job(value: Any, dft_tag: str, labeller: Any, tag: str, teacher: Any):
    """The job that has ``labeller`` (the teacher) label the copies under ``tag``."""
    copies = teacher_label_crystal_copies(
        dft_tag,
        asdict(as_crystal_copies(value)),
        labeller,
        {"tag": tag, "potential_id": teacher.potential_id},
        "teacher labels of crystal copies",
    )
    copies.name = "teacher labels of crystal copies"
    return copies
