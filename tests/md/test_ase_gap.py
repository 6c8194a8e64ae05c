"""The ASE engine with a small real GAP (quippy), where the potential matters."""

from __future__ import annotations

import numpy as np
import pytest
from gap_fixture import gst_cell
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.makers.md import GapMDMaker
from gst_flows.md.ase_engine import AseMDEngine
from gst_flows.md.potential import file_sha256, resolve_potential
from gst_flows.md.protocol import (
    FixAtoms,
    InjectEnergy,
    Protocol,
    RemoveHeat,
    RunSettings,
    Stage,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gap_run(small_gap, tmp_path_factory):
    """One GAP run: NVT, NVE injection into a region, NVE removal, with fixed atoms."""
    atoms = gst_cell(2, seed=4)
    z = atoms.positions[:, 2]
    atoms.new_array("fixed", z > z.max() - 0.5)
    atoms.new_array("region", (z < 2.0).astype(np.int32))
    protocol = Protocol(
        initial_temperature=300,
        seed=2,
        stages=[
            Stage(name="eq", ensemble="nvt", temperature=300, duration=20, actions=[FixAtoms()]),
            Stage(
                name="pulse",
                ensemble="nve",
                duration=80,
                actions=[FixAtoms(), InjectEnergy(region="region", rate=12.5)],
            ),
            Stage(name="quench", ensemble="nve", duration=160, actions=[FixAtoms(), RemoveHeat()]),
        ],
    )
    calc, info = resolve_potential(small_gap)
    engine = AseMDEngine(
        calc,
        workdir=tmp_path_factory.mktemp("gap"),
        potential_id=info.id,
        settings=RunSettings(thermo_interval=2, frame_interval=20),
    )
    return atoms, engine.run(atoms, protocol), info


def test_gap_injection_and_removal_balance(gap_run):
    atoms, result, info = gap_run
    assert info.kind == "gap_xml" and result.potential.startswith("gap:")
    start = result.stage_thermo("eq")["etot_ev"][-1]
    peak = result.stage_thermo("pulse")["etot_ev"][-1]
    end = result.thermo["etot_ev"][-1]
    injected = 12.5 * 80 / 1000
    assert peak - start == pytest.approx(injected, rel=0.01)
    assert result.ledger.removed == pytest.approx(injected)
    assert end - start == pytest.approx(0.0, abs=0.01 * injected)
    for name in ("pulse", "quench"):
        assert abs(result.stage_result(name).nve_drift) < 1e-3  # eV/atom/ps
    fixed = atoms.arrays["fixed"]
    assert np.array_equal(result.final_atoms.positions[fixed], atoms.positions[fixed])


def test_recorded_energy_is_quippy_energy(gap_run, small_gap):
    _, result, _ = gap_run
    frame = result.read_frames(-1)[0]
    calc, _ = resolve_potential(small_gap)
    frame.calc = calc
    energy = frame.get_potential_energy()
    assert energy == pytest.approx(result.thermo["epot_ev"][-1], abs=1e-5 * len(frame))
    assert np.all(np.isfinite(frame.get_forces()))


def test_gap_maker_with_xml_path(small_gap, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    maker = GapMDMaker(
        potential=str(small_gap),
        protocol=Protocol(
            initial_temperature=300, stages=[Stage(name="a", ensemble="nvt", temperature=300, duration=10)]
        ),
    )
    response = maker.make.original(maker, AseAtomsAdaptor.get_structure(gst_cell(2)))
    assert response.completed and response.n_steps == 5
    assert response.potential.kind == "gap_xml"
    assert response.potential.sha256 == file_sha256(small_gap)
