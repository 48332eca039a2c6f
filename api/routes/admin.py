"""Administration: organisations and tokens (admin only), and who am I."""

from __future__ import annotations

from fastapi import APIRouter

from api import present
from api.deps import CurrentPrincipal, SessionDep, TokenId
from api.models import Role
from api.routes.works import ERRORS
from api.schemas import (
    OrganisationCreate,
    OrganisationPublic,
    OrganisationsPublic,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    TokensPublic,
    WhoAmI,
)
from api.services import audit
from api.services import auth as auth_service

router = APIRouter(tags=["admin 管理"])


@router.get("/me", response_model=WhoAmI, responses=ERRORS)
def whoami(principal: CurrentPrincipal) -> WhoAmI:
    """The organisation and role of your token."""
    return WhoAmI(organisation=principal.org_code, organisation_name=principal.org_name, role=principal.role)


@router.get("/admin/organisations", response_model=OrganisationsPublic, responses=ERRORS)
def list_organisations(session: SessionDep, principal: CurrentPrincipal) -> OrganisationsPublic:
    """All organisations."""
    rows = auth_service.list_organisations(session, principal)
    return OrganisationsPublic(count=len(rows), organisations=[present.organisation(r) for r in rows])


@router.post("/admin/organisations", response_model=OrganisationPublic, status_code=201, responses=ERRORS)
def create_organisation(
    session: SessionDep, principal: CurrentPrincipal, body: OrganisationCreate
) -> OrganisationPublic:
    """Create an organisation."""
    principal.require(Role.ADMIN, action_zh="管理机构", action_en="managing organisations")
    row = auth_service.create_organisation(session, code=body.code, name=body.name, kind=body.kind)
    audit.record(session, principal, "admin.org_create", row.code)
    return present.organisation(row)


@router.get("/admin/tokens", response_model=TokensPublic, responses=ERRORS)
def list_tokens(session: SessionDep, principal: CurrentPrincipal) -> TokensPublic:
    """All tokens (never their secrets)."""
    rows = auth_service.list_tokens(session, principal)
    return TokensPublic(count=len(rows), tokens=[present.token(r) for r in rows])


@router.post("/admin/tokens", response_model=TokenCreated, status_code=201, responses=ERRORS)
def create_token(session: SessionDep, principal: CurrentPrincipal, body: TokenCreate) -> TokenCreated:
    """Create a token; its secret is shown only in this answer (only its SHA-256 is stored)."""
    principal.require(Role.ADMIN, action_zh="管理令牌", action_en="managing tokens")
    secret, row = auth_service.create_token(
        session, org_code=body.org, role=body.role, label=body.label, expires_in_days=body.expires_in_days
    )
    audit.record(session, principal, "admin.token_create", f"{body.org}#{row.id}")
    return TokenCreated(**present.token(row).model_dump(), secret=secret)


@router.post("/admin/tokens/{token_id}/revoke", response_model=TokenPublic, responses=ERRORS)
def revoke_token(session: SessionDep, principal: CurrentPrincipal, token_id: TokenId) -> TokenPublic:
    """Revoke a token."""
    principal.require(Role.ADMIN, action_zh="管理令牌", action_en="managing tokens")
    row = auth_service.revoke_token(session, token_id)
    audit.record(session, principal, "admin.token_revoke", str(token_id))
    return present.token(row)
