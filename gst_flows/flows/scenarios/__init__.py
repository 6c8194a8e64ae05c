"""Device-scale scenario flows of Ge–Sb–Te phase-change memory.

Seven scenarios, each a flow maker with a ``size`` parameter (``"small"`` runs here on the ASE
engine, ``"full"`` is the published cell as a LAMMPS cluster job):

==========================  =====================================
``set-crystallisation``     :class:`SetCrystallisationMaker`
``cumulative-set``          :class:`CumulativeSetMaker`
``polycrystalline-growth``  :class:`PolycrystallineGrowthMaker`
``heating-series``          :class:`HeatingSeriesMaker`
``mushroom-reset``          :class:`MushroomResetMaker`
``cross-point``             :class:`CrossPointMaker`
``electromigration``        :class:`ElectromigrationMaker`
==========================  =====================================

>>> flow = scenario_maker("mushroom-reset", size="small", potential="gap.xml").make()
... # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gst_flows.flows.scenarios.base import PreparedRun, ScenarioError, ScenarioMaker, ScenarioRun
from gst_flows.flows.scenarios.field import ElectromigrationMaker
from gst_flows.flows.scenarios.heating import HeatingSeriesMaker
from gst_flows.flows.scenarios.lammps_inputs import (
    LammpsInputs,
    PlumbingResult,
    run_lammps_plumbing,
    write_lammps_inputs,
)
from gst_flows.flows.scenarios.reset import CrossPointMaker, MushroomResetMaker
from gst_flows.flows.scenarios.set import (
    CumulativeSetMaker,
    PolycrystallineGrowthMaker,
    SetCrystallisationMaker,
)

__all__ = [
    "SCENARIOS",
    "CrossPointMaker",
    "CumulativeSetMaker",
    "ElectromigrationMaker",
    "HeatingSeriesMaker",
    "LammpsInputs",
    "MushroomResetMaker",
    "PlumbingResult",
    "PolycrystallineGrowthMaker",
    "PreparedRun",
    "ScenarioError",
    "ScenarioMaker",
    "ScenarioRun",
    "SetCrystallisationMaker",
    "run_lammps_plumbing",
    "scenario_maker",
    "write_lammps_inputs",
]

#: Scenario name → flow maker class.
SCENARIOS: dict[str, type[ScenarioMaker]] = {
    cls.scenario: cls
    for cls in (
        SetCrystallisationMaker,
        CumulativeSetMaker,
        PolycrystallineGrowthMaker,
        HeatingSeriesMaker,
        MushroomResetMaker,
        CrossPointMaker,
        ElectromigrationMaker,
    )
}


def scenario_maker(name: str, **kwargs: Any) -> ScenarioMaker:
    """The flow maker of a scenario.

    Parameters
    ----------
    name
        Scenario name (see :data:`SCENARIOS`; underscores accepted for hyphens).
    **kwargs
        Fields of the maker (``size``, ``potential``, scenario parameters).

    Raises
    ------
    ScenarioError
        For an unknown scenario or field.
    """
    key = name.replace("_", "-")
    if key not in SCENARIOS:
        raise ScenarioError(f"unknown scenario {name!r} (scenarios: {', '.join(SCENARIOS)})")
    cls = SCENARIOS[key]
    known = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(k for k in kwargs if k not in known)
    if unknown:
        raise ScenarioError(
            f"{key}: unknown parameter(s) {', '.join(map(repr, unknown))} (parameters: {', '.join(known)})"
        )
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ScenarioError(f"{key}: {err}") from None
