"""Build the quasi-binary reference test set: structures, liquid AIMD, CP2K labels (default protocol).

The set (``gst_flows/data/reference/quasi_binary.extxyz``) is what the demo's potential is
judged on; no flow trains on it. It holds

- nine crystals (:func:`gst_flows.structures.reference_sets.reference_crystals`): rock-salt and
  trigonal GeTe, Ge2Sb2Te5, Ge1Sb2Te4 and Sb2Te3, and diamond Ge, rattled by 0.1 Å and strained
  by up to 2 %;
- liquid GeTe (16 atoms) and liquid Ge2Sb2Te5 (18 atoms) near 1,000 K: random packings at
  liquid density run with CP2K AIMD at a cheaper protocol (SZV basis, 200 Ry, Γ point, CSVR
  1,000 K with a 15 fs time constant, 3 fs steps) for 0.24 ps; the frames at 0.15 and 0.24 ps are kept.

Every frame is labelled with the default CP2K protocol (:class:`gst_flows.dft.cp2k.Cp2kSettings`
defaults, k-spacing 0.12 Å⁻¹). Finished steps are cached in ``--work`` so an interrupted build
continues where it stopped. Run as root with ``GST_FLOWS_CP2K_CMD`` carrying
``--allow-run-as-root``; about 45 min on two cores.

    python benchmarks/build_reference_set.py [--work DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

LIQUIDS = {
    # name: (counts, number density in atoms/Å³, seed)
    "GeTe liquid": ({"Ge": 8, "Te": 8}, 0.0335, 9201),
    "Ge2Sb2Te5 liquid": ({"Ge": 4, "Sb": 4, "Te": 10}, 0.0305, 9202),
}
AIMD_STEPS = 80
AIMD_TIMESTEP = 3.0
#: CSVR time constant, fs: short, so the heat a random packing releases as it relaxes is removed
AIMD_TIMECON = 15.0
KEEP_STEPS = (50, 80)


def _liquid_frames(name: str, work: Path, command: list[str]) -> list[Atoms]:
    from gst_flows.dft.cp2k import Cp2kSettings
    from gst_flows.dft.cp2k_md import AimdStage, run_aimd
    from gst_flows.structures import random_packing

    cache = work / f"{name.replace(' ', '_')}-aimd.json"
    counts, density, seed = LIQUIDS[name]
    n = sum(counts.values())
    length = (n / density) ** (1 / 3)
    if not cache.exists():
        start = random_packing((length,) * 3, counts, min_distance=2.5, seed=seed)
        # a cheaper protocol than the labels' (SZV basis, 200 Ry, Γ, OT): it only makes geometries
        settings = Cp2kSettings(
            gamma_only=True,
            scf_method="ot",
            eps_scf=1e-4,
            cutoff=200.0,
            rel_cutoff=40.0,
            basis=dict.fromkeys(("Ge", "Sb", "Te"), "SZV-MOLOPT-SR-GTH"),
            overrides={"FORCE_EVAL": {"DFT": {"QS": {"EXTRAPOLATION": "ASPC", "EXTRAPOLATION_ORDER": 3}}}},
        )
        t0 = time.perf_counter()
        result = run_aimd(
            start,
            [AimdStage(1000.0, AIMD_STEPS)],
            settings,
            work / f"{name.replace(' ', '_')}-aimd",
            timestep=AIMD_TIMESTEP,
            every=10,
            timecon=AIMD_TIMECON,
            command=command,
        )
        kept = [
            {"step": f.step, "positions": f.positions.tolist(), "temperature": f.temperature}
            for f in result.frames
            if f.step in KEEP_STEPS
        ]
        cache.write_text(
            json.dumps(
                {
                    "numbers": start.numbers.tolist(),
                    "cell": start.cell[:].tolist(),
                    "frames": kept,
                    "mean_temperature": float(np.mean(result.temperatures[len(result.temperatures) // 3 :])),
                    "seconds": time.perf_counter() - t0,
                }
            )
        )
    data = json.loads(cache.read_text())
    mean_t = data["mean_temperature"]
    print(f"{name}: AIMD {data['seconds']:.0f} s, mean T (last 2/3) {mean_t:.0f} K", flush=True)
    frames = []
    for frame in data["frames"]:
        atoms = Atoms(numbers=data["numbers"], positions=frame["positions"], cell=data["cell"], pbc=True)
        atoms.info = {"config_type": "liquid", "name": name, "md_step": frame["step"]}
        frames.append(atoms)
    return frames


def _label(atoms: Atoms, key: str, work: Path, command: list[str]) -> Atoms:
    from gst_flows.dft.cp2k import Cp2kSettings, kpoint_mesh, label_structure

    cache = work / f"{key}.json"
    settings = Cp2kSettings()
    if not cache.exists():
        t0 = time.perf_counter()
        result = label_structure(atoms, settings, command=command)
        cache.write_text(
            json.dumps(
                {
                    "energy": result.energy,
                    "forces": np.asarray(result.forces).tolist(),
                    "stress": None if result.stress is None else np.asarray(result.stress).tolist(),
                    "seconds": time.perf_counter() - t0,
                }
            )
        )
    data = json.loads(cache.read_text())
    labelled = atoms.copy()
    mesh = "x".join(map(str, kpoint_mesh(atoms, settings.kpoint_spacing)))
    labelled.info.update({"settings_hash": settings.settings_hash(), "kpoint_mesh": mesh})
    labelled.calc = SinglePointCalculator(labelled, energy=data["energy"], forces=np.array(data["forces"]))
    print(f"  {key}: {len(atoms)} atoms, CP2K {data['seconds']:.0f} s", flush=True)
    return labelled


def main() -> None:
    """Build, label and write the reference set."""
    import ase.io

    from gst_flows.settings import get_settings
    from gst_flows.structures.reference_sets import reference_crystals

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("reference-set-work"))
    parser.add_argument("--out", type=Path, default=Path("gst_flows/data/reference/quasi_binary.extxyz"))
    parser.add_argument(
        "--assemble-only",
        action="store_true",
        help="run nothing: write the frames whose labels are already in --work, list the rest",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    command = get_settings().cp2k_command
    frames = reference_crystals()
    for name in LIQUIDS:
        if args.assemble_only and not (args.work / f"{name.replace(' ', '_')}-aimd.json").exists():
            print(f"missing: {name} (no AIMD yet)")
            continue
        frames += _liquid_frames(name, args.work, command)
    labelled = []
    for index, atoms in enumerate(frames):
        key = f"{index:02d}-{atoms.info['name'].replace(' ', '_')}"
        if args.assemble_only and not (args.work / f"{key}.json").exists():
            print(f"missing: {key}")
            continue
        labelled.append(_label(atoms, key, args.work, command))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ase.io.write(args.out, labelled, format="extxyz")
    rms = {}
    for atoms in labelled:
        rms.setdefault(atoms.info["config_type"], []).append(atoms.get_forces())
    for config_type, forces in rms.items():
        print(f"{config_type:10s} RMS force {np.sqrt(np.mean(np.concatenate(forces) ** 2)):.3f} eV/Å")
    print(f"wrote {len(labelled)} frames to {args.out}")


if __name__ == "__main__":
    main()
