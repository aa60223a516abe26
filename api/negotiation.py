"""Choose HTML or JSON from `f=` first, then the Accept header."""

from __future__ import annotations

from fastapi import Request

from geo.errors import UnknownChoice

FORMATS = ("json", "html")


def wants_html(request: Request) -> bool:
    f = request.query_params.get("f")
    if f is not None:
        if f not in FORMATS:
            raise UnknownChoice("f", f, FORMATS)
        return f == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept.split(",")[0]
