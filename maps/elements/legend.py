"""One legend for every map: a title and rows of categories (filled areas), lines, dots,
colour ramps, notes and links, drawn by maps/templates/legend.html (text escaped)."""

from __future__ import annotations

from dataclasses import dataclass, field

from maps.elements.fragment import Fragment


@dataclass(frozen=True)
class Area:
    """A filled key: `fill` colour (CSS), optional `stroke` outline; `css` adds key classes
    of static/map.css (e.g. "key-county"); `row_class` classes the row."""

    label: str
    fill: str | None = None
    stroke: str | None = None
    stroke_px: float = 1
    opacity: float | None = None
    size_px: tuple[int, int] | None = None  # width, height
    css: str = ""
    row_class: str = ""
    kind: str = "area"


@dataclass(frozen=True)
class Line:
    """A line key `weight_px` thick (dashed: a dashed rule of that weight)."""

    label: str
    colour: str
    weight_px: float
    dashed: bool = False
    kind: str = "line"


@dataclass(frozen=True)
class Dot:
    """A point key; `radius_px` draws it at map size in a fixed-width cell, else the small
    standard dot (`small`: smaller still)."""

    label: str
    colour: str
    radius_px: float | None = None
    small: bool = False
    kind: str = "dot"


@dataclass(frozen=True)
class Ramp:
    """A colour ramp image (`image_url`, `width_px` × `height_px`) between `low` and `high`."""

    image_url: str
    low: float
    high: float
    width_px: int = 200
    height_px: int = 12
    css: str = "atlas-raster-legend"
    kind: str = "ramp"


@dataclass(frozen=True)
class Note:
    """A line of text (`Markup` for our own fixed copy with line breaks); `css` its classes."""

    text: str
    css: str = "atlas-note"
    style: str = ""
    kind: str = "note"


@dataclass(frozen=True)
class Links:
    """Links to related pages, one line: (label, href) pairs."""

    links: list[tuple[str, str]]
    kind: str = "links"


Entry = Area | Line | Dot | Ramp | Note | Links


@dataclass
class Legend(Fragment):
    """Title (and `subtitle`) over `entries`; either may be left out."""

    title: str = ""
    subtitle: str = ""
    entries: list[Entry] = field(default_factory=list)
    template = "legend.html"


__all__ = ["Area", "Dot", "Entry", "Legend", "Line", "Links", "Note", "Ramp"]
