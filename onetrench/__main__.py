"""Allow ``python -m onetrench``."""

from onetrench.cli import app

app()
