"""Projects on the development axes (issue 14): 项目落位, monitoring, 一轴一方案.

- `model`: types, columns, statuses and the red/yellow/green rule (configurable thresholds);
- `table`: a planner's project table (CSV/XLSX) → checked rows with WGS84 positions;
- `placement`: each project against an axes scenario (declared axis > domain rank > nearer
  axis on EPSG:4549; 轴外; 未落位), nearest node and county;
- `monitor`: statuses, counts, the warning list and monthly curves across snapshots;
- `records`: the store layers (`projects`, `project_snapshots`, `project_areas`) and imports;
- `plan_sheet`: one axis's plan sheet (nodes, positioning text, projects, domain statistics);
- `template`: the downloadable import template (one 虚构示例 row).
"""

from layers.projects.model import (AREAS_LAYER, PLANS_LAYER, PROJECTS_LAYER, SNAPSHOTS_LAYER,
                                   STATUS_ZH, STATUSES, TYPES, Thresholds)
from layers.projects.monitor import (CURVE_RULE, as_of_rows, counts, group_curves,
                                     project_curve, warning_list, with_status)
from layers.projects.placement import AxesScenario, place
from layers.projects.records import (ImportResult, empty_project_layers, import_projects,
                                     project_layers, read_snapshots, snapshot_rows)
from layers.projects.table import InvalidProjectTable, parse_date, parse_projects

__all__ = [
    "AREAS_LAYER", "CURVE_RULE", "PLANS_LAYER", "PROJECTS_LAYER", "SNAPSHOTS_LAYER",
    "STATUSES", "STATUS_ZH", "TYPES", "AxesScenario", "ImportResult", "InvalidProjectTable",
    "Thresholds", "as_of_rows", "counts", "empty_project_layers", "group_curves",
    "import_projects", "parse_date", "parse_projects", "place", "project_curve",
    "project_layers", "read_snapshots", "snapshot_rows", "warning_list", "with_status",
]
