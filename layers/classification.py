"""Classes for a choropleth (分级设色): mapclassify schemes, ColorBrewer ramps, a no-data class.

`classify(values, scheme, k)` returns a `Classification` that knows each place's class and
colour, its legend entries, and how to render the legend as a PNG.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from branca.utilities import color_brewer

from geo.errors import InvalidParameter, OutOfRange, UnknownChoice

SCHEMES = {
    "quantiles": "分位数 Quantiles",
    "natural_breaks": "自然断点 Natural breaks (Fisher–Jenks)",
    "equal_interval": "等间距 Equal interval",
    "std_mean": "标准差 Standard deviation",
    "user": "自定义 User breaks",
}
RAMPS = ("YlOrRd", "YlGnBu", "Blues", "Greens", "Oranges", "Purples", "Reds", "BuPu", "GnBu",
         "OrRd", "PuBu", "RdPu", "YlGn", "RdYlGn", "RdBu", "Spectral", "PiYG", "BrBG")
NO_DATA_COLOUR = "#d9d9d9"
K_RANGE = (3, 9)
# Fisher–Jenks is O(k·n²) in pure Python (13 s for 2,900 values): above this many values it
# runs on evenly spaced order statistics, deterministic, and the legend says so.
JENKS_SAMPLE = 400
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


@dataclass(frozen=True)
class LegendEntry:
    lower: float | None
    upper: float | None
    colour: str
    count: int
    label: str


@dataclass(frozen=True)
class Classification:
    """Breaks (upper bounds), a colour per class, and each value's class (-1 = no data)."""

    scheme: str
    k: int
    breaks: tuple[float, ...]
    colours: tuple[str, ...]
    classes: pd.Series  # class index per place code; -1 where there is no value
    minimum: float | None
    note: str = ""
    entries: tuple[LegendEntry, ...] = field(default=())

    def colour_of(self, code: str) -> str:
        cls = int(self.classes.get(code, -1))
        return NO_DATA_COLOUR if cls < 0 else self.colours[cls]

    def legend(self, title: str = "", unit: str = "") -> dict[str, object]:
        return {
            "title": title, "unit": unit, "scheme": self.scheme,
            "scheme_title": SCHEMES[self.scheme], "k": self.k, "note": self.note,
            "breaks": list(self.breaks),
            "classes": [entry.__dict__ for entry in self.entries],
        }

    def render_png(self, title: str = "", unit: str = "") -> bytes:
        """The legend as a PNG (swatches and labels; CJK font if the system has one)."""
        from PIL import Image, ImageDraw, ImageFont

        def font(size: int):
            if CJK_FONT.exists():
                return ImageFont.truetype(str(CJK_FONT), size)
            return ImageFont.load_default(size)

        head, body = font(15), font(13)
        lines = [title] + ([f"({unit})"] if unit else [])
        width = 60 + max([int(body.getlength(e.label)) for e in self.entries] +
                         [int(head.getlength(t)) - 40 for t in lines] + [120])
        height = 14 + 22 * len(lines) + 22 * len(self.entries) + 8
        image = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(image)
        y = 8
        for text in lines:
            draw.text((10, y), text, fill="black", font=head)
            y += 22
        for entry in self.entries:
            draw.rectangle([10, y + 2, 38, y + 18], fill=entry.colour, outline="#555555")
            draw.text((46, y + 2), entry.label, fill="black", font=body)
            y += 22
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()


def classify(values: pd.Series, scheme: str = "quantiles", k: int = 5,
             breaks: list[float] | None = None, ramp: str = "YlOrRd",
             reverse: bool = False) -> Classification:
    """Classify `values` (indexed by place code; NaN = no data) with a mapclassify scheme."""
    if scheme not in SCHEMES:
        raise UnknownChoice("scheme", scheme, SCHEMES)
    if not K_RANGE[0] <= k <= K_RANGE[1]:
        raise OutOfRange("k", k, *K_RANGE)
    if ramp not in RAMPS:
        raise UnknownChoice("ramp", ramp, RAMPS)
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    present = numbers.dropna()
    y = present.to_numpy()
    note = ""
    if scheme == "user":
        upper = _user_breaks(breaks)
        if len(y) and upper[-1] < y.max():
            upper = upper + [float(y.max())]
        bins = np.asarray(upper, dtype=float)
    elif len(y) == 0:
        bins = np.array([], dtype=float)
    else:
        import mapclassify  # with scipy and matplotlib, ~1 s of every worker's start

        distinct = len(np.unique(y))
        k_eff = max(1, min(k, distinct))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "not enough unique values" is handled by k_eff
            if scheme == "quantiles":
                bins = mapclassify.Quantiles(y, k=k_eff).bins
            elif scheme == "equal_interval":
                bins = mapclassify.EqualInterval(y, k=k_eff).bins
            elif scheme == "std_mean":
                bins = mapclassify.StdMean(y).bins
            else:
                sample = y
                if len(y) > JENKS_SAMPLE:
                    order = np.sort(y)
                    sample = order[np.linspace(0, len(y) - 1, JENKS_SAMPLE).round().astype(int)]
                    note = (f"Fisher–Jenks on {JENKS_SAMPLE} evenly spaced order statistics of "
                            f"{len(y)} values")
                bins = mapclassify.FisherJenks(sample, k=min(k_eff, len(np.unique(sample)))).bins
                bins[-1] = max(bins[-1], y.max())
        bins = np.unique(np.asarray(bins, dtype=float))
    n = len(bins)
    colours = _ramp(ramp, n, reverse)
    classes = pd.Series(-1, index=numbers.index, dtype=int)
    if n and len(y):
        classes.loc[present.index] = np.minimum(np.searchsorted(bins, y, side="left"), n - 1)
    minimum = float(y.min()) if len(y) else None
    entries = _entries(bins, colours, classes, minimum)
    return Classification(scheme, n, tuple(float(b) for b in bins), tuple(colours), classes,
                          minimum, note, entries)


def _user_breaks(breaks: list[float] | None) -> list[float]:
    if not breaks:
        raise InvalidParameter("自定义分级须给出断点，如 breaks=10,20,50。",
                               "User classes need breaks, e.g. breaks=10,20,50.",
                               parameter="breaks")
    if any(b >= a for a, b in zip(breaks[1:], breaks[:-1])) or len(breaks) > K_RANGE[1]:
        raise InvalidParameter("断点须严格递增，且不超过 9 个。",
                               "Breaks must be strictly increasing, at most 9.",
                               parameter="breaks")
    return [float(b) for b in breaks]


def _ramp(name: str, n: int, reverse: bool) -> list[str]:
    if n == 0:
        return []
    colours = color_brewer(name, max(n, 3))
    if n < 3:  # ColorBrewer starts at 3 classes; take the darker end for 1–2
        colours = colours[-n:]
    colours = list(colours[:n]) if len(colours) >= n else list(colours)
    return colours[::-1] if reverse else colours


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}" if value != int(value) else f"{int(value)}"


def _entries(bins: np.ndarray, colours: list[str], classes: pd.Series,
             minimum: float | None) -> tuple[LegendEntry, ...]:
    entries = []
    for i, upper in enumerate(bins):
        lower = minimum if i == 0 else float(bins[i - 1])
        count = int((classes == i).sum())
        bracket = "[" if i == 0 else "("
        if lower is None or lower > upper:  # std_mean's lowest bins can lie below the data
            label = f"≤ {_fmt(upper)}  ({count})"
        else:
            label = f"{bracket}{_fmt(lower)} – {_fmt(upper)}]  ({count})"
        entries.append(LegendEntry(lower, float(upper), colours[i], count, label))
    missing = int((classes < 0).sum())
    entries.append(LegendEntry(None, None, NO_DATA_COLOUR, missing, f"无数据 No data  ({missing})"))
    return tuple(entries)
