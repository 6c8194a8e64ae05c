"""``gst-flows db start|stop|status|uri``: the embedded database server."""

from __future__ import annotations

import argparse

from gst_flows.dbserver import EmbeddedServer
from gst_flows.errors import mask_uri
from gst_flows.settings import get_settings


def add_parser(subparsers) -> None:
    """Register the ``db`` sub-command."""
    parser = subparsers.add_parser(
        "db",
        help="start, stop or inspect the embedded database",
        description="Passwords are never printed: URIs show '***'. The embedded server's "
        "credential is in <data_dir>/db/credentials.json, readable by its owner only.",
    )
    parser.add_argument("action", choices=["start", "stop", "status", "uri"])
    parser.set_defaults(handler=run)


def _describe(status: dict) -> str:
    return (
        f"running pid {status['pid']} at {status['masked_uri']} (data in {status['storage']}; "
        f"credential in {status['credentials']})"
    )


def run(args: argparse.Namespace) -> int:
    """Carry out a ``db`` action."""
    settings = get_settings()
    if settings.db_uri:
        if args.action == "uri":
            print(mask_uri(settings.db_uri))
            return 0
        print(f"using the configured database {mask_uri(settings.db_uri)}; the embedded server is not used")
        return 0 if args.action == "status" else 1
    server = EmbeddedServer(settings.data_dir)
    if args.action == "start":
        print(_describe(server.start()))
    elif args.action == "stop":
        print("stopped" if server.stop() else "not running")
    elif args.action == "status":
        status = server.status()
        if status["running"]:
            print(_describe(status))
        else:
            print(f"not running (data in {status['storage']})")
            return 3
    else:
        print(server.start()["masked_uri"])
    return 0
