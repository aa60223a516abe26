"""Place search (地名搜索) for the 一张图 workspace: a code or a name as a planner types it →
the units it may mean, each with where to show it on the map.

Names are matched the way `layers.place_names` joins tables: full-width or not, with or
without the 县/区/镇/乡/街道/村 suffix; 6/9/12-digit codes go straight to their unit. Only
units of the store's region are returned (the registry also knows China's other counties).

Positions are never invented: a county is shown at its county seat (县城), a city or a county
without seat at a point inside its polygon, a township at its GeoNames seat. Villages have no
open coordinates, so a village result says so and gives its township's seat (or its county's)
instead, with `has_position: false` and a note in both languages.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import shapely

from geo.crs import CRS84, CrsChoice
from geo.errors import InvalidParameter, OutOfRange
from geo.gcj02 import wgs84_to_gcj02
from layers.place_labels import label_point
from layers.place_names import Place, PlaceRegistry, normalise, stem
from layers.store import Store

LEVELS = ("city", "county", "township", "village")
LEVEL_ZH = {"city": "地级市", "county": "区县", "township": "乡镇街道", "village": "村（社区）"}
MAX_LIMIT = 50
MAX_QUERY = 50


@dataclass(frozen=True)
class Located:
    """Where to show a unit: lon/lat, bbox, whether it is the unit's own, and why."""

    position: tuple[float, float] | None
    bbox: tuple[float, float, float, float] | None
    own: bool
    note_zh: str
    note_en: str


class PlaceIndex:
    """The store's cities, counties, townships and villages with their positions."""

    def __init__(self, store: Store) -> None:
        self.registry = PlaceRegistry.from_store(store)
        have = {layer.id for layer in store.layers()}
        self.polygons: dict[str, shapely.Geometry] = {}
        self.points: dict[str, tuple[shapely.Geometry, str]] = {}  # code -> (point, source)
        self.codes: set[str] = set()
        for layer_id in ("cities", "counties"):
            if layer_id in have:
                frame = store.frame(layer_id)
                for code, geom in zip(frame["code"], frame.geometry):
                    self.codes.add(str(code))
                    if geom is not None and not geom.is_empty:
                        self.polygons[str(code)] = geom
        if "county_seats" in have:
            frame = store.frame("county_seats")
            for code, geom in zip(frame["code"], frame.geometry):
                if geom is not None and not geom.is_empty:
                    self.points[str(code)] = (geom, "county_seat")
        for layer_id in ("townships", "villages"):
            if layer_id in have:
                frame = store.frame(layer_id)
                for code, geom in zip(frame["code"], frame.geometry):
                    self.codes.add(str(code))
                    if geom is not None and not geom.is_empty:
                        if geom.geom_type == "Point":
                            self.points[str(code)] = (geom, layer_id)
                        else:  # township polygons imported by the planner
                            self.polygons[str(code)] = geom

    def search(self, query: str, limit: int = 10) -> list[Place]:
        """Units matching `query`, best first: exact code, exact name, same name without
        suffix, name starting with it, name containing it; higher levels first on ties."""
        text = unicodedata.normalize("NFKC", query or "").strip()
        if not text:
            raise InvalidParameter("请输入要搜索的地名或代码（参数 q）。",
                                   "Give a place name or code to search for (parameter q).",
                                   parameter="q")
        if len(text) > MAX_QUERY:
            raise OutOfRange("q", len(text), 1, MAX_QUERY, "字符 characters")
        if not 1 <= limit <= MAX_LIMIT:
            raise OutOfRange("limit", limit, 1, MAX_LIMIT)
        places = [p for p in self.registry.places.values()
                  if p.level in LEVELS and p.code in self.codes]
        if text.isdigit():
            place = self.registry.by_code(text)
            exact = [place] if place is not None and place.code in self.codes else []
            prefix = sorted((p for p in places if p.code.startswith(text) and p not in exact),
                            key=_order)
            return (exact + prefix)[:limit]
        name, short = normalise(text), stem(text)
        ranked = []
        for place in places:
            own_name, own_stem = normalise(place.name), stem(place.name)
            if own_name == name:
                rank = 0
            elif own_stem == short:
                rank = 1
            elif own_name.startswith(short):
                rank = 2
            elif short in own_name:
                rank = 3
            else:
                continue
            ranked.append((rank, *_order(place), place))
        ranked.sort(key=lambda row: row[:-1])
        return [row[-1] for row in ranked[:limit]]

    def locate(self, place: Place) -> Located:
        """Where to show `place` on the map (see the module docstring)."""
        code = place.code
        bbox = self._bbox(code)
        if place.level in ("city", "county"):
            if code in self.points:
                point = self.points[code][0]
                return Located((point.x, point.y), bbox, True, "县城（区县政府驻地）",
                               "county seat (seat of the county government)")
            if code in self.polygons:
                point = label_point(self.polygons[code])
                return Located((point.x, point.y), bbox, True, "行政区内代表点（非政府驻地）",
                               "a point inside the unit (not its seat)")
            return Located(None, None, False, "无坐标", "no position known")
        if place.level == "township" and code in self.points:
            point = self.points[code][0]
            return Located((point.x, point.y), bbox, True, "乡镇驻地（GeoNames）",
                           "township seat (GeoNames)")
        if place.level == "township" and code in self.polygons:
            point = label_point(self.polygons[code])
            return Located((point.x, point.y), bbox, True, "乡镇界内代表点",
                           "a point inside the township")
        # no open position: the nearest unit above that has one
        what_zh = "该村无公开坐标" if place.level == "village" else "该乡镇无公开驻地坐标"
        if place.level not in ("township", "village"):
            return Located(None, None, False, "无坐标", "no position known")
        what_en = ("this village has no open coordinates" if place.level == "village"
                   else "this township has no open seat point")
        skipped_zh = skipped_en = ""
        for parent_code, parent_name in reversed(place.ancestors):
            parent = self.registry.places.get(parent_code)
            if parent is None or parent.level not in LEVELS:
                continue
            found = self.locate(parent)
            if not found.own:
                skipped_zh += f"，所在{LEVEL_ZH[parent.level]}（{parent_name}）亦无驻地坐标"
                skipped_en += f", nor has its {parent.level} ({parent_name})"
                continue
            return Located(found.position, found.bbox, False,
                           f"{what_zh}{skipped_zh}，显示所在{LEVEL_ZH[parent.level]}"
                           f"（{parent_name}）的{found.note_zh}",
                           f"{what_en}{skipped_en}; showing its {parent.level} ({parent_name}) at its "
                           f"{found.note_en}")
        return Located(None, None, False, f"{what_zh}，也无上级位置", f"{what_en}, nor its parents")

    def _bbox(self, code: str) -> tuple[float, float, float, float] | None:
        geom = self.polygons.get(code)
        return None if geom is None else tuple(float(v) for v in geom.bounds)


def _order(place: Place) -> tuple[int, str]:
    return LEVELS.index(place.level), place.code


_indexes: dict[tuple, PlaceIndex] = {}
_INDEX_LAYERS = ("cities", "counties", "county_seats", "townships", "villages")


def place_index(store: Store) -> PlaceIndex:
    """The store's index, rebuilt when one of its layers changes."""
    have = {layer.id for layer in store.layers()}
    key = (id(store),) + tuple((i, store.version(i)) for i in _INDEX_LAYERS if i in have)
    if key not in _indexes:
        _indexes.clear()
        _indexes[key] = PlaceIndex(store)
    return _indexes[key]


def _shifted(where: Located, crs: CrsChoice) -> Located:
    """`where` in `crs`: WGS84 as stored, or shifted into GCJ-02 by `geo.gcj02` (position
    and each bbox corner; the shift varies by ~3 m per km, so the corners move alike)."""
    if not crs.is_gcj02:
        return where
    position = bbox = None
    if where.position is not None:
        x, y = wgs84_to_gcj02(*where.position)
        position = (float(x), float(y))
    if where.bbox is not None:
        west, south = wgs84_to_gcj02(where.bbox[0], where.bbox[1])
        east, north = wgs84_to_gcj02(where.bbox[2], where.bbox[3])
        bbox = (float(west), float(south), float(east), float(north))
    return Located(position, bbox, where.own, where.note_zh, where.note_en)


def search_places(store: Store, query: str, limit: int = 10, root: str = "",
                  crs: CrsChoice = CRS84) -> dict:
    """The `/search` answer: {query, crs, results: [{code, name, level, level_zh, parents,
    position, bbox, has_position, position_note_zh, position_note_en, fact_sheet}]}.
    Positions and bboxes are WGS84 lon/lat, or GCJ-02 lon/lat when `crs` is GCJ-02 (to
    sit on a 高德 basemap)."""
    index = place_index(store)
    results = []
    for place in index.search(query, limit):
        where = _shifted(index.locate(place), crs)
        results.append({
            "code": place.code, "name": place.name, "level": place.level,
            "level_zh": LEVEL_ZH[place.level],
            "parents": [{"code": c, "name": n} for c, n in place.ancestors if c != "100000"],
            "position": None if where.position is None
            else [round(where.position[0], 7), round(where.position[1], 7)],
            "bbox": None if where.bbox is None else [round(v, 7) for v in where.bbox],
            "has_position": where.own,
            "position_note_zh": where.note_zh, "position_note_en": where.note_en,
            "fact_sheet": f"{root}/places/{place.code}",
        })
    return {"query": query, "crs": "GCJ-02" if crs.is_gcj02 else "WGS84", "results": results}
