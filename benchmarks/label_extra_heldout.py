"""Label more held-out DFT cells for the demo database, made as the demo's held-out cells are.

    python benchmarks/label_extra_heldout.py [--tag demo] [--copies 2] [--packings 2]

The demo holds out 8 cells (one 0.15 Å-rattled, 2 %-strained copy of each of its 7 crystals and
one 18-atom Ge2Sb2Te5 packing): too few to tell an energy RMSE ratio of 1.5 from 2.5
(``gst_flows.fit.rmse_ratio``). This labels ``--copies`` more copies per crystal (other seeds)
and ``--packings`` more packings with the demo's CP2K protocol into ``<tag>-heldout-extra``,
through the project's label flow (labels already stored are reused). Prints the labels stored.
"""

from __future__ import annotations

import argparse
import os

from gst_flows.db import find_labels
from gst_flows.execution import run_local
from gst_flows.flows.label import label_flow
from gst_flows.flows.profiles import SMALL_DFT, disordered_copies, held_out_copies, small_crystals
from gst_flows.makers.dft import Cp2kLabelMaker


def cells(copies: int, packings: int, seed: int = 0) -> list:
    """The demo's crystals (``gst_flows.flows.profiles``), copied with seeds the demo does not use."""
    out = []
    for index, crystal in enumerate(small_crystals(seed)):
        for copy in held_out_copies(crystal, copies, seed=1000 + index):
            copy.info["generator"] = f"{crystal.info.get('builder')} copy (seed {1000 + index})"
            out.append(copy)
    return out + disordered_copies("Ge2Sb2Te5", 2, packings, seed=1300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", default="demo")
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--packings", type=int, default=2)
    args = parser.parse_args()
    if os.geteuid() == 0:  # OpenMPI refuses root unless told (as scripts/demo.sh does)
        os.environ.setdefault("GST_FLOWS_CP2K_CMD", "mpirun --allow-run-as-root -np 2 cp2k.psmp")
    tag = f"{args.tag}-heldout-extra"
    structures = cells(args.copies, args.packings)
    failures: list[str] = []
    run_local(
        label_flow(structures, Cp2kLabelMaker(settings=SMALL_DFT), name="extra held-out", tag=tag),
        failures=failures,
    )
    stored = find_labels(tag=tag, load=False)
    print(f"{len(structures)} cells asked, {len(stored)} labels under {tag}; failures: {failures or 'none'}")


if __name__ == "__main__":
    main()
