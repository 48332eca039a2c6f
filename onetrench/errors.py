"""One exception hierarchy for the whole project.

Every error a user can see carries a Chinese and an English message (``zh`` first) and,
optionally, a list of per-item ``details`` (for example one entry per invalid feature of an
uploaded file). Log text is kept apart: ``str(error)`` is the English message, meant for logs.

The HTTP layer maps each class to a status code in one table (``api.problems``); nothing else
in the project needs to know about HTTP.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in the input, addressed precisely enough to be fixed.

    Parameters
    ----------
    code
        Stable machine-readable code, e.g. ``"geometry.self_intersection"``.
    zh, en
        The message in Chinese and in English.
    source
        The file (or ``"body"``) the problem was found in.
    index
        Zero-based position of the feature in its file, when the problem concerns a feature.
    feature_id
        The feature's own id (工程编号), when it has one.
    field
        The attribute concerned, when there is one.
    location
        ``(x, y)`` in the file's own coordinates, when the problem has a place.
    severity
        ``"error"`` rejects the feature; ``"warning"`` keeps it and tells the user.
    """

    code: str
    zh: str
    en: str
    source: str | None = None
    index: int | None = None
    feature_id: str | None = None
    field: str | None = None
    location: tuple[float, float] | None = None
    severity: str = "error"
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (``None`` members omitted)."""
        out: dict[str, Any] = {"code": self.code, "severity": self.severity, "zh": self.zh, "en": self.en}
        for key in ("source", "index", "feature_id", "field"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.location is not None:
            out["location"] = [float(self.location[0]), float(self.location[1])]
        if self.extra:
            out["extra"] = dict(self.extra)
        return out


class OnetrenchError(Exception):
    """Base of every error onetrench raises on purpose.

    Parameters
    ----------
    zh, en
        What is wrong and how to fix it, in Chinese and in English.
    details
        Per-item problems (e.g. one per invalid feature).

    Examples
    --------
    >>> err = InputError("缺少计划开工日期", "planned start date is missing")
    >>> str(err)
    'planned start date is missing'
    """

    def __init__(self, zh: str, en: str, *, details: list[Problem] | None = None) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en
        self.details: list[Problem] = list(details or [])

    @property
    def message(self) -> str:
        """Both languages in one line, Chinese first, as shown to users."""
        return f"{self.zh} / {self.en}"


class InputError(OnetrenchError):
    """The user's input (file, field, option) is wrong."""


class UnreadableFile(InputError):
    """A file cannot be read at all (wrong format, truncated, hostile)."""


class CRSError(InputError):
    """A coordinate reference system is unknown, missing or implausible."""


class PayloadTooLarge(InputError):
    """An upload exceeds the configured size limit."""


class ConfigError(OnetrenchError):
    """The installation or configuration is wrong (database URL, missing extension)."""


class NotFound(OnetrenchError):
    """The requested object does not exist (or must not be disclosed)."""


class Unauthorized(OnetrenchError):
    """No valid credentials were given."""


class Forbidden(OnetrenchError):
    """Valid credentials, but not allowed to do this."""


class Conflict(OnetrenchError):
    """The object changed since it was read, or the request clashes with stored state."""
