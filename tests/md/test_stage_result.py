"""One stage-summary type for the engines and the MD document."""

import math

from monty.json import MontyDecoder

from gst_flows.md import StageResult
from gst_flows.schemas.md import StageDoc

STAGE = {"name": "melt", "ensemble": "nvt", "tag": None, "start_step": 0, "n_steps": 10}


def test_the_document_stores_the_engine_type():
    assert StageDoc is StageResult


def test_unmeasured_states_are_none_not_nan():
    stage = StageResult(**STAGE, final_pressure=float("nan"), mean_temperature=612.0)
    assert stage.final_pressure is None and stage.mean_temperature == 612.0
    assert stage.to_dict()["final_pressure"] is None
    assert StageResult.from_dict(stage.to_dict()) == stage
    # results written before held NaN in their JSON
    old = {**STAGE, "final_density": math.nan, "final_etot": -12.5}
    assert StageResult.from_dict(old).final_density is None


def test_a_stored_stage_document_decodes():
    stored = {"@module": "gst_flows.schemas.md", "@class": "StageDoc", **STAGE, "final_etot": -3.0}
    decoded = MontyDecoder().process_decoded(stored)
    assert isinstance(decoded, StageResult) and decoded.final_etot == -3.0
