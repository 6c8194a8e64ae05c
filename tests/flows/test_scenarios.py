"""Device scenario flows at small size: MD, analyses, documents, figures, k̄ frames.

Every flow runs end to end through jobflow into the session's embedded database with the
committed scenario GAP (``tests/fixtures/scenario_gap``: a two-body GAP fitted to a stand-in
pair potential, see ``make_scenario_gap.py``), so the numbers checked are bookkeeping
(ledgers, shapes, signs), not GST physics.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.io import read
from monty.json import MontyEncoder

from gst_flows.execution import assign_categories, run_local
from gst_flows.flows.scenarios import (
    CrossPointMaker,
    CumulativeSetMaker,
    ElectromigrationMaker,
    HeatingSeriesMaker,
    MushroomResetMaker,
    PolycrystallineGrowthMaker,
    ScenarioError,
    SetCrystallisationMaker,
)
from gst_flows.md.units import ev_to_fj
from gst_flows.schemas import scenarios as schemas
from gst_flows.store import get_store
from tests.support.lammps import lammps_missing

GAP = Path(__file__).parents[1] / "fixtures" / "scenario_gap" / "gap.xml"


def _run(maker, doc_class):
    """Run a scenario flow; return its document (arrays loaded) and the raw stored output."""
    flow = maker.make()
    run_local(flow, ensure_success=True)
    store = get_store()
    store.connect()
    uuid = flow.jobs[-1].uuid
    raw = store.query_one({"uuid": uuid}, properties=["output"], load=False, sort={"index": -1})["output"]
    loaded = store.query_one({"uuid": uuid}, properties=["output"], load=True, sort={"index": -1})["output"]
    doc = doc_class.model_validate({k: v for k, v in loaded.items() if not k.startswith("@")})
    return doc, raw


def _common_checks(doc, raw, *, figures: int, kbar: bool = True, engine: str = "ase"):
    # arrays sit in the data store, the document stays small
    assert doc.arrays and all("blob_uuid" in a["array_data"] for a in raw["arrays"])
    assert len(json.dumps(raw, cls=MontyEncoder)) < 200_000
    for name in doc.array_names():
        assert doc.array(name).size > 0
    assert len(doc.figures) == figures
    for figure in doc.figures:
        assert sorted(Path(f).suffix for f in figure.files) == [".pdf", ".png"]
        assert all(Path(f).stat().st_size > 1000 for f in figure.files)
    if kbar:
        assert doc.kbar_files
        frames = read(doc.kbar_files[0], index=":")
        assert all("kbar" in f.arrays and "crystalline" in f.arrays for f in frames)
        assert all(0.0 <= f.arrays["kbar"].min() <= f.arrays["kbar"].max() <= 1.0 for f in frames)
    assert doc.engine == engine and doc.size == "small"
    assert doc.potential.kind == "gap_xml"
    assert doc.key_figures()


# --------------------------------------------------------------------------- RESET


@pytest.fixture(scope="module", params=["ase", "lammps"])
def mushroom(request, gst_home):
    if request.param == "lammps" and lammps_missing():
        pytest.skip(lammps_missing())
    return _run(MushroomResetMaker(potential=str(GAP), engine=request.param), schemas.MushroomResetDoc)


@pytest.mark.slow  # a whole scenario flow with GAP MD
def test_mushroom_reset_ledger_and_maps(mushroom):
    doc, raw = mushroom
    _common_checks(doc, raw, figures=3, engine=doc.parameters["engine"])
    check = doc.energy_check
    # the same energy per focal atom as the published 1,650 eV pulse
    assert check.requested == pytest.approx(doc.parameters["energy"])
    assert 10 < check.requested < 100
    assert check.relative_error < 0.01
    assert check.injected == pytest.approx(check.requested, rel=0.01)
    assert check.injected_fj == pytest.approx(ev_to_fj(check.injected))
    # the total energy rose by what was injected (NVE after the equilibration)
    assert check.balance_error < 0.01
    assert doc.ledger.injected == pytest.approx(check.injected)
    # measured: the total (kinetic + potential) energy rose across the pulse by the plan
    assert check.measured_injected == pytest.approx(check.requested, rel=0.01)
    assert check.measured_error < 0.01
    assert check.measured_injected_fj == pytest.approx(ev_to_fj(check.measured_injected))
    assert [s.stage for s in check.stages] == ["pulse"]
    # periodic in all three directions: nothing went through the fixed barrier layers
    assert doc.barrier_crossings == 0 and doc.array("barrier_crossings").max() == 0
    # the heated focal region pushes: its pressure (velocities and per-atom virials) rises
    assert doc.focal_pressure_after > doc.focal_pressure_before + 1.0
    assert doc.pressure_after > doc.pressure_before
    maps = doc.array("temperature_map")
    assert maps.shape[0] == len(doc.array("time"))
    assert maps.shape[1:] == (len(doc.array("map_x")) - 1, len(doc.array("map_z")) - 1)
    # the focal region (bottom centre) is the hottest place after the pulse
    hot = maps[-1]
    ix, iz = np.unravel_index(np.nanargmax(hot), hot.shape)
    assert iz < hot.shape[1] / 2 and abs(ix - hot.shape[0] / 2) <= hot.shape[0] / 4
    assert doc.peak_temperature > 1000
    assert 0 <= doc.base_length <= doc.max_base_length
    assert doc.n_focal_atoms > 10 and doc.focal_radius == pytest.approx(7.0)


@pytest.fixture(scope="module")
def cross_point(gst_home):
    return _run(CrossPointMaker(potential=str(GAP)), schemas.CrossPointDoc)


@pytest.mark.slow  # a whole scenario flow with GAP MD
def test_cross_point_ledger_profiles_rdf(cross_point):
    doc, raw = cross_point
    _common_checks(doc, raw, figures=4)
    check = doc.energy_check
    n = doc.n_atoms
    assert n == 252
    assert check.requested == pytest.approx(60.0 / ev_to_fj(1.0) * n / 532_980)
    assert check.relative_error < 0.01
    assert check.removed == pytest.approx(doc.parameters["removal_share"] * check.requested, rel=0.01)
    assert check.balance_error < 0.01
    t_zt = doc.array("temperature_zt")
    times = doc.array("time")
    assert t_zt.shape == (len(times), len(doc.array("z")))
    # graded pulse: the bottom ends hotter than the top
    pulse_end = int(np.argmax(t_zt.max(axis=1)))
    profile = t_zt[pulse_end]
    half = len(profile) // 2
    assert np.nanmean(profile[:half]) > np.nanmean(profile[half:])
    assert doc.peak_temperature > 1000
    assert doc.array("kbar_zt").shape == t_zt.shape
    # the RDF follows the central 20 Å (20 nm in the full cell) of the height
    height = read(doc.kbar_files[0], index=0).cell.lengths()[2]
    assert doc.central_thickness == 20.0
    assert doc.central_fraction == pytest.approx(20.0 / height)
    rdf = doc.array("rdf_central")
    assert rdf.shape == (len(times), len(doc.array("rdf_r")))
    # the layered crystal at the start has sharp peaks; the melt is smoother
    assert rdf[0].max() > rdf[pulse_end].max()


# --------------------------------------------------------------------------- SET


@pytest.mark.slow  # a whole scenario flow with GAP MD
def test_set_crystallisation(gst_home):
    doc, raw = _run(SetCrystallisationMaker(potential=str(GAP)), schemas.SetCrystallisationDoc)
    _common_checks(doc, raw, figures=2)
    assert doc.n_atoms == 84 and doc.anneal_temperature == 600
    fraction = doc.array("crystalline_fraction")
    assert fraction[0] == pytest.approx(doc.initial_fraction)
    assert fraction[-1] == pytest.approx(doc.final_fraction)
    assert doc.growth_speed is not None
    assert doc.array("profiles").shape == (len(fraction), len(doc.array("profile_z")))
    assert [s["name"] for s in doc.protocols[0]["stages"]] == ["melt", "quench", "anneal"]


@pytest.mark.slow  # a whole scenario flow with GAP MD
def test_cumulative_set(gst_home):
    # the small analogue of 5 x 100 ps against 10 x 50 ps at 600 K: the same time at 600 K,
    # each pulse followed by a cooling back to 300 K
    maker = CumulativeSetMaker(potential=str(GAP), pulse_types=((600.0, 40.0, 2), (600.0, 20.0, 4)))
    doc, raw = _run(maker, schemas.CumulativeSetDoc)
    _common_checks(doc, raw, figures=1)
    assert doc.n_runs == 2 and len(doc.kbar_files) == 2
    assert [(p.pulse_type, p.index) for p in doc.pulses] == [
        ("600 K x 0.04 ps", 1),
        ("600 K x 0.04 ps", 2),
        ("600 K x 0.02 ps", 1),
        ("600 K x 0.02 ps", 2),
        ("600 K x 0.02 ps", 3),
        ("600 K x 0.02 ps", 4),
    ]
    assert doc.pulses[-1].cumulative_time == pytest.approx(0.08)
    np.testing.assert_allclose(doc.array("pulse_time_1"), [0.0, 0.02, 0.04, 0.06, 0.08])
    assert doc.array("fraction_0")[0] == pytest.approx(doc.reset_fraction[0])
    # T(t) from the velocities (28 mobile atoms: about ±45 K of noise per row): hot during
    # every pulse, back near base after every pulse, at base on average
    hot = [p.pulse_temperature_measured for p in doc.pulses]
    cold = [p.rest_temperature_measured for p in doc.pulses]
    assert min(hot) > 480.0 and max(cold) < 420.0
    assert np.mean(hot) == pytest.approx(600.0, abs=50.0)
    assert np.mean(cold) == pytest.approx(300.0, abs=40.0)
    # so the two trains of equal time at 600 K are different runs: 2 against 4 cool-downs
    cooled = {
        label: sum(p.rest_temperature_measured < 400.0 for p in doc.pulses if p.pulse_type == label)
        for label in doc.final_fractions()
    }
    assert cooled == {"600 K x 0.04 ps": 2, "600 K x 0.02 ps": 4}
    # the crystal template stayed where it was built through the RESET and the pulses
    cell = maker.prepare()[0].atoms
    fixed = cell.arrays["fixed"]
    assert fixed.any()
    for path in doc.kbar_files:
        for frame in read(path, index=":"):
            np.testing.assert_allclose(frame.positions[fixed], cell.positions[fixed], atol=1e-6)


@pytest.mark.slow  # a whole scenario flow with GAP MD
def test_polycrystalline_growth(gst_home):
    doc, raw = _run(PolycrystallineGrowthMaker(potential=str(GAP)), schemas.PolycrystallineGrowthDoc)
    _common_checks(doc, raw, figures=1)
    assert len(doc.grains) == 3
    sizes = doc.array("grain_atoms")
    assert sizes.shape == (len(doc.array("time")), 3)
    assert [g.final_atoms for g in doc.grains] == sizes[-1].tolist()
    assert doc.published_growth_speed == 0.7
    # each seed's front is fitted only before its grain touches another; merged grains count
    # once
    n_grains = doc.array("n_grains")
    assert doc.final_grains == n_grains[-1] <= 3
    contact = doc.array("grain_contact")
    for g in doc.grains:
        touched = np.flatnonzero(contact[:, g.seed_id])
        assert (g.contact_time is None) == (touched.size == 0)
        if g.growth_speed is not None and g.contact_time is not None:
            assert g.fit_end < g.contact_time
    stages = [s["name"] for s in doc.protocols[0]["stages"]]
    assert stages == ["melt", "quench", "grow"]
    # the seeds are held during the melt only
    assert doc.protocols[0]["stages"][0]["actions"][0]["array"] == "seed_atom"
    assert doc.protocols[0]["stages"][2]["actions"] == []


# --------------------------------------------------------------------------- heating


@pytest.mark.slow  # a whole scenario flow with GAP MD
def test_heating_series(gst_home):
    maker = HeatingSeriesMaker(potential=str(GAP), equilibrate_duration=10.0, heat_duration=120.0)
    doc, raw = _run(maker, schemas.HeatingSeriesDoc)
    _common_checks(doc, raw, figures=1, kbar=False)
    assert len(doc.runs) == 12 and doc.n_runs == 12
    assert {(s.ensemble, s.n_atoms, s.n_runs) for s in doc.sizes} == {
        (e, n, 2) for e in ("nvt", "npt", "nve") for n in (7, 56)
    }
    # independent runs differ in their seeds; NVT and NVE keep the density, NPT changes it
    assert len({r.seed for r in doc.runs}) == 4
    for run in doc.runs:
        if run.ensemble != "npt":
            assert run.final_density == pytest.approx(run.initial_density)
    assert any(r.final_density != pytest.approx(r.initial_density) for r in doc.runs if r.ensemble == "npt")
    temperature = doc.array("temperature_0")
    assert temperature[0] == pytest.approx(300.0) and temperature[-1] == pytest.approx(3000.0)
    # NVE heats by injecting energy, no thermostat: the measured temperature climbs
    nve = [k for k, r in enumerate(doc.runs) if r.ensemble == "nve" and r.supercell == 2]
    measured = doc.array(f"temperature_{nve[0]}")
    assert measured[-1] > measured[0] + 500.0
    assert doc.protocols[nve[0]]["stages"][1]["ensemble"] == "nve"
    assert doc.protocols[nve[0]]["stages"][1]["actions"][0]["kind"] == "inject_energy"
    assert HeatingSeriesMaker(size="full").resolved().runs_per_size == 5


# --------------------------------------------------------------------------- field


@pytest.mark.slow  # a whole scenario flow with GAP MD
def test_electromigration(gst_home):
    # hot and strong enough that the small cell's ions visibly drift within 100 fs
    maker = ElectromigrationMaker(potential=str(GAP), temperature=3000.0, field=0.5, field_duration=100.0)
    doc, raw = _run(maker, schemas.ElectromigrationDoc)
    _common_checks(doc, raw, figures=1, kbar=False)
    drifts = {d.species: d for d in doc.drifts}
    assert set(drifts) == {"Ge", "Sb", "Te"}
    cations = np.mean([drifts["Ge"].shift, drifts["Sb"].shift])
    assert cations > drifts["Te"].shift  # cations up (+z), anions down
    assert doc.ledger.field_work > 0
    dens = doc.array("density_Te")
    assert dens.shape == (len(doc.array("time")), len(doc.array("z")))
    # the fixed electrode planes stay where they were: the species count is conserved
    total = sum(doc.array(f"density_{s}")[-1].sum() for s in drifts)
    first = sum(doc.array(f"density_{s}")[0].sum() for s in drifts)
    assert total == pytest.approx(first)


# --------------------------------------------------------------------------- cluster jobs


def test_full_size_flows_are_cluster_jobs():
    maker = MushroomResetMaker(size="full", potential="gap.xml")
    flow = maker.make()
    assign_categories(flow)
    md, analysis = flow.jobs
    assert md.config.manager_config["_category"] == "md"
    assert analysis.config.manager_config["_category"] == "analysis"
    md_maker = md.function.__self__
    assert md_maker.engine == "lammps" and md_maker.walltime == pytest.approx(23 * 3600.0)
    protocol = md_maker.protocol
    assert protocol.energy_plan()[1].injected == pytest.approx(1650.0)  # the published pulse
    assert protocol.stage("pulse").duration == 30_000 and protocol.stage("relax").duration == 70_000
    # the cell travels as its recipe, not as 23,100 sites
    spec = md.function_args[0]
    assert spec.kind == "mushroom" and spec.params["supercell"] == [33, 5, 20]
    assert len(json.dumps(flow.as_dict(), cls=MontyEncoder)) < 100_000
    # the published SET anneal (600 ps at 600 K), cooling between cumulative SET pulses,
    # the cross-point RDF over the central 20 nm
    set_flow = SetCrystallisationMaker(size="full", potential="gap.xml").make()
    anneal = set_flow.jobs[0].function.__self__.protocol.stage("anneal")
    assert anneal.duration == 600_000 and anneal.start_temperature == 600
    train = CumulativeSetMaker(size="full", potential="gap.xml").resolved().runs()[1].protocol
    rests = [st for st in train.stages if st.tag == "rest"]
    assert len(rests) == 5 and {st.start_temperature for st in rests} == {300.0}
    assert CrossPointMaker(size="full").resolved().central_thickness == 200.0
    with pytest.raises(ScenarioError, match="central_thickness"):
        CrossPointMaker(central_thickness=500.0, potential="gap.xml").prepare()
    grown = PolycrystallineGrowthMaker(size="full", potential="gap.xml").prepare()[0]
    assert min(grown.atoms.cell.lengths()) >= 70.0  # three seeds stay apart (≥ 7 nm)
    with pytest.raises(ScenarioError, match="min_box_length"):
        PolycrystallineGrowthMaker(size="full", supercell=(7, 7, 7), potential="x").prepare()
    strong = MushroomResetMaker(size="full", pulse="large", potential="gap.xml").prepare()[0]
    assert strong.protocol.energy_plan()[1].injected == pytest.approx(3900.0)
    assert len(strong.atoms) == 23_100


def test_walltime_chains_the_md_job(gst_home):
    # a walltime that every step exceeds: each job runs one step and hands over to the next,
    # rebuilding the cell from its recipe
    maker = ElectromigrationMaker(
        potential=str(GAP),
        equilibrate_duration=4.0,
        field_duration=4.0,
        md={"walltime": 1e-9, "checkpoint_interval": 0},
    )
    flow = maker.make()
    responses = run_local(flow, ensure_success=True)
    md_uuid = flow.jobs[0].uuid
    assert len(responses[md_uuid]) == 4  # four steps, four chained jobs
    doc = responses[flow.jobs[-1].uuid][1].output
    assert doc.protocols[0]["stages"][1]["name"] == "field"
    assert len(doc.array("time")) >= 2
