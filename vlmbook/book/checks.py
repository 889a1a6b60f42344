"""Checks that fail the book build with a file and line, and the page scanning they share.

The MkDocs hooks (``hooks.py``) call these on every build. Every page must
exist in both editions, and every declared generator must exist. Links,
figures and placeholders count on prose lines only, because code blocks may
show their syntax as examples.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.utils.meta import get_data

from vlmbook.book.outputs import LANGUAGES

PAGE_SUFFIXES = (".md", ".ipynb")
FIGURE_LINK = re.compile(r"\(\s*/figures/([^)\s\"']+)")
GENERATED_PLACEHOLDER = re.compile(r"\{\{\s*generated:\s*([^}\s]+)\s*\}\}")
SNIPPET_LINE = re.compile(r"^\s*-+8<-+\s+([\"'])(?P<path>[^\"']+)\1")
PAGE_LINK = re.compile(r"\]\(\s*(?P<target>[^)\s#]+\.(?:md|ipynb))(?:#[^)\s]*)?\s*\)")
# A link to an anchor on another page (`page.md#id`) or on the same page (`#id`).
ANCHOR_LINK = re.compile(r"\]\(\s*(?P<target>(?:[^)\s#]+\.(?:md|ipynb))?)#(?P<anchor>[^)\s]+)\s*\)")
# A snippet selector made of line numbers (`file.py:3:9`) rather than a section name.
LINE_SELECTOR = re.compile(r"[0-9:,-]+")
FENCE_OPEN = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+).+?\1")


def prose_lines(markdown: str) -> list[tuple[int, str]]:
    """Return (index, line) for each line outside fenced code, inline code blanked.

    Figure links, page links and placeholders inside code are examples, not
    references, so the checks below skip them.
    """
    prose = []
    fence = None
    for index, line in enumerate(markdown.splitlines()):
        opened = FENCE_OPEN.match(line)
        if fence is None and opened:
            fence = opened.group("fence")
            continue
        if fence is not None:
            if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
                fence = None
            continue
        prose.append((index, INLINE_CODE.sub(lambda m: " " * len(m.group(0)), line)))
    return prose


def line_of(text: str, needle: str) -> int:
    """Return the 1-based number of the first line of `text` containing `needle`, else 1."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return 1


def snippet_section_exists(snippet: Path, section: str) -> bool:
    """Return whether `snippet` marks `section` with ``--8<-- [start:section]``, as pymdownx.snippets reads it."""
    start = re.compile(rf"-{{1,}}8<-{{1,}}\s*\[start:\s*{re.escape(section)}\s*\]")
    return bool(start.search(snippet.read_text(encoding="utf-8")))


def source_pages(docs_dir: Path) -> list[Path]:
    """Return every Markdown page and notebook under `docs_dir`, in both editions."""
    return sorted(p for p in docs_dir.rglob("*") if p.suffix in PAGE_SUFFIXES and p.is_file())


def check_editions(docs_dir: Path) -> None:
    """Fail unless every page exists as ``name.ko.<ext>`` and ``name.en.<ext>``."""
    pages = {p.relative_to(docs_dir).as_posix() for p in source_pages(docs_dir)}
    for page in sorted(pages):
        stem, suffix = posixpath.splitext(page)
        base, _, lang = stem.rpartition(".")
        if not base or lang not in LANGUAGES:
            raise PluginError(
                f"docs/{page}:1: page has no language suffix. Rename it to "
                f"{stem}.ko{suffix} and add {stem}.en{suffix}"
            )
        for other in LANGUAGES:
            if f"{base}.{other}{suffix}" not in pages:
                raise PluginError(
                    f"docs/{page}:1: the {other!r} edition docs/{base}.{other}{suffix} "
                    "is missing. Every page needs both editions."
                )


def declared_generators(docs_dir: Path, snippet_dirs: list[Path]) -> dict[str, Path]:
    """Return the generators that pages list in their ``generators:`` front matter."""
    generators: dict[str, Path] = {}
    for page in source_pages(docs_dir):
        if page.suffix != ".md":
            continue
        text = page.read_text(encoding="utf-8")
        _, meta = get_data(text)
        declared = meta.get("generators", [])
        where = f"docs/{page.relative_to(docs_dir).as_posix()}"
        if not isinstance(declared, list) or not all(isinstance(d, str) for d in declared):
            line = line_of(text, "generators:")
            raise PluginError(f"{where}:{line}: 'generators' must be a list of file paths")
        for source in declared:
            found = [d / source for d in snippet_dirs if (d / source).is_file()]
            if not found:
                raise PluginError(
                    f"{where}:{line_of(text, source)}: generator {source!r} not found "
                    f"in the snippet folders {[d.name for d in snippet_dirs]}"
                )
            generators[source] = found[0]
    return generators
