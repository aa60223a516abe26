"""`GET /catalogue`: every layer a map can show — the store's vector layers and the rasters —
in one list, each with its kind, provenance (source, licence, CRS of origin, derived or not)
and the links a map or a download needs. The planner workspace reads this one document."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Query, Request

from api.deps import CatalogueDep
from geo.errors import UnknownChoice
from layers.catalogue import THEMES, theme_of
from layers.model import Layer

router = APIRouter(tags=["catalogue 图层目录"])


def _links(base: str, layer: Layer) -> dict[str, str]:
    if layer.kind == "raster":
        return {"tiles": f"{base}/rasters/{layer.id}/tiles/{{z}}/{{x}}/{{y}}.png",
                "tilejson": f"{base}/rasters/{layer.id}/tilejson.json",
                "legend": f"{base}/rasters/{layer.id}/legend.json",
                "metadata": f"{base}/rasters/{layer.id}"}
    links = {"collection": f"{base}/collections/{layer.id}",
             "items": f"{base}/collections/{layer.id}/items"}
    if layer.geometry_type != "None":
        links |= {"tiles": f"{base}/tiles/{layer.id}/{{z}}/{{x}}/{{y}}.mvt",
                  "tilejson": f"{base}/tiles/{layer.id}/tilejson.json",
                  "download": f"{base}/collections/{layer.id}/download"}
    return links


@router.get("/catalogue")
def catalogue(request: Request, catalogue: CatalogueDep,
              kind: str | None = Query(None, description="vector or raster (default both)")
              ) -> dict:
    """Every layer, vector and raster, with provenance and links."""
    if kind not in (None, "vector", "raster"):
        raise UnknownChoice("kind", kind, ("vector", "raster"))
    base = str(request.base_url).rstrip("/")
    return {"themes": [{"id": key, "title_zh": zh, "title_en": en}
                       for key, (zh, en) in THEMES.items()],
            "layers": [{
        "id": layer.id, "kind": layer.kind, "theme": theme_of(layer),
        "title_zh": layer.title_zh, "title_en": layer.title_en,
        "geometry_type": layer.geometry_type, "fields": layer.fields,
        "provenance": asdict(layer.provenance), "style": layer.style,
        "version": catalogue.version(layer.id), "links": _links(base, layer),
    } for layer in catalogue.layers(kind)]}
