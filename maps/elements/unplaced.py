"""Items a map cannot place (no sourced position): listed in the info box, never guessed."""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup

from maps.elements.fragment import Fragment

Item = str | Markup | tuple[str, str]  # text, our own HTML, or (name, detail)


@dataclass
class UnplacedList(Fragment):
    """`title (n)` over `note` and the `items`, open; nothing at all when there are none
    unless `show_empty`. `item_class` classes each <li> (tests and styles find them)."""

    title: str
    note: str
    items: list[Item] = field(default_factory=list)
    item_class: str = ""
    show_empty: bool = False
    template = "unplaced.html"
