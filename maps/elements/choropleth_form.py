"""The choropleth selector: indicator, year and classification, as a plain GET form that
reloads /maps/choropleth (works without our JS; each choice submits)."""

from __future__ import annotations

from dataclasses import dataclass

from maps.elements.fragment import Fragment


@dataclass
class ChoroplethForm(Fragment):
    """`action` is the page URL; `indicators` and `schemes` are (value, title) pairs; the
    chosen `indicator`, `year` ("" for the latest), `scheme` and `k` are selected."""

    action: str
    layer_id: str
    indicators: list[tuple[str, str]]
    indicator: str
    years: list[int | str]
    year: int | str | None
    schemes: list[tuple[str, str]]
    scheme: str
    ks: list[int]
    k: int
    template = "choropleth_form.html"
