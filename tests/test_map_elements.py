"""maps/elements and maps/views without a browser: text is escaped, the tiled-or-inline rule,
every declared asset is ours and served, pages load nothing remote, the page cache's keys."""

from __future__ import annotations

import re
from pathlib import Path

import folium
import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient
from markupsafe import Markup

import maps.elements
from maps.elements import (Area, AtlasMap, ChoroplethForm, Dot, InfoBox, LedgerEntry, Legend,
                           Line, Links, Look, Note, Ramp, StaticAssets, UnplacedList,
                           VectorTileLayer, feature_layer, tiled)
from maps.page_cache import PageCache

STATIC = Path(__file__).parent.parent / "static"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
PAGES = ["/", "/maps/overview", "/maps/axes", "/maps/choropleth",
         "/maps/choropleth?layer=townships&indicator=villages", "/maps/ecology"]


def _unescape(text: str) -> str:
    """Undo the \\uXXXX escapes of JSON in the page (tojson)."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def test_legend_escapes_text_but_keeps_our_markup() -> None:
    html = Legend(HOSTILE, HOSTILE, [
        Area(HOSTILE, fill="#fff", row_class="atlas-legend-class"), Line(HOSTILE, "#000", 2),
        Dot(HOSTILE, "#f00", radius_px=4), Ramp("/r.png?a=1&b=2", 0, 5.85),
        Note(HOSTILE), Note(Markup("<b>ours</b>")), Links([(HOSTILE, "/x?a=1&b=2")]),
    ]).html()
    assert "<script>" not in html and "<img src=x" not in html
    assert html.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") == 7
    assert "<b>ours</b>" in html and 'href="/x?a=1&amp;b=2"' in html
    assert '<span>0</span><span style="float:right">5.85</span>' in html
    assert html.count('class="atlas-legend-class"') == 1


def test_lists_forms_and_ledger_escape_text() -> None:
    unplaced = UnplacedList(HOSTILE, HOSTILE, [(HOSTILE, HOSTILE), HOSTILE],
                            item_class="axes-unplaced").html()
    form = ChoroplethForm(action="/maps/choropleth", layer_id=HOSTILE,
                          indicators=[("a", HOSTILE), ("b", "B")], indicator="b",
                          years=[2022, 2023], year=2023, schemes=[("quantiles", "分位数")],
                          scheme="quantiles", ks=[3, 4, 5], k=4).html()
    entry = LedgerEntry({"place_name": HOSTILE, "item_zh": "", "reported_as_written": "",
                         "area_mu": 4500, "sequestration_t_co2e_yr": float("nan"),
                         "source_title": HOSTILE, "source_url": 'https://x.cn/"a', "source_date": "",
                         "note": None}).html()
    for html in (unplaced, form, entry):
        assert "<script>" not in html and "<img src=x" not in html, html
    assert unplaced.count('<li class="axes-unplaced">') == 2 and "(2)" in unplaced
    assert UnplacedList("t", "n", []).html() == ""  # nothing to list: no box at all
    assert '<option value="b" selected>B</option>' in form
    assert '<option value="2023" selected>2023</option>' in form and "<option selected>4" in form
    assert "4,500 亩" in entry and "—" in entry and 'href="https://x.cn/&#34;a"' in entry


def _points(n: int) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": [f"{i:06d}" for i in range(n)],
                             "name": [f"p{i}" for i in range(n)]},
                            geometry=[shapely.Point(120 + i / 10, 30.5) for i in range(n)],
                            crs=4326)


@pytest.mark.parametrize("threshold, expect_tiles", [(None, False), (5, False), (4, True),
                                                     (0, True)])
def test_feature_layer_is_tiled_above_the_threshold(threshold, expect_tiles) -> None:
    look = Look(style={"radius": 4, "color": "#fff", "weight": 1, "fillColor": "#00f",
                       "fillOpacity": 1, "className": "p"},
                tooltip=[("name", "名称 Name")], points=True)
    layer = feature_layer(_points(5), "pts", "Points", look, root="/atlas", threshold=threshold)
    assert tiled(5, threshold) is expect_tiles
    assert isinstance(layer, VectorTileLayer) is expect_tiles
    assert isinstance(layer, folium.GeoJson) is not expect_tiles
    if expect_tiles:
        assert layer.url == "/atlas/tiles/pts/{z}/{x}/{y}.mvt?properties=code,name"
    else:
        assert len(layer.data["features"]) == 5


def test_custom_builders_follow_the_same_rule() -> None:
    built = []
    look = Look(style={}, tooltip=[("name", "n")])
    for threshold in (3, 10):
        feature_layer(_points(5), "pts", "P", look, root="", threshold=threshold,
                      inline=lambda: built.append("inline") or folium.FeatureGroup(),
                      tiles=lambda url: built.append(url) or folium.FeatureGroup())
    assert built == ["/tiles/pts/{z}/{x}/{y}.mvt?properties=code,name", "inline"]


def _asset_classes() -> list[type]:
    found, todo = [], [StaticAssets]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [c for c in found if c.__module__.startswith("maps.")]


def test_declared_assets_exist_and_are_served(client: TestClient) -> None:
    classes = _asset_classes()
    assert {AtlasMap, InfoBox, VectorTileLayer, maps.elements.AntPath} <= set(classes)
    assets = {path for cls in classes for _, path in cls.static_js + cls.static_css}
    assert "js/atlas.js" in assets and "map.css" in assets
    for path in sorted(assets):
        if path.startswith("vendor/") and not (STATIC / "vendor").exists():
            continue  # npm packages not installed (make static/vendor/.installed)
        assert (STATIC / path).is_file(), path
        assert client.get(f"/static/{path}").status_code == 200, path


def test_assets_follow_the_root_path(client: TestClient) -> None:
    prefixed = TestClient(client.app, root_path="/atlas")
    for page in ("/maps/axes", "/maps/choropleth", "/maps/ecology"):
        html = prefixed.get(page).text
        urls = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
        assert "/atlas/static/js/atlas.js" in urls, page
        assert all(url.startswith("/atlas/static/") for url in urls), (page, urls)


@pytest.mark.parametrize("page", PAGES)
def test_pages_load_nothing_from_other_hosts(client: TestClient, page: str) -> None:
    """Scripts, styles, images and tile templates are ours; only OSM (optional) is remote."""
    response = client.get(page, headers={"Accept": "text/html"})
    assert response.status_code == 200
    html = _unescape(response.text)
    loaded = re.findall(r'<(?:script|img)[^>]+src="([^"]+)"', html)
    loaded += re.findall(r'<link[^>]+href="([^"]+)"', html)
    loaded += re.findall(r'L\.tileLayer\(\s*"([^"]+)"', html)
    loaded += re.findall(r'"url": "([^"]+)"', html)
    remote = {url for url in loaded if not url.startswith("/") or url.startswith("//")}
    assert remote <= {OSM_TILES}, remote


def test_maps_package_knows_no_web_framework() -> None:
    """maps/ is built from geo/, layers/ and maps/ only: no api/ nor FastAPI imports."""
    package = Path(maps.elements.__file__).parent.parent
    for path in package.rglob("*.py"):
        imports = re.findall(r"^\s*(?:from|import) ([\w.]+)", path.read_text(), re.M)
        bad = [m for m in imports if m.split(".")[0] in ("api", "fastapi", "starlette")]
        assert bad == [], (path, bad)


class _Layer:
    def __init__(self, layer_id: str) -> None:
        self.id = layer_id


class _Store:
    """Just what the page cache reads: the layers and their versions."""

    def __init__(self) -> None:
        self.versions = {"counties": 1, "cities": 1}

    def layers(self) -> list[_Layer]:
        return [_Layer(i) for i in self.versions]

    def version(self, layer_id: str) -> int:
        return self.versions[layer_id]


def test_page_cache_keys_on_query_and_layer_versions() -> None:
    cache, store, builds = PageCache(max_pages=2), _Store(), []

    def page(key: tuple) -> str:
        return cache.page(store, key, lambda: builds.append(key) or f"page {len(builds)}")

    assert page(("/maps/axes", "")) == page(("/maps/axes", "")) == "page 1"
    assert page(("/maps/axes", "/atlas")) == "page 2"  # another root path, another page
    store.versions["cities"] = 2
    assert page(("/maps/axes", "")) == "page 3"  # a layer changed: rendered again
    assert len(cache._pages) == 2  # the oldest was dropped
