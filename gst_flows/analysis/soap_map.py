"""Structural map of a set of configurations from their average SOAP kernel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from ase import Atoms

from gst_flows.analysis.soap import SoapSettings, mean_soap_vectors, unit_rows


class SoapMap(NamedTuple):
    """2D embedding of configurations.

    Attributes
    ----------
    coordinates
        Embedded coordinates, shape ``(n_frames, n_components)`` (dimensionless).
    kernel
        Normalised average SOAP kernel between the configurations, ``(n, n)``.
    explained
        Share of the centred kernel's variance along each component (kernel
        PCA), or NaN for MDS.
    method
        ``"kpca"`` or ``"mds"``.
    """

    coordinates: np.ndarray
    kernel: np.ndarray
    explained: np.ndarray
    method: str


def average_kernel(vectors: np.ndarray, zeta: float = 2.0) -> np.ndarray:
    """Normalised average SOAP kernel between configurations.

    Parameters
    ----------
    vectors
        Mean per-atom SOAP vector of each configuration, ``(n, dimension)``.
    zeta
        Exponent applied to the normalised dot product.

    Returns
    -------
    numpy.ndarray
        ``K[a, b] = (p̄_a · p̄_b / (|p̄_a| |p̄_b|))^ζ``, 1 on the diagonal.
    """
    u = unit_rows(np.asarray(vectors, dtype=float))
    return np.clip(u @ u.T, 0.0, 1.0) ** zeta


def soap_kernel(
    frames: Sequence[Atoms],
    settings: SoapSettings | None = None,
    zeta: float = 2.0,
    *,
    progress: bool = False,
) -> np.ndarray:
    """Average SOAP kernel between configurations (see :func:`average_kernel`).

    Parameters
    ----------
    frames
        Configurations.
    settings
        SOAP settings (species-agnostic by default).
    zeta
        Kernel exponent.
    progress
        Show a progress bar.

    Returns
    -------
    numpy.ndarray
        ``(len(frames), len(frames))`` kernel matrix.
    """
    return average_kernel(mean_soap_vectors(frames, settings, progress=progress), zeta)


def embed_kernel(kernel: np.ndarray, method: str = "kpca", n_components: int = 2, seed: int = 0) -> SoapMap:
    """Embed configurations in a few dimensions from their kernel matrix.

    Parameters
    ----------
    kernel
        Symmetric normalised kernel matrix.
    method
        ``"kpca"`` (kernel principal components) or ``"mds"`` (metric
        multidimensional scaling of the kernel distance sqrt(2 − 2K)).
    n_components
        Dimensions of the embedding.
    seed
        Random seed of MDS.

    Returns
    -------
    SoapMap
        Coordinates, kernel, explained variance shares and method.
    """
    k = np.asarray(kernel, dtype=float)
    n = len(k)
    if k.shape != (n, n):
        raise ValueError("kernel must be a square matrix")
    if n < 2:
        raise ValueError("a map needs at least two configurations")
    if method == "kpca":
        centre = np.eye(n) - 1.0 / n
        kc = centre @ k @ centre
        values, vectors = np.linalg.eigh(0.5 * (kc + kc.T))
        order = np.argsort(values)[::-1][:n_components]
        values_top = np.clip(values[order], 0.0, None)
        coords = vectors[:, order] * np.sqrt(values_top)
        total = np.clip(values, 0.0, None).sum()
        explained = values_top / total if total > 0 else np.zeros(len(order))
        # Fix the arbitrary sign of each component for reproducible figures.
        signs = np.sign(coords[np.argmax(np.abs(coords), axis=0), np.arange(coords.shape[1])])
        coords = coords * np.where(signs == 0, 1.0, signs)
        return SoapMap(coords, k, explained, method)
    if method == "mds":
        from sklearn.manifold import MDS

        distance = np.sqrt(np.clip(2.0 - 2.0 * k, 0.0, None))
        np.fill_diagonal(distance, 0.0)
        import inspect

        params = inspect.signature(MDS).parameters
        options: dict = {"n_components": n_components, "random_state": seed, "n_init": 4}
        # scikit-learn renamed "dissimilarity" to "metric" (1.8) and added "init".
        if "metric_mds" in params:
            options.update(metric="precomputed", init="classical_mds", n_init=1)
        else:
            options["dissimilarity"] = "precomputed"
        mds = MDS(**options)
        coords = mds.fit_transform(distance)
        return SoapMap(coords, k, np.full(n_components, np.nan), method)
    raise ValueError(f"unknown embedding method {method!r}: use 'kpca' or 'mds'")


def soap_map(
    frames: Sequence[Atoms],
    method: str = "kpca",
    *,
    settings: SoapSettings | None = None,
    zeta: float = 2.0,
    n_components: int = 2,
    progress: bool = False,
) -> SoapMap:
    """Structural map of configurations from their average SOAP kernel.

    Parameters
    ----------
    frames
        Configurations (e.g. a reference database).
    method
        ``"kpca"`` or ``"mds"``.
    settings
        SOAP settings (species-agnostic by default).
    zeta
        Kernel exponent.
    n_components
        Dimensions of the map.
    progress
        Show a progress bar.

    Returns
    -------
    SoapMap
        Coordinates of each configuration and the kernel.
    """
    kernel = soap_kernel(frames, settings, zeta, progress=progress)
    return embed_kernel(kernel, method, n_components)


def frame_labels(frames: Sequence[Atoms], key: str, default: str = "unknown") -> list[str]:
    """Read one ``info`` entry of every frame as text (e.g. ``config_type``, ``iteration``)."""
    return [str(f.info.get(key, default)) for f in frames]
