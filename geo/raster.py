"""Rasters: Cloud-Optimised GeoTIFFs, import in any CRS, PNG tiles, legends, zonal statistics.

Rasters are kept as COGs on the CGCS2000 3° Gauss-Kruger plane (EPSG:4549 for Huzhou), so a
cell has a true area in m² and zonal sums are area-weighted without Web Mercator distortion.
Tiles are cut from the COG by rio-tiler (WebMercatorQuad); zonal statistics use exactextract
(exact cell-coverage fractions). Imports are processed block by block, so memory stays bounded
by one block, whatever the file size.
"""

from __future__ import annotations

import functools
import io
import json
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
import shapely
from PIL import Image
from pyproj import CRS, Transformer
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.vrt import WarpedVRT
from rio_tiler.colormap import cmap as COLORMAPS
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader
from rio_tiler.models import ImageData

from geo import durable
from geo.grids import Grid
from geo.errors import (InvalidData, InvalidParameter, UnknownChoice, UnknownCollection,
                        UnreadableUpload)

WORK_CRS = "EPSG:4549"  # CGCS2000 / 3-degree Gauss-Kruger CM 120E: Huzhou's measuring plane
TILE_SIZE = 256
BLOCK = 512
IMPORT_CACHE_MB = 64
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


# ---------------------------------------------------------------- writing and importing


def write_cog(path: Path, array: np.ndarray, transform, crs: str, nodata: float | None,
              tags: dict[str, str] | None = None) -> None:
    """Write a (bands, rows, cols) or (rows, cols) array as a COG, atomically."""
    array = array[np.newaxis] if array.ndim == 2 else array
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        plain = Path(tmp) / "plain.tif"
        profile = dict(driver="GTiff", width=array.shape[2], height=array.shape[1],
                       count=array.shape[0], dtype=array.dtype, crs=crs, transform=transform,
                       nodata=nodata, tiled=True, blockxsize=BLOCK, blockysize=BLOCK)
        with rasterio.open(plain, "w", **profile) as dst:
            dst.write(array)
            dst.update_tags(**(tags or {}))
        _to_cog(plain, path, Path(tmp))


def _to_cog(plain: Path, path: Path, tmp: Path, resampling: str = "nearest") -> None:
    cog = tmp / "cog.tif"
    rasterio.shutil.copy(plain, cog, driver="COG", compress="DEFLATE", blocksize=BLOCK,
                         overview_resampling=resampling.upper())
    durable.replace(cog, path)


# The only format a raster import opens: a VRT or any other GDAL format saved as ".tif" could
# name other files (/etc/passwd, /vsicurl/…) as its pixels, so it is refused, not read.
IMPORT_DRIVER = "GTiff"


def import_raster(source: Path, path: Path, crs: str = WORK_CRS,
                  resampling: str = "nearest") -> None:
    """Reproject a GeoTIFF in any CRS to `crs` and write it to `path` as a COG (durably).

    Pixels are warped one block at a time through a WarpedVRT (bounded memory). A source
    without a nodata value gets one (NaN for floats, the type's maximum for integers) so that
    the area outside the source stays transparent and out of statistics.
    """
    # GDAL's block cache defaults to 5% of RAM; cap it so a large import stays small.
    with rasterio.Env(GDAL_CACHEMAX=IMPORT_CACHE_MB):
        _import(source, path, crs, resampling)


def _import(source: Path, path: Path, crs: str, resampling: str) -> None:
    try:
        src = rasterio.open(source, driver=IMPORT_DRIVER)
    except RasterioIOError:
        raise UnreadableUpload("该文件不是可读取的栅格（GeoTIFF）。",
                               "The file is not a readable raster (GeoTIFF).") from None
    with src:
        if src.crs is None:
            raise InvalidData("栅格没有坐标参考系（CRS），无法定位。请在 GIS 中指定后再上传。",
                              "The raster has no coordinate reference system (CRS); assign "
                              "one in your GIS and upload it again.")
        if src.count == 0 or src.width == 0 or src.height == 0:
            raise UnreadableUpload("栅格没有像元。", "The raster has no cells.")
        dtype = np.dtype(src.dtypes[0])
        nodata = src.nodata
        if nodata is None:
            nodata = float("nan") if dtype.kind == "f" else np.iinfo(dtype).max
        method = Resampling[resampling]
        with WarpedVRT(src, crs=crs, resampling=method, nodata=nodata) as vrt, \
                tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            plain = Path(tmp) / "plain.tif"
            profile = dict(driver="GTiff", width=vrt.width, height=vrt.height, count=vrt.count,
                           dtype=dtype, crs=vrt.crs, transform=vrt.transform, nodata=nodata,
                           tiled=True, blockxsize=BLOCK, blockysize=BLOCK, compress="DEFLATE",
                           BIGTIFF="IF_SAFER")
            with rasterio.open(plain, "w", **profile) as dst:
                dst.update_tags(**src.tags())
                for _, window in dst.block_windows(1):
                    dst.write(vrt.read(window=window), window=window)
            _to_cog(plain, path, Path(tmp), resampling)


# ---------------------------------------------------------------- the catalogue


@dataclass
class RasterMeta:
    """What the atlas says about a raster: titles, unit, default styling and provenance."""

    id: str
    title_zh: str
    title_en: str
    unit: str  # e.g. "t CO2e/ha/yr"; a unit "per ha" makes zonal `total` meaningful
    colormap: str = "viridis"
    rescale: tuple[float, float] = (0.0, 1.0)
    source: str = ""
    license: str = ""
    illustrative: bool = False  # derived/illustrative, labelled so in API and legend
    note: str = ""
    per_ha: bool = False  # values are densities per hectare (zonal total = Σ value × area)
    extra: dict = field(default_factory=dict)


class RasterCatalog:
    """A folder of COGs, each `<id>.tif` with a `<id>.json` sidecar (RasterMeta)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, raster_id: str) -> Path:
        check_raster_id(raster_id)
        path = self.folder / f"{raster_id}.tif"
        if not path.exists():
            known = ", ".join(m.id for m in self.list()) or "—"
            raise UnknownCollection(f"没有名为“{raster_id}”的栅格。现有：{known}",
                                    f"No raster named '{raster_id}'. Available: {known}",
                                    raster=raster_id)
        return path

    def meta(self, raster_id: str) -> RasterMeta:
        self.path(raster_id)
        raw = json.loads((self.folder / f"{raster_id}.json").read_text(encoding="utf-8"))
        raw["rescale"] = tuple(raw["rescale"])
        return RasterMeta(**raw)

    def list(self) -> list[RasterMeta]:
        if not self.folder.exists():
            return []
        return [self.meta(p.stem) for p in sorted(self.folder.glob("*.json"))
                if (self.folder / f"{p.stem}.tif").exists()]

    def version(self) -> tuple:
        """Changes whenever a raster or its sidecar is written, added or removed."""
        if not self.folder.exists():
            return ()
        return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in self.folder.iterdir()
                            if p.suffix in (".tif", ".json")))

    def has(self, raster_id: str) -> bool:
        """Both files are there (the sidecar is written last, so this means complete)."""
        return all((self.folder / f"{raster_id}{s}").exists() for s in (".tif", ".json"))

    def put_meta(self, meta: RasterMeta) -> None:
        """Write the sidecar atomically (the COG is written first by write_cog/import_raster)."""
        check_raster_id(meta.id)
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{meta.id}.json"
        with tempfile.NamedTemporaryFile("w", dir=self.folder, delete=False, suffix=".tmp",
                                         encoding="utf-8") as tmp:
            json.dump(asdict(meta), tmp, ensure_ascii=False, indent=1)
        durable.replace(tmp.name, target)


def check_raster_id(raster_id: str) -> None:
    if not _ID.match(raster_id):
        raise InvalidParameter("栅格编号只能含小写字母、数字、- 和 _（最长 64）。",
                               "A raster id may only hold a-z, 0-9, '-' and '_' (≤ 64).")


# ---------------------------------------------------------------- reading and tiles


@dataclass(frozen=True)
class RasterInfo:
    """Extent (WGS84 lon/lat), grid and value range of a raster."""

    bounds_wgs84: tuple[float, float, float, float]
    crs: str
    width: int
    height: int
    resolution: tuple[float, float]
    dtype: str
    nodata: float | None
    minzoom: int
    maxzoom: int
    value_min: float | None
    value_max: float | None


def info(path: Path) -> RasterInfo:
    """Metadata plus min/max read from the smallest overview, kept per file version (size and
    modification time): a catalogue lists every raster on each request."""
    stat = Path(path).stat()
    return _info(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _info(path: str, mtime_ns: int, size: int) -> RasterInfo:
    with Reader(path) as reader:
        ds = reader.dataset
        level = ds.overviews(1)[-1] if ds.overviews(1) else 1
        small = ds.read(1, masked=True, out_shape=(max(1, ds.height // level),
                                                   max(1, ds.width // level)))
        small = np.ma.masked_invalid(small)
        has_data = small.count() > 0
        return RasterInfo(
            bounds_wgs84=tuple(float(v) for v in reader.get_geographic_bounds(
                CRS.from_epsg(4326))),
            crs=ds.crs.to_string(), width=ds.width, height=ds.height,
            resolution=(abs(ds.transform.a), abs(ds.transform.e)), dtype=ds.dtypes[0],
            nodata=None if ds.nodata is None or np.isnan(ds.nodata) else float(ds.nodata),
            minzoom=reader.minzoom, maxzoom=reader.maxzoom,
            value_min=float(small.min()) if has_data else None,
            value_max=float(small.max()) if has_data else None,
        )


def colormap(name: str) -> dict:
    """A rio-tiler colormap by name (e.g. 'viridis', 'ylgn', 'rdylgn')."""
    try:
        return COLORMAPS.get(name.lower())
    except Exception:
        raise UnknownChoice("colormap", name, sorted(COLORMAPS.list())) from None


def check_rescale(rescale: tuple[float, float]) -> tuple[float, float]:
    low, high = rescale
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise InvalidParameter("rescale 须为两个有限数 min,max 且 min < max。",
                               "rescale must be two finite numbers min,max with min < max.")
    return float(low), float(high)


def _render(image: ImageData, cmap_name: str, rescale: tuple[float, float]) -> bytes:
    image.rescale(in_range=(check_rescale(rescale),))
    return image.render(img_format="PNG", colormap=colormap(cmap_name))


def empty_tile(size: int = TILE_SIZE) -> bytes:
    """A fully transparent PNG (tiles outside the raster)."""
    buffer = io.BytesIO()
    Image.new("RGBA", (size, size), (0, 0, 0, 0)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def tile_png(path: Path, z: int, x: int, y: int, cmap_name: str,
             rescale: tuple[float, float], crs: str = "WGS84", grid: Grid | None = None) -> bytes:
    """One WebMercatorQuad tile as PNG: colours by `cmap_name` over `rescale` (min, max);
    nodata and the area outside the raster are transparent. `crs="GCJ-02"`: the tile of the
    GCJ-02 map (高德), each pixel sampled at its own WGS84 position (gcj02_sample_points).
    `grid`: another tile grid (geo/grids.py), x the column and y the row (WGS84 only)."""
    colormap(cmap_name)
    check_rescale(rescale)
    if grid is not None and grid.id != "WebMercatorQuad":
        grid.check_tile(z, x, y)
        if crs != "WGS84":
            raise UnknownChoice("crs", crs, ("WGS84",))
        with Reader(str(path), tms=grid.tms) as reader:
            try:
                image = reader.tile(x, y, z, tilesize=TILE_SIZE, indexes=1)
            except TileOutsideBounds:
                return empty_tile()
        return _render(image, cmap_name, rescale)
    if z < 0 or not (0 <= x < 2**z and 0 <= y < 2**z):
        raise InvalidParameter(f"瓦片 {z}/{x}/{y} 超出 WebMercatorQuad 范围。",
                               f"Tile {z}/{x}/{y} is outside the WebMercatorQuad grid.")
    if crs not in ("WGS84", "GCJ-02"):
        raise UnknownChoice("crs", crs, ("WGS84", "GCJ-02"))
    with Reader(str(path)) as reader:
        try:
            if crs == "GCJ-02":
                image = _gcj02_tile(reader, z, x, y)
            else:
                image = reader.tile(x, y, z, tilesize=TILE_SIZE, indexes=1)
        except TileOutsideBounds:
            return empty_tile()
    return _render(image, cmap_name, rescale)


def gcj02_sample_points(z: int, x: int, y: int, size: int = TILE_SIZE
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator (x, y) of the WGS84 position under each pixel centre of GCJ-02 tile
    z/x/y, shape (size, size) each, rows from the top.

    The GCJ-02 offset is a few hundred metres and varies by ~3 m per km, so no single shift
    (nor the tile's shifted bounding box: up to 0.9 px off at any zoom, measured) fits a whole
    tile; every pixel centre is inverted on its own (geo.gcj02, to 1e-9°).
    """
    from geo.gcj02 import gcj02_to_wgs84

    left, bottom, right, top = _mercator_bounds(z, x, y)
    step = (right - left) / size
    centres = (np.arange(size) + 0.5) * step
    mx, my = np.meshgrid(left + centres, top - centres)
    lon, lat = _MERC_TO_LL.transform(mx, my)
    wlon, wlat = gcj02_to_wgs84(lon, lat)
    return _LL_TO_MERC.transform(wlon, wlat)


def _mercator_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    import morecantile

    b = morecantile.tms.get("WebMercatorQuad").xy_bounds(morecantile.Tile(x, y, z))
    return b.left, b.bottom, b.right, b.top


_MERC_TO_LL = Transformer.from_crs(3857, 4326, always_xy=True)
_LL_TO_MERC = Transformer.from_crs(4326, 3857, always_xy=True)


def _gcj02_tile(reader: Reader, z: int, x: int, y: int) -> ImageData:
    """The raster under GCJ-02 tile z/x/y: a WGS84 Web Mercator window at the tile's own
    resolution around the shifted pixels, then each pixel taken (nearest) at its exact
    inverse-shifted position, as rio-tiler takes nearest cells for plain tiles."""
    mx, my = gcj02_sample_points(z, x, y)
    left, _, right, _ = _mercator_bounds(z, x, y)
    step = (right - left) / TILE_SIZE
    west, south = mx.min() - 2 * step, my.min() - 2 * step
    width = int(np.ceil((mx.max() + 2 * step - west) / step))
    height = int(np.ceil((my.max() + 2 * step - south) / step))
    east, north = west + width * step, south + height * step
    geographic = _MERC_TO_LL.transform([west, east], [south, north])
    bounds = reader.get_geographic_bounds(CRS.from_epsg(4326))
    if (geographic[0][1] < bounds[0] or geographic[0][0] > bounds[2]
            or geographic[1][1] < bounds[1] or geographic[1][0] > bounds[3]):
        raise TileOutsideBounds("GCJ-02 tile outside the raster")
    part = reader.part((west, south, east, north), dst_crs=CRS.from_epsg(3857),
                       bounds_crs=CRS.from_epsg(3857), width=width, height=height, indexes=1)
    cols = np.clip(((mx - west) / step).astype(int), 0, width - 1)
    rows = np.clip(((north - my) / step).astype(int), 0, height - 1)
    data = part.array[:, rows, cols]
    return ImageData(np.ma.MaskedArray(data.data, mask=np.ma.getmaskarray(data)))


def legend_stops(cmap_name: str, rescale: tuple[float, float],
                 values: np.ndarray | None = None) -> list[dict]:
    """The colour each value gets in tiles: the same rescale + colormap code path as tile_png."""
    low, high = check_rescale(rescale)
    values = np.linspace(low, high, 6) if values is None else np.asarray(values, dtype=float)
    image = ImageData(np.ma.MaskedArray(values.reshape(1, 1, -1).astype("float64"),
                                        mask=np.zeros((1, 1, len(values)), bool)))
    rgba = np.asarray(Image.open(io.BytesIO(_render(image, cmap_name, rescale))).convert("RGBA"))
    return [{"value": float(v), "color": "#%02x%02x%02x" % tuple(int(c) for c in rgba[0, i, :3])}
            for i, v in enumerate(values)]


def legend_png(cmap_name: str, rescale: tuple[float, float], width: int = 256,
               height: int = 16) -> bytes:
    """A horizontal colour bar from rescale min (left) to max (right), as tiles colour them."""
    low, high = check_rescale(rescale)
    row = np.linspace(low, high, width)
    data = np.broadcast_to(row, (1, height, width)).astype("float64").copy()
    return _render(ImageData(np.ma.MaskedArray(data, mask=np.zeros_like(data, bool))),
                   cmap_name, rescale)


# ---------------------------------------------------------------- zonal statistics


@dataclass(frozen=True)
class ZonalResult:
    """Area-weighted statistics of one polygon over a raster, measured in EPSG:4549.

    `covered_ha`: area of the polygon over valid raster cells; `mean`: coverage-weighted mean
    of the values; `sum`: Σ value × covered fraction of each cell; `total`: Σ value × covered
    area in ha (the integral, e.g. t/yr for a t/ha/yr raster); `polygon_ha`: whole polygon.
    """

    polygon_ha: float
    covered_ha: float
    sum: float
    mean: float | None
    total: float


def zonal_stats(geoms: np.ndarray, path: Path, geoms_crs: str = "EPSG:4326",
                repair: bool = True) -> list[ZonalResult]:
    """Zonal statistics of each polygon (shapely array in `geoms_crs`) over band 1 of `path`.

    Computed on the EPSG:4549 plane: the raster is warped there (nearest) if it is stored in
    another CRS. A polygon outside the raster gives zeros and mean None, not an error.
    `repair=False` skips make_valid for a caller whose multipolygons have parts that only
    touch (e.g. dissolved parcels, layers/overlay.py): exactextract adds the coverage of each
    part, so the figures are the union's without the cost of building it.
    """
    import geopandas as gpd
    from exactextract import exact_extract
    from exactextract.raster import RasterioRasterSource

    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return []
    kinds = set(shapely.get_type_id(geoms[~shapely.is_missing(geoms)]).tolist())
    if not kinds or not kinds <= {3, 6}:  # Polygon, MultiPolygon
        raise InvalidParameter("区域统计只接受面（Polygon/MultiPolygon）。",
                               "Zonal statistics take polygons (Polygon/MultiPolygon) only.")
    if repair:
        geoms = shapely.make_valid(geoms)
    to_work = Transformer.from_crs(CRS.from_user_input(geoms_crs), CRS.from_user_input(WORK_CRS),
                                   always_xy=True)
    projected = shapely.transform(geoms, lambda c: np.column_stack(to_work.transform(c[:, 0],
                                                                                     c[:, 1])))
    polygon_ha = shapely.area(projected) / 1e4
    try:
        src = rasterio.open(path)
    except RasterioIOError:
        raise UnreadableUpload("该文件不是可读取的栅格。", "The file is not a readable raster.") from None
    with src:
        if src.crs is None:
            raise InvalidData("栅格没有坐标参考系（CRS）。", "The raster has no CRS.")
        work = CRS.from_user_input(WORK_CRS)
        dataset = src if CRS.from_user_input(src.crs.to_wkt()).equals(work) else WarpedVRT(
            src, crs=WORK_CRS, resampling=Resampling.nearest)
        try:
            cell_ha = abs(dataset.transform.a * dataset.transform.e) / 1e4
            frame = gpd.GeoDataFrame({"i": np.arange(len(projected))}, geometry=projected,
                                     crs=WORK_CRS)
            table = exact_extract(RasterioRasterSource(dataset, 1), frame,
                                  ["count", "sum", "mean"], include_cols=["i"], output="pandas")
        finally:
            if dataset is not src:
                dataset.close()
    results = []
    for row, area in zip(table.sort_values("i").itertuples(), polygon_ha):
        covered = float(row.count) * cell_ha
        total_sum = float(row.sum) if np.isfinite(row.sum) else 0.0
        results.append(ZonalResult(
            polygon_ha=float(area), covered_ha=covered, sum=total_sum,
            mean=float(row.mean) if row.count > 0 and np.isfinite(row.mean) else None,
            total=total_sum * cell_ha))
    return results
