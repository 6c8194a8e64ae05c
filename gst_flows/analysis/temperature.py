"""Local kinetic temperature on 1D and 2D grids, smoothed with a Gaussian filter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from ase.units import kB
from scipy.ndimage import gaussian_filter

from gst_flows.analysis.common import axis_index

#: Published smoothing width (standard deviation) of temperature maps, Å.
DEFAULT_SIGMA = 10.0


class TemperatureMap(NamedTuple):
    """Kinetic temperature on a grid.

    Attributes
    ----------
    temperature
        Temperature in K, one value per bin (NaN where no atoms contribute);
        1D for a profile, 2D ``(n_first, n_second)`` for a map.
    edges
        Bin edges in Å along each binned lattice direction.
    counts
        Number of atoms in each bin before smoothing.
    axes
        Names of the binned directions, e.g. ``("x", "z")``.
    """

    temperature: np.ndarray
    edges: tuple[np.ndarray, ...]
    counts: np.ndarray
    axes: tuple[str, ...]

    @property
    def centres(self) -> tuple[np.ndarray, ...]:
        """Bin centres in Å along each binned direction."""
        return tuple(0.5 * (e[1:] + e[:-1]) for e in self.edges)


def fixed_mask(atoms: Atoms) -> np.ndarray:
    """Atoms held fixed: ``FixAtoms`` constraints or a truthy ``fixed`` array."""
    mask = np.zeros(len(atoms), dtype=bool)
    for constraint in atoms.constraints:
        if isinstance(constraint, FixAtoms):
            mask[constraint.get_indices()] = True
    if "fixed" in atoms.arrays:
        mask |= np.asarray(atoms.arrays["fixed"]).astype(bool).reshape(len(atoms), -1).any(axis=1)
    return mask


def _exclusion(atoms: Atoms, exclude: np.ndarray | Sequence[int] | str | None) -> np.ndarray:
    if exclude is None:
        return np.zeros(len(atoms), dtype=bool)
    if isinstance(exclude, str):
        if exclude != "fixed":
            raise ValueError(f"exclude must be 'fixed', a mask or indices, not {exclude!r}")
        return fixed_mask(atoms)
    exclude = np.asarray(exclude)
    if exclude.dtype == bool:
        if exclude.shape != (len(atoms),):
            raise ValueError("an exclusion mask needs one entry per atom")
        return exclude
    mask = np.zeros(len(atoms), dtype=bool)
    mask[exclude.astype(int)] = True
    return mask


def _momenta(atoms: Atoms) -> np.ndarray:
    if "momenta" not in atoms.arrays:
        raise ValueError(
            "frame has no velocities (no 'momenta' array): temperature maps need "
            "atomic velocities, so save them with the trajectory"
        )
    return atoms.get_momenta()


def _twice_kinetic(momenta: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """Twice the kinetic energy of each atom, p²/m in eV."""
    return np.einsum("ij,ij->i", momenta, momenta) / masses


def binned_temperature(
    atoms: Atoms,
    axes: Sequence[str],
    bin_size: float = 5.0,
    sigma: float = DEFAULT_SIGMA,
    *,
    exclude: np.ndarray | Sequence[int] | str | None = "fixed",
    remove_bin_momentum: bool = True,
) -> TemperatureMap:
    """Kinetic temperature binned along one or more lattice directions.

    Each bin's temperature is 2 K / (k_B f), with K the kinetic energy left
    after removing the bin's centre-of-mass motion and f = 3n − 3 the degrees of
    freedom of its n atoms (3n without the removal). Smoothing filters K and f
    separately with a Gaussian of standard deviation ``sigma`` and then takes
    their ratio, so empty or sparse bins neither bias nor break the result.

    Parameters
    ----------
    atoms
        Frame with velocities (a ``momenta`` array).
    axes
        Binned directions among ``"x"``, ``"y"``, ``"z"``: each means the
        corresponding lattice vector (the Cartesian axis in an orthogonal cell).
    bin_size
        Target bin width in Å (rounded so that bins tile the cell).
    sigma
        Standard deviation of the Gaussian filter in Å; 0 disables smoothing.
    exclude
        Atoms left out: ``"fixed"`` (``FixAtoms`` constraints and a ``fixed``
        array, the default), a boolean mask, indices, or ``None``.
    remove_bin_momentum
        Remove each bin's centre-of-mass velocity before measuring.

    Returns
    -------
    TemperatureMap
        Temperatures in K with bin edges in Å.

    Raises
    ------
    ValueError
        If the frame has no velocities, no 3D cell, or an unknown axis is named.
    """
    momenta = _momenta(atoms)
    if atoms.cell.rank < 3:
        raise ValueError("temperature maps bin along the cell: the frame needs a 3D cell")
    names = tuple(axes)
    dims = [axis_index(a) for a in names]
    if len(set(dims)) != len(dims):
        raise ValueError("axes must be distinct")
    if not bin_size > 0:
        raise ValueError("bin_size must be positive (Å)")
    keep = ~_exclusion(atoms, exclude)
    lengths = atoms.cell.lengths()[dims]
    nbins = np.maximum(1, np.round(lengths / bin_size).astype(int))
    frac = atoms.cell.scaled_positions(atoms.positions[keep])[:, dims]
    periodic = atoms.pbc[dims]
    frac = np.where(periodic, frac % 1.0, np.clip(frac, 0.0, 1.0 - 1e-12))
    idx = np.minimum((frac * nbins).astype(np.int64), nbins - 1)
    flat = np.ravel_multi_index(tuple(idx.T), tuple(nbins))
    size = int(nbins.prod())
    p = momenta[keep]
    m = atoms.get_masses()[keep]
    counts = np.bincount(flat, minlength=size).astype(float)
    twice_k = np.bincount(flat, weights=_twice_kinetic(p, m), minlength=size)
    dof = 3.0 * counts
    if remove_bin_momentum:
        mass = np.bincount(flat, weights=m, minlength=size)
        p_bin = np.stack([np.bincount(flat, weights=p[:, c], minlength=size) for c in range(3)])
        with np.errstate(invalid="ignore", divide="ignore"):
            twice_k -= np.where(mass > 0, (p_bin**2).sum(axis=0) / mass, 0.0)
        dof = np.maximum(dof - 3.0, 0.0)
    twice_k = twice_k.reshape(nbins)
    dof = dof.reshape(nbins)
    if sigma > 0:
        widths = lengths / nbins
        modes = ["wrap" if per else "constant" for per in periodic]
        twice_k = gaussian_filter(twice_k, sigma / widths, mode=modes)
        dof = gaussian_filter(dof, sigma / widths, mode=modes)
    with np.errstate(invalid="ignore", divide="ignore"):
        temperature = np.where(dof > 1e-9, twice_k / (kB * dof), np.nan)
    edges = tuple(np.linspace(0.0, length, n + 1) for length, n in zip(lengths, nbins, strict=True))
    return TemperatureMap(temperature, edges, counts.reshape(nbins), names)


def temperature_map(
    atoms: Atoms,
    plane: str = "xz",
    bin_size: float = 5.0,
    sigma: float = DEFAULT_SIGMA,
    *,
    exclude: np.ndarray | Sequence[int] | str | None = "fixed",
    remove_bin_momentum: bool = True,
) -> TemperatureMap:
    """2D kinetic-temperature map of one frame, smoothed with a Gaussian filter.

    Parameters
    ----------
    atoms
        Frame with velocities.
    plane
        Two axes spanning the map, e.g. ``"xz"`` (the published view).
    bin_size
        Bin width in Å.
    sigma
        Gaussian standard deviation in Å (1.0 nm published); 0 for raw bins.
    exclude
        Atoms left out (default: fixed atoms), see :func:`binned_temperature`.
    remove_bin_momentum
        Remove each bin's centre-of-mass motion.

    Returns
    -------
    TemperatureMap
        ``temperature`` of shape ``(n_first, n_second)`` in K.
    """
    if len(plane) != 2:
        raise ValueError(f"plane must name two axes such as 'xz', not {plane!r}")
    return binned_temperature(
        atoms,
        tuple(plane),
        bin_size,
        sigma,
        exclude=exclude,
        remove_bin_momentum=remove_bin_momentum,
    )


def temperature_profile(
    atoms: Atoms,
    axis: str = "z",
    bin_size: float = 5.0,
    sigma: float = DEFAULT_SIGMA,
    *,
    exclude: np.ndarray | Sequence[int] | str | None = "fixed",
    remove_bin_momentum: bool = True,
) -> TemperatureMap:
    """1D kinetic-temperature profile (T versus position along ``axis``).

    Parameters
    ----------
    atoms
        Frame with velocities.
    axis
        ``"x"``, ``"y"`` or ``"z"``.
    bin_size
        Slab thickness in Å.
    sigma
        Gaussian standard deviation in Å; 0 for raw slabs.
    exclude
        Atoms left out (default: fixed atoms), see :func:`binned_temperature`.
    remove_bin_momentum
        Remove each slab's centre-of-mass motion.

    Returns
    -------
    TemperatureMap
        1D ``temperature`` in K.
    """
    return binned_temperature(
        atoms,
        (axis,),
        bin_size,
        sigma,
        exclude=exclude,
        remove_bin_momentum=remove_bin_momentum,
    )


def kinetic_temperature(
    atoms: Atoms,
    *,
    exclude: np.ndarray | Sequence[int] | str | None = "fixed",
    remove_momentum: bool = True,
) -> float:
    """Kinetic temperature of a whole frame in K.

    Parameters
    ----------
    atoms
        Frame with velocities.
    exclude
        Atoms left out (default: fixed atoms).
    remove_momentum
        Remove the centre-of-mass motion (3 degrees of freedom).

    Returns
    -------
    float
        Temperature in K.
    """
    momenta = _momenta(atoms)
    keep = ~_exclusion(atoms, exclude)
    p, m = momenta[keep], atoms.get_masses()[keep]
    twice_k = float(np.sum(_twice_kinetic(p, m)))
    dof = 3.0 * len(m)
    if remove_momentum and len(m):
        twice_k -= float(np.sum(p.sum(axis=0) ** 2) / m.sum())
        dof -= 3.0
    return twice_k / (kB * dof) if dof > 0 else float("nan")
