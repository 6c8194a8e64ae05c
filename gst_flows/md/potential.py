"""Turn a potential reference into an ASE calculator (or a GAP file for LAMMPS).

A reference is one of:

- a path to a GAP XML file (its ``sparseX`` files alongside), evaluated with
  ``quippy.potential.Potential(param_filename=...)``;
- ``"package.module:factory"``, an importable callable returning an ASE calculator (it is
  called with the ``potential_kwargs``), e.g. a pair potential for tests;
- a callable returning a calculator (in-process runs only: it does not serialise);
- a potential id in the project's database. Fetching by id is delegated to a function the
  fitting layer registers with :func:`register_potential_fetcher`: it receives the id and a
  destination directory, writes the GAP files there and returns the XML path.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "PotentialInfo",
    "PotentialLookupError",
    "fetch_potential",
    "file_sha256",
    "gap_calculator",
    "potential_file",
    "reference_kind",
    "register_potential_fetcher",
    "resolve_potential",
]

PotentialFetcher = Callable[[str, Path], Path]
_FETCHERS: list[PotentialFetcher] = []
#: Modules imported (if present) before fetching by id, so that they can register a fetcher.
FETCHER_MODULES = ("gst_flows.potentials",)


class PotentialLookupError(LookupError, ValueError):
    """A potential id that cannot be fetched."""


class PotentialInfo(BaseModel):
    """What was used as the potential (recorded as it is in the MD documents).

    Attributes
    ----------
    id
        Identifier recorded in outputs: the database id, ``gap:<sha256 prefix>`` for a file, or
        the factory path.
    kind
        ``gap_xml``, ``factory``, ``callable`` or ``database``.
    path
        GAP XML path, when there is one.
    sha256
        SHA-256 of the XML file, when there is one.
    backend
        Potential family: ``gap`` (also every factory or callable) or ``pod``.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Database id, 'gap:<sha256 prefix>' or factory path.")
    kind: str = Field(description="gap_xml, database, factory or callable.")
    path: str | None = Field(
        None, description="Where the run read the potential (GAP XML, or a POD's coefficient file)."
    )
    sha256: str | None = Field(None, description="SHA-256 of that file.")
    backend: str = Field("gap", description="Potential family: gap or pod.")

    def to_dict(self) -> dict[str, Any]:
        """Return a plain dictionary."""
        return self.model_dump()


def register_potential_fetcher(fetcher: PotentialFetcher) -> None:
    """Register a function that fetches a potential by id.

    Parameters
    ----------
    fetcher
        ``fetcher(potential_id, destination_dir) -> xml_path``; it raises ``KeyError`` for ids it
        does not know, so that later fetchers are tried.
    """
    if fetcher not in _FETCHERS:
        _FETCHERS.append(fetcher)


def fetch_potential(potential_id: str, destination: str | Path) -> Path:
    """Fetch a potential by id into ``destination`` with the registered fetchers.

    Raises
    ------
    PotentialLookupError
        When no fetcher knows the id (or none is registered).
    """
    for name in FETCHER_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    for fetcher in list(_FETCHERS):
        try:
            return Path(fetcher(potential_id, destination))
        except KeyError:
            continue
    if not _FETCHERS:
        raise PotentialLookupError(
            f"potential {potential_id!r} is not a file, and no potential store is available to "
            "fetch it by id: pass a GAP XML path"
        )
    raise PotentialLookupError(f"no potential with id {potential_id!r} in the potential store")


def file_sha256(path: str | Path) -> str:
    """Return the SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def gap_calculator(path: str | Path, **kwargs: Any):
    """Return a quippy calculator (an ASE calculator) for a GAP XML file.

    The one place a ``quippy.potential.Potential`` is built from a file: fitting, evaluation,
    MD and the potential store all load GAPs through it.

    Parameters
    ----------
    path
        GAP XML file; its sparseX files must sit next to it. Read by absolute path, so the
        calculator does not depend on the working directory.
    **kwargs
        Passed to ``quippy.potential.Potential`` (e.g. ``args_str``, ``calc_args``).

    Raises
    ------
    FileNotFoundError
        When ``path`` is not a file.
    ValueError
        When the file is not XML (e.g. a POD's coefficient file): QUIP's XML parser would end
        the whole process on it.
    """
    from quippy.potential import Potential

    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no GAP file {path}")
    with path.open("rb") as handle:
        start = handle.read(256).lstrip()
    if not start.startswith(b"<"):
        raise ValueError(f"{path} is not a GAP XML file (it does not start with an XML tag)")
    return Potential(param_filename=str(path), **kwargs)


def _factory(ref: str) -> Callable[..., Any] | None:
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr or "/" in module_name:
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"cannot import calculator factory {ref!r}: {err}") from err
    try:
        return getattr(module, attr)
    except AttributeError as err:
        raise ValueError(f"module {module_name!r} has no calculator factory {attr!r}") from err


def reference_kind(ref: str | Path | Callable[..., Any]) -> str:
    """What a potential reference is, checked without loading or fetching anything.

    Parameters
    ----------
    ref
        As for :func:`resolve_potential`.

    Returns
    -------
    str
        ``"callable"``, ``"factory"``, ``"file"`` or ``"id"`` (to be looked up in the store).

    Raises
    ------
    FileNotFoundError
        For a path (an ``.xml`` name or one with a directory) that is not a file.
    ValueError
        For a ``module:factory`` that cannot be imported.
    """
    if callable(ref):
        return "callable"
    text = str(ref)
    if ":" in text and not Path(text).exists() and _factory(text) is not None:
        return "factory"
    path = Path(text).expanduser()
    if path.is_file():
        return "file"
    if path.suffix == ".xml" or len(path.parts) > 1:
        raise FileNotFoundError(f"no GAP file {path}")
    return "id"


def potential_file(ref: str | Path, workdir: str | Path = ".") -> tuple[Path, PotentialInfo]:
    """Return the GAP XML file a reference points to (fetching it by id if needed).

    Parameters
    ----------
    ref
        A GAP XML path or a database id.
    workdir
        Where fetched files go.
    """
    path = Path(ref).expanduser()
    if not path.is_file() and (path.suffix == ".xml" or len(path.parts) > 1):
        raise FileNotFoundError(f"no GAP file {path}")
    if path.is_file():
        path = path.resolve()
        digest = file_sha256(path)
        return path, PotentialInfo(id=f"gap:{digest[:16]}", kind="gap_xml", path=str(path), sha256=digest)
    xml = fetch_potential(str(ref), Path(workdir) / "potential").resolve()
    return xml, PotentialInfo(id=str(ref), kind="database", path=str(xml), sha256=file_sha256(xml))


def resolve_potential(
    ref: str | Path | Callable[..., Any],
    workdir: str | Path = ".",
    **kwargs: Any,
) -> tuple[Any, PotentialInfo]:
    """Return an ASE calculator and a description for a potential reference.

    Parameters
    ----------
    ref
        GAP XML path, ``"module:factory"``, a callable or a database id (see module docstring).
    workdir
        Where a potential fetched by id is written.
    **kwargs
        Passed to the factory or to ``quippy.potential.Potential``.

    Raises
    ------
    FileNotFoundError, ValueError, LookupError
        With a message naming the reference.
    """
    if callable(ref):
        name = getattr(ref, "__qualname__", type(ref).__name__)
        return ref(**kwargs), PotentialInfo(id=f"callable:{name}", kind="callable")
    text = str(ref)
    if ":" in text and not Path(text).exists():
        factory = _factory(text)
        if factory is not None:
            return factory(**kwargs), PotentialInfo(id=text, kind="factory")
    path, info = potential_file(text, workdir)
    return gap_calculator(path, **kwargs), info
