"""Folium map views (placeholder until the map issue lands)."""

from fastapi import APIRouter, Request

router = APIRouter()


def home_map(request: Request) -> str:
    return "<html><body>map</body></html>"
