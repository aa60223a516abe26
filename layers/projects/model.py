"""What a project table is made of: types, columns (Chinese or English), statuses and their
thresholds, the store layers, and the status rule.

Status of a project in a snapshot (issue 14, from the seed documents' "红、黄、绿三色预警"; the
thresholds are this atlas's defaults, not sourced figures, and can be set per request):
lag = 计划进度 − 实际进度 (percentage points); **red** if lag ≥ 20 or the snapshot's as-of date is
past 计划竣工 while 实际进度 < 100; else **yellow** if lag ≥ 10; else **green**.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo.errors import InvalidParameter, OutOfRange

TYPES = ("产业平台", "公共服务", "基础设施", "生态环境", "其他")
TYPE_EN = {"产业平台": "industry_platform", "公共服务": "public_service",
           "基础设施": "infrastructure", "生态环境": "ecology", "其他": "other"}
TYPE_ALIASES = {**{t: t for t in TYPES}, **{en: zh for zh, en in TYPE_EN.items()},
                "industry": "产业平台", "public service": "公共服务", "ecological": "生态环境"}
STATUSES = ("red", "yellow", "green")
STATUS_ZH = {"red": "红", "yellow": "黄", "green": "绿"}
PLACEMENTS = ("declared", "domain", "outside", "unplaced")
PLACEMENT_ZH = {"declared": "所属轴线（表中给定）", "domain": "轴域内（按等级与距离）",
                "outside": "轴外", "unplaced": "未落位"}
OUTSIDE_LABEL = "轴外"
UNPLACED_LABEL = "未落位"
DEFAULT_RED_LAG = 20.0
DEFAULT_YELLOW_LAG = 10.0

PROJECTS_LAYER = "projects"  # latest row of every project
SNAPSHOTS_LAYER = "project_snapshots"  # every row of every import, with its snapshot date
AREAS_LAYER = "project_areas"  # the latest polygon of projects given as WKT
PLANS_LAYER = "axis_plan_texts"  # 一轴一方案 positioning text per axis (optional table)

# Column names a planner may use → our field. Matched after normalising: case, spaces and
# full-width brackets ignored, so "总投资（万元）" and "总投资(万元)" are one column.
COLUMN_ALIASES = {
    "project_id": ("project_id", "项目编号", "编号", "项目代码"),
    "name": ("name", "project_name", "项目名称", "名称"),
    "type": ("type", "project_type", "项目类型", "类型"),
    "declared_axis": ("axis", "axis_id", "所属轴线", "轴线编号"),
    "lon": ("lon", "lng", "x", "经度"),
    "lat": ("lat", "y", "纬度"),
    "crs": ("crs", "坐标系"),
    "wkt": ("wkt", "项目范围", "范围", "几何"),
    "code": ("code", "place_code", "区划代码", "位置代码", "代码"),
    "total_investment_wan": ("total_investment_wan", "total_investment", "总投资(万元)", "总投资"),
    "planned_start": ("planned_start", "计划开工", "计划开工时间", "计划开工日期"),
    "planned_finish": ("planned_finish", "计划竣工", "计划竣工时间", "计划竣工日期"),
    "planned_pct": ("planned_pct", "planned_progress", "计划进度(%)", "计划进度"),
    "actual_pct": ("actual_pct", "actual_progress", "实际进度(%)", "实际进度"),
    "invested_wan": ("invested_wan", "completed_investment", "累计完成投资(万元)",
                     "累计完成投资"),
    "owner": ("owner", "responsible_unit", "责任单位"),
    "as_of": ("as_of", "update_date", "更新日期", "填报日期"),
    "note": ("note", "备注"),
}
# The template's headers (Chinese), in order.
TEMPLATE_HEADERS = ["项目编号", "项目名称", "项目类型", "所属轴线", "经度", "纬度", "坐标系",
                    "项目范围", "位置代码", "总投资(万元)", "计划开工", "计划竣工", "计划进度(%)",
                    "实际进度(%)", "累计完成投资(万元)", "责任单位", "更新日期", "备注"]
PLAN_COLUMN_ALIASES = {
    "axis_id": ("axis_id", "轴线编号", "轴线"),
    "positioning": ("positioning", "定位", "整体定位"),
    "industry_layout": ("industry_layout", "产业布局"),
    "source": ("source", "来源"),
}


def normalise_header(text: str) -> str:
    return (str(text).strip().lower().replace("（", "(").replace("）", ")")
            .replace("％", "%").replace(" ", "").replace("\u3000", ""))


@dataclass(frozen=True)
class Thresholds:
    """Lag thresholds (percentage points): red at ≥ `red`, yellow at ≥ `yellow`."""

    red: float = DEFAULT_RED_LAG
    yellow: float = DEFAULT_YELLOW_LAG

    @classmethod
    def checked(cls, red: float | None = None, yellow: float | None = None) -> "Thresholds":
        red = DEFAULT_RED_LAG if red is None else float(red)
        yellow = DEFAULT_YELLOW_LAG if yellow is None else float(yellow)
        if not 0 < red <= 100:
            raise OutOfRange("red_lag", red, 0, 100, "pp")
        if not 0 < yellow <= 100:
            raise OutOfRange("yellow_lag", yellow, 0, 100, "pp")
        if yellow > red:
            raise InvalidParameter(
                f"黄色阈值 {yellow:g} 不能大于红色阈值 {red:g}。",
                f"The yellow threshold {yellow:g} cannot exceed the red one {red:g}.")
        return cls(red, yellow)

    def as_dict(self) -> dict[str, object]:
        return {"red_lag_pp": self.red, "yellow_lag_pp": self.yellow,
                "rule": f"lag = 计划进度 − 实际进度 (pp); red if lag ≥ {self.red:g} or the as-of "
                        f"date is past 计划竣工 while 实际进度 < 100; else yellow if lag ≥ "
                        f"{self.yellow:g}; else green",
                "source": "thresholds are the atlas's configurable defaults (issue 14), "
                          "not sourced figures"}


def statuses(planned: np.ndarray, actual: np.ndarray, finish: np.ndarray, as_of: np.ndarray,
             thresholds: Thresholds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lag pp, overdue, status) for arrays of planned %, actual %, finish and as-of dates
    (ISO text; "" for no finish date)."""
    planned = np.asarray(planned, dtype=float)
    actual = np.asarray(actual, dtype=float)
    lag = np.round(planned - actual, 6)
    finish = np.asarray(finish, dtype=object).astype(str)
    as_of = np.asarray(as_of, dtype=object).astype(str)
    overdue = (finish != "") & (as_of > finish) & (actual < 100)
    status = np.where((lag >= thresholds.red) | overdue, "red",
                      np.where(lag >= thresholds.yellow, "yellow", "green"))
    return lag, overdue, status
