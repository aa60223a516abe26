"""项目落位: each project against an axes scenario (the demo layers or `{scenario}_…`).

1. A `所属轴线` naming an existing axis (its id or its name) wins (`declared`).
2. Else a project inside one or more axis domains goes to the domain of the highest rank
   (main > secondary > branch); ties go to the nearer axis line (`domain`).
3. Else, placed: `轴外` (`outside`); with no position: `未落位` (`unplaced`).

Distances are metres on the EPSG:4549 plane (CGCS2000 3° GK, CM 120°E) — never Web
Mercator. Each project also records its nearest placed axis node and its county.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InvalidParameter
from layers.axes.model import RANKS
from layers.axes.plane import to_plane
from layers.projects.model import OUTSIDE_LABEL, UNPLACED_LABEL

if TYPE_CHECKING:
    from layers.store import Store

SCENARIO = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
RANK_LEVEL = {rank: i for i, rank in enumerate(RANKS)}  # 0 = main, the highest


@dataclass
class AxesScenario:
    """The axes, domains and nodes a project table is placed against (WGS84 frames)."""

    name: str  # "" for the demo layers
    axes: gpd.GeoDataFrame
    domains: gpd.GeoDataFrame
    nodes: gpd.GeoDataFrame

    @property
    def prefix(self) -> str:
        return f"{self.name}_" if self.name else ""

    @property
    def label(self) -> str:
        return self.name or "demo"

    @classmethod
    def from_store(cls, store: Store, name: str = "") -> "AxesScenario":
        """The demo axis layers (`name` "") or a saved scenario's `{name}_axes`, …"""
        if name and not SCENARIO.match(name):
            raise InvalidParameter(
                "方案名 scenario 无效（小写字母开头，仅含 a-z、0-9、_，至多 32 字符）。",
                "Invalid scenario name (lowercase letter first, a-z 0-9 _ only, ≤ 32).",
                parameter="scenario")
        prefix = f"{name}_" if name else ""
        have = {layer.id for layer in store.layers()}
        needed = [prefix + i for i in ("axes", "axis_domains", "axis_nodes")]
        if not set(needed) <= have:
            saved = sorted(i.removesuffix("_axes") for i in have
                           if i.endswith("_axes") and f"{i[:-5]}_axis_domains" in have)
            raise InvalidParameter(
                f"没有发展轴方案“{name or '演示'}”的图层（{', '.join(needed)}）。已保存方案："
                f"{', '.join(saved) or '无'}；演示方案请运行 gongfu build。",
                f"No axes layers for scenario '{name or 'demo'}' ({', '.join(needed)}). Saved "
                f"scenarios: {', '.join(saved) or 'none'}; for the demo run `gongfu build`.",
                parameter="scenario")
        return cls(name, store.frame(needed[0]), store.frame(needed[1]),
                   store.frame(needed[2]))


def place(rows: pd.DataFrame, scenario: AxesScenario, gazetteer,
          areas: dict[int, shapely.Geometry] | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """`rows` (from `parse_projects`) with axis_id, axis_label, placement, rank,
    axis_distance_km, nearest_node, nearest_node_km, county_code, county_name, scenario.

    A polygon project (`areas`, by row index) meets a domain when the polygon does; its
    distances are measured from the polygon."""
    rows = rows.copy()
    n = len(rows)
    geoms = np.array([(areas or {}).get(i, g) for i, g in zip(rows.index, rows["geometry"])],
                     dtype=object)
    placed = np.array([g is not None for g in geoms])
    plane = np.full(n, None, dtype=object)
    if placed.any():
        plane[placed] = to_plane(geoms[placed])
    axes = scenario.axes
    axis_ids = axes["axis_id"].astype(str).to_numpy()
    axis_rank = dict(zip(axis_ids, axes["rank"].astype(str)))
    by_name = {str(nm): aid for aid, nm in zip(axis_ids, axes["name"])}
    axis_lines = dict(zip(axis_ids, to_plane(axes.geometry.to_numpy()))) if len(axes) else {}

    axis_id = np.full(n, "", dtype=object)
    placement = np.where(placed, "outside", "unplaced").astype(object)
    warnings: list[dict] = []
    declared = rows["declared_axis"].astype(str).to_numpy()
    for i, text in enumerate(declared):
        if not text:
            continue
        hit = text if text in axis_rank else by_name.get(text)
        if hit:
            axis_id[i], placement[i] = hit, "declared"
        else:
            warnings.append({
                "code": "unknown_axis", "row": int(rows["row"].iat[i]),
                "project": rows["name"].iat[i],
                "zh": f"所属轴线“{text}”不是方案“{scenario.label}”中的轴线，改按位置落位。",
                "en": f"Axis '{text}' is not in scenario '{scenario.label}'; placed by "
                      "position instead."})

    # Domains: every (project, domain) pair that meets, best = (rank level, distance).
    open_rows = np.flatnonzero(placed & (placement != "declared"))
    domains = scenario.domains
    if len(open_rows) and len(domains):
        dom_plane = to_plane(domains.geometry.to_numpy())
        tree = shapely.STRtree(dom_plane)
        p_idx, d_idx = tree.query(plane[open_rows], predicate="intersects")
        if len(p_idx):
            dom_axis = domains["axis_id"].astype(str).to_numpy()[d_idx]
            lines = np.array([axis_lines.get(a) for a in dom_axis], dtype=object)
            pairs = pd.DataFrame({
                "row": open_rows[p_idx], "axis": dom_axis,
                "level": [RANK_LEVEL.get(axis_rank.get(a, ""), 9) for a in dom_axis],
                "dist": shapely.distance(plane[open_rows][p_idx], lines)})
            best = pairs.sort_values(["row", "level", "dist", "axis"]).drop_duplicates("row")
            axis_id[best["row"].to_numpy()] = best["axis"].to_numpy()
            placement[best["row"].to_numpy()] = "domain"

    has_axis = axis_id != ""
    dist_km = np.full(n, np.nan)
    chosen = np.flatnonzero(has_axis & placed)
    if len(chosen):
        lines = np.array([axis_lines[a] for a in axis_id[chosen]], dtype=object)
        dist_km[chosen] = np.round(shapely.distance(plane[chosen], lines) / 1000, 3)

    nearest = np.full(n, "", dtype=object)
    nearest_km = np.full(n, np.nan)
    nodes = scenario.nodes[scenario.nodes.geometry.notna() & ~scenario.nodes.geometry.is_empty]
    where = np.flatnonzero(placed)
    if len(where) and len(nodes):
        node_plane = to_plane(nodes.geometry.to_numpy())
        tree = shapely.STRtree(node_plane)
        (p_idx, n_idx), dist = tree.query_nearest(plane[where], return_distance=True,
                                                  all_matches=False)
        nearest[where[p_idx]] = nodes["name"].astype(str).to_numpy()[n_idx]
        nearest_km[where[p_idx]] = np.round(dist / 1000, 3)

    rows["axis_id"] = axis_id
    rows["axis_label"] = np.where(has_axis, axis_id,
                                  np.where(placed, OUTSIDE_LABEL, UNPLACED_LABEL))
    rows["placement"] = placement
    rows["rank"] = [axis_rank.get(a, "") for a in axis_id]
    rows["axis_distance_km"] = dist_km
    rows["nearest_node"] = nearest
    rows["nearest_node_km"] = nearest_km
    names = gazetteer.counties["name"].to_dict()
    rows["county_name"] = [names.get(c, "") for c in rows["county_code"]]
    rows["scenario"] = scenario.label
    return rows, warnings
