"""HTML views of the OGC API documents (Jinja2 templates in api/templates)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.deps import settings_of

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def render_page(template: str, request: Request, **context: Any) -> str:
    return _ENV.get_template(template).render(
        request=request, title=settings_of(request).title, **context
    )
