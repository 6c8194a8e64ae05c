"""``gst-flows query labels``: list labelled structures."""

from __future__ import annotations

import argparse
import json

from gst_flows.commands.common import LABEL_HEADER, format_table, label_row


def add_parser(subparsers) -> None:
    """Register the ``query`` sub-command."""
    parser = subparsers.add_parser("query", help="list what the database holds")
    parser.add_argument(
        "what",
        choices=["labels", "progress"],
        help="labels: labelled structures; progress: done/failed/remaining per batch",
    )
    parser.add_argument("--tag", help="only this tag")
    parser.add_argument("--config-type", help="only this config_type")
    parser.add_argument("--state", choices=["successful", "failed"], help="only this state")
    parser.add_argument(
        "--all", action="store_true", help="list every document, also each reuse of a label listed already"
    )
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    parser.set_defaults(handler=run)


def batch_progress(collection, tag: str | None = None) -> list[dict]:
    """Done, failed and remaining labels of each labelling batch (flow) in ``collection``."""
    match: dict = {"output.@class": "LabelDoc", "metadata.batch": {"$exists": True}}
    if tag:
        match["output.provenance.tag"] = tag
    pipeline = [
        {"$match": match},
        {
            "$group": {
                "_id": "$metadata.batch",
                "size": {"$max": "$metadata.batch_size"},
                "successful": {"$sum": {"$cond": [{"$eq": ["$output.state", "successful"]}, 1, 0]}},
                "failed": {"$sum": {"$cond": [{"$eq": ["$output.state", "failed"]}, 1, 0]}},
                "tag": {"$first": "$output.provenance.tag"},
                "last": {"$max": "$completed_at"},
            }
        },
        {"$sort": {"last": 1}},
    ]
    rows = []
    for entry in collection.aggregate(pipeline):
        done = entry["successful"] + entry["failed"]
        rows.append(
            {
                "batch": entry["_id"],
                "tag": entry["tag"],
                "total": entry["size"],
                "done": entry["successful"],
                "failed": entry["failed"],
                "remaining": max(0, (entry["size"] or done) - done),
                "last": entry["last"],
            }
        )
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the matching labels, or the progress of labelling batches."""
    from gst_flows.settings import get_settings
    from gst_flows.store import get_database

    settings = get_settings()
    collection = get_database(settings)[settings.outputs_collection]
    if args.what == "progress":
        rows = batch_progress(collection, args.tag)
        if args.json:
            for row in rows:
                print(json.dumps(row, default=str))
            return 0
        header = ("batch", "tag", "total", "done", "failed", "remaining", "last finished")
        print(
            format_table(
                [
                    [r["batch"][:8], r["tag"], r["total"], r["done"], r["failed"], r["remaining"], r["last"]]
                    for r in rows
                ],
                header,
            )
        )
        return 0
    from gst_flows.db import find_labels
    from gst_flows.store import get_store

    rows = []
    for label in find_labels(
        store=get_store(settings),
        load=False,
        unique=not args.all,
        tag=args.tag,
        config_type=args.config_type,
        state=args.state,
    ):
        out = label.doc.model_dump(mode="json", exclude={"forces", "structure"})
        if args.json:
            print(json.dumps({**out, "uuid": label.uuid}, default=str))
        else:
            rows.append(label_row(out, label.uuid))
    if not args.json:
        print(format_table(rows, LABEL_HEADER))
        print(f"{len(rows)} label(s)")
    return 0
