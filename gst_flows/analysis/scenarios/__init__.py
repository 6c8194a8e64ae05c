"""Analyses of the device scenarios: pure functions of MD runs, one per scenario.

Each function takes the scenario's MD runs (:class:`RunData`) and :class:`AnalysisSettings`
and returns a small result object whose scalars are named as the fields of the scenario's
document (:mod:`gst_flows.schemas.scenarios`) and whose ``stored_arrays()`` lists the arrays
for the data store. The functions are registered in :mod:`gst_flows.analysis.registry` under
the scenario names (``get_analysis("mushroom-reset")``); the scenario analysis makers
(:mod:`gst_flows.makers.scenarios`) run them there and draw the figures.
"""

from gst_flows.analysis.scenarios.common import (
    AnalysisSettings,
    LedgerCheck,
    RunData,
    StageLedger,
    frame_kbar,
    frame_times_ps,
    ledger_check,
    select_frames,
    stage_end_steps,
)
from gst_flows.analysis.scenarios.field import ElectromigrationResult, SpeciesDrift, analyse_electromigration
from gst_flows.analysis.scenarios.heating import (
    HeatingRun,
    HeatingSeriesResult,
    HeatingSize,
    analyse_heating_series,
    target_temperature,
)
from gst_flows.analysis.scenarios.reset import (
    CrossPointResult,
    MushroomResetResult,
    analyse_cross_point,
    analyse_mushroom_reset,
    pulse_pressures,
)
from gst_flows.analysis.scenarios.set import (
    CumulativeSetResult,
    Grain,
    PolycrystallineGrowthResult,
    Pulse,
    SetCrystallisationResult,
    analyse_cumulative_set,
    analyse_polycrystalline_growth,
    analyse_set_crystallisation,
)

__all__ = [
    "AnalysisSettings",
    "CrossPointResult",
    "CumulativeSetResult",
    "ElectromigrationResult",
    "Grain",
    "HeatingRun",
    "HeatingSeriesResult",
    "HeatingSize",
    "LedgerCheck",
    "MushroomResetResult",
    "PolycrystallineGrowthResult",
    "Pulse",
    "RunData",
    "SetCrystallisationResult",
    "SpeciesDrift",
    "StageLedger",
    "analyse_cross_point",
    "analyse_cumulative_set",
    "analyse_electromigration",
    "analyse_heating_series",
    "analyse_mushroom_reset",
    "analyse_polycrystalline_growth",
    "analyse_set_crystallisation",
    "frame_kbar",
    "frame_times_ps",
    "ledger_check",
    "pulse_pressures",
    "select_frames",
    "stage_end_steps",
    "target_temperature",
]
