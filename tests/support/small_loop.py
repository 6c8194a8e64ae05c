"""A small active-learning loop with the TEST STAND-IN labeller, for the loop's tests.

Labels come from :class:`tests.support.standin.StandInLabelMaker` (a Lennard-Jones stand-in for
DFT); fits are real, tiny gap_fit runs; exploration is real GAP-MD: one melt-quench round on a
rock-salt cell, then crystallisation and partial melting of a 21-atom crystallisation cell.

Run as a script (``python -m tests.support.small_loop TAG SEED``) it runs the loop in the
configured database (``GST_FLOWS_DATABASE`` chooses it), so a test can run the same loop in
separate processes, each with its own hash seed.
"""

from __future__ import annotations

import sys

from gst_flows.fit.hyperparameters import GapHyperparameters, SoapParams, TwoBodyParams
from gst_flows.flows.active_learning import ActiveLearningMaker
from gst_flows.flows.profiles import ActiveLearningSetup
from gst_flows.makers.fit import GapFitMaker
from gst_flows.makers.md import GapMDMaker
from gst_flows.md.protocol import SafetyLimits, melt_anneal, melt_quench, partial_melt
from gst_flows.structures import build_crystallisation_cell, build_rocksalt, perturbed_copies
from tests.support.standin import StandInLabelMaker

#: The tiny test GAP is crude: allow hotter excursions than production runs do.
SAFETY = SafetyLimits(temperature_factor=20.0, max_force=500.0, min_distance=0.5)
MD = {"frame_interval": 10, "thermo_interval": 10, "checkpoint_interval": 100, "safety": SAFETY}


def small_maker(tag: str, seed: int = 0, committee: bool = True, **changes) -> ActiveLearningMaker:
    """The loop's maker: stand-in labels, a tiny GAP, short explorations, three iterations."""
    hyper = GapHyperparameters(
        two_body=TwoBodyParams(cutoff=5.0, n_sparse=10),
        soap=SoapParams(cutoff=4.5, n_max=3, l_max=2, n_sparse=20),
        e0={"Ge": 0.0, "Sb": 0.0, "Te": 0.0},  # the stand-in's isolated atoms have zero energy
        strict_n_sparse=False,
    )
    melt = melt_quench(
        melt_temperature=350.0,
        melt_duration=200.0,
        quench_temperature=300.0,
        quench_rate=1000.0,
        heat_from=None,
        anneal_duration=0.0,
    )
    crystallise = melt_anneal(
        melt_temperature=600.0,
        melt_duration=100.0,
        quench_duration=40.0,
        anneal_temperature=350.0,
        anneal_duration=100.0,
    )
    melting = partial_melt(start_temperature=300.0, end_temperature=700.0, duration=200.0)
    options = {
        "tag": tag,
        "label_maker": StandInLabelMaker(),
        "fit_maker": GapFitMaker(hyperparameters=hyper, test_fraction=0.0),
        "explore_maker": GapMDMaker(protocol=melt, **MD),
        "device_makers": [GapMDMaker(protocol=crystallise, **MD), GapMDMaker(protocol=melting, **MD)],
        "n_select": 3,
        "max_iterations": 2,
        "isolated_box": None,
        "seed": seed,
    }
    if committee:
        options.update(uncertainty="committee", committee_size=2, committee_fraction=0.7)
    options.update(changes)
    return ActiveLearningMaker(**options)


def small_structures():
    """``(initial, held_out, explore, device)`` as ASE atoms with their config_type."""
    crystals = [build_rocksalt("GeTe", seed=0), build_rocksalt("Ge1Sb2Te4", seed=0)]
    initial, held_out = [], []
    for i, c in enumerate(crystals):
        c.info["config_type"] = "crystal"
        initial += [c, *perturbed_copies(c, 3, rattle=0.06, seed=i)]
        held_out += perturbed_copies(c, 1, rattle=0.1, seed=50 + i)
    for a in initial + held_out:
        a.info.setdefault("config_type", "crystal")
    explore = [build_rocksalt("GeTe", supercell=(2, 1, 1), seed=1)]
    device = [build_crystallisation_cell("Ge1Sb2Te4", supercell=(1, 1, 2), seed=0)]
    return initial, held_out, explore, device


def small_flow(maker: ActiveLearningMaker):
    """The loop's flow on :func:`small_structures`."""
    return ActiveLearningSetup(maker, *small_structures()).flow()


def run_alone(runs) -> list[dict]:
    """Run exploration MD jobs here without the selection they feed; their output documents."""
    from jobflow import Flow

    from gst_flows.execution import run_local
    from gst_flows.store import get_store

    for run in runs:
        run.hosts = []  # the MD jobs alone, without the selection (and its labels and fit)
    run_local(Flow(runs))
    store = get_store()
    store.connect()
    return [store.query_one({"uuid": r.uuid}, properties=["output"], load=True)["output"] for r in runs]


def main(argv: list[str]) -> int:
    """Run the small loop with tag ``argv[0]`` and seed ``argv[1]`` in the configured database."""
    from gst_flows.execution import run_local

    tag, seed = argv[0], int(argv[1])
    run_local(small_flow(small_maker(tag, seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
