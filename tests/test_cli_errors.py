"""Every user mistake gives one line on stderr, exit code 2, no traceback and nothing stored.

A table of bad inputs across the commands (configuration, database, structure files, settings,
protocols, potentials, command-line values). Each is run through ``gst_flows.cli.main``; a few
also as real ``gst-flows`` processes. Before and after each, the job documents, their data
store and the LaunchPad of the test database are counted.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pymongo
import pytest
from ase.build import bulk
from ase.io import write

from gst_flows.cli import main
from gst_flows.structures import build_rocksalt

PASSWORD = "s3cret-word"


@dataclass
class Case:
    """A bad input: the command line, its set-up, and words the error line must contain."""

    name: str
    argv: list[str]
    expect: list[str]
    config: str | None = None
    env: dict[str, str] = field(default_factory=dict)


def _files(root: Path) -> dict[str, Path]:
    """Write the input files the cases refer to as ``{name}``."""
    files = {}

    def text(name: str, content: str | bytes) -> None:
        path = root / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        files[name] = path

    good = build_rocksalt("GeTe", seed=0)
    write(root / "good.extxyz", good)
    files["good.extxyz"] = root / "good.extxyz"
    write(root / "copper.extxyz", bulk("Cu", "fcc", a=3.6, cubic=True))
    files["copper.extxyz"] = root / "copper.extxyz"
    close = good.copy()
    close.positions[1] = close.positions[0] + [0.3, 0, 0]
    write(root / "close.extxyz", close)
    files["close.extxyz"] = root / "close.extxyz"
    text("empty.extxyz", "")
    text("garbage.extxyz", b"\x00\x01garbage\xff\n")
    text(
        "unknown.xyz",
        '2\nLattice="6 0 0 0 6 0 0 0 6" Properties=species:S:1:pos:R:3 pbc="T T T"\nGe 0 0 0\nXq 3 3 3\n',
    )
    labelled = good.copy()
    labelled.info.update(REF_energy=-10.0 * len(good), config_type="crystal")
    labelled.arrays["REF_forces"] = 0.0 * good.positions
    write(root / "labelled.extxyz", labelled)
    files["labelled.extxyz"] = root / "labelled.extxyz"
    stage = "  - {name: hold, ensemble: nvt, temperature: %s, duration: %s}\n"
    text("syntax.yaml", "name: broken\nstages:\n  - {name: hold, ensemble: nvt\n")
    text("negative_t.yaml", "name: cold\nstages:\n" + stage % ("-300", "1 ps"))
    text("zero_duration.yaml", "name: short\nstages:\n" + stage % ("300", "0 ps"))
    text("unknown_key.yaml", "name: typo\ntemprature: 300\nstages:\n" + stage % ("300", "1 ps"))
    text("list.yaml", "- hold\n- quench\n")
    text("bad_unit.yaml", "name: unit\nstages:\n" + stage % ("300", "1 parsec"))
    return files


CASES = [
    # configuration file and environment
    Case("config-yaml-syntax", ["query", "labels"], ["config.yaml", "line 1"], config="db_uri: [1, 2\n"),
    Case(
        "config-unknown-key", ["label", "{good.extxyz}"], ["config.yaml", "databse"], config="databse: mine\n"
    ),
    Case(
        "config-not-a-mapping", ["md", "--list"], ["config.yaml", "mapping"], config="- db_uri\n- database\n"
    ),
    Case(
        "config-wrong-type",
        ["export", "labels", "-o", "{out.extxyz}"],
        ["config.yaml", "cp2k_omp_threads"],
        config="cp2k_omp_threads: many\n",
    ),
    Case(
        "environment-wrong-type",
        ["query", "labels"],
        ["GST_FLOWS_CP2K_OMP_THREADS"],
        env={"GST_FLOWS_CP2K_OMP_THREADS": "many"},
    ),
    Case("config-dft-unknown-key", ["label", "{good.extxyz}"], ["cutof"], config="dft: {cutof: 200}\n"),
    Case("config-tab-indent", ["query", "progress"], ["config.yaml"], config="dft:\n\tcutoff: 300\n"),
    # a configured database that cannot be used
    Case(
        "database-unreachable",
        ["query", "labels"],
        ["db_uri", "user:***@", "answer"],
        env={"GST_FLOWS_DB_URI": f"mongodb://user:{PASSWORD}@127.0.0.1:1/"},
    ),
    Case(
        "database-uri-malformed",
        ["export", "labels", "-o", "{out.extxyz}"],
        ["db_uri"],
        env={"GST_FLOWS_DB_URI": "mongodb://127.0.0.1:notaport/"},
    ),
    Case(
        "database-wrong-password",
        ["label", "{good.extxyz}"],
        ["db_uri", "***", "password"],
        env={"GST_FLOWS_DB_URI": "{auth_uri_wrong}"},
    ),
    Case(
        "database-no-credentials",
        ["query", "labels"],
        ["db_uri", "credentials"],
        env={"GST_FLOWS_DB_URI": "{auth_uri_anonymous}"},
    ),
    Case(
        "database-unreachable-submit",
        ["submit", "label", "{good.extxyz}"],
        ["db_uri"],
        env={"GST_FLOWS_DB_URI": "mongodb://127.0.0.1:1/"},
    ),
    # label: structure files, elements and settings
    Case("label-missing-file", ["label", "{tmp}/nope.extxyz"], ["nope.extxyz"]),
    Case("label-empty-file", ["label", "{empty.extxyz}"], ["empty.extxyz"]),
    Case("label-garbage-file", ["label", "{garbage.extxyz}"], ["garbage.extxyz"]),
    Case("label-unknown-element", ["label", "{unknown.xyz}"], ["Xq"]),
    Case("label-no-basis-set", ["label", "{copper.extxyz}"], ["copper.extxyz", "Cu", "basis"]),
    Case("submit-no-basis-set", ["submit", "label", "{copper.extxyz}"], ["Cu", "basis"]),
    Case("label-atoms-too-close", ["label", "{close.extxyz}"], ["0.3"]),
    Case("label-unknown-setting", ["label", "{good.extxyz}", "--set", "cutof=200"], ["cutof"]),
    Case(
        "label-negative-setting",
        ["label", "{good.extxyz}", "--set", "kpoint_spacing=-0.4"],
        ["kpoint_spacing"],
    ),
    Case(
        "label-malformed-number",
        ["label", "{good.extxyz}", "--set", "kpoint_spacing=0.4.1"],
        ["kpoint_spacing", "number"],
    ),
    Case("label-string-for-number", ["label", "{good.extxyz}", "--set", 'cutoff="high"'], ["cutoff"]),
    Case("label-set-without-value", ["label", "{good.extxyz}", "--set", "cutoff"], ["--set"]),
    Case("label-iteration-not-integer", ["label", "{good.extxyz}", "--iteration", "one"], ["--iteration"]),
    Case(
        "label-fraction-above-one",
        ["label", "{good.extxyz}", "--max-failed-fraction", "2"],
        ["--max-failed-fraction"],
    ),
    Case("submit-pack-zero", ["submit", "label", "{good.extxyz}", "--pack", "0"], ["--pack"]),
    # build
    Case("build-unknown-kind", ["build", "pyramid", "-o", "{out.extxyz}"], ["pyramid"]),
    Case(
        "build-supercell-too-small",
        [
            "build",
            "rocksalt",
            "--composition",
            "Ge2Sb2Te5",
            "--supercell",
            "1",
            "1",
            "1",
            "-o",
            "{out.extxyz}",
        ],
        ["supercell"],
    ),
    Case(
        "build-param-unclosed-list",
        ["build", "heating-cell", "--param", "size=[20,20", "-o", "{out.extxyz}"],
        ["size", "JSON"],
    ),
    Case(
        "build-param-without-value",
        ["build", "rocksalt", "--param", "orientation", "-o", "{out.extxyz}"],
        ["--param"],
    ),
    Case(
        "build-unknown-element", ["build", "rocksalt", "--composition", "Xx2Te", "-o", "{out.extxyz}"], ["Xx"]
    ),
    # md: protocols, structures, potentials
    Case(
        "md-protocol-yaml-syntax",
        ["md", "{syntax.yaml}", "{good.extxyz}", "--check"],
        ["syntax.yaml", "line"],
    ),
    Case(
        "md-protocol-negative-temperature",
        ["md", "{negative_t.yaml}", "{good.extxyz}", "--check"],
        ["negative_t.yaml", "temperature"],
    ),
    Case(
        "md-protocol-zero-duration",
        ["md", "{zero_duration.yaml}", "{good.extxyz}", "--check"],
        ["zero_duration.yaml", "duration"],
    ),
    Case(
        "md-protocol-unknown-key",
        ["md", "{unknown_key.yaml}", "{good.extxyz}", "--check"],
        ["unknown_key.yaml", "temprature"],
    ),
    Case("md-protocol-not-a-mapping", ["md", "{list.yaml}", "{good.extxyz}", "--check"], ["list.yaml"]),
    Case(
        "md-protocol-bad-unit",
        ["md", "{bad_unit.yaml}", "{good.extxyz}", "--check"],
        ["bad_unit.yaml", "duration"],
    ),
    Case("md-protocol-missing", ["md", "no_such_protocol", "{good.extxyz}", "--check"], ["no_such_protocol"]),
    Case(
        "md-potential-file-missing",
        ["md", "melt_quench", "{good.extxyz}", "--potential", "{tmp}/missing.xml"],
        ["--potential", "missing.xml"],
    ),
    Case(
        "md-potential-id-unknown",
        ["md", "melt_quench", "{good.extxyz}", "--potential", "nosuchpotential"],
        ["--potential", "nosuchpotential"],
    ),
    Case(
        "md-potential-factory-missing",
        ["md", "melt_quench", "{good.extxyz}", "--potential", "no_module_here:calc"],
        ["--potential", "no_module_here"],
    ),
    Case("md-without-potential", ["md", "melt_quench", "{good.extxyz}"], ["--potential"]),
    Case("md-structure-missing", ["md", "melt_quench", "{tmp}/nope.extxyz", "--check"], ["nope.extxyz"]),
    Case(
        "md-frame-out-of-range",
        ["md", "melt_quench", "{good.extxyz}", "--frame", "7", "--check"],
        ["good.extxyz"],
    ),
    Case(
        "md-nprocs-with-ase", ["md", "melt_quench", "{good.extxyz}", "--nprocs", "2", "--check"], ["--nprocs"]
    ),
    Case(
        "md-interval-zero",
        ["md", "melt_quench", "{good.extxyz}", "--frame-interval", "0", "--check"],
        ["--frame-interval"],
    ),
    Case(
        "md-walltime-negative",
        ["md", "melt_quench", "{good.extxyz}", "--walltime", "-5", "--check"],
        ["--walltime"],
    ),
    Case(
        "md-interval-not-integer",
        ["md", "melt_quench", "{good.extxyz}", "--thermo-interval", "often"],
        ["--thermo-interval"],
    ),
    # scenario
    Case(
        "scenario-set-unclosed-list",
        ["scenario", "mushroom-reset", "--set", "supercell=[6,2", "--check"],
        ["supercell", "JSON"],
    ),
    Case("scenario-unknown-name", ["scenario", "teleport", "--check"], ["teleport"]),
    Case("scenario-unknown-size", ["scenario", "mushroom-reset", "--size", "huge", "--check"], ["huge"]),
    Case(
        "scenario-unknown-parameter",
        ["scenario", "mushroom-reset", "--set", "nonsense=1", "--check"],
        ["nonsense"],
    ),
    Case(
        "scenario-md-malformed",
        ["scenario", "mushroom-reset", "--md", "walltime=8e4.5", "--check"],
        ["walltime"],
    ),
    Case(
        "scenario-unit-for-a-plain-number",
        ["scenario", "mushroom-reset", "--set", "pulse_duration=2 ps", "--check"],
        ["pulse_duration", "number"],
    ),
    Case(
        "scenario-negative-temperature",
        ["scenario", "mushroom-reset", "--set", "temperature=-5", "--check"],
        ["temperature"],
    ),
    # the active-learning loop (submitted only: nothing runs here)
    Case(
        "submit-loop-negative-iterations",
        ["submit", "active-learning", "--iterations", "-1"],
        ["--iterations"],
    ),
    Case("submit-loop-no-selection", ["submit", "active-learning", "--select", "0"], ["--select"]),
    Case(
        "submit-loop-negative-liquid-selection",
        ["submit", "active-learning", "--liquid-select", "-1"],
        ["--liquid-select"],
    ),
    Case("demo-negative-liquid-selection", ["demo", "--liquid-select", "-2"], ["--liquid-select"]),
    Case("submit-loop-committee-of-one", ["submit", "active-learning", "--committee", "1"], ["--committee"]),
    # analyse and plot
    Case("analyse-empty-file", ["analyse", "rdf", "{empty.extxyz}", "-o", "{tmp}/a"], ["empty.extxyz"]),
    Case("analyse-missing-file", ["analyse", "rdf", "{tmp}/nope.extxyz", "-o", "{tmp}/a"], ["nope.extxyz"]),
    Case(
        "analyse-bad-cutoff",
        ["analyse", "coordination", "{good.extxyz}", "--cutoff", "far", "-o", "{tmp}/a"],
        ["--cutoff"],
    ),
    Case("analyse-database-selection", ["analyse", "rdf", "db:tagdemo", "-o", "{tmp}/a"], ["tagdemo"]),
    Case("analyse-store-empty-file", ["analyse", "rdf", "{empty.extxyz}", "--store"], ["empty.extxyz"]),
    Case("plot-missing-result", ["plot", "rdf", "{tmp}/nope.npz"], ["nope.npz"]),
    # fit, evaluate, import, export
    Case("fit-no-source", ["fit"], ["--tag"]),
    Case(
        "fit-hyperparameter-not-number",
        ["fit", "{good.extxyz}", "--set", "soap.n_max=many", "--dry-run"],
        ["n_max"],
    ),
    Case(
        "fit-test-fraction-above-one",
        ["fit", "{labelled.extxyz}", "--test-fraction", "1.5", "--dry-run"],
        ["--test-fraction"],
    ),
    Case("fit-one-fold", ["fit", "{labelled.extxyz}", "--folds", "1"], ["--folds"]),
    Case("fit-empty-file", ["fit", "{empty.extxyz}", "--dry-run"], ["empty.extxyz"]),
    Case("fit-unlabelled-file", ["fit", "{good.extxyz}"], ["good.extxyz"]),
    Case(
        "evaluate-unknown-potential",
        ["evaluate", "nosuchpotential", "{labelled.extxyz}"],
        ["nosuchpotential"],
    ),
    Case("import-missing-file", ["import", "{tmp}/nope.extxyz"], ["nope.extxyz"]),
    Case("import-unlabelled-file", ["import", "{good.extxyz}"], ["good.extxyz"]),
    Case("import-protocol-malformed", ["import", "{good.extxyz}", "--protocol", "cutoff=[300"], ["cutoff"]),
]
# Cases also run as real processes of the installed command line.
SUBPROCESS_CASES = (
    "config-yaml-syntax",
    "label-no-basis-set",
    "scenario-set-unclosed-list",
    "md-potential-file-missing",
    "analyse-empty-file",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    """A MongoDB-protocol server that requires a user name and password (user ``alice``)."""
    import shutil

    program = shutil.which("secantusd-py", path=str(Path(sys.executable).parent))
    if program is None:
        pytest.skip("secantusd-py is not installed")
    storage = tmp_path_factory.mktemp("auth-db")
    port = _free_port()

    def start(*extra: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [
                program,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--storage-path",
                str(storage),
                "--standalone",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with pymongo.MongoClient(port=port, serverSelectionTimeoutMS=300) as client:
                    client.admin.command("ping")
                return proc
            except pymongo.errors.PyMongoError:
                time.sleep(0.1)
        proc.kill()
        pytest.fail("the authenticating test server did not start")

    proc = start()
    with pymongo.MongoClient(port=port) as client:
        client.admin.command("createUser", "alice", pwd="right", roles=["root"])
    proc.terminate()
    proc.wait(timeout=30)
    proc = start("--auth")
    yield {
        "auth_uri_wrong": f"mongodb://alice:{PASSWORD}@127.0.0.1:{port}/",
        "auth_uri_anonymous": f"mongodb://127.0.0.1:{port}/",
    }
    proc.terminate()
    proc.wait(timeout=30)


def _stored(db_uri: str) -> dict[str, int]:
    """Document counts of everything a command could store in the test database."""
    with pymongo.MongoClient(db_uri) as client:
        jobs, launchpad = client["gst_flows"], client["fireworks"]
        return {
            "outputs": jobs["outputs"].count_documents({}),
            "data": jobs["outputs_data.files"].count_documents({}),
            "fireworks": launchpad["fireworks"].count_documents({}),
            "workflows": launchpad["workflows"].count_documents({}),
        }


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """The input files, written once."""
    root = tmp_path_factory.mktemp("bad-inputs")
    return {"tmp": root, **_files(root)}


def _prepare(case: Case, inputs: dict[str, Path], tmp_path: Path, monkeypatch, request):
    """The case's argument list, with its configuration and environment in place."""
    values = {k: str(v) for k, v in inputs.items()}
    values["out.extxyz"] = str(tmp_path / "out.extxyz")
    if any("auth_uri" in v for v in case.env.values()):
        values.update(request.getfixturevalue("auth_server"))
    if case.config is not None:
        path = tmp_path / "config.yaml"
        path.write_text(case.config)
        monkeypatch.setenv("GST_FLOWS_CONFIG", str(path))
    for key, value in case.env.items():
        monkeypatch.setenv(key, _fill(value, values))
    return [_fill(a, values) for a in case.argv]


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def _check_line(case: Case, code: int, err: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2, f"{case.name}: exit code {code}, stderr: {err[-2000:]}"
    assert "Traceback" not in err, f"{case.name}: {err[-2000:]}"
    assert len(lines) == 1, f"{case.name}: {len(lines)} lines: {err[-2000:]}"
    for word in case.expect:
        assert word in lines[0], f"{case.name}: {word!r} not in {lines[0]!r}"
    assert PASSWORD not in err


def test_enough_cases():
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)
    assert len({c.argv[0] for c in CASES}) >= 10  # spread over the commands


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bad_input_in_process(case, inputs, db_uri, tmp_path, monkeypatch, capsys, request):
    argv = _prepare(case, inputs, tmp_path, monkeypatch, request)
    before = _stored(db_uri)
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err
    _check_line(case, code, err)
    assert _stored(db_uri) == before, f"{case.name} stored something"
    assert not (tmp_path / "out.extxyz").exists()


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_bad_input_as_a_process(name, inputs, db_uri, tmp_path, monkeypatch, request):
    case = next(c for c in CASES if c.name == name)
    argv = _prepare(case, inputs, tmp_path, monkeypatch, request)
    before = _stored(db_uri)
    proc = subprocess.run(
        [sys.executable, "-m", "gst_flows.cli", *argv],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
        timeout=300,
    )
    _check_line(case, proc.returncode, proc.stderr)
    assert _stored(db_uri) == before, f"{case.name} stored something"


def test_verbose_shows_the_traceback(inputs, capsys):
    assert main(["-v", "label", str(inputs["copper.extxyz"])]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert err.strip().splitlines()[-1].startswith("gst-flows label: ")


def test_unreachable_database_answers_quickly(monkeypatch, capsys):
    monkeypatch.setenv("GST_FLOWS_DB_URI", "mongodb://127.0.0.1:1/")
    start = time.perf_counter()
    assert main(["query", "labels"]) == 2
    assert time.perf_counter() - start < 10  # pymongo's own default is 30 s
    assert "4 s" in capsys.readouterr().err
