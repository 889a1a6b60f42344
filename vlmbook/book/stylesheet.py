"""The book's own CSS, bundled into one stylesheet at build time.

Every stylesheet in the page head blocks the first paint until it arrives.
On a throttled phone connection each extra file costs a round trip:
Lighthouse estimated 420 ms of render-blocking time for the CLIP chapter
when it linked the web font's stylesheet and three more of the book's own.
The build therefore joins the CSS files in ``docs/stylesheets/`` to the web
font's rules, and pages link that single file (``extra_css`` in mkdocs.yml).
The source files stay separate, one concern each, and the site does not
ship them."""

from __future__ import annotations

import re
from pathlib import Path

SOURCE_FOLDER = "stylesheets"  # under docs_dir
# A url() that is not a data: URI points relative to the source file, which the bundle moves.
RELATIVE_URL = re.compile(r"url\(\s*['\"]?(?!data:)[^)]*\)")


def source_stylesheets(docs_dir: Path) -> list[Path]:
    """Return the book's CSS files, sorted by name: the order in which the bundle joins them."""
    return sorted((docs_dir / SOURCE_FOLDER).glob("*.css"))


def bundle_stylesheets(head: str, docs_dir: Path) -> str:
    """Return `head` followed by every CSS file in ``docs_dir/stylesheets``, each under a comment.

    Raises ValueError for a file with a relative ``url()``: the bundle lives
    in another folder, so the address would break.
    """
    parts = [head.rstrip("\n")]
    for path in source_stylesheets(docs_dir):
        css = path.read_text(encoding="utf-8")
        relative = RELATIVE_URL.search(css)
        if relative:
            line = css.count("\n", 0, relative.start()) + 1
            raise ValueError(
                f"{path.relative_to(docs_dir.parent)}:{line}: {relative.group(0)} is relative to this "
                f"file, but the build bundles the book's stylesheets into assets/stylesheets/book.css, "
                f"where the address would break; use a data: URI instead"
            )
        parts.append(f"/* {SOURCE_FOLDER}/{path.name} */\n{css.strip()}")
    return "\n\n".join(parts) + "\n"
