"""Fit a POD (LAMMPS ML-POD) to CP2K-labelled GST cells, then run it in LAMMPS MD from the store.

Runs in about ten seconds:

    python examples/pod_fit.py [labelled.extxyz] [--lstsq]

``--lstsq`` solves for the coefficients by column-scaled least squares on LAMMPS'
``compute pod/global`` design matrix (``PodLeastSquares``) instead of ``fitpod``'s own
normal equations; both print their train and test errors the same way.

The default data are the project's test fixture: rock-salt GeTe and Ge1Sb2Te4 cells labelled
with CP2K (PBEsol), plus isolated atoms that pin the POD's one-body energies. The POD is fitted
on top of the ZBL baseline that ``benchmarks/indirect_learning.py`` found best (zbl 1.5-2.5 Å);
on so few small cells it is a demonstration of the plumbing, not a usable potential (see
docs/fast-potentials.md).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from unittest import mock

from ase.build import bulk
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.fit import format_error_table
from gst_flows.fit.pod_lstsq import PodLeastSquares
from gst_flows.makers.md import GapMDMaker
from gst_flows.makers.pod import PodFitMaker
from gst_flows.md.protocol import Protocol, Stage

DATA = Path(__file__).parents[1] / "tests" / "fixtures" / "gst_cp2k_small.extxyz"


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--lstsq"]
    data = Path(args[0]) if args else DATA
    solver = PodLeastSquares() if "--lstsq" in sys.argv[1:] else None
    # An in-memory store keeps the example self-contained; gst_flows.store.get_store() gives
    # the project's database (documents in MongoDB, potential files in GridFS).
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    fit = PodFitMaker(test_fraction=0.25, tags=["pod-example"], solver=solver).make(str(data))
    # 100 fs of NVE of a GeTe cell: pair_style pod still gets Sb as an atom type
    cell = AseAtomsAdaptor.get_structure(bulk("GeTe", "rocksalt", a=6.0, cubic=True).repeat((2, 2, 2)))
    protocol = Protocol(
        name="nve-check",
        stages=[Stage(name="nve", ensemble="nve", timestep=1.0, duration=100, temperature=300)],
    )
    with tempfile.TemporaryDirectory() as tmp:
        responses = run_locally(fit, store=store, create_folders=True, root_dir=tmp, log=False)
        doc = responses[fit.uuid][1].output
        ref = doc.potential_ref
        print(f"POD {doc.potential_id}: species {' '.join(ref.species)}, baseline {ref.baseline}")
        solve = "least squares" if doc.solver else "fitpod"
        print(f"fit ({solve}) {doc.wall_time_s:.2f} s; files {', '.join(ref.files)}")
        print(format_error_table(doc.train_errors, "train"))
        print(format_error_table(doc.test_errors, "test"))

        # The reference is all an MD job needs: it fetches the files by id, checks their
        # SHA-256 and runs pair_style pod (with the ZBL baseline) in LAMMPS.
        md = GapMDMaker(potential=ref, engine="lammps", protocol=protocol, seed=1).make(cell)
        md.config.expose_store = True  # fetch from this store (a worker uses the configured one)
        with mock.patch.dict("os.environ", {"GST_FLOWS_DATA_DIR": tmp}):  # cache the files here
            responses = run_locally(md, store=store, create_folders=True, root_dir=tmp, log=False)
        run = responses[md.uuid][1].output
        print(
            f"LAMMPS NVE, {run.n_atoms} atoms, {run.n_steps} steps: "
            f"drift {run.nve_drift * 1e3:.3f} meV/atom/ps, wall {run.wall_time_s:.1f} s"
        )


if __name__ == "__main__":
    main()
