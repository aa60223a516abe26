"""Downloads of a layer in GeoJSON, GeoPackage, Shapefile (zip), KML or CSV."""

from fastapi import APIRouter

router = APIRouter()
