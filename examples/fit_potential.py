"""Fit a small GAP to CP2K-labelled GST cells, check it, and reuse it from the store.

Runs in well under a minute with the tiny settings below (use the defaults for a real fit):

    python examples/fit_potential.py [labelled.extxyz]

The default data are the project's test fixture: rock-salt GeTe and Ge1Sb2Te4 cells labelled
with CP2K (PBEsol), plus isolated atoms for the reference energies.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore

from gst_flows.fit import (
    GapHyperparameters,
    estimate_fit_memory,
    format_bytes,
    format_error_table,
    read_labelled_frames,
)
from gst_flows.makers.fit import GapEvaluateMaker, GapFitMaker
from gst_flows.potentials import load_potential

DATA = Path(__file__).parents[1] / "tests" / "fixtures" / "gst_cp2k_small.extxyz"
#: Diamond Ge, A7 Sb and trigonal Te (ideal and rattled), labelled like DATA.
ELEMENTS = DATA.with_name("elements_cp2k_small.extxyz")
#: Rock-salt GeTe with 0, 1 or 2 Ge/Te pairs swapped (homopolar bonds), labelled like DATA.
ANTISITES = DATA.with_name("antisite_cp2k_small.extxyz")


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA
    hp = GapHyperparameters().updated(
        {
            "two_body.cutoff": 5.0,
            "two_body.n_sparse": 10,
            "soap.cutoff": 4.5,
            "soap.n_max": 3,
            "soap.l_max": 2,
            "soap.n_sparse": 8,
            "sigma.rattled": "0.002,0.1,0.1",
        }
    )
    frames = read_labelled_frames(data)
    estimate = estimate_fit_memory(frames, hp)
    print(f"{len(frames)} frames; gap_fit will need about {format_bytes(estimate.total_bytes)}")

    # An in-memory store keeps the example self-contained; gst_flows.store.get_store() gives
    # the project's database (documents in MongoDB, potential files in GridFS).
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    fit = GapFitMaker(hyperparameters=hp, test_fraction=0.25, tags=["example"]).make(str(data))
    check = GapEvaluateMaker().make(fit.output.potential, str(data))
    with tempfile.TemporaryDirectory() as tmp:
        responses = run_locally(Flow([fit, check]), store=store, create_folders=True, root_dir=tmp, log=False)
        doc = responses[fit.uuid][1].output
        print(
            f"potential {doc.potential_id}: gap_fit {doc.gap_fit_version}, "
            f"{doc.wall_time_s:.1f} s, peak {format_bytes(doc.peak_memory_bytes)} "
            f"(predicted {format_bytes(doc.memory.predicted_bytes)})"
        )
        print(format_error_table(doc.train_errors, "train"))
        print(format_error_table(doc.test_errors, "test"))
        evaluation = responses[check.uuid][1].output
        print("parity plots:", ", ".join(evaluation.figures.values()))

        # Any later job, on any node, gets the same potential back by id or tag.
        calc = load_potential("example", store=store, cache=Path(tmp) / "cache")
        frame = next(f for f in frames if len(f) > 1)
        atoms = frame.copy()
        atoms.calc = calc
        print(
            f"E = {atoms.get_potential_energy():.4f} eV "
            f"(DFT {frame.info['REF_energy']:.4f} eV) for {atoms.get_chemical_formula()}"
        )
        # How far it reaches: the shipped quasi-binary reference set, never trained on.
        from gst_flows.fit.reference import reference_errors

        print(format_error_table(reference_errors(calc), "quasi-binary reference set"))

        # Formation energies from the elements: this fit never saw an element's own crystal, so
        # it does not know whether the compounds lie below the elements (DFT: GeTe by about
        # 0.16-0.19 eV/atom). Fitting with them (add ELEMENTS to the data) fixes that.
        from gst_flows.fit import predict
        from gst_flows.fit.formation import format_formation_table, formation_energies

        judged = [*frames, *read_labelled_frames(ELEMENTS)]
        print(format_formation_table(formation_energies(predict(judged, calc)), "formation energies", "GAP"))

        # The price of a wrong (homopolar) bond: DFT about 0.25 eV; this fit never saw an antisite.
        from gst_flows.fit.chemical_order import chemical_order_check, format_chemical_order

        antisites = read_labelled_frames(ANTISITES)
        result = chemical_order_check(antisites, predict(antisites, calc), config_types=None)
        print(format_chemical_order(result, "energy against wrong bonds, meV per bond", "GAP"))


if __name__ == "__main__":
    main()
