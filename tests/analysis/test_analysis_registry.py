"""One table of named analyses for the command line, the analysis makers and the scenarios."""

from __future__ import annotations

import numpy as np
import pytest

from gst_flows.analysis.registry import analysis_names, get_analysis, register_analysis
from gst_flows.analysis.run import ANALYSIS_KINDS
from gst_flows.analysis.scenarios import (
    ElectromigrationResult,
    SetCrystallisationResult,
    SpeciesDrift,
    analyse_mushroom_reset,
)
from gst_flows.makers import scenarios as makers
from gst_flows.schemas.scenarios import ElectromigrationDoc, SetCrystallisationDoc

SCENARIO_MAKERS = (
    makers.MushroomResetAnalysisMaker,
    makers.CrossPointAnalysisMaker,
    makers.SetCrystallisationAnalysisMaker,
    makers.CumulativeSetAnalysisMaker,
    makers.PolycrystallineGrowthAnalysisMaker,
    makers.HeatingSeriesAnalysisMaker,
    makers.ElectromigrationAnalysisMaker,
)


def test_structure_and_scenario_analyses_share_one_table():
    assert analysis_names("structure") == ANALYSIS_KINDS
    assert ANALYSIS_KINDS[:2] == ("rdf", "adf") and ANALYSIS_KINDS[-1] == "soap-map"
    assert set(analysis_names("scenario")) == {m.analysis for m in SCENARIO_MAKERS}
    assert set(analysis_names()) == set(ANALYSIS_KINDS) | {m.analysis for m in SCENARIO_MAKERS}
    assert get_analysis("mushroom-reset") is analyse_mushroom_reset
    with pytest.raises(ValueError, match="unknown analysis 'rdf'; one of: electromigration"):
        get_analysis("rdf", "scenario")
    with pytest.raises(ValueError, match="already registered"):
        register_analysis("rdf", "structure")(lambda frames, options, summary: None)
    with pytest.raises(ValueError, match="unknown analysis family"):
        register_analysis("x", "other")


def test_every_scenario_maker_has_its_analysis_and_document():
    for maker in SCENARIO_MAKERS:
        assert maker().scenario == maker.analysis
        assert callable(get_analysis(maker.analysis, "scenario"))
        assert maker.document_class.__name__.removesuffix("Doc") in maker.__name__


def _provenance(**extra):
    return {
        "scenario": "test",
        "name": "test analysis",
        "size": "small",
        "protocol_names": ["p"],
        "protocols": [{}],
        "engine": "ase",
        "formula": "GeTe",
        "n_atoms": 2,
        **extra,
    }


def test_document_from_result():
    result = ElectromigrationResult(
        times=np.array([0.0, 0.1]),
        z=np.array([1.0, 3.0, 5.0]),
        density={"Ge": np.ones((2, 3)), "Te": np.zeros((2, 3))},
        field=0.5,
        temperature=300.0,
        drifts=[SpeciesDrift(species="Ge", charge=1.0, shift=0.2, drift_velocity=200.0)],
    )
    doc = ElectromigrationDoc.from_result(result, chunk_bytes=40, **_provenance(parameters={}))
    assert doc.field == 0.5 and doc.temperature == 300.0 and doc.drifts[0].shift == 0.2
    assert doc.array_names() == ["time", "z", "density_Ge", "density_Te"]
    np.testing.assert_array_equal(doc.array("density_Ge"), np.ones((2, 3)))
    assert len([a for a in doc.arrays if a.name == "density_Ge"]) == 2  # split into parts
    assert doc.figures == [] and doc.kbar_files == []


def test_document_fields_from_the_scenario_parameters():
    result = SetCrystallisationResult(
        frames=[],
        kbar=[np.array([0.2, 0.8])],
        times=np.array([0.0]),
        fraction=np.array([0.5]),
        thickness=np.array([3.0]),
        profile_z=np.array([1.0]),
        profiles=np.array([[0.5]]),
        fit=None,
        growth_speed=None,
        growth_speed_stderr=None,
        initial_fraction=0.5,
        final_fraction=0.5,
    )
    doc = SetCrystallisationDoc.from_result(result, **_provenance(parameters={"anneal_temperature": 600}))
    assert doc.anneal_temperature == 600.0 and doc.growth_speed is None
    assert doc.array("mean_kbar").tolist() == [0.5]
    doc = SetCrystallisationDoc.from_result(result, **_provenance(parameters={}))
    assert np.isnan(doc.anneal_temperature)
