"""A GAP from files stored as a fit document, so flows can name it by potential id (tests only)."""

from __future__ import annotations

import uuid
from pathlib import Path

from jobflow import job

from gst_flows.schemas.fit import GapFitDoc, GapPotentialFiles, MemoryReport, TrainingSetSummary
from gst_flows.schemas.potential import PotentialRef

SCENARIO_GAP = Path(__file__).parents[1] / "fixtures" / "scenario_gap"


@job(output_schema=GapFitDoc, data=["potential"])
def store_gap_files(directory: str, tags: list[str]) -> GapFitDoc:
    """Store the GAP in ``directory`` (``gap.xml`` and its sparseX files) under a new id.

    The fit fields describe no fit (the files were fitted elsewhere): empty settings, zero
    cost. Only the files, the id, the tags and the reference matter to the tests.
    """
    paths = [Path(directory) / "gap.xml", *sorted(Path(directory).glob("gap.xml.sparseX.*"))]
    potential_id = str(uuid.uuid4())
    return GapFitDoc(
        potential_id=potential_id,
        name="stored test GAP",
        tags=tags,
        hyperparameters={},
        e0={},
        command=[],
        gap_fit_config="",
        source=str(directory),
        training_set=TrainingSetSummary(
            n_structures=0,
            n_atoms=0,
            n_force_components=0,
            n_virials=0,
            species=[],
            per_config_type={},
            per_composition={},
        ),
        wall_time_s=0.0,
        peak_memory_bytes=0,
        memory=MemoryReport(predicted_bytes=0),
        potential=GapPotentialFiles.from_paths(paths),
        potential_ref=PotentialRef.from_paths(potential_id, paths),
    )
