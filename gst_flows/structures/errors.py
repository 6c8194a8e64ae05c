"""Error raised by the structure builders, readers and validators."""

from __future__ import annotations

__all__ = ["StructureError"]


class StructureError(ValueError):
    """A structure cannot be built, read or accepted.

    The message is a single line meant to be shown to a user as it is.
    """
