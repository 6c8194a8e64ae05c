"""Per-species GAP descriptors and how much training data each one sees.

gap_fit builds one Gaussian process per species combination: one per species pair for the
two-body term, one per centre species and neighbour pair for the three-body term, one per
centre species for SOAP. This module enumerates those combinations for a training set and
counts, exactly as gap_fit does, the descriptor instances and their partial derivatives. The
counts drive the memory estimate, the sparse-point checks and the gap_fit command line.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers
from matscipy.neighbours import neighbour_list

from gst_flows.fit.data import FORCES_KEY, VIRIAL_KEY, is_isolated_atom
from gst_flows.fit.exceptions import FitInputError
from gst_flows.fit.hyperparameters import GapHyperparameters

__all__ = ["DataCounts", "DescriptorCount", "count_descriptors"]


@dataclass
class DescriptorCount:
    """One species-resolved descriptor of a fit and the data it sees.

    Parameters
    ----------
    term
        ``"two_body"``, ``"three_body"`` or ``"soap"``.
    species
        Element symbols: ``(A, B)`` for a pair, ``(centre, A, B)`` for an angle,
        ``(centre,)`` for SOAP.
    dimension
        Length of the descriptor vector.
    n_descriptors
        Descriptor instances in the training set.
    n_cross
        Partial-derivative entries gap_fit stores for them (3 per gradient for forces plus
        6 for virials, per frame).
    n_sparse_requested
        Sparse points asked for.
    n_sparse
        Sparse points gap_fit will use: ``min(requested, n_descriptors)``.
    """

    term: str
    species: tuple[str, ...]
    dimension: int
    n_descriptors: int
    n_cross: int
    n_sparse_requested: int
    n_sparse: int

    @property
    def label(self) -> str:
        """Short name such as ``soap[Ge]`` or ``two_body[Ge-Te]``."""
        return f"{self.term}[{'-'.join(self.species)}]"

    @property
    def bytes_x(self) -> int:
        """Memory of the descriptor vectors, bytes."""
        return 8 * self.dimension * self.n_descriptors

    @property
    def bytes_x_prime(self) -> int:
        """Memory of the descriptor derivatives, bytes."""
        return 8 * self.dimension * self.n_cross


@dataclass
class DataCounts:
    """Targets and descriptors of a training set for given hyperparameters.

    Parameters
    ----------
    n_energies
        Energies fitted.
    n_forces
        Force components fitted.
    n_virials
        Virial components fitted (6 per frame).
    n_atoms
        Atoms in the training set.
    species
        Element symbols, sorted by atomic number.
    descriptors
        One entry per species combination that has data.
    empty
        Labels of species combinations without any data (left out of the fit).
    """

    n_energies: int
    n_forces: int
    n_virials: int
    n_atoms: int
    species: list[str]
    descriptors: list[DescriptorCount]
    empty: list[str]

    @property
    def n_targets(self) -> int:
        """Rows of the linear system: energies + force components + virial components."""
        return self.n_energies + self.n_forces + self.n_virials

    @property
    def n_sparse_total(self) -> int:
        """Sparse points over all descriptors."""
        return sum(d.n_sparse for d in self.descriptors)

    def short_of_data(self) -> list[DescriptorCount]:
        """Descriptors asking for more sparse points than they have data."""
        return [d for d in self.descriptors if d.n_sparse_requested > d.n_descriptors]


def _pair_key(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a <= b else (b, a)


def count_descriptors(
    frames: Sequence[Atoms],
    hyperparameters: GapHyperparameters,
    species: Sequence[str] | None = None,
) -> DataCounts:
    """Count descriptor instances and derivatives per species combination.

    Parameters
    ----------
    frames
        Training frames (isolated atoms included).
    hyperparameters
        The fit settings.
    species
        Element symbols of the potential; defaults to those in ``frames``.

    Returns
    -------
    DataCounts
        The counts, matching the "Report on number of descriptors found" of gap_fit.
    """
    hp = hyperparameters
    if species is None:
        species = sorted({s for f in frames for s in f.get_chemical_symbols()})
    zs = sorted(atomic_numbers[s] for s in species)
    symbols = {atomic_numbers[s]: s for s in species}
    n_sp = len(zs)
    index_of = np.full(max(zs) + 1, -1, dtype=int)
    index_of[zs] = np.arange(n_sp)

    pair_keys = [_pair_key(a, b) for a, b in itertools.combinations_with_replacement(zs, 2)]
    triplet_keys = [
        (c, *_pair_key(a, b)) for c in zs for a, b in itertools.combinations_with_replacement(zs, 2)
    ]
    n2 = dict.fromkeys(pair_keys, 0)
    g2 = dict.fromkeys(pair_keys, 0)
    n3 = dict.fromkeys(triplet_keys, 0)
    g3 = dict.fromkeys(triplet_keys, 0)
    ns = dict.fromkeys(zs, 0)
    gs = dict.fromkeys(zs, 0)
    n_energies = n_forces = n_virials = n_atoms = 0

    cutoffs = [t.cutoff for t in (hp.two_body, hp.three_body, hp.soap) if t is not None]
    r_max = max(cutoffs)
    for frame in frames:
        numbers = frame.get_atomic_numbers()
        if numbers.max() >= len(index_of) or np.any(index_of[numbers] < 0):
            raise FitInputError(f"frame {frame.get_chemical_formula()} has species outside {species}")
        n_atoms += len(frame)
        has_forces = FORCES_KEY in frame.arrays
        has_virial = VIRIAL_KEY in frame.info
        n_energies += 1
        n_forces += 3 * len(frame) if has_forces else 0
        n_virials += 6 if has_virial else 0
        mult = 3 * has_forces + 6 * has_virial
        if is_isolated_atom(frame) or (len(frame) == 1 and not frame.pbc.any()):
            if hp.soap is not None:
                for z in numbers:
                    ns[int(z)] += 1
                    gs[int(z)] += mult
            continue
        i, j, d = neighbour_list("ijd", frame, r_max)
        zi, zj = numbers[i], numbers[j]
        if hp.two_body is not None:
            m = d < hp.two_body.cutoff
            lo = np.minimum(zi[m], zj[m])
            hi = np.maximum(zi[m], zj[m])
            keys, counts = np.unique(lo * 1000 + hi, return_counts=True)
            for key, count in zip(keys, counts, strict=True):
                k = (int(key) // 1000, int(key) % 1000)
                n2[k] += int(count)
                g2[k] += int(count) * 2 * mult
        if hp.soap is not None:
            m = d < hp.soap.cutoff
            nn = np.bincount(i[m], minlength=len(frame))
            for z in zs:
                sel = numbers == z
                ns[z] += int(sel.sum())
                gs[z] += int((nn[sel] + 1).sum()) * mult
        if hp.three_body is not None:
            m = d < hp.three_body.cutoff
            counts = np.zeros((len(frame), n_sp), dtype=np.int64)
            np.add.at(counts, (i[m], index_of[zj[m]]), 1)
            centre = index_of[numbers]
            for c_key, a, b in triplet_keys:
                sel = centre == index_of[c_key]
                ca = counts[sel, index_of[a]]
                # Ordered pairs of distinct neighbours with species {a, b}.
                pairs = ca * (ca - 1) if a == b else 2 * ca * counts[sel, index_of[b]]
                n = int(pairs.sum())
                n3[(c_key, a, b)] += n
                g3[(c_key, a, b)] += n * 3 * mult

    descriptors: list[DescriptorCount] = []
    empty: list[str] = []

    def add(term: str, key: tuple[int, ...], dim: int, counts: tuple[int, int], requested: int):
        names = tuple(symbols[z] for z in key)
        n, g = counts
        if n == 0:
            empty.append(f"{term}[{'-'.join(names)}]")
            return
        descriptors.append(DescriptorCount(term, names, dim, n, g, int(requested), min(int(requested), n)))

    if hp.two_body is not None:
        for k in pair_keys:
            add("two_body", k, 1, (n2[k], g2[k]), hp.two_body.n_sparse)
    if hp.three_body is not None:
        for k in triplet_keys:
            add("three_body", k, 3, (n3[k], g3[k]), hp.three_body.n_sparse)
    if hp.soap is not None:
        dim = hp.soap.dimension(n_sp)
        for z in zs:
            add("soap", (z,), dim, (ns[z], gs[z]), hp.soap.n_sparse)
    return DataCounts(
        n_energies=n_energies,
        n_forces=n_forces,
        n_virials=n_virials,
        n_atoms=n_atoms,
        species=[symbols[z] for z in zs],
        descriptors=descriptors,
        empty=empty,
    )
