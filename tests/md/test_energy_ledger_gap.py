"""The energy a pulse injects, measured from the total energy of a GAP run, on both engines.

The committed scenario GAP (``tests/fixtures/scenario_gap``: a real GAP evaluated by quippy,
in LAMMPS through ``pair_style quip``) drives a 500-step NVE pulse that heats half of a
rock-salt cell by more than a thousand kelvin. The rise of the total (kinetic + potential)
energy across the pulse is compared with the energy the protocol asks for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gst_flows.analysis.device import energy_change
from gst_flows.md.protocol import InjectEnergy, Protocol, RunSettings, Stage
from gst_flows.md.units import KB
from gst_flows.structures import build_rocksalt

pytestmark = pytest.mark.slow

GAP = Path(__file__).parents[1] / "fixtures" / "scenario_gap" / "gap.xml"
ENERGY = 6.0  # eV over 1 ps into 28 atoms: about +1,600 K if it all stayed as heat there


def _engine(name: str, workdir: Path):
    settings = RunSettings(thermo_interval=10, frame_interval=0)
    if name == "ase":
        from quippy.potential import Potential

        from gst_flows.md.ase_engine import AseMDEngine

        return AseMDEngine(Potential(param_filename=str(GAP)), workdir, settings=settings)
    from gst_flows.md.lammps import LammpsMDEngine
    from gst_flows.md.lammps import plugin as lammps_plugin

    try:
        lammps_plugin.find_lammps()
    except lammps_plugin.LammpsNotFoundError as exc:
        pytest.skip(str(exc))
    return LammpsMDEngine(GAP, workdir, settings=settings)


@pytest.mark.parametrize("engine", ["ase", "lammps"])
def test_total_energy_rises_by_the_planned_pulse(engine, tmp_path):
    atoms = build_rocksalt("Ge1Sb2Te4", (2, 2, 2), seed=0)
    z = atoms.positions[:, 2]
    atoms.arrays["region"] = (z < np.median(z)).astype(np.int32)
    protocol = Protocol(
        initial_temperature=300,
        seed=5,
        stages=[
            Stage(name="eq", ensemble="nvt", temperature=300, duration=40),
            Stage(
                name="pulse",
                ensemble="nve",
                duration=1000,
                actions=[InjectEnergy(region="region", region_value=1, energy=ENERGY)],
            ),
        ],
    )
    result = _engine(engine, tmp_path).run(atoms, protocol)
    th = result.thermo
    start, n = protocol.stage_start_steps()[1], protocol.stages[1].n_steps
    rise = energy_change(th["step"], th["etot_ev"], start, start + n)
    assert rise == pytest.approx(ENERGY, rel=0.01)
    # it mattered: the cell's kinetic temperature (from the velocities) rose by hundreds of K
    rows = th["step"] >= start
    heated = th["temperature_k"][rows][-1] - th["temperature_k"][rows][0]
    assert heated > 0.25 * ENERGY / (3 * KB * len(atoms))
