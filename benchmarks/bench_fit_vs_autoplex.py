"""Our GAP fit against autoplex's, on the same training and test data.

autoplex (PyPI) fits GAPs with gap_fit too (``autoplex.fitting.common.utils.gap_fitting``). This
script splits a labelled set by structure, writes ``train.extxyz`` / ``test.extxyz`` for
autoplex, runs both fits with the same descriptors and sparse points, and reports fit wall time
and test errors (energy per atom, force components) of both.

Usage::

    python benchmarks/bench_fit_vs_autoplex.py [labelled.extxyz]

autoplex cannot be installed beside gst-flows here: its wheel requires ``torch`` unconditionally
and, on Python < 3.12, pins ``numpy<2`` and ``quippy-ase==0.9.14`` (gst-flows runs numpy 2 and
quippy-ase 0.10.3). Install it in a separate environment that also has gst-flows to run this
comparison; without it the script says so and exits.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from ase.io import write

from gst_flows.fit import (
    GapHyperparameters,
    error_table,
    fit_gap,
    format_error_table,
    load_gap_calculator,
    predict,
    read_labelled_frames,
    split_by_structure,
)

DATA = Path(__file__).parents[1] / "tests" / "fixtures" / "gst_cp2k_small.extxyz"

SETTINGS = {
    "two_body.cutoff": 5.0,
    "two_body.n_sparse": 15,
    "soap.cutoff": 5.0,
    "soap.n_max": 6,
    "soap.l_max": 4,
    "soap.n_sparse": 15,
    "strict_n_sparse": False,
}


def run_ours(train, test, hp, workdir: Path) -> dict:
    t0 = time.perf_counter()
    result = fit_gap(train, hp, workdir, memory_limit_bytes=None)
    wall = time.perf_counter() - t0
    table = error_table(predict(test, load_gap_calculator(result.potential_path)))
    print(format_error_table(table, "gst-flows, test set"))
    return {"wall_s": wall, "energy_rmse": table["all"].energy_rmse, "force_rmse": table["all"].force_rmse}


def run_autoplex(train, test, hp, workdir: Path) -> dict:
    from autoplex.fitting.common.utils import gap_fitting

    workdir.mkdir(parents=True, exist_ok=True)
    write(workdir / "train.extxyz", train, format="extxyz")
    write(workdir / "test.extxyz", [f for f in test if f.info.get("config_type") != "isolated_atom"])
    species = sorted({s for f in train for s in f.get_chemical_symbols()})
    soap = hp.soap
    fit_kwargs = {
        "general": {"default_sigma": "{{{:g} {:g} {:g} 0.0}}".format(*hp.default_sigma.as_tuple()[:3])},
        "twob": {"cutoff": hp.two_body.cutoff, "n_sparse": hp.two_body.n_sparse},
        "soap": {
            "l_max": soap.l_max,
            "n_max": soap.n_max,
            "cutoff": soap.cutoff,
            "n_sparse": soap.n_sparse,
            "atom_sigma": soap.atom_sigma,
            "zeta": soap.zeta,
        },
    }
    here = Path.cwd()
    try:
        import os

        os.chdir(workdir)
        t0 = time.perf_counter()
        out = gap_fitting(
            db_dir=workdir,
            species_list=species,
            num_processes_fit=1,
            fit_kwargs=fit_kwargs,
        )
        wall = time.perf_counter() - t0
    finally:
        os.chdir(here)
    xml = next(workdir.rglob("gap_file*.xml"))
    table = error_table(predict(test, load_gap_calculator(xml)))
    print(format_error_table(table, "autoplex, test set (same evaluation code)"))
    return {
        "wall_s": wall,
        "energy_rmse": table["all"].energy_rmse,
        "force_rmse": table["all"].force_rmse,
        "autoplex_reported_test_error": out.get("test_error"),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    data = Path(argv[0]) if argv else DATA
    try:
        import autoplex  # noqa: F401
    except ImportError as exc:
        print(
            f"autoplex is not importable ({exc}); see this script's docstring for why it is "
            "not installed beside gst-flows. Nothing compared."
        )
        return 0
    frames = read_labelled_frames(data)
    train, test = split_by_structure(frames, test_fraction=0.25, seed=0)
    hp = GapHyperparameters().updated(SETTINGS)
    with tempfile.TemporaryDirectory() as tmp:
        ours = run_ours(train, test, hp, Path(tmp) / "ours")
        theirs = run_autoplex(train, test, hp, Path(tmp) / "autoplex")
    print(f"{'':<10}{'fit s':>8}{'E rmse meV/at':>15}{'F rmse eV/Å':>13}")
    for name, row in (("gst-flows", ours), ("autoplex", theirs)):
        print(f"{name:<10}{row['wall_s']:>8.1f}{row['energy_rmse'] * 1e3:>15.2f}{row['force_rmse']:>13.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
