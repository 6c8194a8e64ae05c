"""Build any structure kind by name: ``build("rocksalt", supercell=(2, 2, 2))``."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from ase import Atoms

from .errors import StructureError

__all__ = ["BUILDERS", "build", "builder_parameters", "register"]

#: Builder function of every kind, filled by :func:`register`.
BUILDERS: dict[str, Callable[..., Atoms]] = {}


def register(kind: str, function: Callable[..., Atoms]) -> None:
    """Make a builder available to :func:`build` and the ``build`` command.

    Parameters
    ----------
    kind
        Name of the kind (lower case, words joined by hyphens).
    function
        Function returning ``ase.Atoms``; its keyword parameters are the kind's
        parameters.
    """
    BUILDERS[kind] = function


def _normalise(kind: str) -> str:
    return kind.strip().lower().replace("_", "-").replace(" ", "-")


def builder_parameters(kind: str) -> dict[str, object]:
    """Parameters of a kind and their defaults.

    Parameters
    ----------
    kind
        Kind name (see :data:`BUILDERS`).

    Returns
    -------
    dict[str, object]
        Parameter name to default value (``inspect.Parameter.empty`` if required).
    """
    function = _lookup(kind)
    return {
        name: p.default
        for name, p in inspect.signature(function).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def _lookup(kind: str) -> Callable[..., Atoms]:
    if not isinstance(kind, str) or _normalise(kind) not in BUILDERS:
        raise StructureError(f"unknown structure kind {kind!r}; known kinds: {', '.join(BUILDERS)}")
    return BUILDERS[_normalise(kind)]


def build(kind: str, **params: object) -> Atoms:
    """Build a structure of the named kind.

    Parameters
    ----------
    kind
        One of :data:`BUILDERS`: ``rocksalt``, ``layered``, ``diamond``,
        ``crystal``, ``crystallisation-cell``, ``heating-cell``, ``mushroom``,
        ``cross-point``, ``seeded``. Underscores are accepted for hyphens.
    **params
        Keyword parameters of that kind's builder (``composition``,
        ``supercell``, ``seed``, ...).

    Returns
    -------
    ase.Atoms
        The structure; ``info["kind"]`` records the kind.

    Raises
    ------
    StructureError
        For an unknown kind (the message lists the known kinds), a parameter the
        kind does not take (the message lists those it takes), or any builder
        error.
    """
    function = _lookup(kind)
    accepted = builder_parameters(kind)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise StructureError(
            f"{_normalise(kind)} does not take parameter(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(accepted)}"
        )
    try:
        atoms = function(**params)
    except StructureError:
        raise
    except (TypeError, ValueError) as exc:
        raise StructureError(f"{_normalise(kind)}: {exc}") from exc
    atoms.info["kind"] = _normalise(kind)
    return atoms
