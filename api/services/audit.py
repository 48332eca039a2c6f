"""The append-only audit log: every change and every refused access is recorded."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.models import AuditEvent, utcnow
from api.services.auth import Principal


def record(
    session: Session,
    principal: Principal | None,
    action: str,
    target: str = "",
    *,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit log (in the caller's transaction) and return it (not flushed)."""
    event = AuditEvent(
        at=utcnow(),
        org_id=principal.org_id if principal else None,
        token_id=principal.token_id if principal else None,
        action=action,
        target=target[:300],
        outcome=outcome,
        detail=detail or {},
    )
    session.add(event)
    return event
