"""Arrays and figures of analysis documents.

Arrays that grow with atoms or frames (time series, profiles, maps, per-atom values) are held as
:class:`ArrayDoc` parts whose values (``array_data``) the job decorator sends to the ``data``
store, split along the first axis into parts of at most ``chunk_bytes`` each, so no stored
object nears MongoDB's 16 MB limit whatever the size of the cell.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from gst_flows.schemas.md import EncodedArray

__all__ = ["ArrayDoc", "ArrayHolder", "FigureDoc", "array_docs"]

_B64_PER_BYTE = 4 / 3


class ArrayDoc(BaseModel):
    """One array of a scenario, or rows ``start:stop`` of it when split into parts."""

    name: str = Field(description="Array name, e.g. 'temperature_map'.")
    unit: str = Field("", description="Unit of the values.")
    description: str = Field("", description="What the array holds and its axes.")
    shape: list[int] = Field(description="Shape of the whole array.")
    part: int = Field(0, description="Part number (0 for an array stored whole).")
    start: int = Field(0, description="First row along axis 0 held by this part.")
    stop: int = Field(0, description="One past the last row held by this part.")
    array_data: EncodedArray | None = Field(None, description="The values of this part (data store).")


def array_docs(
    name: str,
    values: np.ndarray,
    unit: str = "",
    description: str = "",
    chunk_bytes: int = 8_000_000,
) -> list[ArrayDoc]:
    """Split an array into :class:`ArrayDoc` parts of at most ``chunk_bytes`` encoded bytes.

    Parameters
    ----------
    name
        Array name.
    values
        The array (any numeric dtype; 0-d arrays are stored as shape ``(1,)``).
    unit
        Unit of the values.
    description
        Meaning of the axes.
    chunk_bytes
        Largest encoded size of one part, bytes.

    Returns
    -------
    list of ArrayDoc
        The parts in order.
    """
    values = np.atleast_1d(np.asarray(values))
    row_bytes = max(1.0, values[0].nbytes * _B64_PER_BYTE if len(values) else 1.0)
    rows = max(1, int(chunk_bytes // row_bytes))
    parts = []
    for part, start in enumerate(range(0, max(len(values), 1), rows)):
        stop = min(len(values), start + rows)
        parts.append(
            ArrayDoc(
                name=name,
                unit=unit,
                description=description,
                shape=list(values.shape),
                part=part,
                start=start,
                stop=stop,
                array_data=EncodedArray.from_array(values[start:stop]),
            )
        )
    return parts


class FigureDoc(BaseModel):
    """A figure written by the scenario's analysis job."""

    name: str = Field(description="Figure name.")
    description: str = Field("", description="What the figure shows.")
    files: list[str] = Field(description="Absolute paths of the PNG/PDF files.")


class ArrayHolder(BaseModel):
    """A document with arrays in the data store, reassembled by name."""

    arrays: list[ArrayDoc] = Field(default_factory=list, description="Arrays (data store).")

    def array(self, name: str) -> np.ndarray:
        """Reassemble array ``name`` from its parts (load the document with ``load=True``).

        Raises
        ------
        KeyError
            When there is no such array.
        ValueError
            When its values were not loaded from the data store.
        """
        parts = sorted((a for a in self.arrays if a.name == name), key=lambda a: a.part)
        if not parts:
            raise KeyError(f"no array {name!r} (have: {', '.join(self.array_names())})")
        if any(p.array_data is None for p in parts):
            raise ValueError(f"array {name!r} not loaded: query the store with load=True")
        return np.concatenate([p.array_data.to_array() for p in parts]).reshape(parts[0].shape)

    def array_names(self) -> list[str]:
        """Names of the stored arrays."""
        return list(dict.fromkeys(a.name for a in self.arrays))
