"""The ``gst-flows`` command line."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from typing import NoReturn

__all__ = ["main"]

# Each module in gst_flows.commands registers one sub-command with ``add_parser``.
COMMANDS = (
    "db",
    "build",
    "label",
    "converge",
    "query",
    "export",
    "import_",
    "fit",
    "md",
    "analyse",
    "submit",
    "scenario",
    "launchers",
    "demo",
)
# Commands that never read the configuration: a broken configuration file does not stop them.
WITHOUT_CONFIG = ("build", "plot")
# Commands that always use the database: a configured one is checked before they start.
DATABASE_COMMANDS = ("query", "export", "import", "demo")
# Exit code of a user's mistake (bad file, field, value or configuration), as argparse uses.
USAGE_EXIT = 2


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: the problem and where to read the usage."""

    def error(self, message: str) -> NoReturn:
        """Print ``<prog>: <message> (see <prog> --help)`` and exit with code 2."""
        self.exit(USAGE_EXIT, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available sub-command."""
    parser = OneLineParser(
        prog="gst-flows",
        description="Machine-learning-driven, device-scale modelling of Ge-Sb-Te "
        "phase-change materials as jobflow workflows.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show workflow logs, and the traceback of an error"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"gst_flows.commands.{name}")
        module.add_parser(subparsers)
    return parser


def user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that describe a user's mistake rather than a fault of gst-flows.

    ``ValueError`` covers :class:`gst_flows.errors.InputError`, pydantic's ``ValidationError``
    and the structure and protocol errors.
    """
    import yaml
    from pymongo.errors import PyMongoError

    from gst_flows.dbserver import DatabaseServerError

    return (
        ValueError,
        FileNotFoundError,
        IsADirectoryError,
        NotADirectoryError,
        PermissionError,
        DatabaseServerError,
        yaml.YAMLError,
        PyMongoError,
    )


def _command_name(args: argparse.Namespace) -> str:
    kind = getattr(args, "kind", None)
    return f"{args.command} {kind}" if args.command == "submit" and kind else args.command


def _prepare(args: argparse.Namespace) -> None:
    """Read the configuration and check a configured database before the command runs."""
    if args.command in WITHOUT_CONFIG:
        return
    from gst_flows.settings import get_settings

    settings = get_settings()
    if args.command in DATABASE_COMMANDS:
        from gst_flows.commands.common import check_database

        check_database(settings)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    A user's mistake (a bad file, field, value or configuration, an unreachable database)
    prints one line, ``gst-flows <command>: <file/field>: <what is wrong> (<how to fix>)``,
    and exits with code 2; commands check their input before any compute starts or anything
    is stored. With ``--verbose`` the traceback is printed first.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    # Progress of our own jobs is always shown; jobflow's own log only with --verbose.
    logging.getLogger("gst_flows").setLevel(logging.INFO)
    try:
        _prepare(args)
        return int(args.handler(args) or 0)
    except user_errors() as exc:
        from gst_flows.errors import one_line

        if args.verbose:
            traceback.print_exc()
        print(f"gst-flows {_command_name(args)}: {one_line(exc)}", file=sys.stderr)
        return USAGE_EXIT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
