"""Bounded, printable field types for everything read from someone else's JSON (manifests,
table schemas): every string has a length limit and no control or formatting characters (so it
can be stored in any database column and printed on a terminal as it is), lists hold unique
entries.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

from modelreuse._archive import find_control_character


def refuse_control(value: str, allowed: str = "") -> str:
    """``value`` unchanged, or ``ValueError`` naming its first control/formatting character."""
    bad = find_control_character(value, allowed)
    if bad is not None:
        raise ValueError(f"contains the control or formatting character U+{ord(bad):04X}; "
                         "use plain text (no terminal escapes, bidi overrides or zero-width characters)")
    return value


def text(max_length: int, min_length: int = 0, multiline: bool = False) -> Any:
    """A bounded plain-text string type (newlines and tabs only where ``multiline``)."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length),
                     AfterValidator(partial(refuse_control, allowed="\n\t" if multiline else ""))]


def unique(values: list | None) -> list | None:
    """``values`` unchanged, or ``ValueError`` naming the first entry listed twice."""
    if values is not None and len(set(values)) != len(values):
        seen: set = set()
        repeated = next(v for v in values if v in seen or seen.add(v))
        raise ValueError(f"{repeated!r} is listed more than once; entries must be unique")
    return values


Short = text(64, min_length=1)
Label = text(256, min_length=1)
Title = text(200, min_length=1)
Line = text(200)
Description = text(20_000, multiline=True)
