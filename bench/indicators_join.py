"""Bench: join a ~2,900-row indicator table to China's counties and classify it.

Target (issue 3): under 2 s on this machine for read + join + classify, with the China store
from `gongfu build --region all --store data/build/china.gpkg`.

The table is made of real figures: each county's own area (km², computed from its polygon)
keyed by its **Chinese name with the city as parent column** (the slow, realistic path:
names, not codes), written as a GBK CSV with a yearbook title row. Peer: a bare
`pandas.merge` on the code column + `mapclassify.Quantiles` (no normalisation, no report),
which is the floor any join can reach.

    .venv/bin/python bench/indicators_join.py [data/build/china.gpkg]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import mapclassify
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from layers import indicators  # noqa: E402
from layers.choropleth import ChoroplethSpec, choropleth  # noqa: E402
from layers.indicator_upload import UploadOptions, join_table, read_table  # noqa: E402
from layers.place_names import PlaceRegistry  # noqa: E402
from layers.store import GeoPackageStore  # noqa: E402


def best_of(n: int, fn):
    times, result = [], None
    for _ in range(n):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main(path: str = "data/build/china.gpkg") -> None:
    store = GeoPackageStore(path)
    counties = store.frame("counties")
    print(f"store {path}: {len(counties)} counties")
    table = pd.DataFrame({"区县": counties["name"], "所属市": counties["city_name"].fillna(""),
                          "面积（平方公里）": counties["area_km2"]})
    text = "2026年全国区县面积（由边界多边形计算）\n" + table.to_csv(index=False)
    data = text.encode("gbk", errors="replace")
    print(f"table: {len(table)} rows, {len(data) / 1024:.0f} KiB GBK CSV")

    start = time.perf_counter()
    registry = PlaceRegistry.from_store(store)
    print(f"registry (cold, cached afterwards): {len(registry)} units in "
          f"{time.perf_counter() - start:.2f} s")

    def ours():
        raw = read_table(data, "areas.csv")
        result = join_table(raw, PlaceRegistry.from_store(store),
                            UploadOptions(indicator="bench_area"), "areas.csv")
        merged = indicators.IndicatorTable.empty().merged(result.table)
        values = merged.values(merged.catalog.index[0]).reindex(counties.index)["value"]
        from layers.classification import classify
        classes = classify(values, "natural_breaks", 7)
        return result.report["summary"], classes

    def peer():
        frame = pd.read_csv(pd.io.common.BytesIO(data), encoding="gbk", skiprows=1)
        frame["code"] = counties.index.to_numpy()  # the peer is handed codes: no name matching
        joined = counties[["code"]].merge(frame, on="code", how="left")
        return mapclassify.Quantiles(joined["面积（平方公里）"].to_numpy(), k=7)

    t_ours, (summary, classes) = best_of(5, ours)
    t_peer, _ = best_of(5, peer)
    print(f"ours  read+join(names)+report+classify(Fisher–Jenks k=7): {t_ours:.3f} s  "
          f"{summary}")
    print(f"peer  pandas.merge(code)+Quantiles:                      {t_peer:.3f} s")
    print(f"ratio ours/peer: {t_ours / t_peer:.1f}×   target < 2 s: "
          f"{'OK' if t_ours < 2 else 'MISSED'}")
    print(f"classes: {classes.k}, no data: {int((classes.classes < 0).sum())}")

    bare = table.drop(columns="所属市").to_csv(index=False).encode("gbk", errors="replace")
    t_bare, bare_result = best_of(1, lambda: join_table(
        read_table(bare, "bare.csv"), PlaceRegistry.from_store(store), UploadOptions(), "bare"))
    print(f"same table without the parent column: {t_bare:.3f} s, "
          f"{bare_result.report['summary']} (shared county names are reported, not guessed)")

    # the whole choropleth path the API takes, on a stored table (cold, then cached)
    spec = ChoroplethSpec("area_km2", scheme="quantiles", k=7)
    t_cold, result = best_of(1, lambda: choropleth(store, "counties", spec))
    t_warm, _ = best_of(3, lambda: choropleth(store, "counties", spec))
    print(f"choropleth(counties, area_km2): cold {t_cold:.3f} s (builds the default table), "
          f"cached {t_warm * 1000:.2f} ms; classes {result.classification.k}")


if __name__ == "__main__":
    main(*sys.argv[1:])
