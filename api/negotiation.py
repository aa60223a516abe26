"""Choose HTML or JSON from `f=` first, then the Accept header."""

from __future__ import annotations

from fastapi import Request

from geo.errors import InvalidParameter

FORMATS = ("json", "html")


def wants_html(request: Request) -> bool:
    f = request.query_params.get("f")
    if f is not None:
        if f not in FORMATS:
            raise InvalidParameter(
                f"参数 f 只能是 json 或 html，而不是“{f}”。",
                f"Parameter f must be 'json' or 'html', not '{f}'.",
                parameter="f",
            )
        return f == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept.split(",")[0]
