"""Time periods as OGC API `datetime` gives them, matched against calendar dates.

`datetime` is an RFC 3339 instant (`2026-03-01`, `2026-03-01T08:00:00Z`) or an interval
`a/b`, half-bounded `../b`, `a/..` (an empty end means the same as `..`). The atlas's dated
layers hold calendar dates (ISO text `YYYY-MM-DD`, dated in China Standard Time, UTC+8), so a
bound with a time of day is first moved to UTC+8 and reduced to its date; a date then matches
when its whole day intersects the period, i.e. when start date <= date <= end date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np

from geo.errors import InvalidParameter

CHINA_TIME = timezone(timedelta(hours=8), "UTC+8")  # no daylight saving since 1991
OPEN = ("", "..")


@dataclass(frozen=True)
class Period:
    """A closed range of calendar dates; None is unbounded on that side."""

    start: date | None
    end: date | None

    @property
    def bounds(self) -> tuple[str | None, str | None]:
        """The bounds as ISO date text (`YYYY-MM-DD`), for comparing ISO-dated text."""
        return (self.start.isoformat() if self.start else None,
                self.end.isoformat() if self.end else None)

    def matches(self, values: np.ndarray) -> np.ndarray:
        """Which of `values` (ISO date or date-time text; None/"" for undated) fall in the
        period. Undated values never match: they have no time to compare."""
        text = np.array([iso_day(v) for v in values], dtype=object)
        start, end = self.bounds
        mask = text != ""
        if start is not None:
            mask &= text >= start
        if end is not None:
            mask &= text <= end
        return mask.astype(bool)


def iso_day(value: object) -> str:
    """`YYYY-MM-DD` of ISO text or a date/datetime/Timestamp; "" for anything else (None,
    NaN: undated)."""
    if isinstance(value, str):
        return value[:10]
    if isinstance(value, (date, datetime)):  # pandas Timestamps are datetimes
        return value.isoformat()[:10]
    return ""


def parse_period(text: str) -> Period:
    """Parse an OGC API `datetime` value into a Period; InvalidParameter if malformed or if
    its start is after its end."""
    parts = text.split("/")
    if len(parts) == 1:
        if text in OPEN:
            raise _invalid(text, "须为时刻或区间", "must be an instant or an interval")
        day = _day(text)
        return Period(day, day)
    if len(parts) != 2 or (parts[0] in OPEN and parts[1] in OPEN):
        raise _invalid(text, "区间须为 起/止，且至少一端有时间", "an interval is start/end "
                       "with at least one bound")
    start = None if parts[0] in OPEN else _day(parts[0])
    end = None if parts[1] in OPEN else _day(parts[1])
    if start and end and start > end:
        raise _invalid(text, "起始晚于结束", "its start is after its end")
    return Period(start, end)


def _day(text: str) -> date:
    """The UTC+8 calendar date of an RFC 3339 date or date-time (no offset: taken as UTC+8)."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise _invalid(text, "不是 RFC 3339 日期或时间", "is not an RFC 3339 date or "
                       "date-time") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(CHINA_TIME)
    return moment.date()


def _invalid(text: str, problem_zh: str, problem_en: str) -> InvalidParameter:
    return InvalidParameter(
        f"datetime 参数“{text}”无效：{problem_zh}。格式：2026-03-01、"
        "2026-01-01/2026-06-30、../2026-06-30 或 2026-01-01/..",
        f"Invalid datetime '{text}': {problem_en}. Format: 2026-03-01, "
        "2026-01-01T00:00:00Z/2026-06-30T23:59:59Z, ../2026-06-30 or 2026-01-01/..",
        parameter="datetime")
