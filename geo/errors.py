"""Errors a user can cause, each with a Chinese and an English message.

The API maps each class to one HTTP status in one place (`api/errors.py`).
"""

from __future__ import annotations


class AtlasError(Exception):
    """Base for every error caused by user input; carries a bilingual message."""

    code = "bad_request"

    def __init__(self, message_zh: str, message_en: str, **detail: object) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.detail = detail


class InvalidParameter(AtlasError):
    """A query parameter is malformed or out of range."""

    code = "invalid_parameter"


class UnknownCrs(InvalidParameter):
    """A CRS that the atlas does not offer."""

    code = "unknown_crs"


class UnsupportedFormat(InvalidParameter):
    """A download format or encoding that the atlas does not write."""

    code = "unsupported_format"


class NotFound(AtlasError):
    """Base for references to things that do not exist."""

    code = "not_found"


class UnknownCollection(NotFound):
    code = "unknown_collection"


class UnknownFeature(NotFound):
    code = "unknown_feature"


class InvalidData(AtlasError):
    """Features that do not fit their layer (wrong geometry type, duplicate ids, …)."""

    code = "invalid_data"


class Unauthorized(AtlasError):
    """A request that needs a bearer token (upload owner or API key) and has none valid."""

    code = "unauthorized"


class PayloadTooLarge(AtlasError):
    """An upload over the size limit, or an archive that unpacks beyond its limits."""

    code = "payload_too_large"


class UnsafeUpload(InvalidData):
    """An archive member that would escape its folder (absolute path, '..', symlink)."""

    code = "unsafe_upload"


class UnreadableUpload(InvalidData):
    """An upload with no readable geodata: non-geo files, truncated or inconsistent files."""

    code = "unreadable_upload"


class LayerWithoutGeometry(InvalidParameter):
    """A tile or map asked of a registry layer that has no geometry (e.g. villages)."""

    code = "layer_without_geometry"
