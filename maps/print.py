"""Printed maps (出图): a landscape A4/A3 sheet at 300 dpi (PNG) or as vector PDF, drawn with
matplotlib on the CGCS2000 3° Gauss-Kruger plane of the map's centre (EPSG:4549 for Huzhou),
so the scale bar is true in km — never Web Mercator.

The sheet has a title, the layers (vector from the store, rasters from their COGs), a legend,
a scale bar, a north arrow (grid north, its angle to true north stated), the sources line of
every drawn layer and a note for every derived/演示 layer. CJK text uses WenQuanYi Micro Hei
(Debian fonts-wqy-microhei), embedded as TrueType in the PDF so its text can be searched.
"""

from __future__ import annotations

import io
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import FigureCanvasPdf
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrow, Patch, Rectangle
from matplotlib.lines import Line2D
import matplotlib
from pyproj import CRS, Proj, Transformer

from geo.crs import CRS_NAMES
from geo.errors import InvalidParameter, LayerWithoutGeometry, OutOfRange, UnknownChoice
from geo.measure import gk_zone_epsg
from geo.raster import RasterCatalog, colormap
from layers.catalogue import Catalogue
from layers.model import Layer
from layers.place_labels import label_point
from layers.store import Store

PAPERS_MM = {"A4": (297.0, 210.0), "A3": (420.0, 297.0)}  # landscape
DPI = 300
FORMATS = ("png", "pdf")
LANGS = ("zh", "en")
MAX_LAYERS = 10
FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
PALETTE = ["#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
           "#1f78b4", "#666666", "#b2182b"]
MAP_BOX = (0.03, 0.22, 0.70, 0.68)  # left, bottom, width, height of the map frame (sheet units)
RASTER_MAX_PX = 2500  # cells read across the map at most (the sheet is ~2,500 px wide there)


@dataclass(frozen=True)
class PrintJob:
    layer_ids: tuple[str, ...]
    bbox: tuple[float, float, float, float]  # WGS84 west, south, east, north
    paper: str = "A4"
    fmt: str = "png"
    title: str = ""
    lang: str = "zh"


def check_job(layer_ids: list[str], bbox: tuple[float, float, float, float], paper: str,
              fmt: str, lang: str) -> None:
    if not layer_ids:
        raise InvalidParameter("请至少给出一个图层（layers=counties,axes）。",
                               "Give at least one layer (layers=counties,axes).")
    if len(layer_ids) > MAX_LAYERS:
        raise OutOfRange("layers", len(layer_ids), 1, MAX_LAYERS, "个 layers")
    if paper not in PAPERS_MM:
        raise UnknownChoice("paper", paper, PAPERS_MM)
    if fmt not in FORMATS:
        raise UnknownChoice("format", fmt, FORMATS)
    if lang not in LANGS:
        raise UnknownChoice("lang", lang, LANGS)
    west, south, east, north = bbox
    if not (-180 <= west < east <= 180 and -80 <= south < north <= 84):
        raise InvalidParameter("bbox 须为经纬度 w,s,e,n（w<e, s<n）。",
                               "bbox must be lon/lat w,s,e,n with w<e and s<n.", parameter="bbox")
    if east - west > 6 or north - south > 6:
        raise InvalidParameter("出图范围过大（超过 6°）：请缩小 bbox，以免跨越多个 3 度带。",
                               "The print extent is too large (over 6°): give a smaller bbox "
                               "so it stays within a few 3-degree zones.", parameter="bbox")


def _font() -> font_manager.FontProperties:
    if FONT_PATH.exists():
        font_manager.fontManager.addfont(str(FONT_PATH))
        return font_manager.FontProperties(fname=str(FONT_PATH))
    return font_manager.FontProperties()  # no CJK glyphs: install fonts-wqy-microhei


def render(store: Store, rasters: RasterCatalog, job: PrintJob) -> bytes:
    """The printed sheet as PNG (300 dpi) or PDF bytes."""
    check_job(list(job.layer_ids), job.bbox, job.paper, job.fmt, job.lang)
    catalogue = Catalogue(store, rasters)
    layers = [catalogue.layer(layer_id) for layer_id in job.layer_ids]
    for layer in layers:
        if layer.kind == "vector" and layer.geometry_type == "None":
            raise LayerWithoutGeometry(
                f"图层“{layer.id}”没有几何，无法出图。",
                f"Layer '{layer.id}' has no geometry and cannot be drawn.", collection=layer.id)
    zh = job.lang == "zh"
    font = _font()
    west, south, east, north = job.bbox
    lon0, lat0 = (west + east) / 2, (south + north) / 2
    epsg = gk_zone_epsg(lon0)
    to_plane = Transformer.from_crs(4326, epsg, always_xy=True)
    extent = to_plane.transform_bounds(west, south, east, north, densify_pts=21)

    width_mm, height_mm = PAPERS_MM[job.paper]
    with matplotlib.rc_context({"font.family": font.get_name(), "pdf.fonttype": 42,
                                "axes.unicode_minus": False}):
        # whole pixels: A4 is 3508 × 2480 px at 300 dpi
        figure = Figure(figsize=(round(width_mm / 25.4 * DPI) / DPI,
                                 round(height_mm / 25.4 * DPI) / DPI), dpi=DPI)
        ax = figure.add_axes(MAP_BOX)
        _fit_extent(ax, extent, figure)
        handles, sources, notes = [], [], []
        for i, layer in enumerate(layers):
            colour = PALETTE[i % len(PALETTE)]
            title = layer.title_zh if zh else layer.title_en
            if layer.kind == "raster":
                handles.append(_draw_raster(ax, rasters, layer, extent, epsg, title))
            else:
                handles.append(_draw_vector(ax, store, layer, job.bbox, to_plane, colour, title,
                                            font))
            prov = layer.provenance
            sources.append((f"来源 {title}：{prov.source}（{prov.license}）" if zh
                            else f"Source of {title}: {prov.source} ({prov.license})"))
            if prov.illustrative:
                notes.append((f"注：“{title}”为演示/算法生成数据，非官方成果。{prov.note}" if zh
                              else f"Note: '{title}' is illustrative / algorithm-generated "
                              f"(演示), not official data. {prov.note}").strip())
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_xlabel(""), ax.set_ylabel("")
        scale = _scale_bar(ax, figure, font, zh)
        convergence = _north_arrow(ax, font, epsg, lon0, lat0, zh)
        _legend(figure, handles, font, zh)
        crs_key = f"EPSG:{epsg}"
        crs_name = CRS_NAMES.get(crs_key, (CRS(epsg).name, CRS(epsg).name))[0 if zh else 1]
        figure.text(0.5, 0.955, job.title or ("共富图集 专题图" if zh else "Gongfu Atlas map"),
                    ha="center", va="center", fontproperties=font, fontsize=20,
                    fontweight="bold")
        info = (f"坐标系：{crs_name}（{crs_key}）　比例尺 1:{scale:,.0f}　"
                f"指北针为坐标北，与真北相差 {abs(convergence):.2f}°"
                if zh else
                f"CRS: {crs_name} ({crs_key})   scale 1:{scale:,.0f}   "
                f"north arrow: grid north, {abs(convergence):.2f}° from true north")
        lines = [info] + sources + notes
        wrapped = [part for line in lines for part in textwrap.wrap(line, 190 if zh else 260)]
        step = min(0.018, (MAP_BOX[1] - 0.06) / max(len(wrapped), 1))
        y = MAP_BOX[1] - 0.035
        for line in wrapped:
            figure.text(MAP_BOX[0], y, line, ha="left", va="top", fontproperties=font,
                        fontsize=min(6.5, step * figure.get_figheight() * 72 * 0.85))
            y -= step
        buffer = io.BytesIO()
        if job.fmt == "pdf":
            FigureCanvasPdf(figure)
            figure.savefig(buffer, format="pdf", dpi=DPI,
                           metadata={"Title": job.title or "Gongfu Atlas",
                                     "Creator": "共富图集 Gongfu Atlas"})
        else:
            FigureCanvasAgg(figure)
            figure.savefig(buffer, format="png", dpi=DPI, metadata={  # sources in the file too
                "Title": job.title or "Gongfu Atlas", "Source": "\n".join(sources)})
    return buffer.getvalue()


def _fit_extent(ax, extent, figure) -> None:
    """Grow the extent to the frame's shape so one metre is as long across as up."""
    minx, miny, maxx, maxy = extent
    frame_w = MAP_BOX[2] * figure.get_figwidth()
    frame_h = MAP_BOX[3] * figure.get_figheight()
    width, height = maxx - minx, maxy - miny
    if width / height < frame_w / frame_h:
        grow = (height * frame_w / frame_h - width) / 2
        minx, maxx = minx - grow, maxx + grow
    else:
        grow = (width * frame_h / frame_w - height) / 2
        miny, maxy = miny - grow, maxy + grow
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal", adjustable="box")


def _draw_vector(ax, store: Store, layer: Layer, bbox, to_plane, colour: str, title: str,
                 font) -> object:
    import geopandas as gpd

    frame = store.features(layer.id, bbox=bbox).features
    geoms = frame.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    frame, geoms = frame[present], geoms[present]
    plane = shapely.transform(geoms, lambda xy: np.column_stack(
        to_plane.transform(xy[:, 0], xy[:, 1])))
    series = gpd.GeoSeries(plane)
    kind = layer.geometry_type.removeprefix("Multi")
    if kind == "Polygon":
        if len(series):
            series.plot(ax=ax, facecolor=colour, alpha=0.12, edgecolor="none")
            series.boundary.plot(ax=ax, color=colour, linewidth=1.0)
        if "name" in frame and 0 < len(frame) <= 60:
            for name, geom in zip(frame["name"], plane):
                point = label_point(geom)
                ax.text(point.x, point.y, str(name), ha="center", va="center", fontsize=8,
                        fontproperties=font, color="#333333", clip_on=True)
        return Patch(facecolor=colour, edgecolor=colour, alpha=0.5, label=title)
    if kind == "LineString":
        if len(series):
            series.plot(ax=ax, color=colour, linewidth=1.6)
        return Line2D([], [], color=colour, linewidth=1.6, label=title)
    if len(series):
        series.plot(ax=ax, color=colour, markersize=14, edgecolor="white", linewidth=0.4)
    if "name" in frame and 0 < len(frame) <= 60:
        for name, point in zip(frame["name"], plane):
            ax.annotate(str(name), (point.x, point.y), xytext=(3, 3), textcoords="offset points",
                        fontsize=6.5, fontproperties=font, color="#222222", clip_on=True,
                        annotation_clip=True)
    return Line2D([], [], marker="o", linestyle="", color=colour, label=title)


def _draw_raster(ax, rasters: RasterCatalog, layer: Layer, extent, epsg: int, title: str):
    """Band 1 of the COG, read (or warped) onto the map's plane over the map's extent."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    meta = rasters.meta(layer.id)
    xmin, xmax = ax.get_xlim()
    ymin, ymax = ax.get_ylim()
    step = max(xmax - xmin, ymax - ymin) / RASTER_MAX_PX
    with rasterio.open(rasters.path(layer.id)) as src:
        width = int(math.ceil((xmax - xmin) / step))
        height = int(math.ceil((ymax - ymin) / step))
        transform = rasterio.transform.from_bounds(xmin, ymin, xmax, ymax, width, height)
        with WarpedVRT(src, crs=f"EPSG:{epsg}", transform=transform, width=width,
                       height=height, resampling=Resampling.nearest) as vrt:
            data = vrt.read(1, masked=True)
    data = np.ma.masked_invalid(data)
    table = colormap(meta.colormap)
    cmap = ListedColormap([tuple(c / 255 for c in table[i]) for i in range(256)])
    norm = Normalize(*meta.rescale)
    ax.imshow(data, extent=(xmin, xmax, ymin, ymax), cmap=cmap, norm=norm, origin="upper",
              interpolation="nearest", zorder=0)
    middle = cmap(0.7)
    label = f"{title}（{meta.unit}，{meta.rescale[0]:g}–{meta.rescale[1]:g}）"
    return Patch(facecolor=middle, edgecolor="none", label=label)


def _scale_bar(ax, figure, font, zh: bool) -> float:
    """A 4-part km scale bar at the lower left; returns the map's scale denominator."""
    xmin, xmax = ax.get_xlim()
    ymin, ymax = ax.get_ylim()
    width_m = xmax - xmin
    frame_mm = ax.get_position().width * figure.get_figwidth() * 25.4
    scale = width_m / (frame_mm / 1000)
    target = width_m / 5
    magnitude = 10 ** math.floor(math.log10(target))
    length = max(v * magnitude for v in (1, 2, 5) if v * magnitude <= target)
    x0, y0 = xmin + width_m * 0.04, ymin + (ymax - ymin) * 0.04
    height = (ymax - ymin) * 0.008
    for i in range(4):
        ax.add_patch(Rectangle((x0 + i * length / 4, y0), length / 4, height,
                               facecolor="black" if i % 2 == 0 else "white",
                               edgecolor="black", linewidth=0.6, zorder=5))
    km = length / 1000
    for value, x in ((0, x0), (km / 2, x0 + length / 2), (km, x0 + length)):
        ax.text(x, y0 + height * 1.6, f"{value:g}", ha="center", va="bottom", fontsize=7,
                fontproperties=font, zorder=5)
    ax.text(x0 + length + width_m * 0.01, y0, "千米 km" if zh else "km", ha="left",
            va="bottom", fontsize=7, fontproperties=font, zorder=5)
    return scale


def _north_arrow(ax, font, epsg: int, lon: float, lat: float, zh: bool) -> float:
    """A north arrow at the upper right (grid north); returns the meridian convergence (°)."""
    convergence = float(Proj(CRS.from_epsg(epsg)).get_factors(lon, lat).meridian_convergence)
    ax.add_artist(FancyArrow(0.94, 0.86, 0, 0.07, width=0.012, head_width=0.035,
                             head_length=0.035, length_includes_head=True, color="black",
                             transform=ax.transAxes, zorder=6))
    ax.text(0.94, 0.95, "北 N" if zh else "N", transform=ax.transAxes, ha="center",
            va="bottom", fontsize=10, fontproperties=font, zorder=6)
    return convergence


def _legend(figure, handles, font, zh: bool) -> None:
    left = MAP_BOX[0] + MAP_BOX[2] + 0.02
    for handle in handles:
        handle.set_label("\n".join(textwrap.wrap(handle.get_label(), 16 if zh else 30)))
    figure.legend(handles=handles, loc="upper left", bbox_to_anchor=(left, MAP_BOX[1] + MAP_BOX[3]),
                  title="图例" if zh else "Legend", prop=font, title_fontproperties=font,
                  frameon=False, fontsize=9)
