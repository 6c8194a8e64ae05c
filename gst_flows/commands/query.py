"""``gst-flows query labels``: list labelled structures."""

from __future__ import annotations

import argparse
import json

from gst_flows.commands.common import LABEL_HEADER, format_table, label_row


def add_parser(subparsers) -> None:
    """Register the ``query`` sub-command."""
    parser = subparsers.add_parser("query", help="list what the database holds")
    parser.add_argument("what", choices=["labels"])
    parser.add_argument("--tag", help="only this tag")
    parser.add_argument("--config-type", help="only this config_type")
    parser.add_argument("--state", choices=["successful", "failed"], help="only this state")
    parser.add_argument("--all", action="store_true",
                        help="include documents that reuse an identical earlier label")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    parser.set_defaults(handler=run)


def label_query(tag: str | None = None, config_type: str | None = None,
                state: str | None = None, include_reused: bool = False) -> dict:
    """The MongoDB filter selecting label documents in the outputs collection.

    Documents that only reuse an identical earlier label (``reused_from`` set) are left out
    unless ``include_reused``: each label is then listed once.
    """
    query: dict = {"output.@class": "LabelDoc"}
    if not include_reused:
        query["output.reused_from"] = None
    if tag:
        query["output.provenance.tag"] = tag
    if config_type:
        query["output.provenance.config_type"] = config_type
    if state:
        query["output.state"] = state
    return query


def run(args: argparse.Namespace) -> int:
    """Print the matching labels."""
    from gst_flows.settings import get_settings
    from gst_flows.store import get_database

    settings = get_settings()
    collection = get_database(settings)[settings.outputs_collection]
    cursor = collection.find(
        label_query(args.tag, args.config_type, args.state, args.all),
        {"uuid": 1, "output": 1, "_id": 0},
    ).sort("completed_at", 1)
    rows = []
    for entry in cursor:
        out = entry["output"]
        if args.json:
            keep = {k: v for k, v in out.items()
                    if k not in ("forces", "structure") and not k.startswith("@")}
            keep["uuid"] = entry["uuid"]
            print(json.dumps(keep, default=str))
        else:
            rows.append(label_row(out, entry["uuid"]))
    if not args.json:
        print(format_table(rows, LABEL_HEADER))
        print(f"{len(rows)} label(s)")
    return 0
