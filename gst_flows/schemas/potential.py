"""A typed reference to a fitted potential in the potential store.

A :class:`~gst_flows.schemas.fit.GapFitDoc` emits one as ``potential_ref``; MD makers accept it
wherever they accept a potential id or a GAP XML path. The makers fetch the files by id and
check every file against the SHA-256 recorded here before the MD layer sees a plain path, so a
run never uses a potential whose files changed after the fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gst_flows.md.potential import file_sha256

__all__ = ["PotentialRef", "as_potential_ref"]


class PotentialRef(BaseModel):
    """A fitted potential in the store: its id, backend, and the name and SHA-256 of its files.

    Attributes
    ----------
    potential_id
        The ``potential_id`` of the fit document that stores the files.
    xml_name
        File name of the main file: the GAP XML, or the POD coefficient file.
    sha256
        SHA-256 of the main file (hex).
    files
        File name → SHA-256 (hex) of every file: the XML and its sparseX files, or the POD
        parameter and coefficient files.
    backend
        Potential family: ``"gap"`` (references stored before the field existed are GAPs)
        or ``"pod"`` (LAMMPS ML-POD, run by the LAMMPS engine only).
    param_name
        POD only: file name of the parameter file.
    species
        POD only: species of the fit in LAMMPS type order (every one must be an atom type).
    baseline
        POD only: the ZBL baseline added to the POD (``inner``, ``outer`` in Å), or None.

    Examples
    --------
    >>> ref = fit_doc.potential_ref                                   # doctest: +SKIP
    >>> GapMDMaker(potential=ref, protocol="melt_quench").make(cell)  # doctest: +SKIP
    """

    model_config = ConfigDict(frozen=True)

    potential_id: str = Field(description="potential_id of the GapFitDoc holding the files.")
    xml_name: str = Field(description="File name of the potential XML.")
    sha256: str = Field(description="SHA-256 of the XML file (hex).")
    files: dict[str, str] = Field(
        description="File name → SHA-256 (hex) of every file, the XML and its sparseX files."
    )
    backend: Literal["gap", "pod"] = Field("gap", description="Potential family: gap or pod.")
    param_name: str | None = Field(None, description="POD parameter file name (POD only).")
    species: list[str] | None = Field(
        None, description="Species in LAMMPS atom-type order (POD only: every one must be a type)."
    )
    baseline: dict[str, float] | None = Field(
        None, description="ZBL baseline of a POD: inner and outer switching radius, Å."
    )

    @model_validator(mode="after")
    def _xml_among_files(self) -> PotentialRef:
        if self.files.get(self.xml_name) != self.sha256:
            raise ValueError(f"files must list the XML {self.xml_name!r} with the SHA-256 {self.sha256}")
        if self.backend == "pod" and (self.param_name not in self.files or not self.species):
            raise ValueError("a POD reference needs its parameter file among files, and its species")
        return self

    @classmethod
    def from_paths(cls, potential_id: str, paths: Sequence[str | Path], **fields: Any) -> PotentialRef:
        """Reference files on disk (the main file first: the XML, then its sparseX files).

        Parameters
        ----------
        potential_id
            Id under which the files are stored.
        paths
            The main file followed by the others.
        **fields
            ``backend``, ``param_name``, ``species``, ``baseline``.
        """
        paths = [Path(p) for p in paths]
        files = {p.name: file_sha256(p) for p in paths}
        xml = paths[0].name
        return cls(potential_id=potential_id, xml_name=xml, sha256=files[xml], files=files, **fields)

    def mismatches(self, directory: str | Path) -> list[str]:
        """Describe each referenced file in ``directory`` that is missing or differs.

        Parameters
        ----------
        directory
            Where the files were written.

        Returns
        -------
        list of str
            One line per bad file; empty when every file matches.
        """
        directory = Path(directory)
        problems = []
        for name, expected in self.files.items():
            path = directory / name
            if not path.is_file():
                problems.append(f"{name} is missing")
                continue
            actual = file_sha256(path)
            if actual != expected:
                problems.append(f"{name} has SHA-256 {actual[:16]}…, the reference records {expected[:16]}…")
        return problems


def as_potential_ref(value: Any) -> PotentialRef | None:
    """The :class:`PotentialRef` that ``value`` is or encodes, else None.

    Accepts the model itself and its JSON form (a mapping with its fields, with or without the
    ``@module``/``@class`` markers that jobflow and FireWorks store). A form stored before
    the ``backend`` field existed decodes as a GAP reference.
    """
    if isinstance(value, PotentialRef):
        return value
    if isinstance(value, dict):
        fields = {k: v for k, v in value.items() if not k.startswith("@")}
        required = {k for k, f in PotentialRef.model_fields.items() if f.is_required()}
        if value.get("@class") == "PotentialRef" or required <= set(fields) <= set(PotentialRef.model_fields):
            return PotentialRef.model_validate(fields)
    return None
