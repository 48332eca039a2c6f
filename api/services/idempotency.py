"""Idempotent uploads: the ``Idempotency-Key`` request header.

A client that sends an upload with ``Idempotency-Key: <key>`` and does not get the answer (the
connection broke, the server was restarted) sends the same request again with the same key. The
first upload that completed is then answered again, byte for byte, with the header
``Idempotent-Replayed: true``; nothing is stored twice. The key is claimed (a row inserted) at
the start of the upload's transaction and the answer written into that row at its end, so:

* if the upload is cut off, the row disappears with the rest of the transaction and a retry runs
  the upload as if for the first time;
* if two requests with the same key arrive at once, the second waits on the row's unique index
  until the first commits, then answers with the first one's result.

Keys belong to an organisation (two organisations may use the same key) and are kept
``Settings.idempotency_hours`` hours. The same key with a different request is refused (422),
as the IETF draft "The Idempotency-Key HTTP Header Field" recommends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zlib
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api.models import IdempotencyRecord, utcnow
from api.services.auth import Principal
from onetrench.errors import InputError

#: Name of the request header.
HEADER = "Idempotency-Key"
#: Header set on an answer that repeats a stored one.
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Replay:
    """A stored answer to send again."""

    status_code: int
    body: bytes


@dataclass(frozen=True)
class Claim:
    """A key claimed by the current transaction; :func:`complete` stores the answer in it."""

    record_id: int


def check_key(raw: str) -> str:
    """Return the key if it is 1–255 visible ASCII characters, else raise :class:`InputError`.

    Examples
    --------
    >>> check_key("3f6c1b0e-upload-1")
    '3f6c1b0e-upload-1'
    """
    if not 1 <= len(raw) <= MAX_KEY_LENGTH or any(not 0x21 <= ord(c) <= 0x7E for c in raw):
        raise InputError(
            f"请求头 {HEADER} 须为 1–{MAX_KEY_LENGTH} 个可见 ASCII 字符（如 UUID）",
            f"the {HEADER} header must be 1–{MAX_KEY_LENGTH} visible ASCII characters (a UUID, say)",
        )
    return raw


def fingerprint(*parts: bytes | str | None) -> str:
    """SHA-256 over the parts of a request that decide its answer (length-prefixed, so unambiguous).

    Examples
    --------
    >>> fingerprint("a", "bc") != fingerprint("ab", "c")
    True
    """
    digest = hashlib.sha256()
    for part in parts:
        data = b"\x00none" if part is None else part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def claim(
    session: Session, principal: Principal, key: str, *, endpoint: str, request_sha256: str, keep_hours: float
) -> Claim | Replay:
    """Claim ``key`` for this request, or return the stored answer of the request that claimed it.

    Raises
    ------
    InputError
        The key was used by this organisation for a different request (another file, another
        endpoint) within the last ``keep_hours`` hours.
    """
    key = check_key(key)
    now = utcnow()
    session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - dt.timedelta(hours=keep_hours))
    )
    values = {
        "org_id": principal.org_id,
        "key": key,
        "endpoint": endpoint,
        "request_sha256": request_sha256,
        "created_at": now,
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # ON CONFLICT DO NOTHING waits for a concurrent transaction holding the same key to finish.
    statement = insert(IdempotencyRecord).values(**values).on_conflict_do_nothing().returning(IdempotencyRecord.id)
    record_id = session.execute(statement).scalar_one_or_none()
    if record_id is not None:
        return Claim(record_id)
    stored = session.execute(
        select(IdempotencyRecord).where(IdempotencyRecord.org_id == principal.org_id, IdempotencyRecord.key == key)
    ).scalar_one()
    if stored.endpoint != endpoint or stored.request_sha256 != request_sha256:
        raise InputError(
            f"请求头 {HEADER}「{key}」已用于另一次不同的上传（{stored.created_at:%Y-%m-%d %H:%M} UTC）："
            "重试时请发送完全相同的内容，新的上传请使用新的键",
            f"{HEADER} {key!r} was used for a different request (at {stored.created_at:%Y-%m-%d %H:%M} UTC): "
            "a retry must send exactly the same request; use a new key for a new upload",
        )
    if stored.status_code is None or stored.response_gz is None:  # only committed rows are visible
        raise RuntimeError(f"idempotency record {stored.id} has no stored answer")
    return Replay(stored.status_code, zlib.decompress(stored.response_gz))


def complete(session: Session, claimed: Claim, status_code: int, body: bytes) -> None:
    """Store the answer in the claimed record (in the upload's transaction)."""
    record = session.get(IdempotencyRecord, claimed.record_id)
    if record is None:  # the row was inserted by this very transaction
        raise RuntimeError(f"idempotency record {claimed.record_id} vanished")
    record.status_code = status_code
    record.response_gz = zlib.compress(body, 6)
