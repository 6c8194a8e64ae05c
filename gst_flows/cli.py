"""The ``gst-flows`` command line."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

__all__ = ["main"]

# Each module in gst_flows.commands registers one sub-command with ``add_parser``.
COMMANDS = (
    "db", "build", "label", "converge", "query", "export", "import_", "fit", "md", "analyse",
    "submit", "scenario", "launchers", "demo",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="gst-flows",
        description="Machine-learning-driven, device-scale modelling of Ge-Sb-Te "
        "phase-change materials as jobflow workflows.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show workflow logs")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"gst_flows.commands.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    Errors from bad input (``ValueError``, ``FileNotFoundError``, the structure and database
    errors) print one line and exit with code 2, before any compute starts.
    """
    from gst_flows.dbserver import DatabaseServerError

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s"
    )
    # Progress of our own jobs is always shown; jobflow's own log only with --verbose.
    logging.getLogger("gst_flows").setLevel(logging.INFO)
    try:
        return int(args.handler(args) or 0)
    except (ValueError, FileNotFoundError, DatabaseServerError) as exc:
        print(f"gst-flows {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
