"""A typed reference to a fitted potential in the potential store.

A :class:`~gst_flows.schemas.fit.GapFitDoc` emits one as ``potential_ref``; MD makers accept it
wherever they accept a potential id or a GAP XML path. The makers fetch the files by id and
check every file against the SHA-256 recorded here before the MD layer sees a plain path, so a
run never uses a potential whose files changed after the fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gst_flows.md.potential import file_sha256

__all__ = ["PotentialRef", "as_potential_ref"]


class PotentialRef(BaseModel):
    """A GAP in the potential store: its id, and the name and SHA-256 of each of its files.

    Attributes
    ----------
    potential_id
        The ``potential_id`` of the fit document that stores the files.
    xml_name
        File name of the potential XML.
    sha256
        SHA-256 of the XML file (hex).
    files
        File name → SHA-256 (hex) of every file: the XML and its sparseX files.

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

    @model_validator(mode="after")
    def _xml_among_files(self) -> PotentialRef:
        if self.files.get(self.xml_name) != self.sha256:
            raise ValueError(f"files must list the XML {self.xml_name!r} with the SHA-256 {self.sha256}")
        return self

    @classmethod
    def from_paths(cls, potential_id: str, paths: Sequence[str | Path]) -> PotentialRef:
        """Reference files on disk (the XML first, then its sparseX files).

        Parameters
        ----------
        potential_id
            Id under which the files are stored.
        paths
            The XML followed by its sparseX files.
        """
        paths = [Path(p) for p in paths]
        files = {p.name: file_sha256(p) for p in paths}
        xml = paths[0].name
        return cls(potential_id=potential_id, xml_name=xml, sha256=files[xml], files=files)

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
    ``@module``/``@class`` markers that jobflow and FireWorks store).
    """
    if isinstance(value, PotentialRef):
        return value
    if isinstance(value, dict):
        fields = {k: v for k, v in value.items() if not k.startswith("@")}
        if value.get("@class") == "PotentialRef" or set(fields) == set(PotentialRef.model_fields):
            return PotentialRef.model_validate(fields)
    return None
