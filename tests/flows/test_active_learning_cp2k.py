"""One real iteration of the loop: CP2K labels and a gap_fit fit on tiny cells."""

import pytest

from gst_flows.execution import run_local
from gst_flows.fit.hyperparameters import GapHyperparameters, SoapParams, TwoBodyParams
from gst_flows.flows.active_learning import ActiveLearningMaker, structures_from_atoms
from gst_flows.makers.dft import Cp2kLabelMaker
from gst_flows.makers.fit import GapFitMaker
from gst_flows.structures import build_rocksalt, perturbed_copies
from tests.conftest import FAST_CP2K, requires_cp2k

pytestmark = [pytest.mark.slow, pytest.mark.cp2k, requires_cp2k]


def test_iteration_zero_with_cp2k_and_gap_fit(gst_home, outputs):
    base = build_rocksalt("GeTe", seed=3)
    base.info["config_type"] = "crystal"
    initial = [base, *perturbed_copies(base, 2, rattle=0.07, seed=8)]
    (held,) = perturbed_copies(base, 1, rattle=0.1, seed=9)
    hyper = GapHyperparameters(
        two_body=TwoBodyParams(cutoff=5.0, n_sparse=8),
        soap=SoapParams(cutoff=4.5, n_max=3, l_max=2, n_sparse=12),
        # Free-atom energies of this protocol would cost more CP2K time than the cells.
        e0={"Ge": -102.65, "Te": -218.92},
        strict_n_sparse=False,
    )
    maker = ActiveLearningMaker(
        tag="al-cp2k",
        label_maker=Cp2kLabelMaker(settings=FAST_CP2K),
        fit_maker=GapFitMaker(hyperparameters=hyper, test_fraction=0.0),
        max_iterations=0,
        isolated_box=None,
    )
    flow = maker.make(
        structures_from_atoms(initial), structures_from_atoms([held]), structures_from_atoms([base])
    )
    run_local(flow)
    doc = outputs.find_one({"output.@class": "IterationDoc", "output.tag": "al-cp2k"})["output"]
    assert doc["iteration"] == 0
    assert doc["n_labels"] == 3
    assert doc["converged"] is True
    assert "maximum of 0" in doc["stop_reason"]
    # A real fit on real labels: finite, plausible held-out errors.
    assert 0 < doc["held_out_force_rmse"] < 2.0
    assert doc["held_out_energy_rmse"] < 0.5
    labels = list(outputs.find({"output.@class": "LabelDoc", "output.provenance.tag": "al-cp2k"}))
    assert {d["output"]["code"] for d in labels} == {"cp2k"}
