"""SOAP crystallinity k̄, crystalline fraction and antisite defects.

Every atom's normalised SOAP vector p is compared with reference crystalline
environments q_r through the dot-product kernel k = max_r (p · q_r)^ζ; k̄ is k
averaged over the atom and its bonded neighbours. k̄ is close to 1 in the
crystal and clearly lower in amorphous or liquid regions, so a threshold splits
crystalline from non-crystalline atoms.

By default the reference is an ideal rock-salt cell with the composition of the
analysed structure (Te on the anion sublattice, the cations and the vacancies
that the composition implies spread at random over the cation sublattice); the
reference environments are the mean SOAP vectors of its two sublattices, which
averages over the random vacancy arrangement.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from gst_flows.analysis.common import as_frames, progress_bar
from gst_flows.analysis.neighbours import CutoffSpec, neighbour_pairs, species_mask
from gst_flows.analysis.soap import SoapSettings, iter_soap, soap_vectors

#: Default kernel exponent ζ.
DEFAULT_ZETA = 16
#: Default k̄ above which an atom counts as crystalline.
DEFAULT_THRESHOLD = 0.75
#: Species on the anion sublattice of rock-salt GST.
GST_ANIONS: tuple[str, ...] = ("Te",)


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


def reference_environments(
    reference: Atoms,
    settings: SoapSettings | None = None,
    *,
    groups: str | np.ndarray | None = "auto",
    tolerance: float = 1e-6,
) -> np.ndarray:
    """Reference SOAP vectors of a crystal.

    Parameters
    ----------
    reference
        Crystalline reference structure.
    settings
        Descriptor settings (must match those used for the analysed structure).
    groups
        How the reference atoms' vectors become reference environments:
        ``"auto"`` averages per sublattice if the structure has an
        ``anion_site`` array (as :func:`rocksalt_reference` makes) and otherwise
        keeps the distinct environments; ``"species"`` averages per species;
        ``None`` or ``"unique"`` keeps the distinct environments; an integer
        array of one label per atom averages per label.
    tolerance
        Two unit vectors closer than this (Euclidean) count as one environment.

    Returns
    -------
    numpy.ndarray
        Unit-normalised reference vectors, shape ``(n_reference, dimension)``.
    """
    vectors = soap_vectors(reference, settings)
    labels: np.ndarray | None
    if isinstance(groups, str) and groups == "auto":
        labels = reference.arrays.get("anion_site")
        labels = None if labels is None else np.asarray(labels, dtype=int)
    elif isinstance(groups, str) and groups == "species":
        labels = reference.numbers
    elif groups is None or (isinstance(groups, str) and groups == "unique"):
        labels = None
    elif isinstance(groups, str):
        raise ValueError(f"unknown grouping {groups!r}: use 'auto', 'species' or 'unique'")
    else:
        labels = np.asarray(groups)
        if labels.shape != (len(reference),):
            raise ValueError("groups must hold one label per reference atom")
    if labels is None:
        rounded = np.round(vectors / tolerance).astype(np.int64)
        _, first = np.unique(rounded, axis=0, return_index=True)
        return vectors[np.sort(first)]
    means = np.array([vectors[labels == g].mean(axis=0) for g in np.unique(labels)])
    return means / np.linalg.norm(means, axis=1)[:, None]


def prepare_reference(
    atoms: Atoms, reference: Atoms | np.ndarray | None, settings: SoapSettings
) -> tuple[np.ndarray, SoapSettings]:
    """Reference vectors and matching settings for analysing ``atoms``.

    Compute them once and pass the vectors to :func:`crystallinity` for every
    frame of a trajectory.

    Parameters
    ----------
    atoms
        Structure to be analysed (its composition sets the default reference).
    reference
        Reference structure, unit vectors, or ``None`` for
        :func:`rocksalt_reference` of ``atoms``.
    settings
        SOAP settings.

    Returns
    -------
    vectors
        Unit reference vectors.
    settings
        Settings with the species list fixed (species-resolved mode).
    """
    if isinstance(reference, np.ndarray):
        settings = settings.with_species(atoms)
        refs = np.atleast_2d(np.asarray(reference, dtype=float))
        if refs.shape[1] != settings.dimension:
            raise ValueError(
                f"reference vectors have length {refs.shape[1]}, the SOAP settings give {settings.dimension}"
            )
        return refs / np.linalg.norm(refs, axis=1)[:, None], settings
    if reference is None:
        reference = rocksalt_reference(atoms)
    settings = settings.with_species(atoms, reference)
    return reference_environments(reference, settings), settings


def soap_similarity(
    atoms: Atoms,
    reference: Atoms | np.ndarray | None = None,
    *,
    zeta: float = DEFAULT_ZETA,
    settings: SoapSettings | None = None,
    chunk_size: int = 20_000,
    progress: bool = False,
) -> np.ndarray:
    """Per-atom SOAP similarity k to the closest reference environment.

    Parameters
    ----------
    atoms
        Structure.
    reference
        Crystalline reference structure, precomputed unit reference vectors
        (see :func:`reference_environments`), or ``None`` for
        :func:`rocksalt_reference` of ``atoms``.
    zeta
        Kernel exponent ζ.
    settings
        Descriptor settings (default :class:`~gst_flows.analysis.soap.SoapSettings`).
    chunk_size
        Atoms per descriptor block; bounds the memory in use.
    progress
        Show a progress bar.

    Returns
    -------
    numpy.ndarray
        k in [0, 1] for every atom.
    """
    refs, settings = prepare_reference(atoms, reference, settings or SoapSettings())
    k = np.empty(len(atoms))
    for idx, vectors in iter_soap(atoms, settings, chunk_size=chunk_size, progress=progress):
        dots = np.clip(vectors @ refs.T, 0.0, 1.0)
        k[idx] = dots.max(axis=1) ** zeta
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
    reference: Atoms | np.ndarray | None = None,
    *,
    zeta: float = DEFAULT_ZETA,
    settings: SoapSettings | None = None,
    neighbour_cutoffs: CutoffSpec = None,
    chunk_size: int = 20_000,
    progress: bool = False,
) -> np.ndarray:
    """SOAP crystallinity k̄ of every atom.

    Parameters
    ----------
    atoms
        Structure.
    reference
        Crystalline reference (structure or unit vectors); ``None`` builds the
        ideal rock-salt cell of the composition of ``atoms``
        (:func:`rocksalt_reference`).
    zeta
        Kernel exponent ζ of k = (p · q)^ζ.
    settings
        SOAP settings (species-agnostic, r_cut 5 Å, n_max 6, l_max 6, σ 0.3 Å by default).
    neighbour_cutoffs
        Bond cutoffs in Å for the neighbour average (default: 3.2 Å GST table).
    chunk_size
        Atoms per descriptor block; memory use is bounded by it.
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
    reference: Atoms | np.ndarray | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    zeta: float = DEFAULT_ZETA,
    settings: SoapSettings | None = None,
    neighbour_cutoffs: CutoffSpec = None,
    chunk_size: int = 20_000,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Crystalline fraction, mean k̄ and mass density of every frame.

    Parameters
    ----------
    frames
        Trajectory frames.
    reference
        Crystalline reference, computed once (default: rock-salt cell of the
        composition of the first frame).
    threshold
        k̄ above which an atom is crystalline.
    zeta, settings, neighbour_cutoffs, chunk_size
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
    refs, resolved = prepare_reference(frames[0], reference, settings or SoapSettings())
    out = {name: np.zeros(len(frames)) for name in ("crystalline_fraction", "mean_kbar", "density")}
    for f, frame in enumerate(progress_bar(frames, progress, "k̄", "frame")):
        kbar = crystallinity(
            frame,
            refs,
            zeta=zeta,
            settings=resolved,
            neighbour_cutoffs=neighbour_cutoffs,
            chunk_size=chunk_size,
        )
        out["crystalline_fraction"][f] = crystalline_fraction(kbar, threshold)
        out["mean_kbar"][f] = float(kbar.mean()) if len(kbar) else np.nan
        out["density"][f] = mass_density(frame) if frame.cell.rank == 3 else np.nan
    return out
