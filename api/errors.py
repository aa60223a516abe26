"""One JSON shape for every error, with a Chinese and an English message.

Atlas errors carry their own HTTP status and messages (geo/errors.py); framework errors
(validation, unknown routes, methods) are put in the same shape here.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from geo.errors import AtlasError

log = logging.getLogger(__name__)

def error_body(status: int, code: str, zh: str, en: str, **detail: object) -> dict:
    return {"status": status, "code": code, "message": {"zh": zh, "en": en}, "detail": detail}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AtlasError)
    async def atlas_error(_: Request, error: AtlasError) -> JSONResponse:
        status = error.status  # each error type carries its own (geo/errors.py)
        body = error_body(status, error.code, error.message_zh, error.message_en, **error.detail)
        return JSONResponse(body, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        where = "; ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"]
                          for e in error.errors())
        body = error_body(400, "invalid_parameter", f"请求参数无效：{where}",
                          f"Invalid request parameter: {where}")
        return JSONResponse(body, status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        if error.status_code == 404:
            body = error_body(404, "not_found", "找不到该地址。", "No such address.")
        elif error.status_code == 405:
            body = error_body(405, "method_not_allowed", "不支持该请求方法。",
                              "This method is not allowed here.")
        else:
            body = error_body(error.status_code, "http_error", str(error.detail), str(error.detail))
        return JSONResponse(body, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=error)
        body = error_body(500, "internal_error", "服务器内部错误，已记录。",
                          "Internal server error; it has been logged.")
        return JSONResponse(body, status_code=500)
