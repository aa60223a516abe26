"""Who may change shared layers: holders of a configured API key (GONGFU_API_KEYS).

A planner's upload token (api/uploads.py) owns only that planner's private uploads; writing
anything everyone sees (saved axis scenarios, indicator tables) needs an API key.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from geo.errors import Unauthorized


def require_api_key(request: Request, what_zh: str, what_en: str) -> None:
    """Raise Unauthorized (401) unless the Bearer token is one of GONGFU_API_KEYS."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    keys = request.app.state.settings.api_key_set()
    if not token or not any(hmac.compare_digest(token, key) for key in keys):
        raise Unauthorized(
            f"{what_zh}需要 API 密钥（Authorization: Bearer …，见 GONGFU_API_KEYS）；试算无需。",
            f"{what_en} needs an API key (Authorization: Bearer …, see GONGFU_API_KEYS); "
            "a dry run does not.",
        )
