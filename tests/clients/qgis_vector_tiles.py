"""Run by Debian's /usr/bin/python3 (python3-qgis), headless: QGIS reads our styles and
vector tiles the way a planner's desktop does, and reports what it drew as JSON on stdout.

    python3 qgis_vector_tiles.py BASE_URL COLLECTION OUT_PNG

1. A QGIS vector tile layer over /collections/{id}/tiles/WebMercatorQuad/{z}/{y}/{x}, styled
   by converting our MapLibre style (QgsMapBoxGlStyleConverter), rendered to OUT_PNG; the
   labelling engine's results list the label texts it placed.
2. The collection as an OGC API Features layer (OAPIF provider) with our SLD loaded
   (`loadSldStyle`): whether QGIS turned its labels on, and on which field.
"""

from __future__ import annotations

import json
import sys
import tempfile
import urllib.request

from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsCoordinateTransform,
                       QgsMapBoxGlStyleConverter, QgsMapRendererSequentialJob, QgsMapSettings,
                       QgsProject, QgsRectangle, QgsVectorLayer, QgsVectorTileLayer)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def fetch_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as answer:
        return json.loads(answer.read().decode())


def render_tiles(base: str, collection: str, out_png: str) -> dict:
    url = f"{base}/collections/{collection}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
    layer = QgsVectorTileLayer(f"type=xyz&url={url}&zmin=0&zmax=14", collection)
    style = fetch_json(f"{base}/collections/{collection}/styles/default?f=mapbox")
    converter = QgsMapBoxGlStyleConverter()
    result = converter.convert(style)
    layer.setRenderer(converter.renderer())
    layer.setLabeling(converter.labeling())
    west, south, east, north = fetch_json(
        f"{base}/collections/{collection}/tiles/WebMercatorQuad?f=tilejson")["bounds"]
    to_mercator = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"),
                                         QgsCoordinateReferenceSystem("EPSG:3857"),
                                         QgsProject.instance())
    extent = to_mercator.transformBoundingBox(QgsRectangle(west, south, east, north))
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    settings.setExtent(extent)
    settings.setOutputSize(QSize(800, 800))
    labelled, labels = render(settings)
    labelled.save(out_png)
    layer.setLabeling(None)  # the same map without the label layer
    plain, _ = render(settings)
    return {"valid": layer.isValid(), "convert_ok": result == QgsMapBoxGlStyleConverter.Success,
            "warnings": converter.warnings(), "labels": sorted(l.labelText for l in labels),
            "text_pixels": text_pixels(labelled), "text_pixels_without_labels": text_pixels(plain)}


def render(settings: QgsMapSettings) -> tuple:
    """The rendered image and the labels the labelling engine placed."""
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    labels = job.takeLabelingResults().labelsWithinRect(settings.visibleExtent())
    return job.renderedImage(), labels


def text_pixels(image) -> int:
    """Pixels as dark as label text (#222; the fills and outlines are far lighter)."""
    return sum(1 for y in range(image.height()) for x in range(image.width())
               if QColor(image.pixel(x, y)).lightness() < 60)


def load_sld(base: str, collection: str) -> dict:
    layer = QgsVectorLayer(f"url='{base}' typename='{collection}'", collection, "OAPIF")
    with urllib.request.urlopen(
            f"{base}/collections/{collection}/styles/default?f=sld10", timeout=60) as answer:
        sld = answer.read()
    with tempfile.NamedTemporaryFile(suffix=".sld") as file:
        file.write(sld)
        file.flush()
        message, ok = layer.loadSldStyle(file.name)
    labeling = layer.labeling()
    field = labeling.settings().fieldName if labeling is not None else None
    return {"valid": layer.isValid(), "features": layer.featureCount(), "sld_ok": bool(ok),
            "message": message, "labels_enabled": layer.labelsEnabled(), "label_field": field,
            "renderer": layer.renderer().type() if layer.renderer() else None}


def main() -> None:
    base, collection, out_png = sys.argv[1:4]
    app = QgsApplication([], False)
    app.initQgis()
    try:
        report = {"tiles": render_tiles(base, collection, out_png),
                  "sld": load_sld(base, collection)}
    finally:
        app.exitQgis()
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
