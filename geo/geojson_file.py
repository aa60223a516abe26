"""A GeoJSON file streamed: the download `write_vector` would write with GDAL, produced a
slice at a time so that it starts at once and never sits whole in memory.

Same document as GDAL's GeoJSON driver writes for the download: `name`, `description` (title,
provenance and the CRS note), `crs` (an OGC URN, absent for GCJ-02, which has none),
`xy_coordinate_resolution`, then the features with their properties first and no `id` member
(GDAL's readers would turn one into an extra field); coordinates east-first, 7 decimals for
degrees and 3 for metres (~1 cm either way).
"""

from __future__ import annotations

from functools import partial
from typing import Iterator

import geopandas as gpd

from geo import geojson_stream
from geo.crs import CrsChoice, from_wgs84
from geo.vector_io import FORMATS, UTF8, TextEncoding, check_combination, crs_note


def _crs_member(crs: CrsChoice) -> dict | None:
    """GDAL's `crs` member: CRS84 for lon/lat WGS 84 (EPSG:4326 is written east-first too)."""
    if crs.is_gcj02:
        return None
    urn = ("urn:ogc:def:crs:OGC:1.3:CRS84" if crs.epsg in (None, 4326)
           else f"urn:ogc:def:crs:EPSG::{crs.epsg}")
    return {"type": "name", "properties": {"name": urn}}


def geojson_file(frame: gpd.GeoDataFrame, *, name: str, geometry_type: str | None,
                 crs: CrsChoice, encoding: TextEncoding = UTF8,
                 description: str = "", cache: geojson_stream.Section | None = None,
                 ) -> tuple[str, Iterator[bytes]]:
    """The file name and the byte chunks of `frame` (WGS84; every non-geometry column is a
    property) as a GeoJSON file in `crs` (geometries found in `cache` are not encoded again)."""
    check_combination(FORMATS["geojson"], crs, encoding)  # UTF-8 only
    has_geometry = geometry_type is not None
    note = "\n".join(part for part in (description.strip(), crs_note(crs, has_geometry))
                     if part)
    precision = 7 if crs.is_geographic else 3
    head: dict = {"type": "FeatureCollection", "name": name}
    if note:
        head["description"] = note
    member = _crs_member(crs) if has_geometry else None
    if member:
        head["crs"] = member
    head["xy_coordinate_resolution"] = 10.0 ** -precision
    head["features"] = []
    start, end = geojson_stream.split_around(head, "features")
    columns = [c for c in frame.columns if c != frame.geometry.name]
    chunks = geojson_stream.feature_chunks(
        frame, frame.geometry.to_numpy(), columns, precision,
        transform=partial(from_wgs84, choice=crs, authority_order=False), ids=False,
        cache=cache)
    filename = f"{name}_{crs.key.replace(':', '')}.geojson"
    return filename, geojson_stream.collection(start, chunks, end)
