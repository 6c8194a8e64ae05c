"""Write the data files the fast-potential benchmarks share (one split for every family).

    python benchmarks/fastpot_data.py --out /tmp/fastpot-data [--tag demo]

Writes ``OUT/reference.extxyz`` (the shipped quasi-binary reference set, never trained on),
``OUT/fixture/train.extxyz`` and ``OUT/fixture/test.extxyz`` (the CP2K fixture split 3:1 by
structure, seed 0: the split ``fast_potentials.py`` uses by default) and, with ``--tag T``,
``OUT/T/train.extxyz`` and ``OUT/T/held.extxyz`` (the DFT labels of ``T`` and ``T-heldout``
from the configured database, e.g. a demo run's, isolated atoms in the training file).
Every file holds ``REF_energy`` (total energy, eV), ``REF_forces`` (eV/Å) and, where
computed, ``REF_virial`` (eV), in the form ``gap_fit`` reads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gst_flows.fit.data import read_labelled_frames, split_by_structure, write_gap_fit_extxyz
from gst_flows.fit.reference import load_reference_set

FIXTURE = Path(__file__).parents[1] / "tests" / "fixtures" / "gst_cp2k_small.extxyz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/fastpot-data"))
    parser.add_argument("--tag", help="also write the DFT labels of TAG and TAG-heldout")
    args = parser.parse_args()
    out = args.out
    (out / "fixture").mkdir(parents=True, exist_ok=True)
    write_gap_fit_extxyz(load_reference_set(), out / "reference.extxyz")
    train, test = split_by_structure(read_labelled_frames(FIXTURE), test_fraction=0.25, seed=0)
    write_gap_fit_extxyz(train, out / "fixture" / "train.extxyz")
    write_gap_fit_extxyz(test, out / "fixture" / "test.extxyz")
    print(f"fixture split: {len(train)} training, {len(test)} test frames in {out / 'fixture'}")
    if args.tag:
        from gst_flows.db import find_labels

        (out / args.tag).mkdir(parents=True, exist_ok=True)
        for name, tag in (("train", args.tag), ("held", f"{args.tag}-heldout")):
            frames = [label.doc.to_atoms() for label in find_labels(tag=tag)]
            if not frames:
                raise SystemExit(f"no DFT labels tagged {tag!r} in the configured database")
            write_gap_fit_extxyz(frames, out / args.tag / f"{name}.extxyz")
            print(f"{tag}: {len(frames)} frames in {out / args.tag / f'{name}.extxyz'}")


if __name__ == "__main__":
    main()
