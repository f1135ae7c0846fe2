"""Typed harness results: every ``modelreuse bench ...`` harness returns a :class:`Report`.

A report is a dataclass of JSON-ready fields with three views: ``to_dict()`` (the JSON the CLI
prints with ``--json`` and ``write`` stores), ``render()`` (rich renderables for a terminal) and
``write(path)``. Harnesses with their own report type subclass :class:`Report` and override
``render``; a harness that still returns a plain dict is wrapped in :class:`DictReport` with a
view function.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import RenderableType


@dataclass
class Report:
    """Base of harness results (module doc)."""

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (nested dicts and lists)."""
        return asdict(self)

    def render(self) -> list[RenderableType]:
        """Rich renderables for a terminal; the base shows the dict as highlighted JSON."""
        from rich.json import JSON

        return [JSON(json.dumps(self.to_dict(), default=str))]

    def write(self, path: str | Path) -> Path:
        """Write ``to_dict()`` as indented JSON to ``path`` (parent folders created); returns it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str))
        return path


@dataclass
class DictReport(Report):
    """A harness result that is still a plain dict; ``view`` builds its terminal renderables."""

    data: dict[str, Any]
    view: Callable[[dict[str, Any]], list[RenderableType]] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def render(self) -> list[RenderableType]:
        return self.view(self.data) if self.view is not None else super().render()
