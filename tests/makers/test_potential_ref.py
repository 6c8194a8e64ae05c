"""PotentialRef: the typed potential reference a fit emits and the MD makers accept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from monty.json import MontyDecoder, MontyEncoder
from pydantic import ValidationError

from gst_flows.flows.scenarios import CrossPointMaker
from gst_flows.makers.md import GapMDMaker
from gst_flows.md.potential import file_sha256
from gst_flows.schemas.potential import PotentialRef, as_potential_ref

GAP_DIR = Path(__file__).parents[1] / "fixtures" / "scenario_gap"


def _gap_files(directory: Path) -> list[Path]:
    return [directory / "gap.xml", *sorted(directory.glob("gap.xml.sparseX.*"))]


@pytest.fixture
def gap_copy(tmp_path) -> Path:
    """A copy of the scenario GAP (tests change its files)."""
    target = tmp_path / "gap"
    shutil.copytree(GAP_DIR, target)
    return target


def test_reference_records_every_file(gap_copy):
    ref = PotentialRef.from_paths("abc", _gap_files(gap_copy))
    assert ref.xml_name == "gap.xml" and ref.sha256 == file_sha256(gap_copy / "gap.xml")
    assert len(ref.files) == 7 and next(iter(ref.files)) == "gap.xml"
    assert ref.mismatches(gap_copy) == []
    sparse = _gap_files(gap_copy)[3]
    sparse.write_text(sparse.read_text().replace("1", "2", 1))
    (gap_copy / "gap.xml").unlink()
    problems = ref.mismatches(gap_copy)
    assert problems[0] == "gap.xml is missing"
    assert problems[1].startswith(f"{sparse.name} has SHA-256") and len(problems) == 2
    with pytest.raises(ValidationError, match="must list the XML"):
        PotentialRef(potential_id="abc", xml_name="gap.xml", sha256="0" * 64, files=dict(ref.files))


def test_md_makers_take_a_reference_and_its_json_form(gap_copy):
    ref = PotentialRef.from_paths("abc", _gap_files(gap_copy))
    maker = GapMDMaker(potential=ref)
    again = MontyDecoder().decode(MontyEncoder().encode(maker))
    assert again == maker and isinstance(again.potential, PotentialRef)
    # the mapping FireWorks or a hand-written settings file may hold
    assert GapMDMaker(potential=json.loads(MontyEncoder().encode(ref))).potential == ref
    assert GapMDMaker(potential=ref.model_dump()).potential == ref
    assert as_potential_ref({"potential_id": "abc"}) is None  # other mappings are left alone
    # paths, ids and factories are passed on unchanged
    assert GapMDMaker(potential="gap.xml").resolved_potential() == ("gap.xml", None)
    assert GapMDMaker(potential="gap_fixture:pair_calculator").resolved_potential()[1] is None
    # scenario flows hand the reference to each MD job
    flow = CrossPointMaker(potential=ref).make()
    md_makers = [job.maker for job in flow.jobs if isinstance(job.maker, GapMDMaker)]
    assert md_makers and all(m.potential == ref for m in md_makers)
