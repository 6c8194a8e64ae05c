"""Helpers shared by several sub-commands."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from gst_flows.errors import InputError, mask_uri, one_line

__all__ = [
    "check_counts",
    "check_database",
    "check_potential",
    "format_table",
    "parse_key_values",
    "parse_value",
    "print_label_table",
]


def parse_value(raw: str, where: str = "value") -> Any:
    """Parse one command-line value: JSON, a plain number, or else a string.

    A value that starts like a list, a mapping, a quoted string or a number but does not parse
    is refused rather than kept as a string (``supercell=[6,2`` is a typo, not a name). A
    number followed by a unit (``300 K``, ``2 eV/ps``) stays a string for the quantity parsers.

    Parameters
    ----------
    raw
        The text after ``=``.
    where
        The option and key, for the error message.

    Raises
    ------
    gst_flows.errors.InputError
        For a value that starts like JSON or a number but is not valid.
    """
    text = raw.strip()
    try:
        return json.loads(text)
    except ValueError as exc:
        error = exc
    if text[:1] in ("[", "{", '"'):
        raise InputError(
            f"{raw!r} is not valid JSON ({error.msg} "
            + ("at the end)" if error.pos >= len(text) else f"at character {error.pos + 1})"),
            where=where,
            fix='close brackets and quote strings, e.g. [6, 2, 4] or "text"',
        )
    if _NUMBER_START.match(text):
        try:
            return float(text)
        except ValueError:
            if _QUANTITY.fullmatch(text):
                return raw
            raise InputError(
                f"{raw!r} starts like a number but is not one",
                where=where,
                fix="write a number such as 0.4 or 1e-6, or one with a unit such as 300 K",
            ) from None
    return raw


_NUMBER_START = re.compile(r"[+-]?\.?\d")
# A number and a unit: "300 K", "0.264 fJ", "2 eV/ps", "1e13 K/s", "10ps".
_QUANTITY = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*[A-Za-zÅµ°][A-Za-zÅµ°/^*\d]*")


def parse_key_values(items: Sequence[str], option: str | None = None) -> dict[str, Any]:
    """Turn ``["a=1", "b=x"]`` into ``{"a": 1, "b": "x"}`` (values as :func:`parse_value`).

    Parameters
    ----------
    items
        ``KEY=VALUE`` strings.
    option
        The command-line option they came from, for error messages (e.g. ``--set``).

    Raises
    ------
    gst_flows.errors.InputError
        For an item without ``=``, an empty key, or a malformed value.
    """
    values: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InputError(
                f"expected KEY=VALUE, got {item!r}", where=option, fix="write e.g. kpoint_spacing=0.4"
            )
        key = key.strip()
        values[key] = parse_value(raw, where=f"{option} {key}" if option else key)
    return values


def check_database(settings: Any = None, timeout_s: float = 4.0) -> None:
    """Check that a configured database answers and accepts the credentials.

    The embedded server (no ``db_uri``) is left alone: it is started where it is used.

    Parameters
    ----------
    settings
        The settings; read afresh when omitted.
    timeout_s
        How long to wait for the server, s.

    Raises
    ------
    gst_flows.errors.InputError
        Naming the (masked) URI: unreachable, malformed, or refusing the credentials.
    """
    import pymongo
    from pymongo import errors

    from gst_flows.settings import get_settings

    settings = settings or get_settings()
    if not settings.db_uri:
        return
    where = f"db_uri {mask_uri(settings.db_uri)}"
    fix_uri = "fix db_uri in the configuration or GST_FLOWS_DB_URI, or unset it for the embedded server"
    timeout_ms = int(timeout_s * 1000)
    try:
        client = pymongo.MongoClient(
            settings.db_uri,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=timeout_ms,
        )
    except (errors.ConfigurationError, ValueError, TypeError) as exc:
        raise InputError(f"not a usable MongoDB URI: {one_line(exc)}", where=where, fix=fix_uri) from None
    try:
        for name in (settings.database, settings.launchpad_database):
            client[name].list_collection_names()
    except errors.ServerSelectionTimeoutError:
        raise InputError(
            f"no database answered within {timeout_s:g} s",
            where=where,
            fix="start the database or " + fix_uri,
        ) from None
    except errors.OperationFailure as exc:
        if exc.code in (13, 18, 8000):
            raise InputError(
                "the database refused the credentials",
                where=where,
                fix="check the user name and password in db_uri",
            ) from None
        raise InputError(one_line(exc), where=where, fix=fix_uri) from None
    except errors.PyMongoError as exc:
        raise InputError(one_line(exc), where=where, fix=fix_uri) from None
    finally:
        client.close()


def check_potential(ref: str, where: str = "--potential", engine: str | None = None) -> None:
    """Refuse a potential reference that cannot be used, before any job is made.

    A GAP XML path must exist, a ``module:factory`` must import, and an id or tag must be in
    the database (a configured one is checked first); a stored POD needs the LAMMPS engine
    (refused when ``engine`` is ``"ase"``).

    Raises
    ------
    gst_flows.errors.InputError
        Naming the option and the reference.
    """
    from gst_flows.md.potential import reference_kind

    fix = "give a GAP XML file, the potential id or tag printed by 'gst-flows fit', or module:factory"
    if not ref:
        raise InputError("no potential given", where=where, fix=fix)
    try:
        kind = reference_kind(ref)
    except (FileNotFoundError, ValueError) as exc:
        raise InputError(one_line(exc), where=where, fix=fix) from None
    if kind == "id":
        from gst_flows.potentials import find_potential

        check_database()
        try:
            info = find_potential(ref)
        except KeyError as exc:
            raise InputError(one_line(exc), where=where, fix=fix) from None
        if info["backend"] == "pod" and engine == "ase":
            raise InputError(
                f"{ref} is a POD, which the ase engine cannot run",
                where=where,
                fix="add --engine lammps (pair_style pod)",
            )


def check_counts(args: Any, least: dict[str, int]) -> None:
    """Refuse integer options below their smallest sensible value (0 for committee = off).

    Parameters
    ----------
    args
        Parsed arguments.
    least
        Attribute name to its smallest value, e.g. ``{"select": 1}``.

    Raises
    ------
    gst_flows.errors.InputError
        Naming the option.
    """
    for name, smallest in least.items():
        value = getattr(args, name, None)
        if value is None or value >= smallest or (name == "committee" and value == 0):
            continue
        option = "--" + name.replace("_", "-")
        raise InputError(
            f"{value} is too small",
            where=option,
            fix=f"give {smallest} or more" + (", or 0 to turn it off" if name == "committee" else ""),
        )


def format_table(rows: Iterable[Sequence[Any]], header: Sequence[str]) -> str:
    """Plain-text table with aligned columns."""
    text_rows = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in text_rows)) if text_rows else len(h) for i, h in enumerate(header)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in text_rows]
    return "\n".join(lines)


LABEL_HEADER = ("id", "formula", "natoms", "E/atom (eV)", "max |F| (eV/Å)", "config_type", "tag", "state")


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
