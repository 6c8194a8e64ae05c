"""SOAP crystallinity k̄, crystalline fraction and antisite defects.

Every atom's SOAP power spectrum (species-agnostic, without its purely radial
l = 0 channel, normalised) is averaged with those of the atoms within
``smoothing_cutoff`` and renormalised; the result p is compared with reference
crystalline environments q_r, smoothed the same way, through the dot-product
kernel k = max_r (p · q_r)^ζ; k̄ is k averaged over the atom and its bonded
neighbours. A threshold splits crystalline from non-crystalline atoms.

The defaults (:data:`DEFAULT_SOAP`, :data:`DEFAULT_SMOOTHING_CUTOFF`,
:data:`DEFAULT_ZETA`, :data:`DEFAULT_THRESHOLD`) were calibrated on reference
sets of known phase (``benchmarks/bench_crystallinity.py``, table in
``docs/analysis.md``): ideal and rattled rock-salt and layered crystals against
random packings and liquid and melt-quenched MD frames. Other settings need
their own calibration.

By default the reference environments are those of an ideal rock-salt cell with
the composition of the analysed structure (Te on the anion sublattice, the
cations and the vacancies that the composition implies spread at random over
the cation sublattice; one mean vector per sublattice, which averages over the
random vacancy arrangement) and, when the composition has a layered trigonal
form (:data:`gst_flows.structures.LAYERED_BLOCKS`: GeTe, Sb2Te3, Ge1Sb2Te4,
Ge2Sb2Te5), one mean vector per atomic plane of its building block.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from gst_flows.analysis.common import as_frames, progress_bar
from gst_flows.analysis.neighbours import CutoffSpec, neighbour_pairs, species_mask
from gst_flows.analysis.soap import SoapSettings, soap_vectors

#: Descriptor of k̄: species-agnostic, 4.5 Å cutoff (first two rock-salt shells),
#: wide (0.5 Å) Gaussians that tolerate thermal displacements, l = 0 channel dropped.
DEFAULT_SOAP = SoapSettings(r_cut=4.5, n_max=6, l_max=6, sigma=0.5, exclude_l0=True)
#: Radius in Å within which SOAP vectors are averaged before the kernel (first
#: and second neighbour shells of rock salt).
DEFAULT_SMOOTHING_CUTOFF = 4.5
#: Default kernel exponent ζ.
DEFAULT_ZETA = 8
#: Default k̄ above which an atom counts as crystalline: the middle of the window
#: (0.14, 0.78) between the 95th percentile of the disordered reference sets and
#: the 5th percentile of the crystalline ones (benchmarks/bench_crystallinity.py).
DEFAULT_THRESHOLD = 0.45
#: Species on the anion sublattice of rock-salt GST.
GST_ANIONS: tuple[str, ...] = ("Te",)

ReferenceSpec = Atoms | Sequence[Atoms] | np.ndarray | None


def rocksalt_reference(
    atoms: Atoms | None = None,
    *,
    lattice_parameter: float = 6.0,
    size: int = 4,
    anions: Sequence[str] = GST_ANIONS,
    seed: int = 0,
) -> Atoms:
    """Ideal rock-salt reference cell with the composition of ``atoms``.

    The anion sublattice holds the anions; the cation sublattice holds the
    cations in their ratio in ``atoms`` and vacancies for the rest (Ge1Sb2Te4:
    per 4 Te sites, 1 Ge + 2 Sb + 1 vacancy). Cation-rich compositions fill the
    cation sublattice completely. ``atoms=None`` gives rock-salt GeTe.

    Parameters
    ----------
    atoms
        Structure whose composition sets the cation/vacancy ratio.
    lattice_parameter
        Cubic lattice parameter in Å.
    size
        Repeats of the 8-site conventional cell along each axis.
    anions
        Species that sit on the anion sublattice.
    seed
        Seed of the random cation placement.

    Returns
    -------
    ase.Atoms
        Periodic cubic cell with a boolean ``anion_site`` array.

    Raises
    ------
    ValueError
        If ``atoms`` contains no anion or no cation.
    """
    if atoms is None:
        counts = {"Ge": 1, "Te": 1}
    else:
        symbols, n = np.unique(atoms.get_chemical_symbols(), return_counts=True)
        counts = dict(zip(symbols.tolist(), n.tolist(), strict=True))
    anion_counts = {s: c for s, c in counts.items() if s in anions}
    cation_counts = {s: c for s, c in counts.items() if s not in anions}
    if not anion_counts or not cation_counts:
        raise ValueError(
            f"a rock-salt reference needs anions ({', '.join(anions)}) and cations; "
            f"got {sorted(counts)}: pass an explicit reference structure instead"
        )
    rng = np.random.default_rng(seed)
    base = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    grid = np.stack(np.meshgrid(*[np.arange(size)] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    cation_sites = (grid + base).reshape(-1, 3) * lattice_parameter
    anion_sites = (grid + base + [0.5, 0, 0]).reshape(-1, 3) * lattice_parameter
    n_sites = len(anion_sites)

    def spread(pool: dict[str, int], n_total: int, n_sites: int) -> list[str]:
        names = sorted(pool)
        weights = np.array([pool[s] for s in names], dtype=float)
        exact = weights / weights.sum() * n_total
        n = np.floor(exact).astype(int)
        n[np.argsort(exact - n)[::-1][: n_total - n.sum()]] += 1
        out = [s for s, k in zip(names, n, strict=True) for _ in range(k)]
        return out[:n_sites]

    n_anion = sum(anion_counts.values())
    n_cation = sum(cation_counts.values())
    filled = min(n_sites, round(n_sites * n_cation / n_anion))
    cations = spread(cation_counts, filled, n_sites)
    anion_symbols = spread(anion_counts, n_sites, n_sites)
    chosen = rng.permutation(n_sites)[: len(cations)]
    reference = Atoms(
        symbols=list(rng.permutation(cations)) + list(rng.permutation(anion_symbols)),
        positions=np.vstack([cation_sites[chosen], anion_sites]),
        cell=np.eye(3) * lattice_parameter * size,
        pbc=True,
    )
    reference.arrays["anion_site"] = np.arange(len(reference)) >= len(cations)
    return reference


def layered_reference(atoms: Atoms, supercell: Sequence[int] = (3, 3, 1)) -> Atoms | None:
    """Ideal layered trigonal crystal with the composition of ``atoms``, if one is known.

    Parameters
    ----------
    atoms
        Structure whose composition selects the layered block.
    supercell
        Repeats of the hexagonal cell.

    Returns
    -------
    ase.Atoms or None
        :func:`gst_flows.structures.build_layered` of the matching block (its
        ``plane`` array labels the atomic planes), or ``None`` when no layered
        block has this composition.
    """
    from gst_flows.structures import build_layered
    from gst_flows.structures.errors import StructureError
    from gst_flows.structures.layered import layered_block

    symbols, n = np.unique(atoms.get_chemical_symbols(), return_counts=True)
    try:
        block = layered_block(dict(zip(symbols.tolist(), n.tolist(), strict=True)))
    except StructureError:
        return None
    return build_layered(block.name, supercell)


def smoothed_vectors(
    atoms: Atoms,
    settings: SoapSettings | None = None,
    smoothing_cutoff: float = DEFAULT_SMOOTHING_CUTOFF,
    *,
    chunk_size: int = 20_000,
    progress: bool = False,
) -> np.ndarray:
    """Unit SOAP vectors averaged over each atom and its neighbours.

    Parameters
    ----------
    atoms
        Structure.
    settings
        Descriptor settings (default :data:`DEFAULT_SOAP`).
    smoothing_cutoff
        Radius in Å of the average (every periodic image counts); 0 keeps the
        single-atom vectors.
    chunk_size
        Atoms per descriptor block.
    progress
        Show a progress bar.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(atoms), dimension)``; each row has unit length.
    """
    from scipy.sparse import csr_matrix

    if smoothing_cutoff < 0:
        raise ValueError(f"smoothing_cutoff must be >= 0 Å, got {smoothing_cutoff}")
    vectors = soap_vectors(atoms, settings or DEFAULT_SOAP, chunk_size=chunk_size, progress=progress)
    if smoothing_cutoff == 0 or len(atoms) == 0:
        return vectors
    i, j = neighbour_pairs(atoms, float(smoothing_cutoff), "ij")
    n = len(atoms)
    adjacency = csr_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    vectors += adjacency @ vectors
    vectors /= np.linalg.norm(vectors, axis=1)[:, None]
    return vectors


def reference_environments(
    reference: Atoms,
    settings: SoapSettings | None = None,
    *,
    groups: str | np.ndarray | None = "auto",
    tolerance: float = 1e-6,
    smoothing_cutoff: float = DEFAULT_SMOOTHING_CUTOFF,
) -> np.ndarray:
    """Reference SOAP vectors of a crystal.

    Parameters
    ----------
    reference
        Crystalline reference structure.
    settings
        Descriptor settings (must match those used for the analysed structure;
        default :data:`DEFAULT_SOAP`).
    groups
        How the reference atoms' vectors become reference environments:
        ``"auto"`` averages per sublattice if the structure has an
        ``anion_site`` array (as :func:`rocksalt_reference` makes) and otherwise
        keeps the distinct environments; ``"species"`` averages per species;
        ``"plane"`` per atomic plane of a layered crystal (its ``plane``
        array); ``None`` or ``"unique"`` keeps the distinct environments; an
        integer array of one label per atom averages per label.
    tolerance
        Two unit vectors closer than this (Euclidean) count as one environment.
    smoothing_cutoff
        Radius in Å of the vector average (as for the analysed structure).

    Returns
    -------
    numpy.ndarray
        Unit-normalised reference vectors, shape ``(n_reference, dimension)``.
    """
    labels: np.ndarray | None
    if isinstance(groups, str) and groups == "auto":
        labels = reference.arrays.get("anion_site")
        labels = None if labels is None else np.asarray(labels, dtype=int)
    elif isinstance(groups, str) and groups == "species":
        labels = reference.numbers
    elif isinstance(groups, str) and groups == "plane":
        if "plane" not in reference.arrays:
            raise ValueError("grouping 'plane' needs a 'plane' array (build_layered makes one)")
        labels = np.asarray(reference.arrays["plane"])
    elif groups is None or (isinstance(groups, str) and groups == "unique"):
        labels = None
    elif isinstance(groups, str):
        raise ValueError(f"unknown grouping {groups!r}: use 'auto', 'species', 'plane' or 'unique'")
    else:
        labels = np.asarray(groups)
        if labels.shape != (len(reference),):
            raise ValueError("groups must hold one label per reference atom")
    vectors = smoothed_vectors(reference, settings, smoothing_cutoff)
    if labels is None:
        rounded = np.round(vectors / tolerance).astype(np.int64)
        _, first = np.unique(rounded, axis=0, return_index=True)
        return vectors[np.sort(first)]
    means = np.array([vectors[labels == g].mean(axis=0) for g in np.unique(labels)])
    return means / np.linalg.norm(means, axis=1)[:, None]


def prepare_reference(
    atoms: Atoms,
    reference: ReferenceSpec = None,
    settings: SoapSettings | None = None,
    *,
    smoothing_cutoff: float = DEFAULT_SMOOTHING_CUTOFF,
) -> tuple[np.ndarray, SoapSettings]:
    """Reference vectors and matching settings for analysing ``atoms``.

    Compute them once and pass the vectors to :func:`crystallinity` for every
    frame of a trajectory.

    Parameters
    ----------
    atoms
        Structure to be analysed (its composition sets the default reference).
    reference
        Reference structure, several structures, unit vectors, or ``None`` for
        :func:`rocksalt_reference` of ``atoms`` plus its
        :func:`layered_reference` when there is one.
    settings
        SOAP settings (default :data:`DEFAULT_SOAP`).
    smoothing_cutoff
        Radius in Å of the vector average (as used for the analysed structure).

    Returns
    -------
    vectors
        Unit reference vectors.
    settings
        Settings with the species list fixed (species-resolved mode).
    """
    settings = settings or DEFAULT_SOAP
    if isinstance(reference, np.ndarray):
        settings = settings.with_species(atoms)
        refs = np.atleast_2d(np.asarray(reference, dtype=float))
        if refs.shape[1] != settings.dimension:
            raise ValueError(
                f"reference vectors have length {refs.shape[1]}, the SOAP settings give {settings.dimension}"
            )
        return refs / np.linalg.norm(refs, axis=1)[:, None], settings
    if reference is None:
        layered = layered_reference(atoms)
        pairs = [(rocksalt_reference(atoms), "auto")]
        if layered is not None:
            pairs.append((layered, "plane"))
    else:
        structures = [reference] if isinstance(reference, Atoms) else list(reference)
        if not structures or not all(isinstance(r, Atoms) for r in structures):
            raise ValueError("reference must be an Atoms, a sequence of Atoms or an array of vectors")
        pairs = [(r, "auto") for r in structures]
    settings = settings.with_species(atoms, *(r for r, _ in pairs))
    refs = [
        reference_environments(r, settings, groups=g, smoothing_cutoff=smoothing_cutoff) for r, g in pairs
    ]
    return np.vstack(refs), settings


def soap_similarity(
    atoms: Atoms,
    reference: ReferenceSpec = None,
    *,
    zeta: float = DEFAULT_ZETA,
    settings: SoapSettings | None = None,
    smoothing_cutoff: float = DEFAULT_SMOOTHING_CUTOFF,
    chunk_size: int = 20_000,
    progress: bool = False,
) -> np.ndarray:
    """Per-atom SOAP similarity k to the closest reference environment.

    Parameters
    ----------
    atoms
        Structure.
    reference
        Crystalline reference structure(s), precomputed unit reference vectors
        (see :func:`prepare_reference`; computed with the same settings and
        smoothing), or ``None`` for the default rock-salt and layered references
        of the composition of ``atoms``.
    zeta
        Kernel exponent ζ.
    settings
        Descriptor settings (default :data:`DEFAULT_SOAP`).
    smoothing_cutoff
        Radius in Å within which SOAP vectors are averaged before the kernel.
    chunk_size
        Atoms per descriptor block; bounds the memory of the descriptor.
    progress
        Show a progress bar.

    Returns
    -------
    numpy.ndarray
        k in [0, 1] for every atom.
    """
    refs, settings = prepare_reference(atoms, reference, settings, smoothing_cutoff=smoothing_cutoff)
    vectors = smoothed_vectors(atoms, settings, smoothing_cutoff, chunk_size=chunk_size, progress=progress)
    k = np.empty(len(atoms))
    for start in range(0, len(atoms), chunk_size):
        block = slice(start, start + chunk_size)
        k[block] = np.clip(vectors[block] @ refs.T, 0.0, 1.0).max(axis=1) ** zeta
    return k


def neighbour_average(atoms: Atoms, values: np.ndarray, cutoffs: CutoffSpec = None) -> np.ndarray:
    """Average a per-atom quantity over each atom and its bonded neighbours.

    Parameters
    ----------
    atoms
        Structure.
    values
        One value per atom.
    cutoffs
        Bond cutoffs in Å (default: the GST table, 3.2 Å).

    Returns
    -------
    numpy.ndarray
        (v_i + Σ_j v_j) / (1 + n_i) over the bonded neighbours j of atom i.
    """
    values = np.asarray(values, dtype=float)
    if values.shape != (len(atoms),):
        raise ValueError("values must hold one number per atom")
    i, j = neighbour_pairs(atoms, cutoffs, "ij")
    n = len(atoms)
    total = values + np.bincount(i, weights=values[j], minlength=n)
    return total / (1.0 + np.bincount(i, minlength=n))


def crystallinity(
    atoms: Atoms,
    reference: ReferenceSpec = None,
    *,
    zeta: float = DEFAULT_ZETA,
    settings: SoapSettings | None = None,
    neighbour_cutoffs: CutoffSpec = None,
    smoothing_cutoff: float = DEFAULT_SMOOTHING_CUTOFF,
    chunk_size: int = 20_000,
    progress: bool = False,
) -> np.ndarray:
    """SOAP crystallinity k̄ of every atom.

    Parameters
    ----------
    atoms
        Structure.
    reference
        Crystalline reference (structure, several structures or unit vectors
        from :func:`prepare_reference`); ``None`` takes the ideal rock-salt cell
        of the composition of ``atoms`` (:func:`rocksalt_reference`) and its
        layered trigonal form when one exists (:func:`layered_reference`).
    zeta
        Kernel exponent ζ of k = (p · q)^ζ.
    settings
        SOAP settings (default :data:`DEFAULT_SOAP`: species-agnostic, r_cut
        4.5 Å, n_max 6, l_max 6, σ 0.5 Å, l = 0 channel dropped).
    neighbour_cutoffs
        Bond cutoffs in Å for the average of k (default: 3.2 Å GST table).
    smoothing_cutoff
        Radius in Å within which SOAP vectors are averaged before the kernel
        (default 4.5 Å; 0 switches the vector average off).
    chunk_size
        Atoms per descriptor block; bounds the memory of the descriptor.
    progress
        Show a progress bar.

    Returns
    -------
    numpy.ndarray
        k̄ in [0, 1] for every atom.
    """
    k = soap_similarity(
        atoms,
        reference,
        zeta=zeta,
        settings=settings,
        smoothing_cutoff=smoothing_cutoff,
        chunk_size=chunk_size,
        progress=progress,
    )
    return neighbour_average(atoms, k, neighbour_cutoffs)


def crystalline_fraction(kbar: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> float:
    """Fraction of atoms whose k̄ exceeds ``threshold``."""
    kbar = np.asarray(kbar)
    return float(np.mean(kbar > threshold)) if kbar.size else 0.0


def find_antisites(
    atoms: Atoms,
    kbar: np.ndarray,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    cutoffs: CutoffSpec = None,
    anions: Sequence[str] = GST_ANIONS,
) -> np.ndarray:
    """Flag crystalline atoms that sit on the wrong sublattice.

    In rock-salt every bond joins the anion and cation sublattices, so an
    atom's neighbours belong to the other sublattice. A crystalline atom
    (k̄ > ``threshold``) whose bonded neighbours are mostly of its own kind
    (a cation among cations, an anion among anions) occupies a site of the
    other sublattice: an antisite defect.

    Parameters
    ----------
    atoms
        Structure.
    kbar
        Crystallinity of every atom (:func:`crystallinity`).
    threshold
        k̄ above which an atom counts as crystalline.
    cutoffs
        Bond cutoffs in Å (default: the GST table).
    anions
        Species of the anion sublattice.

    Returns
    -------
    numpy.ndarray
        Boolean mask of antisite atoms.
    """
    kbar = np.asarray(kbar)
    if kbar.shape != (len(atoms),):
        raise ValueError("kbar must hold one number per atom")
    is_anion = species_mask(atoms.numbers, anions, "anion")
    i, j = neighbour_pairs(atoms, cutoffs, "ij")
    n = len(atoms)
    same = np.bincount(i, weights=(is_anion[i] == is_anion[j]).astype(float), minlength=n)
    total = np.bincount(i, minlength=n)
    return (kbar > threshold) & (total > 0) & (same > 0.5 * total)


def crystallinity_series(
    frames: Sequence[Atoms],
    reference: ReferenceSpec = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    zeta: float = DEFAULT_ZETA,
    settings: SoapSettings | None = None,
    neighbour_cutoffs: CutoffSpec = None,
    smoothing_cutoff: float = DEFAULT_SMOOTHING_CUTOFF,
    chunk_size: int = 20_000,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Crystalline fraction, mean k̄ and mass density of every frame.

    Parameters
    ----------
    frames
        Trajectory frames.
    reference
        Crystalline reference, computed once (default: rock-salt and layered
        references of the composition of the first frame).
    threshold
        k̄ above which an atom is crystalline.
    zeta, settings, neighbour_cutoffs, smoothing_cutoff, chunk_size
        As for :func:`crystallinity`.
    progress
        Show a progress bar over frames.

    Returns
    -------
    dict
        ``"crystalline_fraction"`` (dimensionless), ``"mean_kbar"`` and
        ``"density"`` (g/cm³), one entry per frame.
    """
    from gst_flows.analysis.bonds import mass_density

    frames = as_frames(frames)
    refs, resolved = prepare_reference(frames[0], reference, settings, smoothing_cutoff=smoothing_cutoff)
    out = {name: np.zeros(len(frames)) for name in ("crystalline_fraction", "mean_kbar", "density")}
    for f, frame in enumerate(progress_bar(frames, progress, "k̄", "frame")):
        kbar = crystallinity(
            frame,
            refs,
            zeta=zeta,
            settings=resolved,
            neighbour_cutoffs=neighbour_cutoffs,
            smoothing_cutoff=smoothing_cutoff,
            chunk_size=chunk_size,
        )
        out["crystalline_fraction"][f] = crystalline_fraction(kbar, threshold)
        out["mean_kbar"][f] = float(kbar.mean()) if len(kbar) else np.nan
        out["density"][f] = mass_density(frame) if frame.cell.rank == 3 else np.nan
    return out
