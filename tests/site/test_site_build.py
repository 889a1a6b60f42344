"""The strict build of the real book: both editions, figures, math, notebooks, no external assets."""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from sitetools import DOCS, built_page, page_pairs

pytestmark = pytest.mark.build

HANGUL = re.compile(r"[\uac00-\ud7a3]")
THEME_STYLESHEET = re.compile(r"/(main|palette)\.[0-9a-f]+\.min\.css$|/_mkdocstrings\.css$")


class _AssetParser(HTMLParser):
    """Collect the URLs a page loads: scripts, styles, images, icons, frames."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "audio", "video") and attributes.get("src"):
            self.urls.append(attributes["src"])
        if tag == "link" and attributes.get("rel") in ("stylesheet", "icon", "preload", "manifest"):
            self.urls.append(attributes.get("href", ""))


def _html_pages(site):
    return sorted(site.rglob("*.html"))


def test_every_page_built_in_both_editions(built_site):
    for korean, english in page_pairs():
        for lang, source in (("ko", korean), ("en", english)):
            page = built_page(built_site.path, source, lang)
            assert page.is_file(), f"{source.name} was not built as {page}"
            html = page.read_text(encoding="utf-8")
            assert f'<html lang="{lang}"' in html


def test_korean_edition_at_root(built_site):
    korean = (built_site.path / "index.html").read_text(encoding="utf-8")
    english = (built_site.path / "en" / "index.html").read_text(encoding="utf-8")
    assert HANGUL.search(korean)
    assert "실행하며 배우는 비전-언어 모델" in korean
    assert "vision-language models you can run" in english


def test_navigation_translated(built_site):
    english = (built_site.path / "en" / "index.html").read_text(encoding="utf-8")
    korean = (built_site.path / "index.html").read_text(encoding="utf-8")
    assert "Getting started" in english
    assert "시작하기" in korean
    assert "시작하기" not in english


def test_alternate_links_per_language(built_site):
    html = (built_site.path / "getting-started" / "index.html").read_text(encoding="utf-8")
    # The head names each edition's root; the switcher links to the same page.
    assert '<link rel="alternate" href="/" hreflang="ko">' in html
    assert '<link rel="alternate" href="/en/" hreflang="en">' in html
    assert 'href="../en/getting-started/" hreflang="en"' in html
    assert (built_site.path / "en" / "sitemap.xml").is_file()


def test_no_asset_from_another_host(built_site):
    external = []
    for page in _html_pages(built_site.path):
        parser = _AssetParser()
        parser.feed(page.read_text(encoding="utf-8"))
        for url in parser.urls:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") or url.startswith("//"):
                external.append(f"{page.relative_to(built_site.path)}: {url}")
    assert external == []


def test_math_rendered_as_mathml(built_site):
    for lang in ("", "en/"):
        html = (built_site.path / lang / "getting-started" / "index.html").read_text(
            encoding="utf-8"
        )
        assert re.search(r'<math [^>]*display="block"', html)
        assert "\\frac" not in html
        assert "\\(" not in html


def test_generated_text_inserted(built_site):
    for lang in ("", "en/"):
        html = (built_site.path / lang / "getting-started" / "index.html").read_text(
            encoding="utf-8"
        )
        assert "generated:" not in html
        assert re.search(r"0\.\d\d", html)


def test_figures_in_page_language(built_site):
    figures = sorted((built_site.path / "figures").glob("*.svg"))
    assert {f.name for f in figures} >= {"toy-similarity.svg", "vlm-overview.svg"}
    for korean in figures:
        english = built_site.path / "en" / "figures" / korean.name
        korean_svg = korean.read_text(encoding="utf-8")
        korean_text = " ".join(re.findall(r"<!-- (.*?) -->", korean_svg))
        english_text = " ".join(re.findall(r"<!-- (.*?) -->", english.read_text(encoding="utf-8")))
        assert not HANGUL.search(english_text), f"{korean.name}: Korean text in English edition"
        if re.search(r"[A-Za-z]{3,}", english_text):
            assert korean_text != english_text, f"{korean.name}: text not translated"
        # Glyph 0 (.notdef) is the empty box of a character that the font lacks.
        glyphs = re.findall(r'id="([A-Za-z]+)-([0-9a-f]+)"', korean_svg)
        assert [font for font, index in glyphs if index == "0"] == [], korean.name
    for name in ("toy-similarity.svg", "vlm-overview.svg"):
        korean_svg = (built_site.path / "figures" / name).read_text(encoding="utf-8")
        assert HANGUL.search(" ".join(re.findall(r"<!-- (.*?) -->", korean_svg)))
        assert "NanumGothic-" in korean_svg


def test_figures_not_committed():
    committed = [p for p in DOCS.rglob("*") if p.suffix in (".svg", ".png")]
    assert committed == []


def test_notebooks_rendered_as_pages(built_site):
    for lang in ("", "en/"):
        html = (built_site.path / lang / "labs" / "first-notebook" / "index.html").read_text(
            encoding="utf-8"
        )
        assert "jp-Notebook" in html
        assert "temperature=0.01" in html, "the notebook's output is missing"


@pytest.mark.parametrize("lang, label", [("ko", "노트북 내려받기"), ("en", "Download the notebook")])
def test_notebook_download_button(built_site, lang, label):
    """Every notebook page links to its own edition's .ipynb, and the file is in the site."""
    prefix = "" if lang == "ko" else "en/"
    notebooks = sorted((DOCS / "labs").glob(f"*.{lang}.ipynb"))
    assert notebooks, "no notebooks found in docs/labs"
    for notebook in notebooks:
        name = notebook.name.removesuffix(f".{lang}.ipynb")
        page_dir = built_site.path / prefix / "labs" / name
        html = (page_dir / "index.html").read_text(encoding="utf-8")
        links = re.findall(r'<a href="([^"]+\.ipynb)"[^>]*aria-label="([^"]+)"', html)
        assert len(links) == 1, f"{page_dir}: expected one download button, found {links}"
        href, aria_label = links[0]
        assert aria_label == label
        assert href.endswith(f"/labs/{name}/{notebook.name}"), href
        assert (page_dir / notebook.name).read_bytes() == notebook.read_bytes()


def test_notebook_language_switcher(built_site):
    html = (built_site.path / "en" / "labs" / "first-notebook" / "index.html").read_text(
        encoding="utf-8"
    )
    assert 'href="../../../labs/first-notebook/" hreflang="ko"' in html


def test_hangul_web_font_served_by_site(built_site):
    font = built_site.path / "assets" / "fonts" / "book-hangul.woff2"
    stylesheet = (built_site.path / "assets" / "stylesheets" / "book.css").read_text(encoding="utf-8")
    assert font.read_bytes()[:4] == b"wOF2"
    assert 'url("../fonts/book-hangul.woff2")' in stylesheet
    assert "U+AC00-D7AF" in stylesheet
    for lang in ("", "en/"):
        html = (built_site.path / lang / "index.html").read_text(encoding="utf-8")
        assert "assets/stylesheets/book.css" in html


def test_stylesheets_bundled_into_one_file(built_site):
    """Every page links one stylesheet of the book's own, which contains every file of docs/stylesheets/."""
    from vlmbook.book.stylesheet import source_stylesheets

    bundle = (built_site.path / "assets" / "stylesheets" / "book.css").read_text(encoding="utf-8")
    sources = source_stylesheets(DOCS)
    assert len(sources) >= 3, sources
    for source in sources:
        assert source.read_text(encoding="utf-8").strip() in bundle, f"{source.name} missing from the bundle"
    assert not (built_site.path / "stylesheets").exists(), "the source stylesheets were copied to the site"
    for page in _html_pages(built_site.path):
        links = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.read_text(encoding="utf-8"))
        if not links:
            continue  # redirect pages
        assert len(links) == len(set(links)), f"{page}: a stylesheet is linked twice: {links}"
        # Material's own stylesheets and mkdocstrings' stay as they are.
        own = [link.rsplit("/", 1)[-1] for link in links if not THEME_STYLESHEET.search(link)]
        assert own == ["book.css"], f"{page}: expected the book's one stylesheet, found {links}"


def test_code_blocks_focusable_before_mount(built_site):
    """Every highlighted code block is in the tab order in the HTML, before Material mounts it lazily."""
    blocks = 0
    for page in _html_pages(built_site.path):
        html = page.read_text(encoding="utf-8")
        starts = re.findall(r'<div class="[^"]*\bhighlight\b[^"]*"[^>]*><pre[^>]*>(?:<span></span>)?<code[^>]*>', html)
        blocks += len(starts)
        unfocusable = [start for start in starts if 'tabindex="0"' not in start]
        assert unfocusable == [], f"{page}: code blocks without tabindex: {unfocusable[:3]}"
    assert blocks > 100, f"expected the book's code blocks, found {blocks}"


def test_hangul_web_font_covers_every_built_page(built_site):
    """Every Hangul character of the built pages, generated tables included, is in the subset."""
    from fontTools.ttLib import TTFont

    from vlmbook.book.webfont import hangul_characters

    font = TTFont(built_site.path / "assets" / "fonts" / "book-hangul.woff2")
    covered = set(font.getBestCmap())
    pages = [path.read_text(encoding="utf-8") for path in built_site.path.rglob("*.html")]
    missing = [char for char in hangul_characters(pages) if ord(char) not in covered]
    assert missing == [], f"Hangul missing from the web font subset: {''.join(missing)}"


@pytest.mark.parametrize(
    "block, excluded",
    [
        ('<div class="language-python highlight"><pre>', True),
        ('<div class="language-console highlight"><pre>', True),
        ('<div class="highlight-ipynb hl-python" tabindex="0"><pre>', True),
        ('<div class="jp-RenderedText jp-OutputArea-output" data-mime-type="text/plain">', True),
        ('<div class="language-text highlight"><pre>', False),  # error messages stay searchable
        ('<div class="doc-signature highlight"><pre>', False),  # API signatures stay searchable
        ('<div class="highlighttable">', False),
        ('<div class="admonition note">', False),
    ],
)
def test_search_exclusion_marks_code_blocks_only(block, excluded):
    from vlmbook.book.hooks import _exclude_code_from_search

    marked = _exclude_code_from_search(f"<p>prose</p>{block}code")
    assert marked.count('data-search-exclude="code"') == int(excluded), marked
    assert marked.startswith("<p>prose</p>")
    assert marked.endswith("code")


def test_search_index_leaves_out_code_blocks(built_site):
    """Python code stays out of the index; prose, inline code and plain-text blocks stay in."""
    index = json.loads((built_site.path / "search" / "search_index.json").read_text(encoding="utf-8"))
    clip_docs = [doc["text"] for doc in index["docs"] if doc["location"].startswith("clip/")]
    clip_text = re.sub(r"<[^>]+>", "", " ".join(clip_docs))
    assert "대조 학습" in clip_text
    assert sum("<code>" in doc["text"] for doc in index["docs"]) > 50  # inline code in prose

    # The longest line of each Python block on the page is nowhere in the page's index entries.
    html = (built_site.path / "clip" / "index.html").read_text(encoding="utf-8")
    blocks = re.findall(r'<div class="language-python highlight"><pre.*?</pre>', html, flags=re.DOTALL)
    assert len(blocks) > 10
    longest = [max(unescape(re.sub(r"<[^>]+>", "", block)).splitlines(), key=len).strip() for block in blocks]
    indexed = [line for line in longest if unescape(line) in unescape(clip_text)]
    assert indexed == [], f"Python code in the search index: {indexed[:3]}"

    # The attribute is only a marker for the index; the page does not keep it.
    assert "data-search-exclude" not in html
