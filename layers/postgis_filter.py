"""A checked filter tree (layers/filtering.py) as a PostgreSQL WHERE clause, and sort keys as
an ORDER BY — identifiers through `sql.Identifier` (names already checked against the
queryables), every value a bound parameter, never text pasted into SQL.

Same semantics as the in-memory evaluator: SQL's own three-valued logic, text compared by
code point (COLLATE "C"), instants in UTC (a date column's day starts at 00:00 UTC).
"""

from __future__ import annotations

from typing import Any

import shapely
from psycopg import sql

from layers.filtering import (SPATIAL, Between, Compare, In, IsNull, Like, Logic, Node, Not,
                              Queryable, SortKey, Spatial)

_OPERATORS = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def where(node: Node, geometry_column: str = "geom") -> tuple[sql.Composable, list[Any]]:
    """(SQL condition, its parameters in order) for `node`."""
    params: list[Any] = []
    return _sql(node, params, geometry_column), params


def _column(prop: Queryable, geometry_column: str, ordered: bool = True) -> sql.Composable:
    """The column as compared: instants as timestamptz, text in code-point order when the
    comparison orders (`ordered`; equality is the same under every deterministic collation,
    and a plain column keeps an index on it usable)."""
    if prop.type == "geometry":
        return sql.Identifier(geometry_column)
    column = sql.Identifier(prop.name)
    if prop.format == "date":
        return sql.SQL("(({}::date)::timestamp AT TIME ZONE 'UTC')").format(column)
    if prop.format == "date-time":
        return sql.SQL("({}::timestamptz)").format(column)
    if prop.type == "string" and ordered:
        return sql.SQL('({} COLLATE "C")').format(column)
    return column


def _sql(node: Node, params: list[Any], geom: str) -> sql.Composable:
    if isinstance(node, Logic):
        joiner = sql.SQL(" AND " if node.op == "and" else " OR ")
        return sql.SQL("({})").format(joiner.join(_sql(a, params, geom) for a in node.args))
    if isinstance(node, Not):
        return sql.SQL("(NOT {})").format(_sql(node.arg, params, geom))
    if isinstance(node, IsNull):
        return sql.SQL("({} IS NULL)").format(sql.Identifier(
            geom if node.prop.type == "geometry" else node.prop.name))
    if isinstance(node, Spatial):
        params.append(shapely.to_wkb(node.geometry))
        function = sql.SQL(SPATIAL[node.op][1])  # from our fixed table, never user text
        return sql.SQL("{}({}, ST_GeomFromWKB(%s, 4326))").format(function,
                                                                   sql.Identifier(geom))
    if isinstance(node, Compare):
        ordered = node.op not in ("=", "<>")
        left = _column(node.left, geom, ordered)
        if isinstance(node.right, Queryable):
            right: sql.Composable = _column(node.right, geom, ordered)
        else:
            params.append(node.right)
            right = sql.SQL("%s")
        return sql.SQL("({} {} {})").format(left, sql.SQL(_OPERATORS[node.op]), right)
    column = _column(node.prop, geom, ordered=isinstance(node, Between))
    if isinstance(node, Like):  # on the stored text, dates included
        params.append(node.pattern)
        return sql.SQL('({} COLLATE "C" LIKE %s)').format(sql.Identifier(node.prop.name))
    if isinstance(node, In):
        params.extend(node.values)
        marks = sql.SQL(", ").join(sql.SQL("%s") for _ in node.values)
        return sql.SQL("({} IN ({}))").format(column, marks)
    if isinstance(node, Between):
        params.extend([node.low, node.high])
        return sql.SQL("({} BETWEEN %s AND %s)").format(column)
    raise TypeError(f"unknown filter node {node!r}")


def order_by(keys: tuple[SortKey, ...], table: str = "") -> list[sql.Composable]:
    """ORDER BY terms for `keys` (missing values last either way); the caller adds the
    stored order as the final tie-break."""
    terms = []
    for key in keys:
        column = (sql.Identifier(table, key.prop.name) if table
                  else sql.Identifier(key.prop.name))
        collate = sql.SQL(' COLLATE "C"') if key.prop.type == "string" else sql.SQL("")
        direction = sql.SQL("ASC" if key.ascending else "DESC")
        terms.append(sql.SQL("{}{} {} NULLS LAST").format(column, collate, direction))
    return terms
