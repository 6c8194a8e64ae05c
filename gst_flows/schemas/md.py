"""The MD document: one protocol run by one engine with one potential.

The document itself stays small whatever the system size: the subsampled summary series, the
stage summaries and the energy ledger live in it; the full thermodynamic series, the frames and
the final structure are sent to the ``data`` store (GridFS) by the maker, split into chunks of
at most ``chunk_bytes`` each so that no stored object nears MongoDB's 16 MB limit. Frames are
chunked along frames and, for very large cells, along atoms.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
from ase import Atoms
from pydantic import BaseModel, Field
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.md.potential import PotentialInfo
from gst_flows.md.results import EnergyLedger, StageResult

#: The energy ledger as stored: the MD layer's own model (one type; the name is kept for imports).
EnergyLedgerDoc = EnergyLedger
#: The stage summary of an MD document is the engine's own type.
StageDoc = StageResult
#: The potential as stored: the MD layer's own model (one type; the name is kept for imports).
PotentialDoc = PotentialInfo

__all__ = [
    "EncodedArray",
    "EnergyLedgerDoc",
    "FrameChunk",
    "MDDoc",
    "PotentialDoc",
    "StageDoc",
    "ThermoChunk",
]


class EncodedArray(BaseModel):
    """A numpy array as base64 bytes (exact, about 11 characters per float64)."""

    dtype: str = Field(description="numpy dtype string, little-endian.")
    shape: list[int] = Field(description="Array shape.")
    data: str = Field(description="Base64 of the raw bytes.")

    @classmethod
    def from_array(cls, array: np.ndarray) -> EncodedArray:
        """Encode an array."""
        array = np.ascontiguousarray(array)
        dtype = array.dtype.newbyteorder("<")
        return cls(
            dtype=dtype.str,
            shape=list(array.shape),
            data=base64.b64encode(array.astype(dtype).tobytes()).decode(),
        )

    def to_array(self) -> np.ndarray:
        """Decode the array."""
        return (
            np.frombuffer(base64.b64decode(self.data), dtype=np.dtype(self.dtype)).reshape(self.shape).copy()
        )


class FrameChunk(BaseModel):
    """Frames ``frame_start:frame_stop``, atoms ``atom_start:atom_stop``.

    ``frame_data`` holds the arrays (``positions`` Å and ``velocities`` Å/fs of shape
    (frames, atoms, 3), ``numbers``, and per-atom role arrays); it is the part sent to the data
    store.
    """

    index: int = Field(description="Chunk number.")
    frame_start: int = Field(description="First frame.")
    frame_stop: int = Field(description="One past the last frame.")
    atom_start: int = Field(description="First atom.")
    atom_stop: int = Field(description="One past the last atom.")
    steps: list[int] = Field(description="MD step of each frame.")
    times_fs: list[float] = Field(description="Simulated time of each frame, fs.")
    stages: list[str] = Field(description="Stage name of each frame.")
    cells: list[list[list[float]]] = Field(description="Cell of each frame, Å.")
    pbc: tuple[bool, bool, bool] = Field(
        (True, True, True), description="Periodic directions of the cell (a slab: False along z)."
    )
    frame_data: dict[str, EncodedArray] | None = Field(None, description="Arrays of the chunk (data store).")


class ThermoChunk(BaseModel):
    """Rows ``row_start:row_stop`` of the full thermodynamic series.

    ``thermo_data`` maps column names (units in the names, see
    :data:`gst_flows.md.results.THERMO_COLUMNS`) to arrays; it is sent to the data store.
    """

    index: int = Field(description="Chunk number.")
    row_start: int = Field(description="First row.")
    row_stop: int = Field(description="One past the last row.")
    thermo_data: dict[str, EncodedArray] | None = Field(
        None, description="Columns of the chunk (data store)."
    )


class MDDoc(BaseModel):
    """An MD run of a protocol: summary, ledger and (in the data store) frames and series."""

    name: str = Field("gap md", description="Job name.")
    engine: str = Field(description="ase or lammps.")
    potential: PotentialInfo = Field(description="The potential.")
    protocol_name: str = Field(description="Protocol name.")
    protocol: dict[str, Any] = Field(description="The protocol (internal units).")
    formula: str = Field(description="Chemical formula.")
    composition: dict[str, int] = Field(description="Atoms per element.")
    n_atoms: int = Field(description="Number of atoms.")
    n_steps: int = Field(description="Steps run.")
    completed: bool = Field(description="Whether every stage ran to its end.")
    simulated_time_fs: float = Field(description="Simulated time, fs.")
    wall_time_s: float = Field(description="Wall-clock time over all restarts, s.")
    seed: int | None = Field(None, description="Random seed.")
    stages: list[StageDoc] = Field(description="Per-stage summaries.")
    ledger: EnergyLedger = Field(description="Energy ledger.")
    nve_drift: float | None = Field(None, description="Largest |NVE drift| over the NVE stages, eV/atom/ps.")
    summary: dict[str, list[float]] = Field(
        description="Thermodynamic series subsampled to at most summary_points rows."
    )
    thermo: list[ThermoChunk] = Field(description="Full thermodynamic series, chunked.")
    n_frames: int = Field(description="Saved frames.")
    trajectory: list[FrameChunk] = Field(description="Frames (positions, velocities), chunked.")
    final_structure: Structure | None = Field(
        None,
        description="Final structure with velocities (site property 'momenta') and role "
        "arrays; omitted above max_structure_atoms (read the last frame instead).",
    )
    dir_name: str | None = Field(None, description="Run directory.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Engine details.")
    last_updated: datetime = Field(default_factory=lambda: datetime.now(UTC), description="Creation time.")

    @classmethod
    def from_result(
        cls,
        result: Any,
        potential: Any,
        name: str = "gap md",
        chunk_bytes: int = 8_000_000,
        summary_points: int = 1000,
        max_structure_atoms: int = 20_000,
    ) -> MDDoc:
        """Build the document from an :class:`~gst_flows.md.results.MDResult`.

        Parameters
        ----------
        result
            The engine's result.
        potential
            A :class:`~gst_flows.md.potential.PotentialInfo` (or a mapping with its fields).
        name
            Job name.
        chunk_bytes
            Largest encoded size of one chunk of frames or series, bytes.
        summary_points
            Rows kept in :attr:`summary`.
        max_structure_atoms
            Largest cell stored as :attr:`final_structure`.
        """
        atoms = result.final_atoms
        thermo = result.thermo
        n_rows = len(thermo["step"])
        keep = np.unique(np.linspace(0, n_rows - 1, min(n_rows, summary_points)).astype(int))
        summary = {k: [float(x) for x in v[keep]] for k, v in thermo.items()} if n_rows else {}
        stages = list(result.stages)
        drifts = [abs(s.nve_drift) for s in result.stages if s.nve_drift is not None]
        potential = PotentialInfo.model_validate(
            potential if isinstance(potential, dict) else potential.to_dict()
        )
        structure = None
        if len(atoms) <= max_structure_atoms:
            structure = AseAtomsAdaptor.get_structure(atoms)
        symbols = atoms.get_chemical_symbols()
        return cls(
            name=name,
            engine=result.engine,
            potential=potential,
            protocol_name=result.protocol.name,
            protocol=result.protocol.to_dict(),
            formula=atoms.get_chemical_formula(),
            composition={s: symbols.count(s) for s in sorted(set(symbols))},
            n_atoms=len(atoms),
            n_steps=result.n_steps,
            completed=result.completed,
            simulated_time_fs=float(thermo["time_fs"][-1]) if n_rows else 0.0,
            wall_time_s=result.wall_time,
            seed=result.seed,
            stages=stages,
            ledger=EnergyLedger.model_validate(result.ledger.model_dump()),
            nve_drift=max(drifts) if drifts else None,
            summary=summary,
            thermo=list(thermo_chunks(thermo, chunk_bytes)),
            n_frames=result.n_frames,
            trajectory=list(frame_chunks(result.read_frames(), chunk_bytes)) if result.n_frames else [],
            final_structure=structure,
            dir_name=str(result.workdir),
            metadata=result.metadata,
        )

    def frames(self) -> list[Atoms]:
        """Rebuild the frames (needs the chunks' ``frame_data`` loaded from the data store)."""
        return frames_from_chunks(self.trajectory)

    def thermo_series(self) -> dict[str, np.ndarray]:
        """Rebuild the full series (needs ``thermo_data`` loaded from the data store)."""
        parts: dict[str, list[np.ndarray]] = {}
        for chunk in sorted(self.thermo, key=lambda c: c.index):
            if chunk.thermo_data is None:
                raise ValueError("thermo chunks not loaded: query the store with load=True")
            for key, value in chunk.thermo_data.items():
                parts.setdefault(key, []).append(value.to_array())
        return {k: np.concatenate(v) for k, v in parts.items()}


_B64_PER_FLOAT = 8 * 4 / 3


def thermo_chunks(thermo: dict[str, np.ndarray], chunk_bytes: int) -> Iterator[ThermoChunk]:
    """Split a series into chunks of at most ``chunk_bytes`` encoded bytes."""
    n_rows = len(thermo["step"]) if "step" in thermo else 0
    per_row = max(1.0, len(thermo) * _B64_PER_FLOAT)
    rows = max(1, int(chunk_bytes // per_row))
    for index, start in enumerate(range(0, n_rows, rows)):
        stop = min(n_rows, start + rows)
        yield ThermoChunk(
            index=index,
            row_start=start,
            row_stop=stop,
            thermo_data={k: EncodedArray.from_array(np.asarray(v[start:stop])) for k, v in thermo.items()},
        )


def frame_chunks(frames: list[Atoms], chunk_bytes: int) -> Iterator[FrameChunk]:
    """Split frames into chunks of at most ``chunk_bytes`` encoded bytes.

    A chunk holds whole frames when one frame fits, otherwise slices of atoms of one frame.
    """
    if not frames:
        return
    n_atoms = len(frames[0])
    per_atom = 6 * _B64_PER_FLOAT + 16
    atoms_per_chunk = max(1, min(n_atoms, int(chunk_bytes // per_atom)))
    frames_per_chunk = max(1, int(chunk_bytes // (per_atom * n_atoms)))
    index = 0
    for f0 in range(0, len(frames), frames_per_chunk):
        group = frames[f0 : f0 + frames_per_chunk]
        for a0 in range(0, n_atoms, atoms_per_chunk):
            a1 = min(n_atoms, a0 + atoms_per_chunk)
            data = {
                "numbers": EncodedArray.from_array(group[0].numbers[a0:a1].astype(np.int16)),
                "positions": EncodedArray.from_array(np.stack([f.positions[a0:a1] for f in group])),
                "velocities": EncodedArray.from_array(
                    np.stack([f.arrays["velocities"][a0:a1] for f in group])
                ),
            }
            for key, value in group[0].arrays.items():
                if key not in ("numbers", "positions", "velocities", "momenta"):
                    data[key] = EncodedArray.from_array(np.asarray(value[a0:a1]))
            yield FrameChunk(
                index=index,
                frame_start=f0,
                frame_stop=f0 + len(group),
                atom_start=a0,
                atom_stop=a1,
                steps=[int(f.info.get("step", 0)) for f in group],
                times_fs=[float(f.info.get("time_fs", 0.0)) for f in group],
                stages=[str(f.info.get("stage_name", "")) for f in group],
                cells=[np.asarray(f.cell).tolist() for f in group],
                pbc=tuple(bool(p) for p in group[0].pbc),
                frame_data=data,
            )
            index += 1


def frames_from_chunks(chunks: list[FrameChunk]) -> list[Atoms]:
    """Rebuild frames from chunks (velocities set; role arrays restored)."""
    from gst_flows.md.units import FS

    by_frames: dict[int, list[FrameChunk]] = {}
    for chunk in chunks:
        if chunk.frame_data is None:
            raise ValueError("frame chunks not loaded: query the store with load=True")
        by_frames.setdefault(chunk.frame_start, []).append(chunk)
    frames: list[Atoms] = []
    for f0 in sorted(by_frames):
        parts = sorted(by_frames[f0], key=lambda c: c.atom_start)
        arrays = {
            key: np.concatenate(
                [p.frame_data[key].to_array() for p in parts],
                axis=1 if key in ("positions", "velocities") else 0,
            )
            for key in parts[0].frame_data
        }
        first = parts[0]
        for k in range(first.frame_stop - first.frame_start):
            atoms = Atoms(
                numbers=arrays["numbers"],
                positions=arrays["positions"][k],
                cell=first.cells[k],
                pbc=first.pbc,
            )
            atoms.set_velocities(arrays["velocities"][k] / FS)
            for key, value in arrays.items():
                if key not in ("numbers", "positions", "velocities"):
                    atoms.new_array(key, value)
            atoms.info.update(step=first.steps[k], time_fs=first.times_fs[k], stage_name=first.stages[k])
            frames.append(atoms)
    return frames
