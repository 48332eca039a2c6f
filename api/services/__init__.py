"""Services of the API: all logic and every query; route handlers only call these.

Each function takes a SQLAlchemy :class:`~sqlalchemy.orm.Session` and the calling
:class:`~api.services.auth.Principal`, checks the caller's rights, and raises only
:mod:`onetrench.errors` exceptions (mapped to HTTP by :mod:`api.problems`).
"""
