"""One entry point for every analysis kind: ``analyse(kind, frames, options)``.

The command line (``gst-flows analyse``) and the analysis makers both call :func:`analyse`,
so an analysis gives the same numbers wherever it runs. Each kind is a function registered in
:mod:`gst_flows.analysis.registry` (family ``structure``), the table the device scenario
analyses are registered in too. :func:`check_analysis` raises on input that cannot be analysed
before any compute starts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, NamedTuple

import numpy as np
from ase import Atoms

from gst_flows.analysis.registry import analysis_names, get_analysis, register_analysis

__all__ = [
    "ANALYSIS_KINDS",
    "AnalysisOptions",
    "AnalysisResult",
    "analyse",
    "array_unit",
    "check_analysis",
    "frame_times",
    "jsonable",
]


@dataclass
class AnalysisOptions:
    """Settings of the analyses; each kind reads the fields it needs.

    Parameters
    ----------
    cutoffs
        Bond cutoffs: one radius in Å, a table keyed ``"A-B"``, or None for the GST table.
    r_max
        Largest distance, Å (default 8 for the RDF, 4 for ALTBC).
    bin_width
        Histogram bin width (Å; degrees for bond angles).
    min_angle
        ALTBC: smallest bond angle of a near-linear triple, degrees.
    max_size
        Rings: largest ring size.
    reference
        k̄ / growth: crystalline reference structure (rock-salt and layered environments of
        the composition when None).
    zeta, threshold
        k̄: kernel exponent and the value above which an atom is crystalline.
    axis
        Growth and temperature profile axis (``x``, ``y`` or ``z``).
    fronts
        Growth: crystalline fronts moving through the layer.
    seed_array
        Growth: per-atom array naming crystal seeds (positive ids) for per-grain speeds.
    method
        SOAP map embedding: ``kpca`` or ``mds``.
    colour_by, marker_by
        SOAP map: ``info`` keys that colour and mark the points.
    plane, bin_size, sigma
        Temperature maps: plane (``xz``), bin width in Å, Gaussian smoothing width in Å.
    timestep_ps
        Time between frames, ps, for frames without a ``time_fs`` entry in ``info``.
    progress
        Show progress bars.
    """

    cutoffs: float | dict[str, float] | None = None
    r_max: float | None = None
    bin_width: float | None = None
    min_angle: float = 155.0
    max_size: int = 12
    reference: Atoms | None = None
    zeta: float | None = None
    threshold: float | None = None
    axis: str = "z"
    fronts: int = 1
    seed_array: str = "seed_id"
    method: str = "kpca"
    colour_by: str = "iteration"
    marker_by: str = "config_type"
    plane: str = "xz"
    bin_size: float = 5.0
    sigma: float = 10.0
    timestep_ps: float = 1.0
    progress: bool = False

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> AnalysisOptions:
        """Build options from a mapping, naming any unknown key in the error."""
        values = dict(values or {})
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            known = ", ".join(sorted(cls.__dataclass_fields__))
            raise ValueError(f"unknown analysis option(s) {', '.join(unknown)}; known: {known}")
        return cls(**values)

    def as_record(self) -> dict[str, Any]:
        """The options as plain values for a document (the reference as its formula)."""
        record = asdict(replace(self, reference=None))
        record["reference"] = None if self.reference is None else self.reference.get_chemical_formula()
        record.pop("progress")
        return record


class AnalysisResult(NamedTuple):
    """What :func:`analyse` returns.

    Attributes
    ----------
    kind
        The analysis kind.
    summary
        Small results (numbers, short lists), JSON-ready.
    arrays
        Named arrays (grids, series, per-atom values); units in :data:`ARRAY_UNITS`.
    kbar
        k̄ per atom for each frame (``kbar`` and ``growth``), else None.
    """

    kind: str
    summary: dict[str, Any]
    arrays: dict[str, np.ndarray]
    kbar: list[np.ndarray] | None = None


#: Units of the arrays :func:`analyse` returns, by name or name prefix.
ARRAY_UNITS = {
    "r": "Å",
    "theta": "degree",
    "time": "ps",
    "density": "g/cm³",
    "thickness": "Å",
    "grain_radius": "Å",
    "maps": "K",
    "profiles": "K",
    "temperature": "K",
    "edges_0": "Å",
    "edges_1": "Å",
    "profile_edges": "Å",
}


def array_unit(kind: str, name: str) -> str:
    """Unit of array ``name`` of analysis ``kind`` (empty for dimensionless values)."""
    if kind == "altbc" and name == "density":
        return ""
    return ARRAY_UNITS.get(name, "")


def frame_times(frames: Sequence[Atoms], timestep_ps: float = 1.0) -> np.ndarray:
    """Time of each frame in ps: ``info['time_fs']`` when every frame has it, else k Δt."""
    if frames and all("time_fs" in f.info for f in frames):
        return np.array([float(f.info["time_fs"]) for f in frames]) / 1000.0
    return np.arange(len(frames)) * timestep_ps


def first_peak(r: np.ndarray, g: np.ndarray, smoothing: float = 0.05) -> float:
    """Position (Å) of the first peak of g(r).

    g is smoothed with a Gaussian of ``smoothing`` Å; the first peak is the first local maximum
    that reaches half the highest value (noise in small cells stays below that).
    """
    from scipy.ndimage import gaussian_filter1d

    width = float(r[1] - r[0]) if len(r) > 1 else 1.0
    smooth = gaussian_filter1d(np.asarray(g, dtype=float), smoothing / width) if smoothing else g
    high = 0.5 * smooth.max()
    for k in range(1, len(smooth) - 1):
        if smooth[k] >= high and smooth[k] >= smooth[k - 1] and smooth[k] >= smooth[k + 1]:
            return float(r[k])
    return float(r[np.argmax(smooth)])


def check_analysis(kind: str, frames: Sequence[Atoms], options: AnalysisOptions) -> None:
    """Raise ``ValueError`` for input :func:`analyse` cannot use, before any compute.

    Checks the kind, that there are frames with 3D cells, that the cutoff table covers the
    species, that temperature frames carry velocities, and the options' ranges.
    """
    from gst_flows.analysis.neighbours import resolve_cutoffs

    if kind not in ANALYSIS_KINDS:
        raise ValueError(f"unknown analysis {kind!r}; one of: {', '.join(ANALYSIS_KINDS)}")
    if not frames:
        raise ValueError("no frames to analyse")
    for k, frame in enumerate(frames):
        if not isinstance(frame, Atoms):
            raise TypeError(f"frame {k} is a {type(frame).__name__}, not ase.Atoms")
        if frame.cell.rank < 3:
            raise ValueError(f"frame {k} has no 3D cell: the analyses need periodic cells")
    for name in ("r_max", "bin_width", "bin_size", "timestep_ps"):
        value = getattr(options, name)
        if value is not None and not value > 0:
            raise ValueError(f"{name} must be positive, got {value}")
    if options.sigma < 0:
        raise ValueError(f"sigma must not be negative, got {options.sigma}")
    if kind in ("adf", "coordination", "homopolar", "rings", "growth"):
        for frame in {len(f): f for f in frames}.values():
            resolve_cutoffs(frame, options.cutoffs)
    if kind == "rings" and options.max_size < 3:
        raise ValueError(f"max_size must be at least 3, got {options.max_size}")
    if kind == "temperature":
        for k, frame in enumerate(frames):
            if frame.get_momenta() is None or not np.any(frame.get_momenta()):
                raise ValueError(f"frame {k} has no velocities: temperature maps need frames with velocities")
    if kind == "soap-map" and len(frames) < 3:
        raise ValueError("a SOAP map needs at least 3 configurations")
    if kind == "soap-map" and options.method not in ("kpca", "mds"):
        raise ValueError(f"unknown SOAP map method {options.method!r}: kpca or mds")


def analyse(kind: str, frames: Sequence[Atoms], options: AnalysisOptions | None = None) -> AnalysisResult:
    """Run analysis ``kind`` on ``frames``.

    Parameters
    ----------
    kind
        One of :data:`ANALYSIS_KINDS`.
    frames
        Structures or the frames of a trajectory (averaged over for histograms; one entry per
        frame for time series).
    options
        Settings (defaults when None).

    Returns
    -------
    AnalysisResult
        Summary, arrays and, for ``kbar``/``growth``, k̄ per atom of each frame.
    """
    options = options or AnalysisOptions()
    frames = list(frames)
    check_analysis(kind, frames, options)
    result = _analyse(kind, frames, options)
    return result._replace(summary=jsonable(result.summary))


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as Python numbers and lists, keys as strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _analyse(kind: str, frames: list[Atoms], options: AnalysisOptions) -> AnalysisResult:
    summary: dict[str, Any] = {"kind": kind, "frames": len(frames), "atoms": len(frames[0])}
    return get_analysis(kind, "structure")(frames, options, summary)


@register_analysis("rdf", "structure")
def _rdf(frames: list[Atoms], options: AnalysisOptions, summary: dict[str, Any]) -> AnalysisResult:
    import gst_flows.analysis as an

    res = an.radial_distribution(frames, options.r_max or 8.0, options.bin_width or 0.02)
    arrays = {"r": res.r, "total": res.total, **{f"g_{k}": v for k, v in res.partial.items()}}
    summary["first_peak"] = first_peak(res.r, res.total)
    summary["highest_peak"] = float(res.r[np.argmax(res.total)])
    return AnalysisResult("rdf", summary, arrays)


@register_analysis("adf", "structure")
def _adf(frames: list[Atoms], options: AnalysisOptions, summary: dict[str, Any]) -> AnalysisResult:
    import gst_flows.analysis as an

    res = an.bond_angle_distribution(frames, options.cutoffs, options.bin_width or 1.0)
    arrays = {"theta": res.theta, "total": res.total}
    arrays.update({f"adf_{k}": v for k, v in res.by_centre.items()})
    summary["mode"] = float(res.theta[np.argmax(res.total)])
    return AnalysisResult("adf", summary, arrays)


@register_analysis("coordination", "structure")
def _coordination(frames: list[Atoms], options: AnalysisOptions, summary: dict[str, Any]) -> AnalysisResult:
    import gst_flows.analysis as an

    cutoffs = options.cutoffs
    summary["coordination"] = _frame_mean(frames, lambda f: an.partial_coordination(f, cutoffs))
    arrays = {"coordination": an.coordination_numbers(frames[-1], cutoffs)}
    return AnalysisResult("coordination", summary, arrays)


@register_analysis("homopolar", "structure")
def _homopolar(frames: list[Atoms], options: AnalysisOptions, summary: dict[str, Any]) -> AnalysisResult:
    import gst_flows.analysis as an

    cutoffs = options.cutoffs
    summary["fractions"] = _frame_mean(frames, lambda f: an.homopolar_bond_fraction(f, cutoffs))
    summary["bond_counts"] = _frame_mean(frames, lambda f: an.bond_counts(f, cutoffs))
    return AnalysisResult("homopolar", summary, {})


@register_analysis("density", "structure")
def _density(frames: list[Atoms], options: AnalysisOptions, summary: dict[str, Any]) -> AnalysisResult:
    import gst_flows.analysis as an

    density = np.array([an.mass_density(f) for f in frames])
    arrays = {"time": frame_times(frames, options.timestep_ps), "density": density}
    summary["mean_density"] = float(density.mean())
    return AnalysisResult("density", summary, arrays)


@register_analysis("rings", "structure")
def _rings(frames: list[Atoms], options: AnalysisOptions, summary: dict[str, Any]) -> AnalysisResult:
    import gst_flows.analysis as an

    res = an.ring_statistics(frames, options.cutoffs, options.max_size, progress=options.progress)
    arrays = {"sizes": res.sizes, "counts": res.counts, "per_atom": res.per_atom}
    summary["rings_per_atom"] = dict(zip(res.sizes.tolist(), res.per_atom.tolist(), strict=True))
    return AnalysisResult("rings", summary, arrays)


@register_analysis("altbc", "structure")
def _altbc(frames: list[Atoms], options: AnalysisOptions, summary: dict[str, Any]) -> AnalysisResult:
    import gst_flows.analysis as an

    res = an.altbc(
        frames,
        r_max=options.r_max or 4.0,
        bin_width=options.bin_width or 0.02,
        min_angle=options.min_angle,
    )
    summary.update(n_triples=res.n_triples, n_centres=res.n_centres)
    return AnalysisResult("altbc", summary, {"r": res.r, "density": res.density})


def _frame_mean(frames: list[Atoms], fn: Callable) -> dict[str, float]:
    values = [fn(f) for f in frames]
    return {k: float(np.mean([v[k] for v in values])) for k in values[0]}


@register_analysis("kbar", "structure")
def _kbar_only(frames: list[Atoms], options: AnalysisOptions, summary: dict[str, Any]) -> AnalysisResult:
    return _kbar("kbar", frames, options, summary)


@register_analysis("temperature", "structure")
def _temperature_maps(
    frames: list[Atoms], options: AnalysisOptions, summary: dict[str, Any]
) -> AnalysisResult:
    return AnalysisResult("temperature", summary, _temperature(frames, options, summary))


@register_analysis("growth", "structure")
def _growth(frames: list[Atoms], options: AnalysisOptions, summary: dict[str, Any]) -> AnalysisResult:
    return _kbar("growth", frames, options, summary)


def _kbar(
    kind: str, frames: list[Atoms], options: AnalysisOptions, summary: dict[str, Any]
) -> AnalysisResult:
    import gst_flows.analysis as an
    from gst_flows.analysis.common import progress_bar

    zeta = options.zeta if options.zeta is not None else an.DEFAULT_ZETA
    threshold = options.threshold if options.threshold is not None else an.DEFAULT_THRESHOLD
    times = frame_times(frames, options.timestep_ps)
    refs, settings = an.prepare_reference(frames[0], options.reference)
    kbars, fraction, density, thickness, grains = [], [], [], [], []
    seeds = None
    if kind == "growth" and options.seed_array in frames[0].arrays:
        ids = np.asarray(frames[0].arrays[options.seed_array])
        seeds = [np.flatnonzero(ids == s) for s in np.unique(ids[ids > 0])]
    for frame in progress_bar(frames, options.progress, "k̄", "frame"):
        kbar = an.crystallinity(frame, refs, zeta=zeta, settings=settings)
        kbars.append(kbar)
        crystalline = kbar > threshold
        fraction.append(an.crystalline_fraction(kbar, threshold))
        density.append(an.mass_density(frame))
        if kind == "growth":
            thickness.append(an.crystalline_thickness(frame, crystalline, options.axis))
            if seeds:
                sizes = an.seeded_grain_sizes(frame, crystalline, seeds, options.cutoffs)
                grains.append(an.equivalent_radius(sizes, an.number_density(frame)))
    arrays = {
        "time": times,
        "crystalline_fraction": np.array(fraction),
        "density": np.array(density),
        "mean_kbar": np.array([k.mean() for k in kbars]),
    }
    summary.update(zeta=zeta, threshold=threshold, final_fraction=float(fraction[-1]))
    if kind == "kbar":
        antisites = an.find_antisites(frames[-1], kbars[-1], threshold, cutoffs=options.cutoffs)
        summary["antisites_last_frame"] = int(antisites.sum())
        return AnalysisResult(kind, summary, arrays, kbars)
    arrays["thickness"] = np.array(thickness)
    if len(frames) >= 2:
        fit = an.growth_speed(times, arrays["thickness"], n_fronts=options.fronts)
        summary["front_speed_m_per_s"] = fit.speed
    if grains:
        radii = np.array(grains)
        arrays["grain_radius"] = radii
        if len(frames) >= 2:
            summary["grain_speed_m_per_s"] = [
                an.growth_speed(times, radii[:, g]).speed for g in range(radii.shape[1])
            ]
    return AnalysisResult(kind, summary, arrays, kbars)


def _temperature(
    frames: list[Atoms], options: AnalysisOptions, summary: dict[str, Any]
) -> dict[str, np.ndarray]:
    import gst_flows.analysis as an

    maps, profiles, mean_t = [], [], []
    for frame in frames:
        tmap = an.temperature_map(frame, options.plane, options.bin_size, options.sigma)
        prof = an.temperature_profile(frame, options.axis, options.bin_size, options.sigma)
        maps.append(tmap.temperature)
        profiles.append(prof.temperature)
        mean_t.append(an.kinetic_temperature(frame))
    summary.update(mean_temperature=[float(t) for t in mean_t], max_temperature=float(np.nanmax(maps)))
    return {
        "time": frame_times(frames, options.timestep_ps),
        "maps": np.array(maps),
        "profiles": np.array(profiles),
        "edges_0": tmap.edges[0],
        "edges_1": tmap.edges[1],
        "profile_edges": prof.edges[0],
        "axes": np.array(list(options.plane)),
        "profile_axis": np.array([options.axis]),
        "temperature": np.array(mean_t),
    }


@register_analysis("soap-map", "structure")
def _soap_map(frames: list[Atoms], options: AnalysisOptions, summary: dict[str, Any]) -> AnalysisResult:
    import gst_flows.analysis as an

    res = an.soap_map(frames, options.method, progress=options.progress)
    arrays = {"coordinates": res.coordinates, "kernel": res.kernel, "explained": res.explained}
    arrays["colour"] = np.array(an.frame_labels(frames, options.colour_by))
    arrays["marker"] = np.array(an.frame_labels(frames, options.marker_by))
    summary["explained"] = [float(x) for x in res.explained]
    return AnalysisResult("soap-map", summary, arrays)


#: Analyses :func:`analyse` runs (the ``structure`` family of :mod:`gst_flows.analysis.registry`).
ANALYSIS_KINDS = analysis_names("structure")
