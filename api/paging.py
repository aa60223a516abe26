"""Paged, searchable lists for the catalogue endpoints (/rasters, /uploads, /constraints,
/pmtiles, /catalogue): `limit`/`offset`, `q=` (text in an entry's id or titles) and a `next`
link, answered with `numberMatched`/`numberReturned` as the OGC lists and /indicators do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Callable, Sequence, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query, Request

T = TypeVar("T")


@dataclass(frozen=True)
class Paging:
    """Which page of a list the caller asked for, and the search text (lower-cased)."""

    limit: int
    offset: int
    q: str


def paging(limit: int = Query(100, ge=1, le=1000, description="entries per page"),
           offset: int = Query(0, ge=0, description="entries to skip"),
           q: str | None = Query(None, max_length=200,
                                 description="text in the id or the titles")) -> Paging:
    return Paging(limit, offset, (q or "").strip().lower())


PagingDep = Annotated[Paging, Depends(paging)]


def paged(request: Request, entries: Sequence[T], page: Paging,
          text: Callable[[T], str], describe: Callable[[T], Any], name: str) -> dict:
    """`entries` matching `page.q` (in `text(entry)`), one page of them as `describe` gives
    them under `name`, the counts and the `next` link. Only the page is described, so an
    expensive description costs a page, not the list."""
    matched = [e for e in entries if page.q in text(e).lower()] if page.q else list(entries)
    chosen = matched[page.offset:page.offset + page.limit]
    links: list[dict] = []
    if page.offset + page.limit < len(matched):
        query = {**request.query_params, "offset": str(page.offset + page.limit),
                 "limit": str(page.limit)}
        base = str(request.url).split("?")[0]
        links.append({"rel": "next", "type": "application/json",
                      "href": f"{base}?{urlencode(query)}"})
    return {name: [describe(e) for e in chosen], "numberMatched": len(matched),
            "numberReturned": len(chosen), "links": links}
