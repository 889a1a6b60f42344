"""Turn the TeX that pymdownx.arithmatex leaves in a page into MathML at build time.

With ``generic: true``, arithmatex wraps inline math as
``<span class="arithmatex">\\(...\\)</span>`` and display math as
``<div class="arithmatex">\\[...\\]</div>``. Browsers render MathML natively,
so the site needs no MathJax or KaTeX script from a CDN.
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert

_INLINE = re.compile(r'<span class="arithmatex">\\\((.+?)\\\)</span>', re.DOTALL)
_DISPLAY = re.compile(r'<div class="arithmatex">\\\[(.+?)\\\]</div>', re.DOTALL)


class MathError(ValueError):
    """A TeX formula that latex2mathml cannot convert."""


def _to_mathml(tex_html: str, display: str) -> str:
    tex = html.unescape(tex_html).strip()
    try:
        return convert(tex, display=display)
    except Exception as error:  # latex2mathml raises many unrelated exception types
        raise MathError(f"cannot convert TeX {tex!r} to MathML: {error}") from error


def tex_to_mathml(page_html: str) -> str:
    """Replace every arithmatex formula in `page_html` with MathML."""
    page_html = _DISPLAY.sub(
        lambda m: f'<div class="arithmatex">{_to_mathml(m.group(1), "block")}</div>', page_html
    )
    return _INLINE.sub(
        lambda m: f'<span class="arithmatex">{_to_mathml(m.group(1), "inline")}</span>',
        page_html,
    )
