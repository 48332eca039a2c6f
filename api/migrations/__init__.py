"""Alembic migrations of the onetrench database (run by ``onetrench db upgrade``)."""
