"""Our GAP fit against autoplex's, on the same training and test data.

autoplex (PyPI) fits GAPs with gap_fit too (``autoplex.fitting.common.utils.gap_fitting``). This
script splits a labelled set by structure, writes ``train.extxyz`` / ``test.extxyz`` for
autoplex, runs both fits with the same descriptors, sparse points, sigmas, e0 and seed, and
reports the gap_fit wall time, the wall time of the whole fitting call and the test errors
(energy per atom, force components) of both, evaluated by the same code.

Usage::

    bash benchmarks/autoplex_env.sh          # once: venv with autoplex + gst-flows
    /tmp/autoplex-venv/bin/python benchmarks/bench_fit_vs_autoplex.py [labelled.extxyz]
        [--autoplex-auto-delta]   # add a row: autoplex with its own delta heuristic
        [--seed N]                # gap_fit rnd_seed of both fits (sparse-point draw)
    .venv/bin/python benchmarks/bench_fit_vs_autoplex.py --ours-only   # reference, project venv

autoplex cannot be installed beside gst-flows here: its wheel requires ``torch`` unconditionally
and, on Python < 3.12, pins ``numpy<2`` and ``quippy-ase==0.9.14`` (gst-flows runs numpy 2 and
quippy-ase 0.10.3). ``benchmarks/autoplex_env.sh`` builds a separate venv that has both; without
autoplex the script says so and exits (unless ``--ours-only``).

What autoplex 0.3.2 imposes, and how this script handles it:

* ``gap_fitting(hyperparameters=None)`` fails (``from autoplex import GAP_HYPERS`` does not
  exist): ``MLIP_HYPERS.GAP`` is passed.
* ``update_parameters`` replaces a whole section (``general``, ``twob``, ``soap``) by the dict
  given, filling the rest with autoplex defaults; every section is therefore given in full.
  ``general.two_body`` defaults to false (SOAP only): it is set.
* ``auto_delta=True`` (default) runs gap_fit twice and replaces the deltas by its own
  estimates: turned off so both fits use our deltas (``--autoplex-auto-delta`` adds that row).
* Forced, cannot be turned off: the pair term is ``distance_Nb order=2 compact_clusters=T
  add_species=T f0=0.0`` instead of our per-pair ``distance_2b``; SOAP is ``add_species=T``
  (expanded by gap_fit to the same per-centre descriptors as ours) with ``central_weight=1.0
  f0=0.0`` (gap_fit's defaults); ``do_copy_at_file=F openmp_chunk_size=10000 e0_offset=0.0``
  are added. The wall time of ``gap_fitting`` includes evaluating the fit on the training and
  test sets (its ``run_ase_gap``): gap_fit time is reported separately.
* autoplex runs ``gap_fit`` through ``PATH``: the venv's ``bin`` is put first on ``PATH``.
* gap_fit 0.9.14 (quippy-ase 0.9.14, autoplex's pin) aborts writing the XML ("Fortran runtime
  error: End of record", m_common_buffer.F90) when a line of its ``config_file`` is longer than
  about 1024 characters, which gst-flows' ``gap=`` line is for three species. There our fit is
  run through a small wrapper that passes the same ``config_file`` parameters as command-line
  arguments to the same binary (as autoplex does).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

# autoplex's run_gap sets these in os.environ before starting gap_fit (OMP_NUM_THREADS to
# num_processes_fit=1): set them for the whole run so both gap_fit processes (whose BLAS and
# OpenMP honour them) and both evaluations run with the same threads. Before numpy loads.
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "BLIS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NETLIB_NUM_THREADS": "1",
}
os.environ.update(THREAD_ENV)

from gst_flows.fit import (  # noqa: E402
    GapHyperparameters,
    error_table,
    fit_gap,
    format_error_table,
    gap_fit_executable,
    predict,
    read_labelled_frames,
    split_by_structure,
    write_gap_fit_extxyz,
)
from gst_flows.fit.gap_fit import parse_gap_fit_log  # noqa: E402
from gst_flows.md.potential import gap_calculator  # noqa: E402

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

# Runs the gap_fit binary with the parameters of a config_file given as arguments instead
# (gap_fit 0.9.14 cannot write its XML when a config_file line exceeds ~1024 characters).
_ARGV_WRAPPER = """#!{python}
import os, sys
binary = {binary!r}
args = []
for arg in sys.argv[1:]:
    if not arg.startswith("config_file="):
        args.append(arg)
        continue
    for line in open(arg.split("=", 1)[1]).read().splitlines():
        if not line.strip():
            continue
        key, value = line.split("=", 1)
        if value.startswith('"') and value.endswith('"'):
            value = value[1:-1]
            if key == "gap":
                value = "{{" + value + "}}"
        args.append(key + "=" + value)
os.execv(binary, [binary, *args])
"""


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _needs_argv_wrapper() -> bool:
    v = _version("quippy-ase").split(".")
    return v[0] == "0" and int(v[1]) < 10


def _rmse_row(table, wall_s, gap_fit_s, gap_fit_bin, version) -> dict:
    return {
        "call_s": wall_s,
        "gap_fit_s": gap_fit_s,
        "energy_rmse": table["all"].energy_rmse,
        "force_rmse": table["all"].force_rmse,
        "gap_fit": gap_fit_bin,
        "version": version,
    }


def run_ours(train, test, hp, workdir: Path) -> dict:
    binary = gap_fit_executable()
    executable = None
    if _needs_argv_wrapper():
        workdir.mkdir(parents=True, exist_ok=True)
        wrapper = workdir.parent / "gap_fit_argv"
        wrapper.write_text(_ARGV_WRAPPER.format(python=sys.executable, binary=binary))
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
        executable = str(wrapper)
    t0 = time.perf_counter()
    result = fit_gap(train, hp, workdir, memory_limit_bytes=None, executable=executable)
    wall = time.perf_counter() - t0
    table = error_table(predict(test, gap_calculator(result.potential_path)))
    print(format_error_table(table, "gst-flows, test set"))
    gap_line = next(line for line in result.config_text.splitlines() if line.startswith("gap="))
    print(f"  gst-flows gap= line: {len(gap_line)} characters; command: {' '.join(result.command)}")
    if executable:
        print(f"  (quippy-ase {_version('quippy-ase')}: config_file passed as argv to {binary})")
    return _rmse_row(table, wall, result.run.wall_time_s, binary, result.run.version)


def _autoplex_fit_kwargs(hp: GapHyperparameters, ours: dict[str, str]) -> dict:
    """autoplex sections equal to our settings; ``ours`` = our gap_fit parameters."""
    two, soap = hp.two_body, hp.soap
    if hp.three_body is not None:
        raise SystemExit("three-body term not mapped to autoplex in this benchmark")
    general = {
        "two_body": two is not None,
        "three_body": False,
        "soap": soap is not None,
        "gp_file": "gap_file.xml",
        "at_file": "train.extxyz",
    }
    # Same strings as our config: e0, sigmas, jitter, seed, names.
    for key in (
        "e0",
        "default_sigma",
        "config_type_sigma",
        "sparse_jitter",
        "rnd_seed",
        "energy_parameter_name",
        "force_parameter_name",
        "virial_parameter_name",
        "config_type_parameter_name",
    ):
        if key in ours:
            general[key] = ours[key]
    kwargs = {"general": general}
    if two is not None:
        kwargs["twob"] = {
            "cutoff": two.cutoff,
            "n_sparse": two.n_sparse,
            "delta": two.delta,
            "theta_uniform": two.theta_uniform,
            "covariance_type": two.covariance_type,
            "sparse_method": two.sparse_method,
        }
    if soap is not None:
        kwargs["soap"] = {
            "l_max": soap.l_max,
            "n_max": soap.n_max,
            "atom_sigma": soap.atom_sigma,
            "cutoff": soap.cutoff,
            "cutoff_transition_width": soap.cutoff_transition_width,
            "delta": soap.delta,
            "n_sparse": soap.n_sparse,
            "covariance_type": soap.covariance_type,
            "zeta": soap.zeta,
            "sparse_method": soap.sparse_method,
        }
    return kwargs


def _our_parameters(workdir: Path) -> dict[str, str]:
    params = {}
    for line in (workdir / "gap_fit.config").read_text().splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            params[key] = value[1:-1] if value.startswith('"') else value
    return params


def _relabel(frame, old: str, new: str):
    if frame.info.get("config_type") != old:
        return frame
    frame = frame.copy()
    frame.info["config_type"] = new
    if not frame.cell.any():  # as write_gap_fit_extxyz boxes isolated atoms
        frame.set_cell([20.0, 20.0, 20.0])
    return frame


def run_autoplex(train, test, hp, workdir: Path, ours_dir: Path, auto_delta: bool) -> dict:
    import autoplex.fitting.common.utils as ap_utils
    import quippy
    from autoplex import MLIP_HYPERS

    workdir.mkdir(parents=True, exist_ok=True)
    params = _our_parameters(ours_dir)
    if auto_delta:
        # autoplex's delta heuristic finds isolated atoms only by config_type "IsolatedAtom".
        train = [_relabel(f, "isolated_atom", "IsolatedAtom") for f in train]
        if "config_type_sigma" in params:
            params["config_type_sigma"] = params["config_type_sigma"].replace(
                "isolated_atom:", "IsolatedAtom:"
            )
    # The same gap_fit-readable extxyz writer as our fit (flattened virial, boxed isolated atoms).
    write_gap_fit_extxyz(train, workdir / "train.extxyz")
    write_gap_fit_extxyz(
        [f for f in test if f.info.get("config_type") != "isolated_atom"], workdir / "test.extxyz"
    )
    fit_kwargs = _autoplex_fit_kwargs(hp, params)

    bindir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = bindir + os.pathsep + path
    gap_fit_on_path = shutil.which("gap_fit")
    if gap_fit_on_path is None:
        raise SystemExit("no gap_fit on PATH for autoplex")

    # Measure (only) the gap_fit processes autoplex starts; keep their arguments.
    calls: list[tuple[float, list[str]]] = []
    original_run_gap = ap_utils.run_gap

    def timed_run_gap(num_processes_fit, parameters):
        t = time.perf_counter()
        original_run_gap(num_processes_fit, parameters)
        calls.append((time.perf_counter() - t, list(parameters)))

    here = Path.cwd()
    ap_utils.run_gap = timed_run_gap
    try:
        os.chdir(workdir)
        t0 = time.perf_counter()
        out = ap_utils.gap_fitting(
            db_dir=workdir,
            species_list=None,  # only used for autoplex's parity plot, skipped
            hyperparameters=MLIP_HYPERS.GAP,
            num_processes_fit=1,
            auto_delta=auto_delta,
            fit_kwargs=fit_kwargs,
        )
        wall = time.perf_counter() - t0
    finally:
        os.chdir(here)
        ap_utils.run_gap = original_run_gap
    xml = workdir / "gap_file.xml"
    log = workdir / "std_gap_out.log"
    if not xml.is_file():
        err = (workdir / "std_gap_err.log").read_text()[-2000:]
        raise SystemExit(f"autoplex's gap_fit wrote no {xml.name}; std_gap_err.log ends:\n{err}")
    table = error_table(predict(test, gap_calculator(xml)))
    label = "autoplex (auto_delta)" if auto_delta else "autoplex"
    print(format_error_table(table, f"{label}, test set (same evaluation code)"))
    for i, (_, params) in enumerate(calls, 1):
        gap = next(p for p in params if p.startswith("gap="))
        print(f"  {label} gap_fit call {i} gap= {gap[4:]}")
    reported = out.get("test_error")
    if reported is not None:
        print(f"  {label} own test energy RMSE (its energy_remain): {reported * 1e3:.2f} meV/atom")
    row = _rmse_row(
        table,
        wall,
        sum(t for t, _ in calls),
        f"{gap_fit_on_path} -> {Path(quippy.__path__[0]) / 'gap_fit'}",
        parse_gap_fit_log(log.read_text())["version"] if log.is_file() else None,
    )
    row["n_gap_fit"] = len(calls)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=DATA)
    parser.add_argument("--ours-only", action="store_true", help="fit gst-flows only (no autoplex)")
    parser.add_argument(
        "--autoplex-auto-delta", action="store_true", help="also run autoplex with auto_delta=True"
    )
    parser.add_argument("--seed", type=int, default=1, help="gap_fit rnd_seed of both fits")
    parser.add_argument("--keep", type=Path, help="keep the run directories here")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    if not args.ours_only:
        try:
            import autoplex  # noqa: F401
        except ImportError as exc:
            print(
                f"autoplex is not importable ({exc}); see this script's docstring for why it is "
                "not installed beside gst-flows. Nothing compared."
            )
            return 0
    print("thread settings for both fits: " + " ".join(f"{k}={v}" for k, v in THREAD_ENV.items()))
    print(
        f"python {sys.executable} | autoplex {_version('autoplex')} | quippy-ase {_version('quippy-ase')} "
        f"| numpy {_version('numpy')} | ase {_version('ase')}"
    )
    frames = read_labelled_frames(args.data)
    train, test = split_by_structure(frames, test_fraction=0.25, seed=0)
    n_at = sum(len(f) for f in train if f.info.get("config_type") != "isolated_atom")
    print(f"data {args.data}: {len(train)} train frames ({n_at} atoms), {len(test)} test frames")
    hp = GapHyperparameters().updated({**SETTINGS, "seed": args.seed})
    rows = {}
    with contextlib.ExitStack() as stack:
        if args.keep:
            root = args.keep.resolve()
            root.mkdir(parents=True, exist_ok=True)
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        rows["gst-flows"] = run_ours(train, test, hp, root / "ours")
        if not args.ours_only:
            rows["autoplex"] = run_autoplex(train, test, hp, root / "autoplex", root / "ours", False)
            if args.autoplex_auto_delta:
                rows["autoplex auto_delta"] = run_autoplex(
                    train, test, hp, root / "autoplex_auto_delta", root / "ours", True
                )
    print()
    print(f"{'':<20}{'gap_fit s':>10}{'call s':>8}{'E rmse meV/at':>15}{'F rmse eV/Å':>13}  gap_fit")
    for name, row in rows.items():
        n = f" ({row['n_gap_fit']} runs)" if row.get("n_gap_fit", 1) > 1 else ""
        print(
            f"{name:<20}{row['gap_fit_s']:>10.2f}{row['call_s']:>8.2f}{row['energy_rmse'] * 1e3:>15.2f}"
            f"{row['force_rmse']:>13.4f}  {row['version']}{n}: {row['gap_fit']}"
        )
    print(
        "gap_fit s: the gap_fit process(es); call s: fit_gap / gap_fitting as a whole "
        "(autoplex's includes evaluating the training and test sets)."
    )
    if not args.ours_only:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import quippy.cli"], check=True)
        print(
            "autoplex starts gap_fit through the Python wrapper bin/gap_fit, which imports quippy "
            f"first: that import alone took {time.perf_counter() - t:.2f} s here (in its gap_fit s)."
        )
    if not args.ours_only:
        print(
            "Same data, e0, sigmas (default and per config_type), deltas, cutoffs, n_sparse, "
            f"sparse methods, jitter and seed ({args.seed}). Forced by autoplex: distance_Nb order=2 "
            "(compact_clusters=T) instead of distance_2b for the pair term: same descriptor values "
            "(checked with quippy.descriptors), but gap_fit draws other pair sparse points from them, "
            "so compare within the spread over --seed."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
