"""The values an index is computed on: the store's indicator table, one row per (place,
year), one column per indicator of the system (NaN where a figure is missing)."""

from __future__ import annotations

import pandas as pd

from layers.indicators import IndicatorTable


def wide_values(table: IndicatorTable, ids: list[str], codes: list[str],
                years: list[int] | None = None) -> pd.DataFrame:
    """Rows for every (code, year) with a figure for at least one of `ids` (years limited to
    `years` if given); each indicator id a column. Known indicators only (else the catalogue
    raises UnknownIndicator)."""
    for ind in ids:
        table.indicator(ind)
    facts = table.facts[table.facts["indicator"].isin(ids) & table.facts["code"].isin(codes)
                        & table.facts["value"].notna() & table.facts["year"].notna()]
    if years:
        facts = facts[facts["year"].isin(years)]
    facts = facts.drop_duplicates(["code", "year", "indicator"], keep="last")
    wide = facts.pivot(index=["code", "year"], columns="indicator", values="value")
    wide = wide.reindex(columns=ids).reset_index()
    wide.columns.name = None
    wide["year"] = wide["year"].astype(int)
    return wide
