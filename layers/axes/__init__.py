"""Development axes (县城—中心镇—重点村 发展轴): axes, axis domains (轴域), village clusters
(片区组团), coverage statistics and an accessibility raster.

Modules, each importing only those above it:

- `model`: ranks, types, default widths (km), provincial benchmarks, the plan's records;
- `plane`: WGS84 ↔ EPSG:4549 (metres), where axes are ordered, buffered and rasterised;
- `paths`: shortest open path through nodes (the main axis's order);
- `generate`: the 以点串轴 rule (generated, schematic axes);
- `tables`: a planner's axis table → explicit axes;
- `domains`: axis domains (buffers, km²) and village clusters;
- `accessibility`: distance (km) to the nearest node of each tier, as a raster;
- `stats`: county statistics vs the provincial benchmarks (46.4% land, 73.7% residents);
- `frames`: a plan's parts as GeoDataFrames;
- `build`: `plan_axes`, `plan_layers`, `build_axes_layers`, `plan_from_store`;
- `served`: the served plan and its raster, cached per store, cell size and layer versions.

Lengths and buffers are computed on the CGCS2000 3° Gauss-Kruger plane (EPSG:4549).
"""

from layers.axes.accessibility import Accessibility, accessibility
from layers.axes.build import (DEMO_NODES, FIELD_DESCRIPTIONS, build_axes_layers, demo_plan,
                               plan_axes, plan_from_store, plan_layers)
from layers.axes.domains import axis_domains, village_clusters
from layers.axes.frames import (axis_frame, cluster_area_frame, cluster_frame, domain_frame,
                                node_frame)
from layers.axes.generate import generate_axes
from layers.axes.model import (ACCESS_THRESHOLDS_KM, AXIS_LAYER_IDS, AXIS_TYPE_ZH, AXIS_TYPES,
                               BENCHMARK_SOURCE, DEFAULT_BUFFER_KM, GENERATION_RULE,
                               PROVINCIAL_AREA_SHARE_PCT, PROVINCIAL_POPULATION_SHARE_PCT,
                               RANK_ZH, RANKS, Axis, AxisDomain, AxisPlan, Cluster)
from layers.axes.paths import shortest_open_path
from layers.axes.plane import from_plane, to_plane
from layers.axes.served import ServedPlan, ServedPlans
from layers.axes.stats import county_stats
from layers.axes.tables import AXIS_COLUMN_ALIASES, parse_axis_table

__all__ = [
    "ACCESS_THRESHOLDS_KM", "AXIS_COLUMN_ALIASES", "AXIS_LAYER_IDS", "AXIS_TYPES", "AXIS_TYPE_ZH",
    "BENCHMARK_SOURCE", "DEFAULT_BUFFER_KM", "DEMO_NODES", "FIELD_DESCRIPTIONS",
    "GENERATION_RULE", "PROVINCIAL_AREA_SHARE_PCT", "PROVINCIAL_POPULATION_SHARE_PCT", "RANKS",
    "RANK_ZH", "Accessibility", "Axis", "AxisDomain", "AxisPlan", "Cluster", "ServedPlan",
    "ServedPlans", "accessibility",
    "axis_domains", "axis_frame", "build_axes_layers", "cluster_area_frame", "cluster_frame",
    "county_stats", "demo_plan", "domain_frame", "from_plane", "generate_axes", "node_frame",
    "parse_axis_table", "plan_axes", "plan_from_store", "plan_layers", "shortest_open_path",
    "to_plane", "village_clusters",
]
