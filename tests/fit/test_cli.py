"""``gst-flows fit`` and ``gst-flows evaluate`` against an in-memory store."""

from __future__ import annotations

import argparse

import pytest

from gst_flows.commands.fit import add_parser

from .conftest import CP2K_SMALL, ELEMENTS_SMALL, priced_liquids

TINY = [
    "--set", "two_body.cutoff=5.0",
    "--set", "two_body.n_sparse=10",
    "--set", "soap.cutoff=4.5",
    "--set", "soap.n_max=3",
    "--set", "soap.l_max=2",
    "--set", "soap.n_sparse=8",
]  # fmt: skip


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gst-flows")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture
def local_store(memory_store, monkeypatch, tmp_path):
    """Route the commands to an in-memory store and a private data directory."""
    import gst_flows.execution
    import gst_flows.store

    monkeypatch.setenv("GST_FLOWS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GST_FLOWS_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.setattr(gst_flows.store, "get_store", lambda settings=None: memory_store)
    monkeypatch.setattr(gst_flows.execution, "get_store", lambda settings=None: memory_store)
    return memory_store


def test_dry_run_prints_counts_and_estimate(cp2k_frames, capsys):
    assert _main(["fit", str(CP2K_SMALL), *TINY, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "soap[Sb]" in out
    assert "two_body[Ge-Te]" in out
    assert "predicted peak memory" in out


@pytest.mark.slow
def test_fit_then_evaluate(cp2k_frames, local_store, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(CP2K_SMALL.parent)  # a relative path must survive jobs' own directories
    assert _main(["fit", CP2K_SMALL.name, *TINY, "--test-fraction", "0.25", "--potential-tag", "cli"]) == 0
    out = capsys.readouterr().out
    assert "potential id:" in out
    potential_id = out.split("potential id:")[1].split()[0]
    cached = out.split("cached at:")[1].split()[0]
    assert cached.startswith(str(tmp_path / "data" / "potentials" / potential_id))
    assert "train errors" in out
    assert "test errors" in out
    assert "crystal" in out

    assert _main(["evaluate", "cli", str(CP2K_SMALL)]) == 0
    out = capsys.readouterr().out
    assert "errors of cli" in out
    assert "energy parity plot:" in out
    assert _main(["evaluate", cached, str(CP2K_SMALL), "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "parity plot" not in out
    assert "formation energies" not in out  # the fixture holds no element crystal

    # with the elements' crystals the formation energies follow the error table
    from gst_flows.fit import read_labelled_frames, write_gap_fit_extxyz

    both = [*read_labelled_frames(CP2K_SMALL), *read_labelled_frames(ELEMENTS_SMALL)]
    path = write_gap_fit_extxyz(both, tmp_path / "with_elements.extxyz")
    assert _main(["evaluate", "cli", str(path), "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "formation energies from the elements" in out
    assert "GeTe" in out.split("formation energies from the elements")[1]
    assert "wrong (homopolar" not in out  # crystals only

    # with disordered frames the price of a wrong bond follows too
    from gst_flows.md.potential import gap_calculator

    path = priced_liquids(gap_calculator(cached), 0.25, 3, tmp_path / "liquids.extxyz")
    assert _main(["evaluate", "cli", str(path), "--no-plots"]) == 0
    table = capsys.readouterr().out.split("energy against wrong (homopolar, Ge-Sb) bonds")[1]
    dft, gap = (float(v) for v in table.split("GeTe")[1].split()[2:4])
    assert dft - gap == pytest.approx(250, abs=1)  # meV per wrong bond


def test_memory_limit_refuses_before_running(cp2k_frames, local_store, capsys):
    code = _main(["fit", str(CP2K_SMALL), *TINY, "--memory-limit", "0.001"])
    assert code == 2
    err = capsys.readouterr().err
    assert "would need about" in err
    assert "reduce" in err
    assert local_store.docs_store.count() == 0


def test_bad_arguments(cp2k_frames, local_store):
    with pytest.raises(ValueError, match="either a labelled extxyz FILE or --tag"):
        _main(["fit", "--set", "soap.n_max=3"])
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        _main(["fit", str(CP2K_SMALL), "--set", "soap.nmax=3"])
    with pytest.raises(FileNotFoundError):
        _main(["fit", "missing.extxyz"])
    with pytest.raises(ValueError, match="no potential with id or tag 'nope'"):
        _main(["evaluate", "nope", str(CP2K_SMALL)])


POD_SMALL = ["--set", "two_body_radial=4", "--set", "three_body_radial=2"]


def test_fit_backend_pod_then_evaluate_and_md_check(cp2k_frames, local_store, capsys, tmp_path):
    from gst_flows.cli import main
    from gst_flows.commands.common import check_potential
    from gst_flows.errors import InputError

    argv = ["fit", str(CP2K_SMALL), "--backend", "pod", *POD_SMALL, "--test-fraction", "0.25"]
    lstsq = ["--set", "solver.ridge=1e-5", "--set", "solver=lstsq"]  # any order
    assert main([*argv, *lstsq]) == 0
    out = capsys.readouterr().out
    assert "POD (Ge Sb Te, baseline zbl 1.5-2.5 Å, least squares)" in out
    doc = local_store.query_one({"output.potential_id": out.split("potential id:")[1].split()[0]})["output"]
    assert doc["solver"] == {"energy_weight": 10.0, "ridge": 1e-5}

    assert main([*argv, "--potential-tag", "pod-cli"]) == 0
    out = capsys.readouterr().out
    potential_id = out.split("potential id:")[1].split()[0]
    assert "POD (Ge Sb Te, baseline zbl 1.5-2.5 Å, fitpod)" in out
    assert "train errors" in out and "test errors" in out
    doc = local_store.query_one({"output.potential_id": potential_id}, load=True)["output"]
    assert doc["@class"] == "PodFitDoc" and doc["basis"]["two_body_radial"] == 4 and doc["solver"] is None

    assert main(["evaluate", "pod-cli", str(CP2K_SMALL), "--no-plots"]) == 0
    assert "errors of pod-cli" in capsys.readouterr().out
    check_potential("pod-cli", engine="lammps")
    with pytest.raises(InputError, match="is a POD, which the ase engine cannot run"):
        check_potential("pod-cli", engine="ase")

    # the scenario plan's cost is the POD's own, timed with pair_style pod in LAMMPS
    sizes = ["--set", "n_blocks=3", "--set", "in_plane=[2,2]"]
    plan = ["scenario", "cross-point", "--check", *sizes, "--potential", "pod-cli"]
    assert main([*plan, "--engine", "lammps"]) == 0
    out = capsys.readouterr().out
    assert f"potential {potential_id}, LAMMPS, hybrid/overlay" in out
    assert main(plan) == 2  # the size preset's ase engine cannot run it: refused in one line
    assert "is a POD, which the ase engine cannot run" in capsys.readouterr().err
    # the exported LAMMPS inputs run the POD too
    inputs = ["scenario", "cross-point", "--lammps-inputs", str(tmp_path / "inputs"), *sizes]
    assert main([*inputs, "--potential", "pod-cli"]) == 0
    scripts = "".join(p.read_text() for p in (tmp_path / "inputs").rglob("in.*"))
    assert "pair_style hybrid/overlay pod zbl 1.5 2.5" in scripts and "pair_style quip" not in scripts


def test_bad_backend_and_pod_options_are_one_line_errors(cp2k_frames, local_store, capsys):
    from gst_flows.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["fit", str(CP2K_SMALL), "--backend", "mace"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "invalid choice: 'mace'" in err
    assert main(["fit", str(CP2K_SMALL), "--backend", "pod", "--set", "soap.n_max=3"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "unknown POD setting 'soap.n_max'" in err
    assert main(["fit", str(CP2K_SMALL), "--backend", "pod", "--dry-run"]) == 2
    assert "--dry-run" in capsys.readouterr().err
    pod = ["fit", str(CP2K_SMALL), "--backend", "pod", "--set"]
    assert main([*pod, "solver=svd"]) == 2
    assert "solver must be lstsq or fitpod" in capsys.readouterr().err
    assert main([*pod, "solver.ridge=1e-3"]) == 2
    assert "solver.ridge needs solver=lstsq" in capsys.readouterr().err
    assert main([*pod, "solver=lstsq", "--set", "solver.weight=3"]) == 2
    assert "unknown solver setting 'solver.weight'" in capsys.readouterr().err
    assert local_store.docs_store.count() == 0


def test_pod_cross_validation_tests_every_structure_once(cp2k_frames, local_store, capsys):
    from gst_flows.cli import main
    from gst_flows.fit.data import group_label, is_isolated_atom

    assert main(["fit", str(CP2K_SMALL), "--backend", "pod", *POD_SMALL, "--folds", "3"]) == 0
    out = capsys.readouterr().out
    assert "3-fold cross-validation (POD), folds disjoint by structure: True" in out
    doc = local_store.query_one({"output.@class": "CrossValidationDoc"}, load=True)["output"]
    assert doc["backend"] == "pod" and doc["hyperparameters"]["basis"]["two_body_radial"] == 4
    assert doc["peak_memory_bytes"] is None and len(set(doc["potential_ids"])) == 3
    # every structure is held out by exactly one fold, and each fold's POD is a fit of its own
    structures = {group_label(f) for f in cp2k_frames if not is_isolated_atom(f)}
    tested = [
        local_store.query_one({"output.potential_id": pid}, load=True)["output"]
        for pid in doc["potential_ids"]
    ]
    held = [h for fold in tested for h in fold["test_structure_hashes"]]
    assert sorted(held) == sorted(structures)
    # held-out errors exceed what a fit to everything reaches on its own training frames
    assert main(["fit", str(CP2K_SMALL), "--backend", "pod", *POD_SMALL, "--test-fraction", "0"]) == 0
    full = local_store.query_one({"output.@class": "PodFitDoc", "output.fold": None}, load=True)["output"]
    cv_force = doc["summary"]["all"]["force_rmse"]["mean"]
    assert cv_force > full["train_errors"]["all"]["force_rmse"]


def test_a_scenario_that_blows_up_says_why(cp2k_frames, local_store, capsys):
    """The POD of 16 small DFT cells heats the mushroom cell and trips the force check."""
    from gst_flows.cli import main

    argv = ["fit", str(CP2K_SMALL), "--backend", "pod", *POD_SMALL, "--potential-tag", "pod-unstable"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["scenario", "mushroom-reset", "--engine", "lammps", "--potential", "pod-unstable"]) == 4
    err = capsys.readouterr().err
    assert "the scenario did not finish" in err
    assert "mushroom-reset md: small pulse: " in err and "MD blew up at step" in err
