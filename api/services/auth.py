"""Organisations, tokens and principals: who is calling, and what may they do.

Tokens are random 256-bit secrets shown once; only their SHA-256 is stored. A token belongs to
one organisation and acts in one role, which must suit the organisation's kind (a utility's
token acts as a utility, the bureau's as the bureau, the administrators' as admin).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from api.models import ApiToken, Organisation, OrgKind, Role, utcnow
from onetrench.errors import Conflict, Forbidden, InputError, NotFound, Unauthorized

TOKEN_PREFIX = "ot_"

#: The role each kind of organisation may give its tokens.
ROLE_OF_KIND: dict[OrgKind, Role] = {
    OrgKind.UTILITY: Role.UTILITY,
    OrgKind.BUREAU: Role.BUREAU,
    OrgKind.ADMIN: Role.ADMIN,
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: one token of one organisation acting in one role."""

    org_id: int
    org_code: str
    org_name: str
    role: Role
    token_id: int | None = None

    def require(self, *roles: Role, action_zh: str = "此操作", action_en: str = "this action") -> None:
        """Raise :class:`Forbidden` unless the caller acts in one of ``roles``."""
        if self.role not in roles:
            allowed = "、".join(r.value for r in roles)
            raise Forbidden(
                f"角色「{self.role.value}」无权执行{action_zh}（需要：{allowed}）",
                f"role {self.role.value!r} may not perform {action_en} (needs: {', '.join(r.value for r in roles)})",
            )


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which a token is stored.

    Examples
    --------
    >>> len(hash_token("ot_example"))
    64
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_organisation(session: Session, *, code: str, name: str, kind: OrgKind | str) -> Organisation:
    """Create an organisation; ``code`` is a short unique identifier such as ``"sgcc-qijiang"``.

    Raises
    ------
    InputError
        Empty or malformed code, unknown kind.
    Conflict
        The code is taken.
    """
    code = code.strip()
    problems = []
    if not code or len(code) > 64 or not all(c.isalnum() or c in "-_." for c in code):
        problems.append("code")
    try:
        org_kind = OrgKind(kind)
    except ValueError:
        raise InputError(
            f"机构类型「{kind}」无法识别，允许的值：{', '.join(k.value for k in OrgKind)}",
            f"unknown organisation kind {kind!r}; allowed: {', '.join(k.value for k in OrgKind)}",
        ) from None
    if problems:
        raise InputError(
            f"机构代码「{code}」无效：须为 1–64 个字母、数字或 -_. 字符",
            f"organisation code {code!r} is invalid: use 1-64 letters, digits or -_.",
        )
    if session.scalar(select(Organisation.id).where(Organisation.code == code)) is not None:
        raise Conflict(f"机构代码「{code}」已存在", f"organisation code {code!r} already exists")
    org = Organisation(code=code, name=name.strip() or code, kind=org_kind, created_at=utcnow())
    session.add(org)
    session.flush()
    return org


def get_organisation(session: Session, code: str) -> Organisation:
    """Return the organisation with ``code``.

    Raises
    ------
    NotFound
        No such organisation.
    """
    org = session.scalar(select(Organisation).where(Organisation.code == code))
    if org is None:
        raise NotFound(f"机构「{code}」不存在", f"organisation {code!r} does not exist")
    return org


def create_token(
    session: Session,
    *,
    org_code: str,
    role: Role | str | None = None,
    label: str = "",
    expires_in_days: float | None = 365.0,
) -> tuple[str, ApiToken]:
    """Create a token for ``org_code`` and return ``(secret, row)``; the secret is shown only here.

    Raises
    ------
    NotFound
        No such organisation.
    InputError
        The role does not suit the organisation's kind, or the expiry is not positive.
    """
    org = get_organisation(session, org_code)
    expected = ROLE_OF_KIND[org.kind]
    try:
        token_role = Role(role) if role is not None else expected
    except ValueError:
        raise InputError(
            f"角色「{role}」无法识别，允许的值：{', '.join(r.value for r in Role)}",
            f"unknown role {role!r}; allowed: {', '.join(r.value for r in Role)}",
        ) from None
    if token_role is not expected:
        raise InputError(
            f"机构「{org.code}」类型为 {org.kind.value}，其令牌只能用角色 {expected.value}",
            f"organisation {org.code!r} is a {org.kind.value}: its tokens act as {expected.value!r}, "
            f"not {token_role.value!r}",
        )
    if expires_in_days is not None and expires_in_days <= 0:
        raise InputError("令牌有效期必须为正数（天）", "token lifetime must be a positive number of days")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiToken(
        org_id=org.id,
        role=token_role,
        token_hash=hash_token(secret),
        prefix=secret[:10],
        label=label,
        created_at=now,
        expires_at=now + dt.timedelta(days=expires_in_days) if expires_in_days is not None else None,
        revoked_at=None,
    )
    session.add(row)
    session.flush()
    return secret, row


def revoke_token(session: Session, token_id: int) -> ApiToken:
    """Revoke a token (it stays stored, marked revoked).

    Raises
    ------
    NotFound
        No such token.
    """
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"令牌 {token_id} 不存在", f"token {token_id} does not exist")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    session.flush()
    return row


#: One statement, plain columns: a token and its organisation (no ORM objects, no lazy load), built
#: once (every request authenticates; building the statement cost a third of it).
_TOKEN_AND_ORGANISATION = (
    select(
        ApiToken.id,
        ApiToken.role,
        ApiToken.revoked_at,
        ApiToken.expires_at,
        Organisation.id,
        Organisation.code,
        Organisation.name,
    )
    .join(Organisation, Organisation.id == ApiToken.org_id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def authenticate(session: Session, secret: str | None) -> Principal:
    """Return the principal of a bearer token.

    Raises
    ------
    Unauthorized
        The token is missing, unknown, expired or revoked (one message for all, so that a
        guesser learns nothing).
    """
    if not secret:
        raise Unauthorized(
            "缺少访问令牌：请在请求头中提供 Authorization: Bearer <令牌>",
            "missing token: send Authorization: Bearer <token>",
        )
    row = session.execute(_TOKEN_AND_ORGANISATION, {"token_hash": hash_token(secret)}).first()
    now = utcnow()
    if row is None or row[2] is not None or (row[3] is not None and row[3] <= now):
        raise Unauthorized("访问令牌无效、已过期或已吊销", "the token is invalid, expired or revoked")
    token_id, role, _revoked, _expires, org_id, org_code, org_name = row
    return Principal(org_id=org_id, org_code=org_code, org_name=org_name, role=role, token_id=token_id)


def list_organisations(session: Session, principal: Principal) -> list[Organisation]:
    """All organisations (admin only)."""
    principal.require(Role.ADMIN, action_zh="管理机构", action_en="managing organisations")
    return list(session.scalars(select(Organisation).order_by(Organisation.code)))


def list_tokens(session: Session, principal: Principal) -> list[ApiToken]:
    """All tokens, without secrets (admin only)."""
    principal.require(Role.ADMIN, action_zh="管理令牌", action_en="managing tokens")
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))
