"""``python -m modelreuse.cli``."""

from modelreuse.cli import app

app()
