"""What every sub-app shares: the error boundary, the shared options, and output.

* :class:`ErrorBoundary` is the one place where errors become CLI output: every error modelreuse
  raises on bad input (:class:`~modelreuse.errors.ModelReuseError`, unknown names included), and
  the file errors of bad user paths, print ``error: <Type>: <message>`` on stderr with exit code 2.
* Output: ``--json`` prints clean JSON on stdout (:func:`emit`, :func:`show`); tables and text
  otherwise. Progress and logs go to stderr (:func:`progress`, the ``config.Progress`` convention).
* Text from packages or users is printed through :func:`plain`, never as markup.

This module stays light (no modelreuse library imports beyond errors/config/_archive): commands
import the library inside their bodies, so ``modelreuse --help`` loads no scientific stack.
"""

from __future__ import annotations

import importlib
import json
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

from modelreuse._archive import CONTROL_CATEGORIES, find_control_character
from modelreuse.config import cache_home, default_data_root
from modelreuse.errors import ModelReuseError

USER_ERRORS = (ModelReuseError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
               PermissionError)
"""Errors that mean bad input (a typed library error, or a user path that is missing, in the way,
of the wrong kind or not accessible); anything else is a defect and keeps its traceback."""

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


class ErrorBoundary(TyperGroup):
    """Root group whose ``invoke`` turns :data:`USER_ERRORS` into ``error: <Type>: <message>`` on
    stderr and exit code 2 (module doc)."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            fail(exc)


def fail(exc: BaseException) -> None:
    """Print ``error: <Type>: <message>`` on stderr and exit with code 2."""
    err_console.print(Text("error: ", style="red") + plain(f"{type(exc).__name__}: {exc}"), highlight=False)
    raise typer.Exit(code=2)


def plain(value: Any) -> Text:
    """Text from a package or a user, for the terminal: never parsed as markup, and every control or
    format character (ANSI escapes, newlines, bidi overrides) shown as a visible escape."""
    text = str(value)
    if find_control_character(text) is not None:
        text = "".join(ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in CONTROL_CATEGORIES
                       else ch for ch in text)
    return Text(text)


# ---------------------------------------------------------------------- registries
REGISTRIES = {
    "selectors": "modelreuse.selection.base:SELECTORS",
    "metrics": "modelreuse.selection.transferability:METRICS",
    "routers": "modelreuse.routing.base:ROUTERS",
    "recommenders": "modelreuse.selection.learned.base:RECOMMENDERS",
}
"""Placeholder name in option help -> ``module:attribute`` of the :class:`modelreuse._registry.Registry`
whose names it stands for (see :class:`RegistryHelp`)."""

_PLACEHOLDER = re.compile(r"\{(" + "|".join(REGISTRIES) + r")\}")


def registry(key: str):
    """The registry :data:`REGISTRIES` names ``key`` (imported on first use)."""
    module, attribute = REGISTRIES[key].split(":")
    return getattr(importlib.import_module(module), attribute)


class RegistryHelp(TyperCommand):
    """A command whose option help names registries as ``{selectors}``, ``{metrics}``, ...: each
    placeholder becomes the registry's names (comma-separated) when this command's help is shown,
    so the help never drifts from the registry and ``modelreuse --help`` imports none of them."""

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        for param in self.params:
            if getattr(param, "help", None):
                param.help = _PLACEHOLDER.sub(lambda m: ", ".join(registry(m.group(1)).names()), param.help)
        super().format_help(ctx, formatter)


# ---------------------------------------------------------------------- shared options
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON on stdout (progress goes to stderr).")
DockOpt = typer.Option("modelreuse-dock", "--dock", "-d", help="Dock root directory, or a dock server's URL "
                                                                 "(http://host:8000).")
TokenOpt = typer.Option(None, "--token", envvar="MODELREUSE_TOKEN", show_envvar=True,
                        help="API token for a dock server URL in --dock.")
DataOpt = typer.Option(None, help="Data root (default $MODELREUSE_DATA or ../shared/data).")
OutOpt = typer.Option(None, help="Also write the JSON report here.")


def cache_option(part: str, what: str) -> Any:
    """A ``--cache`` option; unset means ``config.cache_home(part)`` (see :func:`cache_dir`)."""
    return typer.Option(None, help=f"{what} (default $MODELREUSE_CACHE/{part} or .cache/{part}).")


def cache_dir(given: Path | None, part: str) -> Path:
    """The ``--cache`` folder: the given one, else the package-wide cache home's ``part``."""
    return given if given is not None else cache_home(part)


def data_root(given: Path | None) -> Path:
    """The ``--data`` root: the given one, else ``config.default_data_root()``."""
    return given if given is not None else default_data_root()


# ---------------------------------------------------------------------- output
def progress(message: str) -> None:
    """The CLI's ``config.Progress``: one dim line on stderr."""
    err_console.print(plain(message), style="dim", highlight=False)


def emit(data: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """JSON of ``data`` on stdout with ``--json``, else ``render(data)``."""
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        render(data)


def show(report: Any, as_json: bool, out: Path | None = None) -> None:
    """Print a :class:`modelreuse.bench.report.Report` (its ``to_dict()`` as JSON with ``--json``,
    else its ``render()``); also write its JSON to ``out`` when given."""
    if out is not None:
        report.write(out)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        for renderable in report.render():
            console.print(renderable)


def open_dock(location: str | Path, must_exist: bool = True, token: str | None = None):
    """The dock at ``location``: a folder (unless ``must_exist`` is False a missing dock is a
    :class:`~modelreuse.errors.DockNotFoundError`; nothing is created) or a dock server's
    ``http(s)://`` URL (a :class:`~modelreuse.dock.RemoteDock` with ``token``)."""
    from modelreuse.dock import open_dock as open_location

    return open_location(str(location), token, create=not must_exist)


def read_table_without(path: Path, drop: list[str]):
    """The csv/tsv/parquet table at ``path`` without the ``drop`` columns (a :class:`SchemaError`
    names any it does not have)."""
    from modelreuse.errors import SchemaError
    from modelreuse.models.tabular import read_table

    table = read_table(path)
    missing = [c for c in drop if c not in table.columns]
    if missing:
        raise SchemaError(f"--drop names column(s) {missing} that {path} does not have; "
                          f"its columns: {', '.join(map(str, table.columns))}")
    return table.drop(columns=list(drop))
