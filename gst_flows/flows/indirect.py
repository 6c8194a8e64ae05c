"""Indirect learning: a teacher GAP runs MD, labels its own frames, and a student learns them.

A fast potential (a POD by default) fitted to a few DFT frames is unstable in MD; fitted to
many frames labelled by a GAP (the teacher), with the DFT frames weighted in, it runs (see
``benchmarks/indirect_learning.py`` and ``docs/fast-potentials.md``). The flow:

1. teacher MD (:class:`~gst_flows.makers.md.GapMDMaker`) on each cell, one run per MD maker;
2. teacher labels (:class:`~gst_flows.makers.teacher.TeacherLabelMaker`) of frames sampled
   from each run, stored as synthetic labels under ``<tag>-synthetic``, those of the held-out
   runs under ``<tag>-synthetic-heldout``;
3. the student fit on the synthetic labels plus the DFT labels of ``dft_tag``, each DFT
   structure repeated ``dft_repeat`` times (the fit codes have no per-frame weights);
4. validation: an :class:`~gst_flows.schemas.indirect.IndirectLearningDoc` with the student's
   errors against the teacher on the held-out runs and against DFT on ``dft_test_tag``;
5. with ``student_rounds`` set, rounds of the student's own MD
   (:func:`~gst_flows.flows.student_rounds.student_round`): the
   teacher labels frames of the student's runs, those that blew up included up to the check
   that stopped them, and the next student is fitted with them. A student fitted only to the
   teacher's trajectories meets configurations in its own MD that no teacher run visited (a
   POD's melt can collapse within a few hundred steps); its runs find them and the teacher
   corrects them;
6. with ``crystal_copies`` set, the teacher also labels rattled and strained copies of the DFT
   training crystals (:mod:`gst_flows.flows.crystal_copies`) into ``<tag>-synthetic``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from ase import Atoms
from jobflow import Flow, Maker, Response, job
from jobflow.core.reference import OnMissing
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.errors import InputError
from gst_flows.flows.crystal_copies import check_crystal_copies, crystal_copies_job
from gst_flows.flows.fresh_packings import as_fresh_packings
from gst_flows.flows.indirect_validation import failed_runs, n_structures, validate_student
from gst_flows.makers.fit import PotentialFitMaker, TrainingSelection
from gst_flows.makers.md import GapMDMaker, as_md_doc, structure_to_atoms
from gst_flows.makers.pod import PodFitMaker
from gst_flows.makers.teacher import TeacherLabelMaker, teacher_ref
from gst_flows.md.protocol import melt_quench, partial_melt
from gst_flows.schemas.potential import PotentialRef

__all__ = [
    "IndirectLearningMaker",
    "default_teacher_md_makers",
    "failed_runs",
    "sample_frames",
    "student_sources",
    "teacher_label_frames",
    "validate_student",
]

#: Box of the teacher's isolated atoms, Å (slightly asymmetric, larger than a GAP cutoff).
ISOLATED_BOX = (12.0, 12.5, 13.0)


def default_teacher_md_makers() -> list[GapMDMaker]:
    """A short melt-quench (1,500 K melt quenched to 300 K) and a heating ramp (300-1,500 K).

    About 3 ps each at 2 fs, a frame every 100 fs: liquid, glassy and heated-crystal frames.
    """
    quench = melt_quench(
        melt_temperature=1500.0,
        melt_duration=1000.0,
        quench_rate=1000.0,
        heat_from=None,
        anneal_duration=600.0,
        name="teacher-melt-quench",
    )
    heat = partial_melt(
        start_temperature=300.0, end_temperature=1500.0, duration=3000.0, fixed=None, name="teacher-heating"
    )
    return [
        GapMDMaker(name="teacher md melt-quench", protocol=quench, frame_interval=50, thermo_interval=10),
        GapMDMaker(name="teacher md heating", protocol=heat, frame_interval=50, thermo_interval=10),
    ]


def sample_frames(frames: Sequence[Atoms], stride: int, n_frames: int | None, tail: int = 0) -> list[Atoms]:
    """Every ``stride``-th frame after the first (the start cell), at most ``n_frames`` evenly spread.

    ``tail`` adds the last ``tail`` frames after the start cell (a run stopped by its MD checks:
    the frames leading into the stop). The frames are returned in order, each once, as bare
    periodic cells (species, positions, cell).
    """
    picked = list(range(len(frames)))[stride::stride]
    if n_frames is not None and len(picked) > n_frames:
        index = np.unique(np.linspace(0, len(picked) - 1, n_frames).round().astype(int))
        picked = [picked[i] for i in index]
    if tail > 0:
        picked = sorted({*picked, *range(max(1, len(frames) - tail), len(frames))})
    return [
        Atoms(numbers=f.numbers, positions=f.positions, cell=f.cell, pbc=f.pbc)
        for f in (frames[i] for i in picked)
    ]


@job
def teacher_label_frames(
    md_doc: Any,
    labeller: TeacherLabelMaker,
    stride: int,
    n_frames: int | None,
    provenance: dict[str, Any],
    batch_name: str,
) -> Response:
    """Replace itself by a label flow over frames sampled from a teacher MD run.

    The replacement's output is the batch's :class:`~gst_flows.schemas.label.LabelBatchDoc`.
    When the teacher run failed (``md_doc`` is None: this job runs with missing references
    set to None) nothing is labelled and the output is ``{"failed_run": batch_name}``: the
    flow goes on with the other runs and the validation document lists the failed ones.
    """
    from gst_flows.flows.label import label_flow

    if md_doc is None:
        return Response(output={"failed_run": batch_name})
    doc = as_md_doc(md_doc)
    frames = sample_frames(doc.frames(), stride, n_frames)
    if not frames:
        raise ValueError(f"{batch_name}: the teacher MD saved no frame after its first (stride {stride})")
    prov = {**provenance, "generator": f"teacher md {doc.dir_name or doc.name}"}
    return Response(replace=label_flow(frames, labeller, name=batch_name, max_failed_fraction=0.0, **prov))


@job
def student_sources(
    summaries: list[Any], sources: list[TrainingSelection], n_runs: int = 0
) -> list[TrainingSelection]:
    """The student's training sources, once every synthetic label batch is stored.

    ``summaries`` (the label batches) are taken so this job runs after them; it stops the
    flow with a clear error when all ``n_runs`` teacher runs failed (nothing to teach).
    """
    failed = failed_runs(summaries)
    if n_runs and len(failed) >= n_runs:
        raise RuntimeError(f"every teacher MD run failed ({', '.join(failed)}): no synthetic labels to fit")
    return list(sources)


def _check_synthetic_tags(tags: Any, own: str, teacher_hash: str, store) -> None:
    """Refuse ``synthetic_tags`` that are not a list of tags with labels of this teacher."""
    if isinstance(tags, str) or not all(isinstance(t, str) and t for t in tags):
        raise InputError(f"synthetic_tags must be a list of tags, got {tags!r}", where="synthetic_tags")
    for tag in tags:
        if tag == f"{own}-synthetic":
            raise InputError(f"{tag} is this flow's own synthetic tag", where="synthetic_tags")
        if not n_structures(store, tag=tag, synthetic=True, settings_hash=teacher_hash):
            raise InputError(
                f"no synthetic labels of this teacher under tag {tag!r}",
                where="synthetic_tags",
                fix="give the <tag>-synthetic of an earlier flow with the same teacher",
            )


def _require_whole(name: str, value: Any, minimum: int) -> None:
    """Refuse a setting that is not a whole number of at least ``minimum``."""
    if int(value) != value or value < minimum:
        raise InputError(f"{name} must be a whole number >= {minimum}, got {value}", where=name)


def _check_cells(cells: Any, where: str) -> None:
    if isinstance(cells, Structure | Atoms) or not cells:
        raise InputError("give a list of one or more cells", where=where)
    for k, cell in enumerate(cells):
        if not isinstance(cell, Structure | Atoms):
            raise InputError(f"cell {k} is a {type(cell).__name__}, not a structure", where=where)


@dataclass
class IndirectLearningMaker(Maker):
    """Teach a fast student potential with a GAP's MD frames and labels (indirect learning).

    Parameters
    ----------
    name
        Flow name.
    teacher
        The teacher GAP: a :class:`~gst_flows.schemas.potential.PotentialRef` or the id (or
        tag) of a stored GAP; resolved and checked when the flow is made.
    md_makers
        Teacher MD runs on each cell (their ``potential`` is set to the teacher); default
        :func:`default_teacher_md_makers`.
    frame_stride
        Take every ``frame_stride``-th saved frame of a run (the start cell is never taken).
    n_frames
        At most this many synthetic frames per run, evenly spread (None: all sampled).
    student_maker
        The fit of the student (default: :class:`~gst_flows.makers.pod.PodFitMaker` with no
        test split, since held-out runs and ``dft_test_tag`` are the test sets). ``tag`` is
        added to its tags.
    dft_tag
        Tag of DFT labels fitted with the synthetic ones (None: synthetic only).
    dft_repeat
        Times each DFT structure enters the training set: the weight of DFT labels (0: none).
    dft_test_tag
        Tag of DFT held-out labels the student is validated against (optional).
    heldout_fraction
        Fraction of the teacher runs held out (labelled, not fitted): the student's errors
        against the teacher are measured on them.
    student_rounds
        Rounds of the student's own MD after its first fit (0: none): each runs
        ``student_md_makers`` with the latest student on every cell, has the teacher label
        frames of those runs (into ``<tag>-synthetic``) and fits the next student.
    until_stable
        End the rounds at the first student whose runs all complete (none stopped by the MD
        checks, none failed): that student is the result, its document records its runs and
        ``stable`` is True, and no further student is fitted. ``student_rounds`` is then the
        most rounds; a flow whose last student is still unstable ends as without it.
    stable_rounds
        With ``until_stable``: the rounds in a row whose runs all complete before a student
        is the result. A student that passes a round runs again in the next one (no refit)
        on that round's cells; one stopped run ends its streak and the next student is
        fitted. More than 1 needs other cells or seeds every round
        (``student_cells=FreshPackings(...)`` or ``student_reseed``).
    student_reseed
        Run each round's student MD with other seeds of the velocities and thermostat noise
        (the protocol's seed, or the maker's, plus the round's index from 0): a round's runs
        then follow other trajectories than the last round's, as on fresh cells, and a student
        is not tuned to one trajectory per cell. Makers without a seed draw one per run anyway.
    student_md_makers
        The student's MD runs (their ``potential`` is set to the student); None: ``md_makers``
        on the LAMMPS engine (the engine that runs a POD).
    student_frame_interval
        The student's runs save a frame at least every this many steps (None: their makers'
        interval). Frames are still labelled at the makers' own spacing; the finer ones serve
        ``blowup_frames``.
    blowup_frames
        From a student run stopped by its MD checks (a blow-up), the teacher also labels the
        last this many frames before the stop: the configurations the student gets wrong.
        A large cell often blows up within a hundred steps, before any frame at the makers'
        spacing.
    crystal_copies
        A :class:`~gst_flows.flows.crystal_copies.CrystalCopies` (or its dict): the teacher
        also labels that many rattled and strained copies of every DFT training crystal
        (``dft_tag``, the labels of its ``config_type``) into ``<tag>-synthetic``, as
        ``config_type`` ``crystal_copy``. None: no copies.
    synthetic_tags
        Tags of synthetic labels stored earlier by the same teacher (another flow's
        ``<tag>-synthetic``, say) that every student is fitted on as well: a new student
        starts from what earlier flows had the teacher label, without labelling it again.
        Only labels of this teacher (its settings hash) are taken.
    isolated_atoms
        Label the teacher's isolated atoms (one per species of the cells) with the synthetic
        training labels: they pin the student's one-body terms. The DFT selection brings its
        own isolated atoms too: keep both from one protocol (the teacher's e0 are usually
        the DFT ones).
    seed
        Seed of the choice of held-out runs.
    tag
        Tag of the run: synthetic labels go under ``<tag>-synthetic`` and
        ``<tag>-synthetic-heldout``.
    """

    name: str = "indirect learning"
    teacher: Any = None
    md_makers: list[GapMDMaker] = field(default_factory=default_teacher_md_makers)
    frame_stride: int = 1
    n_frames: int | None = None
    student_maker: PotentialFitMaker = field(
        default_factory=lambda: PodFitMaker(name="student pod fit", test_fraction=0.0)
    )
    dft_tag: str | None = None
    dft_repeat: int = 5
    dft_test_tag: str | None = None
    heldout_fraction: float = 0.25
    student_rounds: int = 0
    until_stable: bool = False
    stable_rounds: int = 1
    student_reseed: bool = False
    student_md_makers: list[GapMDMaker] | None = None
    student_frame_interval: int | None = 10
    blowup_frames: int = 5
    crystal_copies: Any = None
    synthetic_tags: list[str] = field(default_factory=list)
    isolated_atoms: bool = True
    seed: int = 0
    tag: str = "indirect"

    def check(
        self, cells: Sequence[Structure | Atoms], store=None, student_cells: Sequence | None = None
    ) -> PotentialRef:
        """Validate every input and resolve the teacher, before any job is made.

        Returns
        -------
        PotentialRef
            The teacher's reference.

        Raises
        ------
        gst_flows.errors.InputError
            On a missing or unknown teacher, a teacher that is not a GAP, or a bad setting.
        """
        if self.teacher is None:
            raise InputError("no teacher given", where="teacher", fix="give a stored GAP's potential id")
        if not self.tag or not isinstance(self.tag, str):
            raise InputError(f"tag must be a non-empty text, got {self.tag!r}", where="tag")
        _check_cells(cells, "cells")
        packings = as_fresh_packings(student_cells)
        if packings is not None:
            student_cells = packings.check()  # the first round's packings, drawn once here
        elif student_cells is not None:
            _check_cells(student_cells, "student_cells")
        if not self.md_makers or not all(isinstance(m, GapMDMaker) for m in self.md_makers):
            raise InputError("md_makers must be one or more GapMDMaker", where="md_makers")
        if not isinstance(self.student_maker, PotentialFitMaker):
            raise InputError("student_maker must be a PodFitMaker or GapFitMaker", where="student_maker")
        _require_whole("frame_stride", self.frame_stride, 1)
        if self.n_frames is not None and self.n_frames < 1:
            raise InputError(f"n_frames must be >= 1 or None, got {self.n_frames}", where="n_frames")
        _require_whole("dft_repeat", self.dft_repeat, 0)
        if not 0 <= self.heldout_fraction < 1:
            raise InputError(f"heldout_fraction must be in [0, 1), got {self.heldout_fraction}")
        if self.heldout_fraction > 0 and len(cells) * len(self.md_makers) < 2:
            raise InputError(
                "one teacher run cannot be split into training and held-out runs",
                where="heldout_fraction",
                fix="give more cells or MD makers, or heldout_fraction=0",
            )
        _require_whole("student_rounds", self.student_rounds, 0)
        if self.until_stable and not self.student_rounds:
            raise InputError(
                "until_stable ends student rounds early, but student_rounds is 0",
                where="until_stable",
                fix="give student_rounds, the most rounds to run",
            )
        _require_whole("stable_rounds", self.stable_rounds, 1)
        if self.stable_rounds > 1 and not self.until_stable:
            raise InputError(
                "stable_rounds counts rounds for until_stable, which is off", where="stable_rounds"
            )
        if self.stable_rounds > 1 and packings is None and not self.student_reseed:
            raise InputError(
                "stable_rounds > 1 would run the same student on the same cells and seeds again",
                where="stable_rounds",
                fix="give student_cells=FreshPackings(...) or student_reseed=True",
            )
        if self.student_frame_interval is not None:
            _require_whole("student_frame_interval", self.student_frame_interval, 1)
        _require_whole("blowup_frames", self.blowup_frames, 0)
        own = self.student_md_makers
        if own is not None and (
            not all(isinstance(m, GapMDMaker) for m in own) or (self.student_rounds and not own)
        ):
            raise InputError("student_md_makers must be one or more GapMDMaker", where="student_md_makers")
        check_crystal_copies(self.crystal_copies, self.dft_tag, store)
        ref = teacher_ref(self.teacher, store=store)
        _check_synthetic_tags(self.synthetic_tags, self.tag, TeacherLabelMaker.settings_hash_for(ref), store)
        for cell in cells:
            for maker in self.md_makers:
                replace(maker, potential=ref).check(cell)
        student_makers = self.resolved_student_md_makers() if self.student_rounds else []
        for cell in cells if student_cells is None else student_cells:
            for maker in student_makers:
                maker.check(cell, require_potential=False)
        return ref

    def resolved_student_md_makers(self) -> list[GapMDMaker]:
        """The student's MD makers (see :meth:`student_runs`)."""
        return [maker for maker, _ in self.student_runs()]

    def student_runs(self) -> list[tuple[GapMDMaker, int]]:
        """The student's MD makers, each with the stride of the saved frames the teacher labels.

        The makers are ``student_md_makers``, or ``md_makers`` on the LAMMPS engine, saving a
        frame at least every ``student_frame_interval`` steps (an interval dividing the maker's
        own); the stride keeps the labelled frames at the maker's spacing (times ``frame_stride``).
        """
        if self.student_md_makers is not None:
            makers = list(self.student_md_makers)
        else:
            makers = [
                replace(m, name=m.name.replace("teacher", "student"), engine="lammps") for m in self.md_makers
            ]
        runs = []
        for maker in makers:
            finer = maker
            if self.student_frame_interval is not None and maker.frame_interval > self.student_frame_interval:
                # the largest interval within the limit that divides the maker's: the kept
                # frames fall exactly on the maker's own steps
                step = max(
                    d for d in range(1, int(self.student_frame_interval) + 1) if maker.frame_interval % d == 0
                )
                finer = replace(maker, frame_interval=step)
            runs.append((finer, int(self.frame_stride) * (maker.frame_interval // finer.frame_interval)))
        return runs

    def student(self) -> PotentialFitMaker:
        """The student's fit maker, ``tag`` added to its tags."""
        tags = self.student_maker.tags
        return replace(self.student_maker, tags=[*tags, self.tag] if self.tag not in tags else tags)

    def training_sources(self, teacher_hash: str) -> list[TrainingSelection]:
        """The student's training labels: the teacher's synthetic ones, and the weighted DFT ones."""
        sources = [
            TrainingSelection(tag=tag, synthetic=True, settings_hash=teacher_hash)
            for tag in (f"{self.tag}-synthetic", *self.synthetic_tags)
        ]
        if self.dft_tag and self.dft_repeat:
            sources.append(TrainingSelection(tag=self.dft_tag, repeat=int(self.dft_repeat)))
        return sources

    def heldout_runs(self, n_runs: int) -> list[int]:
        """Indices of the held-out runs among ``n_runs`` (at least one, never all, if any)."""
        if self.heldout_fraction <= 0:
            return []
        n_held = min(max(1, round(self.heldout_fraction * n_runs)), n_runs - 1)
        return sorted(np.random.default_rng(self.seed).choice(n_runs, n_held, replace=False).tolist())

    def make(
        self, cells: Sequence[Structure | Atoms], store=None, student_cells: Sequence | None = None
    ) -> Flow:
        """The flow: teacher MD, teacher labels, student fit, validation (and student rounds).

        Parameters
        ----------
        cells
            Starting cells of the teacher MD.
        store
            JobStore in which the teacher is looked up; the configured one when omitted.
        student_cells
            Starting cells of the student's MD in the rounds (default ``cells``): larger
            cells than the teacher can afford, where a student meets rarer configurations;
            or a :class:`~gst_flows.flows.fresh_packings.FreshPackings`, whose new packings
            every round are cells no student ran on before.

        Returns
        -------
        Flow
            Its output is the :class:`~gst_flows.schemas.indirect.IndirectLearningDoc`.
        """
        ref = self.check(cells, store=store, student_cells=student_cells)
        labeller = TeacherLabelMaker(teacher=ref)
        teacher_hash = TeacherLabelMaker.settings_hash_for(ref)
        synthetic_tag, heldout_tag = f"{self.tag}-synthetic", f"{self.tag}-synthetic-heldout"
        held = self.heldout_runs(len(cells) * len(self.md_makers))
        jobs, summaries = [], []
        run = 0
        for i, cell in enumerate(cells):
            atoms = structure_to_atoms(cell)
            if isinstance(cell, Atoms):  # job inputs are stored: pymatgen's form serialises
                cell = AseAtomsAdaptor.get_structure(cell)
            for maker in self.md_makers:
                md = replace(maker, potential=ref).make(cell)
                md.name = f"{maker.name} {i}"
                protocol = maker.resolved_protocol(atoms).name
                labels = teacher_label_frames(
                    md.output,
                    labeller,
                    self.frame_stride,
                    self.n_frames,
                    {
                        "tag": heldout_tag if run in held else synthetic_tag,
                        "config_type": f"gap_md_{protocol}".replace("-", "_"),
                        "potential_id": ref.potential_id,
                    },
                    f"teacher labels {i} {protocol}",
                )
                labels.name = f"teacher labels {i} {protocol}"
                labels.config.on_missing_references = OnMissing.NONE  # a failed run is skipped
                jobs += [md, labels]
                summaries.append(labels.output)
                run += 1
        if self.isolated_atoms:
            jobs.append(self._isolated_atoms(cells, labeller, synthetic_tag, ref))
            summaries.append(jobs[-1].output)
        if self.crystal_copies is not None:
            jobs.append(crystal_copies_job(self.crystal_copies, self.dft_tag, labeller, synthetic_tag, ref))
            summaries.append(jobs[-1].output)
        gathered = student_sources(summaries, self.training_sources(teacher_hash), run)
        gathered.name = "student training sources"
        fit = self.student().make(gathered.output)
        settings = {
            "tag": self.tag,
            "synthetic_tag": synthetic_tag,
            "heldout_tag": heldout_tag,
            "dft_tag": self.dft_tag,
            "dft_repeat": int(self.dft_repeat),
            "dft_test_tag": self.dft_test_tag,
            "n_trajectories": run,
            "teacher_settings_hash": teacher_hash,
            "student_rounds": int(self.student_rounds),
        }
        check = validate_student(fit.output.potential_ref, ref, settings, held, summaries)
        check.name = "indirect learning validation"
        steps = [*jobs, gathered, fit, check]
        if self.student_rounds:
            from gst_flows.flows.student_rounds import student_round

            chosen = cells if student_cells is None else student_cells
            structures = as_fresh_packings(chosen) or [
                c if isinstance(c, Structure) else AseAtomsAdaptor.get_structure(c) for c in chosen
            ]
            rounds = student_round(check.output, self, structures, 1, settings, held, ref)
            rounds.name = "student round 1"
            steps.append(rounds)
        return Flow(steps, output=steps[-1].output, name=self.name)

    @staticmethod
    def _isolated_atoms(cells, labeller, tag: str, ref: PotentialRef) -> Flow:
        from gst_flows.flows.label import label_flow

        species = sorted({s for c in cells for s in structure_to_atoms(c).get_chemical_symbols()})
        atoms = [Atoms(s, positions=[[5.0, 5.2, 5.4]], cell=list(ISOLATED_BOX), pbc=True) for s in species]
        return label_flow(
            atoms,
            labeller,
            name="teacher isolated atoms",
            max_failed_fraction=0.0,
            tag=tag,
            config_type="isolated_atom",
            potential_id=ref.potential_id,
        )
