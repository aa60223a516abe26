"""County statistics of an axis plan against the provincial benchmarks (《今日浙江》2025):
axis counts and lengths (km), domain area (km², EPSG:4549) and its share of county land (%) vs
46.4%, townships and villages inside the domains, and the share of each county within 5/10/20
km of a central town (from the accessibility raster).
"""

from __future__ import annotations

import shapely

from geo import measure
from geo.measure import HUZHOU_ZONE_EPSG
from layers.axes.accessibility import Accessibility, accessibility
from layers.axes.model import (ACCESS_THRESHOLDS_KM, PROVINCIAL_AREA_SHARE_PCT,
                               PROVINCIAL_POPULATION_SHARE_PCT, RANKS, AxisPlan)
from layers.settlement_nodes import Gazetteer


def county_stats(plan: AxisPlan, gazetteer: Gazetteer, access: Accessibility | None = None
                 ) -> list[dict]:
    """Per county: axis lengths, domain area share, townships/villages inside the domains,
    against the provincial benchmarks; shares within 5/10/20 km of a central town."""
    counties = gazetteer.counties
    access = access or accessibility(plan.nodes, counties)
    within = {km: access.share_within("central_town", km) for km in ACCESS_THRESHOLDS_KM}
    towns = gazetteer.townships
    villages = gazetteer.villages
    rows = []
    for code, county in counties.iterrows():
        axes = [a for a in plan.axes if a.county_code == code]
        domains = [d.geometry for d in plan.domains if d.county_code == code]
        union = shapely.union_all(domains) if domains else shapely.MultiPolygon()
        county_area = float(measure.area_km2([county.geometry], HUZHOU_ZONE_EPSG)[0])
        domain_area = float(measure.area_km2([union], HUZHOU_ZONE_EPSG)[0]) if domains else 0.0
        here = towns[towns["county_code"] == code]
        seated = here[[g is not None and not getattr(g, "is_empty", True)
                       for g in here["geometry"]]]
        inside = set(seated.index[[union.covers(g) for g in seated["geometry"]]]) \
            if domains else set()
        vill = villages[villages["county_code"] == code]
        vill_seated = vill[vill["township_code"].isin(seated.index)]
        vill_inside = vill_seated[vill_seated["township_code"].isin(inside)]
        area_share = round(domain_area / county_area * 100, 2) if county_area else None
        rows.append({
            "county_code": code, "county_name": county["name"],
            "county_area_km2": round(county_area, 3),
            "axes": {rank: sum(a.rank == rank for a in axes) for rank in RANKS},
            "axis_length_km": round(sum(a.length_km for a in axes), 3),
            "axis_length_km_by_rank": {rank: round(sum(a.length_km for a in axes
                                                       if a.rank == rank), 3) for rank in RANKS},
            "domain_area_km2": round(domain_area, 3),
            "domain_area_share_pct": area_share,
            "benchmark_area_share_pct": PROVINCIAL_AREA_SHARE_PCT,
            "area_share_vs_benchmark_pt": None if area_share is None
            else round(area_share - PROVINCIAL_AREA_SHARE_PCT, 2),
            "townships": len(here), "townships_with_seat": len(seated),
            "townships_in_domains": len(inside),
            "township_share_pct": round(len(inside) / len(seated) * 100, 2) if len(seated)
            else None,
            "villages": len(vill), "villages_with_township_seat": len(vill_seated),
            "villages_in_domains": len(vill_inside),
            # Villages have no positions: each is counted where its township's seat lies.
            "village_share_by_township_seat_pct": round(len(vill_inside) / len(vill_seated)
                                                        * 100, 2) if len(vill_seated) else None,
            "benchmark_population_share_pct": PROVINCIAL_POPULATION_SHARE_PCT,
            "population_share_pct": None,  # no sourced population by settlement
            "share_within_km_of_central_town_pct": {str(km): within[km].get(code)
                                                    for km in ACCESS_THRESHOLDS_KM},
            "nodes_placed": sum(n.placed and n.county_code == code for n in plan.nodes),
            "nodes_unplaced": [n.name for n in plan.nodes
                               if not n.placed and n.county_code == code],
        })
    return rows
