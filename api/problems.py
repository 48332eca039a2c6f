"""Errors as RFC 9457 problem details (``application/problem+json``), from ONE table.

:data:`STATUS` maps each class of :mod:`onetrench.errors` to an HTTP status; the most specific
class in an exception's MRO wins. The body carries the English message in ``title``/``detail``,
the Chinese beside it (``title_zh``/``detail_zh``), and the per-feature problems in ``errors``.
Unexpected exceptions become a 500 whose text says nothing about the internals (it is logged).
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from onetrench.errors import (
    ConfigError,
    Conflict,
    CRSError,
    Forbidden,
    InputError,
    NotFound,
    OnetrenchError,
    PayloadTooLarge,
    Unauthorized,
    UnreadableFile,
)

log = logging.getLogger("onetrench.api")

PROBLEM_JSON = "application/problem+json"

#: The one table: error class → (HTTP status, problem type slug, English title, Chinese title).
STATUS: dict[type[OnetrenchError], tuple[int, str, str, str]] = {
    InputError: (422, "input-error", "Invalid input", "输入有误"),
    CRSError: (422, "crs-error", "Unknown or implausible coordinate system", "坐标系无法确定或不合理"),
    UnreadableFile: (400, "unreadable-file", "The file cannot be read", "文件无法读取"),
    PayloadTooLarge: (413, "payload-too-large", "Upload too large", "上传内容过大"),
    Unauthorized: (401, "unauthorized", "Authentication required", "需要身份认证"),
    Forbidden: (403, "forbidden", "Not allowed", "无权操作"),
    NotFound: (404, "not-found", "Not found", "未找到"),
    Conflict: (409, "conflict", "Conflict with the stored state", "与已保存的状态冲突"),
    ConfigError: (500, "config-error", "The service is misconfigured", "服务配置有误"),
    OnetrenchError: (400, "error", "Request failed", "请求失败"),
}

#: Safe text for server-side errors: the details go to the log, not to the client.
SAFE_500 = (
    "服务配置有误，请联系管理员（详情已记录在服务日志中）",
    "the service is misconfigured; contact the administrator (details are in the service log)",
)


def problem_type(slug: str) -> str:
    """The problem type URI of a slug."""
    return f"urn:onetrench:problem:{slug}"


def status_of(exc: OnetrenchError) -> tuple[int, str, str, str]:
    """Status, slug and titles of an error (most specific class in its MRO).

    Examples
    --------
    >>> status_of(UnreadableFile("坏文件", "bad file"))[0]
    400
    >>> status_of(InputError("缺字段", "missing field"))[0]
    422
    """
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return STATUS[OnetrenchError]


def problem_body(exc: OnetrenchError, *, instance: str | None = None) -> dict[str, Any]:
    """The problem-details body of an error."""
    status, slug, title, title_zh = status_of(exc)
    zh, en = SAFE_500 if status >= 500 else (exc.zh, exc.en)
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "title_zh": title_zh,
        "status": status,
        "detail": en,
        "detail_zh": zh,
    }
    if instance:
        body["instance"] = instance
    if exc.details and status < 500:
        body["errors"] = [p.to_dict() for p in exc.details]
    return body


def problem_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON response with the problem media type."""
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def onetrench_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Map a project error to its problem response (and audit refused access)."""
    assert isinstance(exc, OnetrenchError)
    body = problem_body(exc, instance=request.url.path)
    status = body["status"]
    if status >= 500:
        log.error("configuration error on %s %s: %s", request.method, request.url.path, exc)
    if status in (401, 403, 404):
        _audit_refusal(request, status, exc)
    headers = {"WWW-Authenticate": 'Bearer realm="onetrench"'} if status == 401 else None
    return problem_response(status, body, headers)


def _audit_refusal(request: Request, status: int, exc: OnetrenchError) -> None:
    """Record a refused access in the audit log (own transaction; never fails the response)."""
    factory = getattr(request.app.state, "sessionmaker", None)
    if factory is None:
        return
    from api.services import audit

    principal = getattr(request.state, "principal", None)
    try:
        with factory() as session:
            audit.record(
                session,
                principal,
                "access.refused",
                f"{request.method} {request.url.path}",
                outcome=str(status),
                detail={"reason": exc.en[:300]},
            )
            session.commit()
    except Exception:  # pragma: no cover - auditing must not hide the original answer
        log.exception("could not audit a refused access")


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Request validation (FastAPI/pydantic) → 422 problem with one entry per invalid field."""
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        errors.append(
            {
                "code": f"request.{err.get('type', 'invalid')}",
                "severity": "error",
                "field": where,
                "zh": f"请求字段 {where} 无效：{err.get('msg', '')}",
                "en": f"request field {where} is invalid: {err.get('msg', '')}",
            }
        )
    body = {
        "type": problem_type("request-validation"),
        "title": "Invalid request",
        "title_zh": "请求格式有误",
        "status": 422,
        "detail": f"{len(errors)} invalid request field(s)",
        "detail_zh": f"{len(errors)} 个请求字段无效",
        "instance": request.url.path,
        "errors": errors,
    }
    return problem_response(422, body)


#: Chinese text of the HTTP errors raised by the framework itself (unknown path, wrong method, …).
HTTP_ZH: dict[int, tuple[str, str]] = {
    400: ("请求格式有误", "请求无法解析：请求体不是有效的 JSON 或格式不正确"),
    404: ("未找到", "请求的路径不存在"),
    405: ("不支持此方法", "此路径不支持该 HTTP 方法"),
    413: ("上传内容过大", "请求体超过服务允许的大小"),
    415: ("不支持的内容类型", "请求的内容类型（Content-Type）不受支持"),
}


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette HTTP errors (unknown paths, 405, unparsable bodies, …) as bilingual problems."""
    assert isinstance(exc, StarletteHTTPException)
    from http import HTTPStatus

    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:  # pragma: no cover - non-standard status
        phrase = "Error"
    title_zh, detail_zh = HTTP_ZH.get(exc.status_code, ("请求失败", f"请求失败（HTTP {exc.status_code}）"))
    body = {
        "type": "about:blank",
        "title": phrase,
        "title_zh": title_zh,
        "status": exc.status_code,
        "detail": str(exc.detail),
        "detail_zh": detail_zh,
        "instance": request.url.path,
    }
    return problem_response(exc.status_code, body, dict(exc.headers) if exc.headers else None)


#: Seconds a client should wait before retrying while the database is unavailable.
RETRY_AFTER_S = 5


async def database_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    """The database cannot be reached (down, restarting, pool exhausted, locked) → 503 with Retry-After."""
    log.error("database unavailable on %s %s: %s", request.method, request.url.path, str(exc).splitlines()[0])
    body = {
        "type": problem_type("database-unavailable"),
        "title": "Database unavailable",
        "title_zh": "数据库暂时不可用",
        "status": 503,
        "detail": f"the database cannot be reached right now; retry in {RETRY_AFTER_S} seconds",
        "detail_zh": f"暂时无法连接数据库，请在 {RETRY_AFTER_S} 秒后重试",
        "instance": request.url.path,
    }
    return problem_response(503, body, {"Retry-After": str(RETRY_AFTER_S)})


async def stale_handler(request: Request, exc: Exception) -> JSONResponse:
    """A concurrent change beat this one to the row (optimistic locking) → 409."""
    err = Conflict(
        "数据已被他人同时修改：请重新读取后再操作", "the object was changed concurrently: read it again and retry"
    )
    return problem_response(409, problem_body(err, instance=request.url.path))


async def unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    """Anything else: a 500 with safe text; the traceback goes to the log."""
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    body = {
        "type": problem_type("internal"),
        "title": "Internal error",
        "title_zh": "服务内部错误",
        "status": 500,
        "detail": "an unexpected error occurred; it has been logged",
        "detail_zh": "服务发生意外错误，已记录在日志中",
        "instance": request.url.path,
    }
    return problem_response(500, body)


HANDLERS: dict[type[Exception], Any] = {
    OnetrenchError: onetrench_error_handler,
    OperationalError: database_unavailable_handler,
    # the bulk reads and writes that use psycopg directly (COPY, the nearby works) raise its own errors
    psycopg.OperationalError: database_unavailable_handler,
    SATimeoutError: database_unavailable_handler,
    DisconnectionError: database_unavailable_handler,
    RequestValidationError: validation_error_handler,
    StarletteHTTPException: http_error_handler,
    StaleDataError: stale_handler,
    Exception: unexpected_handler,
}
