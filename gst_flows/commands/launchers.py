"""``gst-flows launchers DIR``: write FireWorks launcher files for the configured database."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import yaml

CATEGORIES = ("dft", "fit", "md", "analysis")


def add_parser(subparsers) -> None:
    """Register the ``launchers`` sub-command."""
    parser = subparsers.add_parser(
        "launchers", help="write my_launchpad/my_fworker/my_qadapter files for FireWorks"
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument("--queue", choices=["slurm", "pbs"], default="slurm")
    parser.add_argument("--category", choices=CATEGORIES, help="fworker used by the qadapter")
    parser.add_argument("--ntasks", type=int, default=2, help="cores per queue job")
    parser.add_argument("--walltime", default="01:00:00")
    parser.add_argument(
        "--pre-rocket",
        default="export OMP_NUM_THREADS=1",
        help="shell lines run before rlaunch in each queue job",
    )
    parser.set_defaults(handler=run)


def write_launchers(
    directory: Path,
    uri: str,
    launchpad_name: str = "fireworks",
    queue: str = "slurm",
    category: str | None = None,
    ntasks: int = 2,
    walltime: str = "01:00:00",
    pre_rocket: str | None = "export OMP_NUM_THREADS=1",
) -> dict[str, Path]:
    """Write the launcher files into ``directory``; return their paths by role."""
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "logs").mkdir(exist_ok=True)
    paths: dict[str, Path] = {}

    def dump(name: str, content: dict, private: bool = False) -> Path:
        path = directory / name
        text = yaml.safe_dump(content, sort_keys=False)
        if private:  # it holds the database's credentials: owner only
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.chmod(path, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
        else:
            path.write_text(text)
        return path

    paths["launchpad"] = dump(
        "my_launchpad.yaml", {"host": uri, "uri_mode": True, "name": launchpad_name}, private=True
    )
    paths["fworker"] = dump("my_fworker.yaml", {"name": "gst-any", "category": "", "query": "{}", "env": {}})
    for cat in CATEGORIES:
        paths[f"fworker_{cat}"] = dump(
            f"my_fworker_{cat}.yaml", {"name": f"gst-{cat}", "category": cat, "query": "{}"}
        )
    rlaunch = shutil.which("rlaunch", path=str(Path(sys.executable).parent)) or "rlaunch"
    fworker = paths[f"fworker_{category}"] if category else paths["fworker"]
    qadapter = {
        "_fw_name": "CommonAdapter",
        "_fw_q_type": queue.upper(),
        "rocket_launch": f"{rlaunch} -w {fworker} -l {paths['launchpad']} singleshot",
        "job_name": "gst-flows",
        "logdir": str(directory / "logs"),
        "walltime": walltime,
        "pre_rocket": pre_rocket,
    }
    if queue == "slurm":
        qadapter.update({"nodes": 1, "ntasks": ntasks, "cpus_per_task": 1})
    else:
        qadapter.update({"nnodes": 1, "ppnode": ntasks})
    paths["qadapter"] = dump("my_qadapter.yaml", qadapter)
    return paths


def run(args: argparse.Namespace) -> int:
    """Write the files and say how to use them."""
    from gst_flows.settings import get_settings
    from gst_flows.store import database_uri

    settings = get_settings()
    paths = write_launchers(
        args.directory,
        database_uri(settings),
        settings.launchpad_database,
        args.queue,
        args.category,
        args.ntasks,
        args.walltime,
        args.pre_rocket,
    )
    for role, path in paths.items():
        print(f"{role:18s} {path}")
    print(f"run: qlaunch -l {paths['launchpad']} -w {paths['fworker']} -q {paths['qadapter']} -r rapidfire")
    return 0
