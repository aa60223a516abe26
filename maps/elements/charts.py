"""ECharts on our pages: option builders (radar, trend line, bar) and `ChartPanel`, a side
panel of HTML (tables, charts) placed beside a folium map. ECharts and static/js/charts.js
come from our /static (npm copy), never a CDN; each chart is a <div data-echarts='{…}'> whose
option JSON the page script draws."""

from __future__ import annotations

import json
import math

from branca.element import Element, MacroElement
from folium.template import Template

from maps.elements.assets import MAP_CSS, StaticAssets, static_url_of
from maps.elements.fragment import TEMPLATES

ECHARTS_JS = ("echarts", "vendor/echarts/echarts.min.js")
CHARTS_JS = ("atlas_charts", "js/charts.js")
FONT = "Noto Sans CJK SC, Microsoft YaHei, WenQuanYi Micro Hei, sans-serif"


def _clean(value):
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def option_json(option: dict) -> str:
    """An option as JSON for a data attribute (NaN → null; Jinja escapes the quotes)."""
    return json.dumps(option, ensure_ascii=False, default=_clean, allow_nan=False)


def radar(title: str, axes: list[tuple[str, float]], series: list[tuple[str, list[float]]]
          ) -> dict:
    """A radar chart: `axes` (name, max), `series` (name, values)."""
    return {
        "animation": False, "textStyle": {"fontFamily": FONT},
        "title": {"text": title, "left": "center", "textStyle": {"fontSize": 13}},
        "legend": {"bottom": 0, "data": [name for name, _ in series]},
        "tooltip": {},
        "radar": {"indicator": [{"name": n, "max": m} for n, m in axes], "radius": "58%",
                  "center": ["50%", "52%"]},
        "series": [{"type": "radar", "data": [
            {"name": name, "value": [_clean(round(v, 2)) if v is not None else None
                                     for v in values]} for name, values in series]}],
    }


def trend(title: str, years: list[int], series: list[tuple[str, list[float | None]]],
          unit: str = "") -> dict:
    """A line chart over years (one line per series)."""
    return {
        "animation": False, "textStyle": {"fontFamily": FONT},
        "title": {"text": title, "left": "center", "textStyle": {"fontSize": 12}},
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 56, "right": 16, "top": 34, "bottom": 28},
        "xAxis": {"type": "category", "data": [str(y) for y in years]},
        "yAxis": {"type": "value", "name": unit, "scale": True},
        "legend": {"show": len(series) > 1, "bottom": 0},
        "series": [{"type": "line", "name": name, "symbolSize": 8,
                    "data": [_clean(v) for v in values]} for name, values in series],
    }


class ChartPanel(StaticAssets, MacroElement):
    """HTML (our own template output, already escaped) in a panel beside the map, with
    ECharts and charts.js linked from /static; the page script draws every chart."""

    static_js = [ECHARTS_JS, CHARTS_JS]
    static_css = [MAP_CSS]
    _template = Template("""
        {% macro script(this, kwargs) %}
        AtlasCharts.drawAll(document.getElementById({{ this.panel_id|tojson }}));
        {% endmacro %}
    """)

    def __init__(self, html: str, width: str = "40%") -> None:
        super().__init__()
        self._name = "ChartPanel"
        self.html = html
        self.width = width
        self.static_base = ""

    @property
    def panel_id(self) -> str:
        return f"panel_{self.get_name()}"

    def render(self, **kwargs) -> None:
        self.static_base = static_url_of(self)
        html = TEMPLATES.get_template("chart_panel.html").render(this=self)
        self.get_root().html.add_child(Element(html), name=self.panel_id)
        super().render(**kwargs)
