"""A planner's axis table → explicit axes: one row per member node (axis id, sequence, node
[, rank, type, axis_name]), every problem row reported in spreadsheet numbering.

Axis lengths are km on EPSG:4549 (see `Axis.through`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.axes.model import AXIS_TYPES, RANKS, Axis
from layers.settlement_nodes import Node, Problem, canonical_columns

AXIS_COLUMN_ALIASES = {
    "axis_id": ("axis_id", "axis", "轴线编号", "轴线"),
    "sequence": ("sequence", "seq", "order", "序号"),
    "node": ("node", "节点", "node_name"),
    "rank": ("rank", "等级"),
    "type": ("type", "类型"),
    "axis_name": ("axis_name", "轴线名称"),
}


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
        axes.append(Axis.through(axis_id, first("axis_name", axis_id), rank, kind,
                                 member_nodes[0].county_code, member_nodes, False))
    return axes
