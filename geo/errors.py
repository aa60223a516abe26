"""The catalogue of errors a user can cause. Each type carries its HTTP status, a stable
`code`, and its Chinese and English message — given at the raise site, or filled from the
type's templates with the error's details (as pygeoapi's exception catalogue does).

The API answers every one in one JSON shape (`api/errors.py`); the CLI prints both messages
and exits with 2 (`cli/`). Neither keeps its own table of statuses or wordings.
"""

from __future__ import annotations

from collections.abc import Iterable


class AtlasError(Exception):
    """Base for every error caused by user input; carries a bilingual message."""

    status = 400
    code = "bad_request"
    template_zh = "请求无效。"
    template_en = "Bad request."

    def __init__(self, message_zh: str | None = None, message_en: str | None = None,
                 **detail: object) -> None:
        self.message_zh = message_zh if message_zh is not None else self.template_zh.format(
            **detail)
        self.message_en = message_en if message_en is not None else self.template_en.format(
            **detail)
        super().__init__(self.message_en)
        self.detail = detail

    def __reduce__(self) -> tuple:
        # Pickled whole (both messages, details) when it crosses a process boundary, e.g.
        # from the upload sandbox; subclasses' own __init__ signatures are bypassed.
        return (_restore, (type(self), self.message_zh, self.message_en, self.detail))


def _restore(kind: type[AtlasError], message_zh: str, message_en: str,
             detail: dict) -> AtlasError:
    error = kind.__new__(kind)
    Exception.__init__(error, message_en)
    error.message_zh, error.message_en, error.detail = message_zh, message_en, detail
    return error


class InvalidParameter(AtlasError):
    """A query parameter is malformed or out of range. The templated kinds below keep this
    `code` (clients match on it); they only word the message once."""

    code = "invalid_parameter"


class UnknownChoice(InvalidParameter):
    """A value that is not one of a parameter's choices (scheme, ramp, format, level…)."""

    template_zh = "参数 {parameter} 的值“{value}”无效。可选：{choices}"
    template_en = "Invalid {parameter} '{value}'. Choose one of: {choices}"

    def __init__(self, parameter: str, value: object, choices: Iterable[object]) -> None:
        super().__init__(parameter=parameter, value=str(value),
                         choices=", ".join(str(c) for c in choices))


class NotAnInteger(InvalidParameter):
    template_zh = "参数 {parameter} 须为整数，而不是“{value}”。"
    template_en = "Parameter {parameter} must be an integer, not '{value}'."

    def __init__(self, parameter: str, value: object) -> None:
        super().__init__(parameter=parameter, value=str(value))


class OutOfRange(InvalidParameter):
    """A number outside its allowed interval (unit given in both languages' messages)."""

    template_zh = "参数 {parameter} 须在 {low}–{high}{unit} 之间（收到 {value}）。"
    template_en = "Parameter {parameter} must be between {low} and {high}{unit} (got {value})."

    def __init__(self, parameter: str, value: float, low: float, high: float,
                 unit: str = "") -> None:
        super().__init__(parameter=parameter, value=f"{value:g}", low=f"{low:g}",
                         high=f"{high:g}", unit=f" {unit}" if unit else "")


class UnknownFields(InvalidParameter):
    """Attribute or column names a layer or table does not have."""

    template_zh = "没有这些字段：{names}。现有字段：{available}"
    template_en = "No such field(s): {names}. Available: {available}"

    def __init__(self, names: Iterable[str], available: Iterable[str],
                 parameter: str = "properties") -> None:
        super().__init__(names=", ".join(names), available=", ".join(available),
                         parameter=parameter)


class UnknownCrs(InvalidParameter):
    """A CRS that the atlas does not offer."""

    code = "unknown_crs"


class UnsupportedFormat(InvalidParameter):
    """A download format or encoding that the atlas does not write."""

    code = "unsupported_format"


class LayerWithoutGeometry(InvalidParameter):
    """A tile or map asked of a registry layer that has no geometry (e.g. villages)."""

    code = "layer_without_geometry"


class Unauthorized(AtlasError):
    """A request that needs a bearer token (upload owner or API key) and has none valid."""

    status = 401
    code = "unauthorized"
    template_zh = "需要有效的访问令牌。"
    template_en = "A valid access token is required."


class QuotaExceeded(AtlasError):
    """The caller already holds as much as one owner may (e.g. uploads kept)."""

    status = 403
    code = "quota_exceeded"


class NotFound(AtlasError):
    """Base for references to things that do not exist."""

    status = 404
    code = "not_found"
    template_zh = "找不到该地址。"
    template_en = "No such address."


class UnknownCollection(NotFound):
    code = "unknown_collection"


class UnknownFeature(NotFound):
    code = "unknown_feature"


class PayloadTooLarge(AtlasError):
    """An upload over the size limit, or an archive that unpacks beyond its limits."""

    status = 413
    code = "payload_too_large"


class InvalidData(AtlasError):
    """Features or tables that do not fit (wrong geometry type, duplicate ids, bad rows…)."""

    status = 422
    code = "invalid_data"


class UnsafeUpload(InvalidData):
    """An archive member that would escape its folder (absolute path, '..', symlink)."""

    code = "unsafe_upload"


class UnreadableUpload(InvalidData):
    """An upload with no readable geodata: non-geo files, truncated or inconsistent files."""

    code = "unreadable_upload"


# --- editing (OGC API Features Part 4) ------------------------------------------------------

class NotEditable(AtlasError):
    """A write to a layer nobody may edit through the API (official boundaries, registries)."""

    status = 403
    code = "not_editable"


class FeatureExists(AtlasError):
    """A create whose feature id is already taken."""

    status = 409
    code = "feature_exists"


class PreconditionFailed(AtlasError):
    """An `If-Match` that no longer matches: someone changed the feature meanwhile."""

    status = 412
    code = "precondition_failed"


class PreconditionRequired(AtlasError):
    """A write without `If-Match`: edits must say which version they change."""

    status = 428
    code = "precondition_required"
