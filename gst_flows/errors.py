"""User mistakes and their one-line descriptions.

A mistake in a file, a field or a command-line value raises :class:`InputError`, naming where
the mistake is and how to fix it. The command line (:func:`gst_flows.cli.main`) turns it, and
the errors of the libraries underneath (pydantic validation, YAML parsing, MongoDB connection and
authentication), into one line on stderr and exit code 2.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["InputError", "mask_uri", "one_line", "validation_message", "yaml_message"]


class InputError(ValueError):
    """A mistake in the user's input, found before any compute.

    Parameters
    ----------
    message
        What is wrong.
    where
        The file, field or option at fault (printed first).
    fix
        How to fix it (printed in parentheses).
    """

    def __init__(self, message: str, where: str | None = None, fix: str | None = None) -> None:
        self.message = message
        self.where = where
        self.fix = fix
        super().__init__(self.line())

    def line(self) -> str:
        """The one-line description: ``where: message (fix)``."""
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text} ({self.fix})" if self.fix else text


_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*):[^@/\s]*@", re.I)


def mask_uri(text: str) -> str:
    """Replace the password of every URI in ``text`` by ``***``.

    ``mongodb://user:secret@host/`` becomes ``mongodb://user:***@host/``.
    """
    return _CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", text)


def _location(loc: tuple[Any, ...]) -> str:
    """``("stages", 0, "temperature")`` → ``stages[0].temperature``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif str(part).isidentifier():  # not the validator names pydantic puts in union paths
            text += ("." if text else "") + str(part)
    return text


def validation_message(exc: Any, known: list[str] | None = None) -> str:
    """One line for a pydantic ``ValidationError``: the first error, and how many more.

    Parameters
    ----------
    exc
        The ``pydantic.ValidationError``.
    known
        Field names to list when the first error is an unknown key.
    """
    errors = exc.errors(include_url=False)
    if not errors:
        return " ".join(str(exc).split())
    first = errors[0]
    where = _location(first.get("loc", ()))
    if first.get("type") == "extra_forbidden":
        text = f"unknown key {where!r}"
        if known:
            text += f" (known keys: {', '.join(known)})"
    else:
        message = first.get("msg", "invalid value").removeprefix("Value error, ")
        value = first.get("input")
        shown = "" if isinstance(value, dict | list) else f", got {value!r}"
        text = f"{where}: {message}{shown}" if where else f"{message}{shown}"
    # The alternatives of a union fail at or below the same place: count other places only.
    places = {_location(e.get("loc", ())) for e in errors}
    others = len([p for p in places if p != where and not p.startswith(where + ".")])
    if others:
        text += f"; and {others} more error{'s' if others > 1 else ''}"
    return text


def yaml_message(exc: Any) -> str:
    """One line for a YAML parse error: line, column, the problem and its context."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if mark is None or problem is None:
        return "not valid YAML: " + " ".join(str(exc).split())
    text = f"line {mark.line + 1}, column {mark.column + 1}: not valid YAML: {problem}"
    if context and context_mark is not None:
        text += f", {context} at line {context_mark.line + 1}, column {context_mark.column + 1}"
    return " ".join(text.split())


def _pymongo_message(exc: Any) -> str | None:
    from pymongo import errors

    if isinstance(exc, errors.ServerSelectionTimeoutError):
        return "the database did not answer (is it running, and are host and port right?)"
    if isinstance(exc, errors.OperationFailure) and exc.code in (13, 18, 8000):
        return "the database refused the credentials (check the user name and password)"
    if isinstance(exc, errors.PyMongoError):
        return "database error: " + " ".join(str(exc).split(";")[0].split())
    return None


def one_line(exc: BaseException) -> str:
    """Describe ``exc`` on one line (any URI password masked).

    :class:`InputError` keeps its own text; pydantic, YAML and pymongo errors are summarised;
    other exceptions have their message's whitespace collapsed.
    """
    import yaml
    from pydantic import ValidationError

    if isinstance(exc, InputError):
        text = exc.line()
    elif isinstance(exc, ValidationError):
        text = f"{exc.title}: {validation_message(exc)}"
    elif isinstance(exc, yaml.YAMLError):
        text = yaml_message(exc)
    elif isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    else:
        text = _pymongo_message(exc) or str(exc) or type(exc).__name__
    return mask_uri(" ".join(text.split()))
