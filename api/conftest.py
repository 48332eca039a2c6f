"""Pytest collection settings for api/: the Alembic scripts are run by Alembic, not imported."""

collect_ignore_glob = ["migrations/*"]
