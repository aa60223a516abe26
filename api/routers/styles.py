"""Styles per collection (in the spirit of OGC API – Styles): a MapLibre GL style over the
collection's vector tiles and an SLD 1.0 that QGIS loads onto the collection's features, both
with name labels and the layer's provenance; and the (empty) glyph ranges MapLibre asks for.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from api.deps import vector_tiles
from geo.errors import NotFound, UnknownChoice
from layers import sld, styles

router = APIRouter(tags=["Styles 样式"])

MAPBOX = "application/vnd.mapbox.style+json"
FORMATS = {"mapbox": MAPBOX, "sld10": sld.MEDIA_TYPE}
STYLE_ID = "default"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/collections/{collectionId}/styles")
def collection_styles(request: Request, collectionId: str) -> JSONResponse:
    """The styles of a vector layer, each as MapLibre JSON and SLD 1.0."""
    layer = vector_tiles(request).tileset(collectionId).layer  # 404, or 400 without geometry
    href = f"{_base(request)}/collections/{collectionId}/styles/{STYLE_ID}"
    return JSONResponse({
        "default": STYLE_ID,
        "styles": [{
            "id": STYLE_ID, "title": f"{layer.title} 默认样式 (with labels 含注记)",
            "links": [{"href": f"{href}?f={f}", "rel": "stylesheet", "type": media,
                       "title": f"{STYLE_ID} ({f})"} for f, media in FORMATS.items()],
        }],
        "links": [{"href": f"{_base(request)}/collections/{collectionId}/styles", "rel": "self",
                   "type": "application/json", "title": "Styles 样式"}],
    })


@router.get("/collections/{collectionId}/styles/{styleId}", response_class=Response,
            responses={200: {"content": {MAPBOX: {}, sld.MEDIA_TYPE: {}}}})
def collection_style(request: Request, collectionId: str, styleId: str,
                     f: str = Query("mapbox", description="mapbox (MapLibre GL JSON) or sld10")
                     ) -> Response:
    """A style of a vector layer: MapLibre GL (over its WebMercatorQuad tiles) or SLD 1.0."""
    tileset = vector_tiles(request).tileset(collectionId)
    if styleId != STYLE_ID:
        raise NotFound(f"图层“{collectionId}”没有样式“{styleId}”，可用：{STYLE_ID}。",
                       f"Collection '{collectionId}' has no style '{styleId}'; "
                       f"available: {STYLE_ID}.", style=styleId)
    if f not in FORMATS:
        raise UnknownChoice("f", f, FORMATS)
    if f == "sld10":
        body = sld.sld(tileset.layer, styles.PALETTE[0], styles.label_text_field(tileset))
        return Response(body, media_type=sld.MEDIA_TYPE)
    base = _base(request)
    tilejson = f"{base}/collections/{collectionId}/tiles/WebMercatorQuad?f=tilejson"
    style = styles.maplibre_style([tileset], tilejson, f"{base}/fonts/{{fontstack}}/{{range}}.pbf")
    return JSONResponse(style, media_type=MAPBOX)


@router.get("/fonts/{fontstack}/{glyph_range}.pbf", response_class=Response)
def glyphs(fontstack: str, glyph_range: str) -> Response:
    """An empty glyph range: no glyph server is shipped. MapLibre draws CJK labels (our names)
    with the browser's own fonts (`localIdeographFontFamily`); Latin text is not drawn."""
    return Response(b"", media_type="application/x-protobuf",
                    headers={"Cache-Control": "public, max-age=86400"})
