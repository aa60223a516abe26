"""HTML fragments (legend, unplaced list, selector form…) rendered from maps/templates with
autoescaping: any text passed in (place names, upload attributes) is escaped; only our own
fixed copy marked `Markup` is kept as HTML."""

from __future__ import annotations

from typing import ClassVar

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

TEMPLATES = Environment(loader=PackageLoader("maps", "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True),
                        trim_blocks=True, lstrip_blocks=True)


class Fragment:
    """A piece of HTML for an info box or popup, drawn by `template` (a maps/templates file)
    with the instance as `this`."""

    template: ClassVar[str]

    def html(self) -> Markup:
        return Markup(TEMPLATES.get_template(self.template).render(this=self).strip())

    def __html__(self) -> str:  # lets a fragment go straight into another template
        return self.html()
