"""One JSON shape for every error, with a Chinese and an English message and a request id.

Atlas errors carry their own HTTP status and messages (geo/errors.py); framework errors
(validation, unknown routes, methods) are put in the same shape here. Library text and server
paths never reach the answer: they go to the server log under the request id, which the answer
repeats (and the `X-Request-ID` header carries) so a planner's report can be matched to it.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from geo.errors import AtlasError

log = logging.getLogger("gongfu.errors")

# Pydantic's validation types in planners' words (its own English text is not shown).
_VALIDATION = {
    "missing": ("缺少必填参数 {where}。", "Missing required parameter {where}."),
    "int_parsing": ("参数 {where} 须为整数。", "Parameter {where} must be an integer."),
    "float_parsing": ("参数 {where} 须为数字。", "Parameter {where} must be a number."),
    "bool_parsing": ("参数 {where} 须为 true 或 false。",
                     "Parameter {where} must be true or false."),
    "greater_than_equal": ("参数 {where} 不能小于 {limit}。",
                           "Parameter {where} must be at least {limit}."),
    "greater_than": ("参数 {where} 须大于 {limit}。", "Parameter {where} must exceed {limit}."),
    "less_than_equal": ("参数 {where} 不能大于 {limit}。",
                        "Parameter {where} must be at most {limit}."),
    "less_than": ("参数 {where} 须小于 {limit}。", "Parameter {where} must be below {limit}."),
    "json_invalid": ("请求体不是有效的 JSON。", "The request body is not valid JSON."),
}
_OTHER = ("参数 {where} 无效。", "Parameter {where} is invalid.")


class RequestIds:
    """ASGI middleware: a short id per request, in `scope["state"]` and the response's
    `X-Request-ID` header."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(6)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        await self.app(scope, receive, send_with_id)


def request_id_of(request: Request) -> str:
    return getattr(request.state, "request_id", "") or "-"


def error_body(status: int, code: str, zh: str, en: str, request_id: str = "-",
               **detail: object) -> dict:
    return {"status": status, "code": code, "message": {"zh": zh, "en": en},
            "detail": detail, "request_id": request_id}


def _validation_message(error: dict) -> tuple[str, str]:
    where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "body", "path"))
    limit = next(iter((error.get("ctx") or {}).values()), "")
    zh, en = _VALIDATION.get(error.get("type", ""), _OTHER)
    return zh.format(where=where, limit=limit), en.format(where=where, limit=limit)


def install_error_handlers(app: FastAPI) -> None:
    app.add_middleware(RequestIds)

    @app.exception_handler(AtlasError)
    async def atlas_error(request: Request, error: AtlasError) -> JSONResponse:
        request_id = request_id_of(request)
        if error.__cause__ is not None:  # the library's own words, for the operator only
            log.info("request %s: %s (%s: %s)", request_id, error.code,
                     type(error.__cause__).__name__, error.__cause__)
        body = error_body(error.status, error.code, error.message_zh, error.message_en,
                          request_id, **error.detail)
        return JSONResponse(body, status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        messages = [_validation_message(e) for e in error.errors()]
        body = error_body(400, "invalid_parameter", "；".join(zh for zh, _ in messages),
                          "; ".join(en for _, en in messages), request_id_of(request))
        return JSONResponse(body, status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        if error.status_code == 404:
            body = error_body(404, "not_found", "找不到该地址。", "No such address.",
                              request_id_of(request))
        elif error.status_code == 405:
            body = error_body(405, "method_not_allowed", "不支持该请求方法。",
                              "This method is not allowed here.", request_id_of(request))
        else:
            body = error_body(error.status_code, "http_error", str(error.detail),
                              str(error.detail), request_id_of(request))
        return JSONResponse(body, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        request_id = request_id_of(request)
        log.exception("request %s: unexpected error", request_id, exc_info=error)
        body = error_body(500, "internal_error",
                          f"服务器内部错误，已记录（请求编号 {request_id}）。",
                          f"Internal server error; it has been logged (request {request_id}).",
                          request_id)
        return JSONResponse(body, status_code=500)
