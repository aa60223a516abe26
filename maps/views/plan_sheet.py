"""一轴一方案 plan sheet as a printable HTML page (A4, no map tiles): the axis, its nodes and
their tiers/categories, positioning and industry layout, domain statistics, its projects with
red/yellow/green status and investment, and the axis's monthly curve (ECharts served from
/static/vendor, never a CDN). Every value is escaped; generated content is labelled
演示/算法生成."""

from __future__ import annotations

import json

from markupsafe import Markup

STATUS_COLOUR = {"red": "#d7191c", "yellow": "#f0a500", "green": "#1a9641"}
POSITION_ZH = {"planner": "坐标", "planner_area": "项目范围面", "county_seat_standin":
               "以区县驻地代位", "township_seat_standin": "以乡镇驻地代位", "unplaced": "未落位"}


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _rows(items: list[list]) -> Markup:
    return Markup("").join(Markup("<tr>") + Markup("").join(
        Markup("<td>{}</td>").format(c) for c in row) + Markup("</tr>\n") for row in items)


def plan_sheet_page(body: dict, root: str = "") -> str:
    axis, domain, pos = body["axis"], body["domain"], body["positioning"]
    counts = body["status_counts"]
    title = f"一轴一方案 · {axis['name']}"
    nodes = _rows([[n["name"], n["tier_zh"] or "—", n["category"] or "—",
                    n["position_source"] or "未落位 unplaced"] for n in body["nodes"]])
    projects = _rows([[
        Markup('<span class="dot status-{s}" style="background:{c}"></span>{z}').format(
            s=p["status"], c=STATUS_COLOUR.get(p["status"], "#999"), z=p["status_zh"]),
        p["name"], p["type"], _num(p["planned_pct"], 0) + " / " + _num(p["actual_pct"], 0),
        _num(p["lag_pct"], 0) + (" · 逾期" if p["overdue"] else ""),
        _num(p["total_investment_wan"], 0), _num(p["invested_wan"], 0),
        p["planned_finish"] or "—", p["owner"] or "—", p["snapshot_date"]]
        for p in body["projects"]])
    towns = "、".join(t["name"] for t in domain.get("townships_inside", [])) or "—"
    labels = body["labels"]
    curve = json.dumps(body["curve"], ensure_ascii=False)
    text = lambda v: v if v else Markup('<span class="none">未提供 not given</span>')  # noqa: E731
    page = Markup("""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:18px auto;max-width:1000px;
color:#222;font-size:13px}}
h1{{font-size:20px;margin:0 0 4px}} h2{{font-size:15px;border-bottom:2px solid #7b3294;
padding-bottom:2px;margin:18px 0 6px}}
table{{border-collapse:collapse;width:100%}} td,th{{border:1px solid #ccc;padding:3px 6px;
text-align:left;vertical-align:top}} th{{background:#f3eef7}}
.label{{display:inline-block;background:#fff3cd;border:1px solid #e0c36a;padding:1px 6px;
border-radius:3px}} .none{{color:#999}}
.dot{{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:4px}}
.counts span{{margin-right:14px}} #curve{{width:100%;height:260px}}
.meta{{color:#555}} @media print{{body{{margin:0;max-width:none}} .noprint{{display:none}}
h2{{break-after:avoid}} tr{{break-inside:avoid}}}}
</style></head><body class="plan-sheet">
<h1>{title}</h1>
<div class="meta">{axis_id} · {rank_zh} · {type_zh} · {county} · {length} km (EPSG:4549) ·
方案 scenario: {scenario} <span class="label">{label_zh} / {label_en}</span>
<a class="noprint" href="javascript:window.print()">打印 Print</a>
<a class="noprint" href="?f=json">JSON</a></div>
<h2>定位与产业布局 Positioning and industry layout</h2>
<table><tr><th style="width:18%">整体定位</th><td class="positioning">{positioning}</td></tr>
<tr><th>产业布局</th><td>{layout}</td></tr><tr><th>来源 Source</th><td>{pos_source}</td></tr></table>
<h2>节点 Nodes（{n_nodes}）</h2>
<table><tr><th>节点</th><th>层级 Tier</th><th>类别 Category</th><th>位置来源</th></tr>
{nodes}</table>
<h2>轴域统计 Domain statistics</h2>
<table><tr><th style="width:18%">轴域面积</th><td>{area} km²（每侧 {buffer} km；占区县 {share} %，区县 {carea} km²）</td></tr>
<tr><th>乡镇（驻地在轴域内）</th><td>{towns}</td></tr>
<tr><th>村（按乡镇驻地计）</th><td>{villages}</td></tr>
<tr><th>方法 Method</th><td>{method}</td></tr></table>
<h2>项目 Projects（{n_projects}）</h2>
<div class="counts"><span style="color:{red}">● 红 red {c_red}</span><span style="color:{yellow}">● 黄 yellow {c_yellow}</span>
<span style="color:{green}">● 绿 green {c_green}</span>
<span>总投资 {total} 万元 · 累计完成 {invested} 万元</span></div>
<table class="projects"><tr><th>预警</th><th>项目</th><th>类型</th><th>计划/实际 %</th><th>滞后 pp</th>
<th>总投资 万元</th><th>完成 万元</th><th>计划竣工</th><th>责任单位</th><th>更新日期</th></tr>
{projects}</table>
<p class="meta">预警规则 Rule: {rule}（{rule_source}）</p>
<h2>月度曲线 Monthly curve</h2>
<div id="curve"></div><p class="meta">{curve_rule}</p>
<script src="{root}/static/vendor/echarts/echarts.min.js"></script>
<script>
(function () {{
  var data = {curve};
  var el = document.getElementById("curve");
  if (!data.length || !window.echarts) {{ el.textContent = "暂无快照 No snapshots yet"; return; }}
  var chart = echarts.init(el, null, {{renderer: "svg"}});
  chart.setOption({{animation: false, tooltip: {{trigger: "axis"}},
    legend: {{data: ["计划进度 %", "实际进度 %", "累计完成投资 万元"]}},
    xAxis: {{type: "category", data: data.map(function (d) {{ return d.month; }})}},
    yAxis: [{{type: "value", max: 100, name: "%"}}, {{type: "value", name: "万元"}}],
    series: [
      {{name: "计划进度 %", type: "line", data: data.map(function (d) {{ return d.planned_pct; }})}},
      {{name: "实际进度 %", type: "line", data: data.map(function (d) {{ return d.actual_pct; }})}},
      {{name: "累计完成投资 万元", type: "bar", yAxisIndex: 1, data: data.map(function (d) {{ return d.invested_wan; }})}}]}});
}})();
</script>
</body></html>""").format(
        title=title, axis_id=axis["axis_id"], rank_zh=axis["rank_zh"], type_zh=axis["type_zh"],
        county=axis["county_name"], length=_num(axis["length_km"]), scenario=body["scenario"],
        label_zh=labels["zh"], label_en=labels["en"], positioning=text(pos["positioning"]),
        layout=text(pos["industry_layout"]), pos_source=pos.get("source") or pos.get("note"),
        n_nodes=len(body["nodes"]), nodes=nodes, area=_num(domain.get("area_km2"), 2),
        buffer=_num(domain.get("buffer_km")), share=_num(domain.get("area_share_pct"), 2),
        carea=_num(domain.get("county_area_km2"), 1), towns=towns,
        villages=domain.get("villages_inside_by_township_seat", "—"),
        method=domain.get("method", ""), n_projects=counts["total"],
        red=STATUS_COLOUR["red"], yellow=STATUS_COLOUR["yellow"], green=STATUS_COLOUR["green"],
        c_red=counts["red"], c_yellow=counts["yellow"], c_green=counts["green"],
        total=_num(body["investment_wan"]["total"], 0),
        invested=_num(body["investment_wan"]["invested"], 0), projects=projects,
        rule=body["thresholds"]["rule"], rule_source=body["thresholds"]["source"],
        curve_rule=body["curve_rule"], root=root,
        curve=Markup(curve.replace("</", "<\\/")))
    return str(page)
