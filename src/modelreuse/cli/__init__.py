"""Command line ``modelreuse``: one thin sub-app per module (``dock``, ``learnware``, ``bench``,
``transfer``, ``routing`` with the top-level ``route``, ``records``, ``recommend``, ``zoo``; ``fit`` and
``predict`` at the top level; ``serve``, ``user`` and ``token`` for the dock server), shared options, output and the one error boundary in
:mod:`modelreuse.cli._common`.

Every command takes ``--json`` (clean JSON on stdout; progress on stderr). Errors modelreuse raises
on bad input, unknown names and bad user paths print ``error: <Type>: <message>`` on stderr with
exit code 2. Commands import the library when they run, so ``modelreuse --help`` stays fast.
"""

from __future__ import annotations

import typer

from modelreuse.cli import bench, dock, fit, learnware, recommend, records, routing, serve, transfer, zoo
from modelreuse.cli._common import ErrorBoundary, plain

app = typer.Typer(help="modelreuse: find trained models that fit your task and reuse them.", no_args_is_help=True,
                  cls=ErrorBoundary)
app.add_typer(dock.app, name="dock")
app.add_typer(learnware.app, name="learnware")
app.add_typer(bench.app, name="bench")
app.add_typer(transfer.app, name="transfer")
app.add_typer(routing.app, name="routing")
app.add_typer(records.app, name="records")
app.add_typer(recommend.app, name="recommend")
app.add_typer(zoo.app, name="zoo")
app.add_typer(serve.users, name="user")
app.add_typer(serve.tokens, name="token")
app.command("serve")(serve.serve)
app.command("route")(routing.route)
app.command("fit")(fit.fit)
app.command("predict")(fit.predict)

__all__ = ["app", "plain"]
