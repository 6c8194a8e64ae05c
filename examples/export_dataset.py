"""Export stored labels as a gap_fit training file, optionally after importing a data set.

    python examples/export_dataset.py [-o train.extxyz] [--tag demo] [--settings-hash HASH]
    python examples/export_dataset.py --import published.extxyz --tag published \\
        --energy-key energy --forces-key forces --virial-key virial

Without --import it exports what `gst-flows demo` stored (tag "demo"). The file is read back
with the fit layer's reader and checked the way a fit checks its input.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

import numpy as np

from gst_flows.dataset import DatasetError, export_labels, import_dataset
from gst_flows.fit.data import VIRIAL_KEY, config_type_of, read_labelled_frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="train.extxyz")
    parser.add_argument("--tag", default="demo")
    parser.add_argument("--settings-hash", help="only this protocol (hash or prefix)")
    parser.add_argument("--import", dest="import_file", metavar="FILE", help="import this file first")
    parser.add_argument("--energy-key", default="REF_energy")
    parser.add_argument("--forces-key", default="REF_forces")
    parser.add_argument("--virial-key", default="REF_virial")
    args = parser.parse_args()

    if args.import_file:
        summary = import_dataset(
            args.import_file,
            energy_key=args.energy_key,
            forces_key=args.forces_key,
            virial_key=args.virial_key,
            tag=args.tag,
        )
        print(summary.describe())

    try:
        exported = export_labels(args.output, tag=args.tag, settings_hash=args.settings_hash)
    except DatasetError as exc:
        print(f"{exc}\n(run `gst-flows demo` first, or give --import FILE)", file=sys.stderr)
        return 1
    print(exported.describe())

    frames = read_labelled_frames(exported.path)
    print(f"\n{'config_type':<16}{'frames':>7}{'atoms':>8}{'E/atom (eV)':>14}{'max |F| (eV/Å)':>16}")
    counts = Counter(config_type_of(f) for f in frames)
    for config_type in sorted(counts):
        group = [f for f in frames if config_type_of(f) == config_type]
        natoms = sum(len(f) for f in group)
        epa = np.mean([f.info["REF_energy"] / len(f) for f in group])
        fmax = max(np.linalg.norm(f.arrays["REF_forces"], axis=1).max() for f in group)
        print(f"{config_type:<16}{len(group):>7}{natoms:>8}{epa:>14.4f}{fmax:>16.3f}")
    with_virial = sum(VIRIAL_KEY in f.info for f in frames)
    print(f"\n{with_virial} of {len(frames)} frames carry a virial (9 numbers, gap_fit's form)")
    print(f"fit it with: gst-flows fit {exported.path}   (or gap_fit at_file={exported.path} ...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
