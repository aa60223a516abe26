"""The import template: Chinese headers and one example row marked 虚构示例 (fictional)."""

from __future__ import annotations

import io

import pandas as pd

from layers.projects.model import TEMPLATE_HEADERS

EXAMPLE = ["XM-0001", "虚构示例·某产业园（示例行，导入前请删除）", "产业平台", "", "120.2378",
           "30.8700", "CRS84", "", "", "10000", "2024-01-01", "2026-12-31", "20", "15", "1500",
           "虚构示例·某镇人民政府", "2024-03-31",
           "虚构示例：示例行非真实项目；位置可填经纬度（坐标系可为 CRS84/EPSG:4490/EPSG:4549/"
           "GCJ-02）、项目范围（WKT 面）或 6/9/12 位位置代码（以驻地代位）"]


def template_frame() -> pd.DataFrame:
    return pd.DataFrame([EXAMPLE], columns=TEMPLATE_HEADERS)


def template_csv() -> bytes:
    """UTF-8 with a BOM, so Excel on Chinese Windows opens it with the right characters."""
    return template_frame().to_csv(index=False).encode("utf-8-sig")


def template_xlsx() -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        template_frame().to_excel(writer, index=False, sheet_name="项目台账")
        sheet = writer.sheets["项目台账"]
        for i, header in enumerate(TEMPLATE_HEADERS):
            sheet.column_dimensions[chr(ord("A") + i)].width = max(12, len(header) * 2 + 2)
    return buffer.getvalue()
