"""Monitoring across snapshots: statuses, counts, the warning list and monthly curves.

- `with_status`: lag (pp), overdue and red/yellow/green for every row under given thresholds.
- `as_of_rows`: each project's latest row on or before a date (default: its latest).
- `counts`: per axis (axis_label: an axis id, 轴外 or 未落位), county and type: red/yellow/green.
- `warning_list`: red first, then yellow; within a colour the largest lag first (then name).
- `curves`: for each month with a snapshot, each project's latest row up to the month's end
  (carried forward), and per axis / county the total-investment-weighted mean of planned and
  actual progress (%) and the sum of 累计完成投资 (万元).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.projects.model import STATUSES, STATUS_ZH, Thresholds, statuses


def with_status(rows: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    rows = rows.copy()
    finish = rows["planned_finish"].fillna("").astype(str).to_numpy()
    lag, overdue, status = statuses(rows["planned_pct"].to_numpy(), rows["actual_pct"].to_numpy(),
                                    finish, rows["snapshot_date"].astype(str).to_numpy(),
                                    thresholds)
    rows["lag_pct"] = lag
    rows["overdue"] = overdue
    rows["status"] = status
    rows["status_zh"] = [STATUS_ZH[s] for s in status]
    return rows


def as_of_rows(snapshots: pd.DataFrame, as_of: str | None = None) -> pd.DataFrame:
    """Each project's latest row dated on or before `as_of` (ISO; None: the latest)."""
    rows = snapshots if as_of is None else snapshots[snapshots["snapshot_date"] <= as_of]
    rows = rows.sort_values(["project_id", "snapshot_date"])
    return rows.drop_duplicates("project_id", keep="last")


def counts(rows: pd.DataFrame) -> dict[str, object]:
    """Red/yellow/green counts (and totals) in all, per axis, per county and per type."""
    def table(by: str) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for key, part in rows.groupby(by, sort=True):
            n = part["status"].value_counts()
            out[str(key)] = {s: int(n.get(s, 0)) for s in STATUSES} | {"total": len(part)}
        return out

    n = rows["status"].value_counts()
    return {"total": {s: int(n.get(s, 0)) for s in STATUSES} | {"total": len(rows)},
            "by_axis": table("axis_label"),
            "by_county": table(rows["county_name"].where(rows["county_name"] != "", "未知区县")
                               .rename("county")),
            "by_type": table("type")}


WARNING_FIELDS = ["project_id", "name", "type", "axis_label", "county_name", "status",
                  "status_zh", "lag_pct", "overdue", "planned_pct", "actual_pct",
                  "planned_finish", "snapshot_date", "owner"]


def warning_list(rows: pd.DataFrame) -> list[dict]:
    """Red, then yellow; largest lag first, then by name."""
    hit = rows[rows["status"] != "green"].assign(
        _order=lambda f: f["status"].map({"red": 0, "yellow": 1}))
    hit = hit.sort_values(["_order", "lag_pct", "name"], ascending=[True, False, True])
    return [_plain(r) for r in hit[WARNING_FIELDS].to_dict("records")]


def _plain(record: dict) -> dict:
    out = {}
    for k, v in record.items():
        if isinstance(v, (np.floating, float)):
            out[k] = None if np.isnan(v) else float(v)
        elif isinstance(v, np.integer):
            out[k] = int(v)
        elif isinstance(v, np.bool_):
            out[k] = bool(v)
        else:
            out[k] = v
    return out


def _months(snapshots: pd.DataFrame) -> list[str]:
    return sorted({d[:7] for d in snapshots["snapshot_date"].astype(str)})


def _month_end_rows(snapshots: pd.DataFrame, month: str) -> pd.DataFrame:
    """Each project's latest row dated within or before `month` (carried forward)."""
    return as_of_rows(snapshots, f"{month}-31")


def project_curve(snapshots: pd.DataFrame, project_id: str) -> list[dict]:
    """A project's monthly series: its latest row in each month it was reported."""
    rows = snapshots[snapshots["project_id"] == project_id].sort_values("snapshot_date")
    rows = rows.assign(month=rows["snapshot_date"].str[:7]).drop_duplicates("month", keep="last")
    return [{"month": r.month, "snapshot_date": r.snapshot_date,
             "planned_pct": float(r.planned_pct), "actual_pct": float(r.actual_pct),
             "invested_wan": None if pd.isna(r.invested_wan) else float(r.invested_wan)}
            for r in rows.itertuples()]


def group_curves(snapshots: pd.DataFrame, by: str) -> dict[str, list[dict]]:
    """Per value of `by` (axis_label or county_name): monthly weighted progress and the sum
    of completed investment, each project carried forward from its latest earlier row."""
    out: dict[str, list[dict]] = {}
    for month in _months(snapshots):
        rows = _month_end_rows(snapshots, month)
        for key, part in rows.groupby(by, sort=True):
            out.setdefault(str(key), []).append(_aggregate(month, part))
    return out


def _aggregate(month: str, part: pd.DataFrame) -> dict:
    weights = part["total_investment_wan"].fillna(0).to_numpy(dtype=float)
    if weights.sum() <= 0:
        weights = np.ones(len(part))
    return {"month": month, "projects": len(part),
            "planned_pct": round(float(np.average(part["planned_pct"], weights=weights)), 3),
            "actual_pct": round(float(np.average(part["actual_pct"], weights=weights)), 3),
            "invested_wan": round(float(part["invested_wan"].fillna(0).sum()), 3),
            "total_investment_wan": round(float(part["total_investment_wan"].fillna(0).sum()), 3)}


CURVE_RULE = ("monthly: each project's latest snapshot up to the month's end (carried forward); "
              "axis/county progress = mean weighted by 总投资; investment = Σ 累计完成投资 (万元)")
