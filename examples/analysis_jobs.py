"""Analysis as jobs: a GAP-MD run analysed in the same flow, and the SOAP map of the database.

Runs a short MD hold of rock-salt Ge1Sb2Te4 with a test pair potential (replace ``POTENTIAL``
with your GAP XML path or database id), then three analysis jobs on its frames: k̄
(crystallinity), the RDF and the temperature map. Every document lands in the configured
database (the embedded server by default), its arrays in the ``data`` store; figures and the
k̄ extxyz file are in the job directories.

Run from the repository root::

    python examples/analysis_jobs.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from jobflow import Flow
from pymatgen.io.ase import AseAtomsAdaptor

from gst_flows.execution import run_local
from gst_flows.makers.analyse import StructureAnalysisMaker
from gst_flows.makers.md import GapMDMaker
from gst_flows.md.protocol import Protocol, Stage
from gst_flows.schemas.analysis import AnalysisDoc
from gst_flows.store import get_store
from gst_flows.structures import build_rocksalt

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "md"))
POTENTIAL = "gap_fixture:pair_calculator"  # a test stand-in, not a model of GST


def main() -> None:
    cell = build_rocksalt("Ge1Sb2Te4", (3, 3, 3), seed=1)
    protocol = Protocol(
        name="hold",
        initial_temperature=600,
        seed=1,
        stages=[Stage(name="hold", ensemble="nvt", temperature=600, duration=100)],
    )
    md = GapMDMaker(protocol=protocol, potential=POTENTIAL, frame_interval=10, thermo_interval=10)
    md_job = md.make(AseAtomsAdaptor.get_structure(cell))
    analyses = [
        StructureAnalysisMaker(kind="kbar").make(md_job.output),
        StructureAnalysisMaker(kind="rdf", options={"r_max": 8.0}).make(md_job.output),
        StructureAnalysisMaker(
            kind="temperature", options={"bin_size": 5.0, "sigma": 5.0}, frame_stride=5
        ).make(md_job.output),
    ]
    run_local(Flow([md_job, *analyses], name="md and analyses"), ensure_success=True)

    store = get_store()
    store.connect()
    for job in analyses:
        out = store.query_one({"uuid": job.uuid}, properties=["output"], load=True)["output"]
        doc = AnalysisDoc.model_validate({k: v for k, v in out.items() if not k.startswith("@")})
        print(f"{doc.kind:12s} {doc.n_frames} frames  {doc.summary}")
        for figure in doc.figures:
            print("   ", figure.files[0])
        if doc.kbar_file:
            print("    k̄ per atom for OVITO:", doc.kbar_file)
    print(
        "\nthe SOAP map of labelled configurations: "
        "DatabaseAnalysisMaker().make({'tag': 'demo'}) or gst-flows analyse soap-map db:tag=demo"
    )


if __name__ == "__main__":
    main()
