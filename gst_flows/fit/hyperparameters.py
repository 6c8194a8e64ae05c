"""GAP hyperparameters as typed dataclasses.

The defaults suit a three-species Ge–Sb–Te potential: a two-body distance term, an optional
three-body angle term and a SOAP many-body term, with regularisation (the expected errors,
``sigma``) set per configuration type: tighter for crystals, looser for liquids, amorphous and
phase-transition snapshots.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from monty.json import MSONable

from gst_flows.fit.exceptions import FitInputError

__all__ = [
    "DEFAULT_CONFIG_TYPE_SIGMA",
    "GapHyperparameters",
    "Sigma",
    "SoapParams",
    "ThreeBodyParams",
    "TwoBodyParams",
]


@dataclass
class Sigma(MSONable):
    """Expected errors (regularisation) of the reference data.

    Parameters
    ----------
    energy
        Energy sigma, eV/atom.
    force
        Force-component sigma, eV/Å.
    virial
        Virial sigma, eV/atom.
    hessian
        Hessian sigma (unused unless Hessian data are given), eV/Å².
    """

    energy: float = 0.002
    force: float = 0.1
    virial: float = 0.1
    hessian: float = 0.0

    def as_tuple(self) -> tuple[float, float, float, float]:
        """Return ``(energy, force, virial, hessian)`` as gap_fit orders them."""
        return (self.energy, self.force, self.virial, self.hessian)

    @classmethod
    def parse(cls, value: str | Sigma | tuple | list | dict) -> Sigma:
        """Build from ``"e,f,v"`` / ``"e f v"``, a sequence, a dict or a :class:`Sigma`."""
        if isinstance(value, Sigma):
            return value
        if isinstance(value, dict):
            return cls(**{k: float(v) for k, v in value.items() if not k.startswith("@")})
        if isinstance(value, str):
            value = value.replace(",", " ").replace(":", " ").split()
        numbers = [float(v) for v in value]
        if not 3 <= len(numbers) <= 4:
            raise FitInputError(
                f"sigma needs 3 or 4 numbers (energy eV/atom, force eV/Å, virial eV/atom"
                f"[, hessian]), got {value!r}"
            )
        return cls(*numbers)


@dataclass
class _SquaredExponentialTerm(MSONable):
    """Fields of a low-order term (two- or three-body) with a squared-exponential kernel.

    The subclasses set their own defaults for ``cutoff`` (Å), ``delta`` (eV), ``n_sparse``
    and ``sparse_method``; the field order, and so the positional arguments, is this one.
    """

    cutoff: float
    delta: float
    n_sparse: int
    theta_uniform: float = 1.0
    covariance_type: str = "ard_se"
    sparse_method: str = "random"


@dataclass
class TwoBodyParams(_SquaredExponentialTerm):
    """Two-body (pair distance) term, one GP per species pair.

    Parameters
    ----------
    cutoff
        Cutoff radius, Å.
    delta
        Energy scale of the term, eV.
    n_sparse
        Sparse points per species pair.
    theta_uniform
        Length scale of the squared-exponential kernel, Å.
    covariance_type
        gap_fit kernel name.
    sparse_method
        gap_fit sparsification method (``uniform`` places points on a distance grid).
    """

    cutoff: float = 5.5
    delta: float = 0.5
    n_sparse: int = 20
    sparse_method: str = "uniform"


@dataclass
class ThreeBodyParams(_SquaredExponentialTerm):
    """Three-body (bond angle) term, one GP per centre species and neighbour species pair.

    Parameters
    ----------
    cutoff
        Cutoff radius, Å.
    delta
        Energy scale of the term, eV.
    n_sparse
        Sparse points per species triplet.
    theta_uniform
        Length scale of the squared-exponential kernel, Å.
    covariance_type
        gap_fit kernel name.
    sparse_method
        gap_fit sparsification method (``uniform`` is not available for this 3-D descriptor).
    """

    cutoff: float = 4.0
    delta: float = 0.05
    n_sparse: int = 50
    sparse_method: str = "random"


@dataclass
class SoapParams(MSONable):
    """SOAP many-body term, one GP per centre species.

    Parameters
    ----------
    cutoff
        Cutoff radius, Å.
    cutoff_transition_width
        Width of the smooth cutoff region, Å.
    n_max
        Number of radial basis functions.
    l_max
        Maximum angular momentum of the spherical harmonics.
    atom_sigma
        Width of the atomic Gaussians, Å.
    zeta
        Exponent of the dot-product kernel.
    delta
        Energy scale of the term, eV.
    n_sparse
        Sparse points per centre species.
    sparse_method
        gap_fit sparsification method (``cur_points`` is a CUR decomposition).
    covariance_type
        gap_fit kernel name.
    """

    cutoff: float = 5.0
    cutoff_transition_width: float = 1.0
    n_max: int = 8
    l_max: int = 6
    atom_sigma: float = 0.5
    zeta: float = 4.0
    delta: float = 0.2
    n_sparse: int = 500
    sparse_method: str = "cur_points"
    covariance_type: str = "dot_product"

    def dimension(self, n_species: int) -> int:
        """Length of the SOAP power spectrum for ``n_species`` species (plus gap_fit's 1)."""
        nn = self.n_max * n_species
        return (self.l_max + 1) * nn * (nn + 1) // 2 + 1


DEFAULT_CONFIG_TYPE_SIGMA: dict[str, Sigma] = {
    "isolated_atom": Sigma(0.0001, 0.01, 0.01),
    "crystal": Sigma(0.001, 0.05, 0.05),
    "amorphous": Sigma(0.002, 0.1, 0.1),
    "liquid": Sigma(0.003, 0.15, 0.15),
    "phase_transition": Sigma(0.003, 0.15, 0.15),
}


# The descriptor terms of a fit: field name of GapHyperparameters → parameter class.
_TERMS: dict[str, type] = {"two_body": TwoBodyParams, "three_body": ThreeBodyParams, "soap": SoapParams}


def _default_config_type_sigma() -> dict[str, Sigma]:
    return {k: Sigma(*v.as_tuple()) for k, v in DEFAULT_CONFIG_TYPE_SIGMA.items()}


@dataclass
class GapHyperparameters(MSONable):
    """Everything that defines a GAP fit apart from the data.

    Parameters
    ----------
    two_body
        Pair term, or ``None`` to leave it out.
    three_body
        Angle term, or ``None`` (the default) to leave it out.
    soap
        SOAP term, or ``None`` to leave it out.
    default_sigma
        Expected errors for configuration types not listed in ``config_type_sigma``.
    config_type_sigma
        Expected errors per ``config_type``.
    e0
        Isolated-atom energies per element symbol, eV. ``None`` takes them from the
        ``isolated_atom`` frames of the training data.
    sparse_jitter
        Diagonal jitter added to the sparse covariance matrix.
    seed
        Random seed passed to gap_fit (``rnd_seed``).
    strict_n_sparse
        If true, asking for more sparse points than a descriptor has data is an error;
        if false, the number is lowered to what the data hold and empty species
        combinations of the two- and three-body terms are dropped.
    """

    two_body: TwoBodyParams | None = field(default_factory=TwoBodyParams)
    three_body: ThreeBodyParams | None = None
    soap: SoapParams | None = field(default_factory=SoapParams)
    default_sigma: Sigma = field(default_factory=Sigma)
    config_type_sigma: dict[str, Sigma] = field(default_factory=_default_config_type_sigma)
    e0: dict[str, float] | None = None
    sparse_jitter: float = 1e-8
    seed: int = 1
    strict_n_sparse: bool = True

    def __post_init__(self):
        # Accept plain dicts, as they come back from JSON or a database.
        for name, cls in _TERMS.items():
            value = getattr(self, name)
            if isinstance(value, dict):
                setattr(self, name, cls(**{k: v for k, v in value.items() if k[0] != "@"}))
        self.default_sigma = Sigma.parse(self.default_sigma)
        self.config_type_sigma = {str(k): Sigma.parse(v) for k, v in (self.config_type_sigma or {}).items()}
        if self.e0 is not None:
            self.e0 = {str(k): float(v) for k, v in self.e0.items()}

    def _enabled_terms(self) -> dict[str, Any]:
        """The descriptor terms in use, by field name."""
        return {name: getattr(self, name) for name in _TERMS if getattr(self, name) is not None}

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise :class:`FitInputError` if any setting cannot give a fit."""
        terms = self._enabled_terms()
        if not terms:
            raise FitInputError("no descriptor: enable at least one of two_body, three_body, soap")
        sigmas = {"default": self.default_sigma, **self.config_type_sigma}
        for config_type, sigma in sigmas.items():
            for kind in ("energy", "force", "virial"):
                value = getattr(sigma, kind)
                if not value > 0:
                    raise FitInputError(
                        f"sigma {kind} for config_type '{config_type}' is {value}: "
                        "sigma is an expected error and must be > 0"
                    )
        for name, term in terms.items():
            if term.cutoff <= 0:
                raise FitInputError(f"{name}.cutoff must be > 0 Å, got {term.cutoff}")
            if term.delta <= 0:
                raise FitInputError(f"{name}.delta must be > 0 eV, got {term.delta}")
            if int(term.n_sparse) < 1:
                raise FitInputError(f"{name}.n_sparse must be >= 1, got {term.n_sparse}")
        if self.three_body is not None and self.three_body.sparse_method == "uniform":
            raise FitInputError(
                "three_body.sparse_method 'uniform' only works for one-dimensional "
                "descriptors; use 'random' or 'cur_points'"
            )
        if self.soap is not None:
            s = self.soap
            if s.n_max < 1 or s.l_max < 0:
                raise FitInputError(f"soap needs n_max >= 1 and l_max >= 0, got {s.n_max}, {s.l_max}")
            if s.atom_sigma <= 0:
                raise FitInputError(f"soap.atom_sigma must be > 0 Å, got {s.atom_sigma}")

    def sigma_for(self, config_type: str) -> Sigma:
        """Return the expected errors used for frames of ``config_type``."""
        return self.config_type_sigma.get(config_type, self.default_sigma)

    @property
    def max_cutoff(self) -> float:
        """Largest descriptor cutoff, Å."""
        return max(t.cutoff for t in self._enabled_terms().values())

    # ---------------------------------------------------------------- updates
    def updated(self, changes: dict[str, Any]) -> GapHyperparameters:
        """Return a copy with dotted-key changes applied.

        Parameters
        ----------
        changes
            Mapping such as ``{"soap.n_max": 4, "three_body": "on", "sigma.liquid":
            "0.003,0.15,0.15", "e0.Ge": -107.5, "seed": 3}``. String values are converted
            to the type of the field. ``two_body``/``three_body``/``soap`` accept
            ``on``/``off``/``none``.

        Returns
        -------
        GapHyperparameters
            The updated copy; ``self`` is unchanged.
        """
        new = GapHyperparameters.from_dict(self.as_dict())
        for key, value in changes.items():
            new._apply(key, value)
        new.validate()
        return new

    def _apply(self, key: str, value: Any) -> None:
        parts = key.split(".")
        head = parts[0]
        if head in _TERMS:
            cls = _TERMS[head]
            if len(parts) == 1:
                flag = str(value).lower()
                if flag in ("none", "off", "false", "0", "no"):
                    setattr(self, head, None)
                elif flag in ("on", "true", "1", "yes", "default"):
                    if getattr(self, head) is None:
                        setattr(self, head, cls())
                else:
                    raise FitInputError(f"{head} takes on/off, got {value!r}")
                return
            if len(parts) != 2:
                raise FitInputError(f"unknown hyperparameter {key!r}")
            term = getattr(self, head)
            if term is None:
                term = cls()
                setattr(self, head, term)
            _set_typed(term, parts[1], value, key)
            return
        if head in ("sigma", "config_type_sigma") and len(parts) == 2:
            if parts[1] == "default":
                self.default_sigma = Sigma.parse(value)
            else:
                self.config_type_sigma[parts[1]] = Sigma.parse(value)
            return
        if head == "default_sigma" and len(parts) == 1:
            self.default_sigma = Sigma.parse(value)
            return
        if head == "e0" and len(parts) == 2:
            self.e0 = dict(self.e0 or {})
            self.e0[parts[1]] = float(value)
            return
        if len(parts) == 1 and head in {f.name for f in dataclasses.fields(self)}:
            _set_typed(self, head, value, key)
            return
        raise FitInputError(f"unknown hyperparameter {key!r}")

    @classmethod
    def from_dict(cls, d: dict) -> GapHyperparameters:
        """Rebuild from :meth:`as_dict` output (or any plain nested dict)."""
        kwargs = {k: v for k, v in d.items() if not k.startswith("@")}
        for name in ("default_sigma",):
            if isinstance(kwargs.get(name), dict):
                kwargs[name] = Sigma.parse(kwargs[name])
        return cls(**kwargs)

    def as_dict(self) -> dict:
        """Plain, JSON-ready nested dictionary."""
        d = {
            "@module": type(self).__module__,
            "@class": type(self).__name__,
        }
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if dataclasses.is_dataclass(value):
                value = dataclasses.asdict(value)
            elif f.name == "config_type_sigma":
                value = {k: dataclasses.asdict(v) for k, v in value.items()}
            elif isinstance(value, dict):
                value = dict(value)
            d[f.name] = value
        return d


def _set_typed(obj: Any, name: str, value: Any, key: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(obj)}
    if name not in fields:
        raise FitInputError(f"unknown hyperparameter {key!r}; {type(obj).__name__} has {sorted(fields)}")
    hints = typing.get_type_hints(type(obj))
    target = hints[name]
    if isinstance(target, types.UnionType) or typing.get_origin(target) is typing.Union:
        target = next(a for a in typing.get_args(target) if a is not type(None))
    try:
        if target is bool and isinstance(value, str):
            converted: Any = value.strip().lower() in ("1", "true", "yes", "on", "t")
        elif target in (int, float, str, bool):
            converted = target(value)
            if target is int and isinstance(value, str | float) and float(value) != converted:
                raise ValueError(f"{value!r} is not an integer")
        else:
            converted = value
    except (TypeError, ValueError) as exc:
        raise FitInputError(f"cannot set {key!r} to {value!r}: {exc}") from exc
    setattr(obj, name, converted)
