"""Helpers shared by several sub-commands."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["format_table", "parse_key_values", "print_label_table"]


def parse_key_values(items: Sequence[str]) -> dict[str, Any]:
    """Turn ``["a=1", "b=x"]`` into ``{"a": 1, "b": "x"}`` (values parsed as JSON when possible)."""
    values: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"expected KEY=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            values[key.strip()] = json.loads(raw)
        except ValueError:
            values[key.strip()] = raw
    return values


def format_table(rows: Iterable[Sequence[Any]], header: Sequence[str]) -> str:
    """Plain-text table with aligned columns."""
    text_rows = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text_rows)) if text_rows else len(h)
              for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in text_rows]
    return "\n".join(lines)


LABEL_HEADER = ("id", "formula", "natoms", "E/atom (eV)", "max |F| (eV/Å)", "config_type", "tag",
                "state")


def label_row(doc: dict[str, Any], uuid: str | None = None) -> list[Any]:
    """One table row of a label document given as a dict."""
    prov = doc.get("provenance") or {}
    epa = doc.get("energy_per_atom")
    fmax = doc.get("max_force")
    return [
        (uuid or "")[:8],
        doc.get("formula"),
        doc.get("natoms"),
        f"{epa:.5f}" if epa is not None else "",
        f"{fmax:.4f}" if fmax is not None else "",
        prov.get("config_type"),
        prov.get("tag"),
        doc.get("state") if doc.get("state") == "successful" else f"failed: {doc.get('error')}",
    ]


def print_label_table(docs: Sequence[Any]) -> None:
    """Print label documents (pydantic or dict) as a table."""
    rows = []
    for doc in docs:
        data = doc.model_dump() if hasattr(doc, "model_dump") else doc
        rows.append(label_row(data, data.get("uuid")))
    print(format_table(rows, LABEL_HEADER))
