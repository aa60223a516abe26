"""Areas and lengths on the CGCS2000 3° Gauss-Kruger plane, never on Web Mercator.

Huzhou lies in the CM 120E zone (EPSG:4549). For data elsewhere in China each geometry is
measured in its own 3° zone (EPSG:4534 = CM 75E … EPSG:4554 = CM 135E), so a national build
does not suffer the distortion of a zone 45° away.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

MU_PER_KM2 = 1500.0  # 1 km² = 1,500 亩 (mu); 1 公顷 = 15 亩
HUZHOU_ZONE_EPSG = 4549
_FIRST_ZONE_EPSG, _FIRST_ZONE_CM, _LAST_ZONE_EPSG = 4534, 75, 4554


def gk_zone_epsg(lon: float) -> int:
    """EPSG code of the CGCS2000 3° Gauss-Kruger zone (CM longitude) nearest to `lon`."""
    offset = int(round((lon - _FIRST_ZONE_CM) / 3.0))
    return int(np.clip(_FIRST_ZONE_EPSG + offset, _FIRST_ZONE_EPSG, _LAST_ZONE_EPSG))


@lru_cache(maxsize=32)
def _to_zone(epsg: int) -> Transformer:
    """Building a PROJ transformer costs ~0.2 s; one per zone is enough."""
    return Transformer.from_crs(CRS.from_user_input("OGC:CRS84"), CRS.from_epsg(epsg),
                                always_xy=True)


def _projected(geoms: np.ndarray, epsg: int) -> np.ndarray:
    transformer = _to_zone(epsg)

    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, apply)


def zone_for_each(geoms: np.ndarray) -> np.ndarray:
    """The 3° GK zone EPSG for each WGS84 geometry, chosen from its centroid longitude."""
    lons = shapely.get_x(shapely.centroid(geoms))
    return np.array([gk_zone_epsg(lon) for lon in lons], dtype=int)


def area_km2(geoms: np.ndarray, epsg: np.ndarray | int | None = None) -> np.ndarray:
    """Area of WGS84 geometries in km², each measured in its GK zone (or the given EPSG)."""
    geoms = np.asarray(geoms, dtype=object)
    zones = zone_for_each(geoms) if epsg is None else np.broadcast_to(epsg, geoms.shape)
    areas = np.zeros(geoms.shape, dtype=float)
    for zone in np.unique(zones):
        mask = zones == zone
        areas[mask] = shapely.area(_projected(geoms[mask], int(zone))) / 1e6
    return areas


def length_km(geoms: np.ndarray, epsg: int = HUZHOU_ZONE_EPSG) -> np.ndarray:
    """Length of WGS84 line geometries in km on the given GK plane (default EPSG:4549)."""
    return shapely.length(_projected(np.asarray(geoms, dtype=object), epsg)) / 1e3
