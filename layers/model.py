"""A Layer: the unit of everything the atlas serves (metadata only; features live in a Store)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Provenance:
    """Where a layer's data comes from; shown in the API, downloads and map attribution."""

    source: str
    license: str
    crs_of_origin: str
    date: str = ""
    attribution: str = ""  # text a map must show, e.g. "GeoNames (geonames.org), CC BY 4.0"
    illustrative: bool = False  # derived or illustrative data, labelled as such everywhere
    note: str = ""


@dataclass(frozen=True)
class Layer:
    """Metadata of one layer. A vector layer's features are WGS84 (EPSG:4326) in a Store; a
    raster layer (kind "raster", geometry_type "Raster") is a COG in the raster catalogue,
    its unit and default colours in `style`."""

    id: str
    title_zh: str
    title_en: str
    geometry_type: str  # "MultiPolygon", "Point", … or "None" for a registry without geometry
    id_field: str  # attribute whose value is the feature id (an administrative code)
    provenance: Provenance
    description: str = ""
    fields: dict[str, str] = field(default_factory=dict)  # name -> description (zh / en)
    kind: str = "vector"  # "vector" or "raster"
    style: dict = field(default_factory=dict)  # raster: unit, colormap, rescale (min, max)
    # the field holding each feature's date (ISO `YYYY-MM-DD` text, UTC+8 calendar date),
    # which OGC API `datetime` selects on; "" for a layer without time
    time_field: str = ""
    # 规划人员可编辑: planners with an API key may create/replace/update/delete its features
    # (OGC API Features Part 4, layers/editing.py). Never the official boundaries or registries.
    editable: bool = False

    @property
    def title(self) -> str:
        return f"{self.title_zh} {self.title_en}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Layer":
        raw = json.loads(text)
        raw["provenance"] = Provenance(**raw["provenance"])
        return cls(**raw)
