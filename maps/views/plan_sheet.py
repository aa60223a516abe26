"""一轴一方案 plan sheet as a printable HTML page (A4, no map tiles): the axis, its nodes and
their tiers/categories, positioning and industry layout, domain statistics, its projects with
red/yellow/green status and investment, and the axis's monthly curve. Rendered from
maps/templates/plan_sheet.html (autoescaped); the curve is drawn by static/js/plan_sheet.js
with ECharts from /static/vendor. Generated content is labelled 演示/算法生成."""

from __future__ import annotations

from markupsafe import Markup

from maps.elements.fragment import TEMPLATES


def _num(value, digits: int = 1) -> str:
    """A figure with thousands separators, "—" when missing."""
    if value is None or value == "":
        return "—"
    return f"{value:,.{digits}f}"


def _text(value) -> object:
    return value if value else Markup('<span class="none">未提供 not given</span>')


def plan_sheet_page(body: dict, root: str = "") -> str:
    """The page for one axis's plan body (`layers/projects` plan JSON)."""
    domain = body["domain"]
    return TEMPLATES.get_template("plan_sheet.html").render(
        title=f"一轴一方案 · {body['axis']['name']}", root=root, axis=body["axis"],
        scenario=body["scenario"], labels=body["labels"], pos=body["positioning"],
        nodes=body["nodes"], domain=domain, counts=body["status_counts"],
        investment=body["investment_wan"], projects=body["projects"],
        thresholds=body["thresholds"], curve_rule=body["curve_rule"], curve=body["curve"],
        towns="、".join(t["name"] for t in domain.get("townships_inside", [])) or "—",
        num=_num, text=_text)
