"""FastAPI dependencies as ``Annotated`` aliases: the database session, settings and caller."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.services.auth import Principal, authenticate
from onetrench.settings import Settings

bearer = HTTPBearer(auto_error=False, description="访问令牌 / API token: `onetrench token create --org …`")


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request, committed when the handler succeeds (before the response is sent).

    The session is made on the event loop (no I/O until it is used); the commit (or rollback) and
    the close run together in one worker thread. A plain generator would take two thread hops
    per request, for the first line and for the end: each costs the event loop and the worker
    thread ~0.1 ms of CPU and a GIL hand-over.
    """
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):  # a cancelled request still gives its connection back
            await run_in_threadpool(_end, session, commit=False)
        raise
    if session.in_transaction():
        await run_in_threadpool(_end, session, commit=True)
    else:  # the handler committed (see commit_now): nothing is left that needs a thread
        session.close()


def commit_now(session: Session) -> None:
    """Commit the request's session in the handler's own thread, before it returns.

    :func:`get_session` then only closes it, on the event loop (the connection is back in the pool
    already): one thread hop less for a request that writes, such as an upload.
    """
    session.commit()


def _end(session: Session, *, commit: bool) -> None:
    """Commit (or roll back) and close a request's session; a failed commit is rolled back and raised."""
    try:
        if commit:
            session.commit()
        else:
            _quietly(session.rollback)  # the connection may be gone (database down): keep the first error
    except BaseException:
        _quietly(session.rollback)
        raise
    finally:
        _quietly(session.close)


def _quietly(action: Callable[[], None]) -> None:
    """Run a cleanup step after an error that is being reported already; its own failure is dropped."""
    with contextlib.suppress(Exception):
        action()


async def get_settings_dep(request: Request) -> Settings:
    """The settings the app was created with (async: no I/O, so no thread hop)."""
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The authenticated caller (401 when the token is missing, unknown, expired or revoked)."""
    principal = authenticate(session, credentials.credentials if credentials else None)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


#: Database ids in paths: positive 32-bit integers (larger numbers are refused with 422, not sent to the database).
MAX_ID = 2_147_483_647
WorkId = Annotated[int, Path(ge=1, le=MAX_ID, description="工程内部编号 / work id (see WorkPublic.id)")]
TokenId = Annotated[int, Path(ge=1, le=MAX_ID, description="令牌编号 / token id")]
