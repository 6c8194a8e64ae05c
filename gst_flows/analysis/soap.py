"""Per-atom SOAP power spectra from dscribe, computed in spatial blocks.

dscribe's cost per centre grows with the size of the system handed to it, and a
periodic system is replicated in full before the search. Large structures are
therefore cut into blocks along the periodic lattice directions; each block is
passed to dscribe as an isolated cluster with a halo of periodic images wide
enough (cutoff plus the Gaussian padding) that the descriptors of its core atoms
are exactly those of the periodic structure. Memory stays bounded by the block
size, not by the number of atoms.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
from ase import Atoms

from gst_flows.analysis.common import plane_spacings, progress_bar

#: Symbol every atom takes in species-agnostic descriptors.
AGNOSTIC_SYMBOL = "H"


@dataclass(frozen=True)
class SoapSettings:
    """Hyperparameters of the SOAP power spectrum.

    Parameters
    ----------
    r_cut
        Cutoff radius in Å.
    n_max
        Number of radial basis functions.
    l_max
        Maximum spherical-harmonic degree.
    sigma
        Width of the atomic Gaussians in Å.
    species_resolved
        If ``False`` (default) every atom is treated as the same species, so the
        descriptor sees geometry only (robust against the random cation
        occupation of rock-salt GST). If ``True`` one density channel per species.
    species
        Species of a species-resolved descriptor (fixes its dimension); ``None``
        takes them from the structures at hand.
    exclude_l0
        Drop the l = 0 channel of the power spectrum before normalising. That
        channel sees only radial distances, which a disordered structure at the
        same density shares with a crystal; without it the vector measures
        angular order.
    """

    r_cut: float = 5.0
    n_max: int = 6
    l_max: int = 6
    sigma: float = 0.3
    species_resolved: bool = False
    species: tuple[str, ...] | None = None
    exclude_l0: bool = False

    @property
    def halo(self) -> float:
        """Distance in Å within which neighbours contribute (cutoff + Gaussian padding)."""
        # dscribe pads the cutoff so that Gaussians decay to 1e-3 at its edge.
        return self.r_cut + self.sigma * float(np.sqrt(-2.0 * np.log(1e-3))) + 0.1

    def with_species(self, *structures: Atoms) -> SoapSettings:
        """Return settings whose species list covers ``structures`` (resolved mode only)."""
        if not self.species_resolved:
            return self
        symbols = set(self.species or ())
        for s in structures:
            symbols.update(s.get_chemical_symbols())
        return replace(self, species=tuple(sorted(symbols)))

    def descriptor(self) -> object:
        """Return the non-periodic dscribe ``SOAP`` object for these settings."""
        from dscribe.descriptors import SOAP

        if self.species_resolved:
            if not self.species:
                raise ValueError("species-resolved SOAP needs its species list")
            species = list(self.species)
        else:
            species = [AGNOSTIC_SYMBOL]
        return SOAP(
            species=species,
            r_cut=self.r_cut,
            n_max=self.n_max,
            l_max=self.l_max,
            sigma=self.sigma,
            periodic=False,
        )

    @property
    def dimension(self) -> int:
        """Length of one power-spectrum vector (after dropping l = 0 if asked)."""
        ns = len(self.species or ()) if self.species_resolved else 1
        nn = ns * self.n_max
        return nn * (nn + 1) // 2 * (self.l_max + int(not self.exclude_l0))

    def kept_features(self, descriptor: object) -> np.ndarray | None:
        """Indices of the power-spectrum entries kept, or ``None`` for all of them.

        dscribe stores each species pair as one contiguous block in which l is
        the slowest index, so the first ``1 / (l_max + 1)`` of every block is l = 0.
        """
        if not self.exclude_l0:
            return None
        species = list(self.species or ()) if self.species_resolved else [AGNOSTIC_SYMBOL]
        keep = []
        for a, first in enumerate(species):
            for second in species[a:]:
                block = descriptor.get_location((first, second))  # type: ignore[attr-defined]
                size = block.stop - block.start
                keep.append(np.arange(block.start + size // (self.l_max + 1), block.stop))
        return np.sort(np.concatenate(keep))


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows of ``vectors`` scaled to unit length; rows of zeros stay zero."""
    norms = np.linalg.norm(vectors, axis=1)
    norms[norms == 0] = 1.0
    return vectors / norms[:, None]


def _grid(atoms: Atoms, halo: float, chunk_size: int) -> np.ndarray:
    """Number of blocks along each lattice vector."""
    n_blocks = np.ones(3, dtype=int)
    if atoms.cell.rank < 3:
        return n_blocks
    heights = plane_spacings(atoms.cell)
    target = int(np.ceil(len(atoms) / chunk_size))
    while n_blocks.prod() < target:
        width = np.where(atoms.pbc, heights / (n_blocks + 1), 0.0)
        # Every block must be at least one halo wide so that halos only reach
        # the adjacent blocks.
        width[width < halo] = 0.0
        if not width.any():
            break
        n_blocks[int(np.argmax(width))] += 1
    return n_blocks


def iter_blocks(
    atoms: Atoms, halo: float, chunk_size: int = 20_000
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Cut a structure into blocks with periodic halos.

    Parameters
    ----------
    atoms
        Structure (periodic along any subset of its lattice vectors).
    halo
        Halo width in Å around each block.
    chunk_size
        Target number of core atoms per block.

    Yields
    ------
    core
        Indices (into ``atoms``) of the block's core atoms.
    centres
        Cartesian positions (Å) of the core atoms, consistent with ``positions``.
    positions
        Cartesian positions (Å) of the core and halo atoms (periodic images
        unwrapped), shape ``(m, 3)``; the first ``len(core)`` rows are the core.
    numbers
        Atomic numbers of those atoms.
    """
    n = len(atoms)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    cell = np.asarray(atoms.cell)
    if atoms.cell.rank < 3 or not pbc.any():
        if pbc.any():
            raise ValueError("a periodic structure needs a cell with three lattice vectors")
        idx = np.arange(n)
        yield idx, atoms.positions, atoms.positions, atoms.numbers
        return
    heights = plane_spacings(cell)
    if np.any(pbc & (heights < halo)):
        raise ValueError(
            f"cell height {heights.min():.2f} Å is below the halo {halo:.2f} Å; "
            "repeat the cell first (see repeat_to_height)"
        )
    n_blocks = _grid(atoms, halo, chunk_size)
    frac = atoms.cell.scaled_positions(atoms.positions)
    frac[:, pbc] %= 1.0
    h = halo / heights
    if (~pbc).any():
        # Non-periodic directions are never split.
        n_blocks[~pbc] = 1
    block3 = np.zeros((n, 3), dtype=np.int64)
    block3[:, pbc] = np.minimum((frac[:, pbc] * n_blocks[pbc]).astype(np.int64), n_blocks[pbc] - 1)
    block = (block3[:, 0] * n_blocks[1] + block3[:, 1]) * n_blocks[2] + block3[:, 2]
    order = np.argsort(block, kind="stable")
    bounds = np.searchsorted(block[order], np.arange(n_blocks.prod() + 1))
    offsets = [
        np.array([dx, dy, dz])
        for dx in ((-1, 0, 1) if pbc[0] else (0,))
        for dy in ((-1, 0, 1) if pbc[1] else (0,))
        for dz in ((-1, 0, 1) if pbc[2] else (0,))
    ]
    offsets.sort(key=lambda o: bool(o.any()))  # the block itself first
    for b in range(n_blocks.prod()):
        b3 = np.array(np.unravel_index(b, n_blocks))
        lo = np.where(pbc, b3 / n_blocks - h, -np.inf)
        hi = np.where(pbc, (b3 + 1) / n_blocks + h, np.inf)
        core = order[bounds[b] : bounds[b + 1]]
        if len(core) == 0:
            continue
        parts_f, parts_z = [], []
        for off in offsets:
            nb3 = b3 + off
            shift = np.floor_divide(nb3, n_blocks)
            nb3 = nb3 - shift * n_blocks
            nb = (nb3[0] * n_blocks[1] + nb3[1]) * n_blocks[2] + nb3[2]
            members = order[bounds[nb] : bounds[nb + 1]]
            f = frac[members] + shift
            if off.any():
                keep = np.all((f >= lo) & (f < hi), axis=1)
                members, f = members[keep], f[keep]
            parts_f.append(f)
            parts_z.append(atoms.numbers[members])
        positions = np.concatenate(parts_f) @ cell
        yield core, positions[: len(core)], positions, np.concatenate(parts_z)


def repeat_to_height(atoms: Atoms, height: float) -> Atoms:
    """Repeat a periodic cell until every periodic cell height is at least ``height``.

    Parameters
    ----------
    atoms
        Structure.
    height
        Minimum height in Å between opposite cell faces.

    Returns
    -------
    ase.Atoms
        ``atoms`` itself if already large enough, else ``atoms.repeat(...)``,
        whose first ``len(atoms)`` atoms are the original ones.
    """
    if atoms.cell.rank < 3 or not atoms.pbc.any():
        return atoms
    heights = plane_spacings(atoms.cell)
    reps = np.where(atoms.pbc, np.ceil(height / heights - 1e-12), 1).astype(int)
    reps = np.maximum(reps, 1)
    return atoms if (reps == 1).all() else atoms.repeat(tuple(int(r) for r in reps))


def iter_soap(
    atoms: Atoms,
    settings: SoapSettings | None = None,
    *,
    chunk_size: int = 20_000,
    progress: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Normalised per-atom SOAP vectors, block by block.

    Parameters
    ----------
    atoms
        Structure.
    settings
        Descriptor settings (default :class:`SoapSettings`); species-resolved
        settings without a species list take the species of ``atoms``.
    chunk_size
        Target number of atoms per block (bounds the memory in use).
    progress
        Show a progress bar over blocks.

    Yields
    ------
    indices
        Atom indices of the block.
    vectors
        Unit-normalised power spectra, shape ``(len(indices), dimension)``.
    """
    settings = (settings or SoapSettings()).with_species(atoms)
    soap = settings.descriptor()
    kept = settings.kept_features(soap)
    n = len(atoms)
    work = repeat_to_height(atoms, settings.halo)
    blocks = iter_blocks(work, settings.halo, chunk_size)
    if progress:
        n_blocks = int(_grid(work, settings.halo, chunk_size).prod())
        blocks = progress_bar(blocks, progress, "SOAP", "block", total=n_blocks)
    for core, centres, positions, numbers in blocks:
        if len(work) > n:
            keep = core < n
            if not keep.any():
                continue
            core, centres = core[keep], centres[keep]
        if settings.species_resolved:
            symbols_ok = set(Atoms(numbers=np.unique(numbers)).get_chemical_symbols())
            missing = symbols_ok - set(settings.species or ())
            if missing:
                raise ValueError(
                    f"species {sorted(missing)} are not in the SOAP species list "
                    f"{list(settings.species or ())}"
                )
        else:
            numbers = np.ones_like(numbers)
        cluster = Atoms(numbers=numbers, positions=positions, pbc=False)
        # Centres as positions: dscribe's index path copies all positions per centre.
        vectors = soap.create(cluster, centers=centres)  # type: ignore[attr-defined]
        vectors = np.asarray(vectors, dtype=float).reshape(len(core), -1)
        yield core, unit_rows(vectors if kept is None else vectors[:, kept])


def soap_vectors(
    atoms: Atoms,
    settings: SoapSettings | None = None,
    *,
    chunk_size: int = 20_000,
    progress: bool = False,
) -> np.ndarray:
    """Normalised SOAP power spectrum of every atom.

    Parameters
    ----------
    atoms
        Structure.
    settings
        Descriptor settings (default :class:`SoapSettings`).
    chunk_size
        Target number of atoms per block.
    progress
        Show a progress bar.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(atoms), dimension)``; each row has unit length.
    """
    settings = (settings or SoapSettings()).with_species(atoms)
    out = np.empty((len(atoms), settings.dimension))
    for idx, vectors in iter_soap(atoms, settings, chunk_size=chunk_size, progress=progress):
        out[idx] = vectors
    return out


def mean_soap_vectors(
    frames: Sequence[Atoms],
    settings: SoapSettings | None = None,
    *,
    chunk_size: int = 20_000,
    progress: bool = False,
) -> np.ndarray:
    """Mean of the normalised per-atom SOAP vectors of each frame.

    Parameters
    ----------
    frames
        Configurations.
    settings
        Descriptor settings; in species-resolved mode without a species list the
        union of all frames' species is used so every row has the same length.
    chunk_size
        Target number of atoms per block.
    progress
        Show a progress bar over frames.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(frames), dimension)``, rows not re-normalised.
    """
    settings = (settings or SoapSettings()).with_species(*frames)
    out = np.zeros((len(frames), settings.dimension))
    for f, frame in enumerate(progress_bar(frames, progress, "SOAP", "frame")):
        total = np.zeros(settings.dimension)
        for _, vectors in iter_soap(frame, settings, chunk_size=chunk_size):
            total += vectors.sum(axis=0)
        out[f] = total / max(len(frame), 1)
    return out
