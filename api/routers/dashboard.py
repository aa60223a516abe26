"""The 驾驶舱 (dashboard) pages: /dashboard/{code}."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["dashboard"])
