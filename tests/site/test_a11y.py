"""Accessibility of every page of both editions: axe-core in Chromium, alt text, figures in the dark palette.

axe-core (pinned in package.json, installed by ``npm ci``) runs in headless
Chromium on every page that the build wrote, in the light palette, and its
color contrast rule runs again in the dark palette. Serious and critical
violations fail. The keyboard operation of the attention explorer is tested
in test_attention_explorer.py.
"""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_browser import page  # noqa: F401  (the browser page that may only reach the site)

from sitetools import ROOT

pytestmark = pytest.mark.browser

AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
NBCONVERT_ALT = "No description has been provided for this image"
GENERIC_ALT = {"figure", "image", "chart", "plot", "graph", "그림", "이미지", "차트", "그래프"}


def _page_paths(site: Path) -> list[str]:
    """Return the URL path of every page of the built site, both editions."""
    paths = []
    for html in sorted(site.rglob("index.html")):
        relative = html.parent.relative_to(site).as_posix()
        paths.append("/" if relative == "." else f"/{relative}/")
    return paths


def _run_axe(page, options: dict) -> list[dict]:  # noqa: F811
    if not AXE_SCRIPT.is_file():
        pytest.fail(f"{AXE_SCRIPT.relative_to(ROOT)} not found; install it with: npm ci")
    page.add_script_tag(path=str(AXE_SCRIPT))
    return page.evaluate(
        """async (options) => {
            const results = await axe.run(document, options);
            return results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
            }));
        }""",
        options,
    )


def _blocking(violations: list[dict]) -> list[str]:
    return [
        f"{v['impact']} {v['id']}: {v['help']} at {v['targets']}"
        for v in violations
        if v["impact"] in BLOCKING_IMPACTS
    ]


def _open_in_palette(page, url: str, scheme: str) -> None:  # noqa: F811
    """Open `url` in the palette that Material picks for a reader who prefers `scheme`.

    Material remembers the palette of the first visit in localStorage, so
    the storage is cleared before the page loads again in the new scheme.
    """
    page.emulate_media(color_scheme=scheme)
    response = page.goto(url)
    assert response is not None and response.ok, url
    page.evaluate("() => localStorage.clear()")
    page.reload()
    page.wait_for_load_state("load")
    expected = {"light": "default", "dark": "slate"}[scheme]
    applied = page.evaluate("() => document.body.getAttribute('data-md-color-scheme')")
    assert applied == expected, f"{url}: the {scheme} palette did not apply"
    # axe-core finds the background behind a text with elementsFromPoint, which does not
    # hit-test the content that `content-visibility: auto` skips (code blocks below the
    # fold, docs/stylesheets/rendering.css). It then read the light palette's code
    # background behind dark-palette text. Readers see a block only once it is rendered,
    # so every block is rendered before axe runs.
    page.add_style_tag(content="* { content-visibility: visible !important; }")
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def test_axe_every_page(page, built_site, site_server):  # noqa: F811
    paths = _page_paths(built_site.path)
    assert len(paths) >= 16, f"expected both editions of the book, found {paths}"
    problems = []
    for path in paths:
        _open_in_palette(page, f"{site_server}{path}", "light")
        problems += [f"{path} (light): {p}" for p in _blocking(_run_axe(page, {}))]

        _open_in_palette(page, f"{site_server}{path}", "dark")
        dark = _run_axe(page, {"runOnly": ["color-contrast"]})
        problems += [f"{path} (dark): {p}" for p in _blocking(dark)]
    assert problems == [], "axe-core violations:\n" + "\n".join(problems)
    assert page.state["foreign_requests"] == []
    assert page.state["console_errors"] == []


class _ContentImages(HTMLParser):
    """Collect (src, alt) of the images inside a page's article."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # nesting depth inside <article>, 0 outside
        self.images: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "article":
            self.depth += 1
        elif tag == "img" and self.depth:
            self.images.append((attributes.get("src", ""), attributes.get("alt")))

    def handle_endtag(self, tag):
        if tag == "article" and self.depth:
            self.depth -= 1


def _article_images(html_file: Path) -> list[tuple[str, str | None]]:
    parser = _ContentImages()
    parser.feed(html_file.read_text(encoding="utf-8"))
    return parser.images


def test_figure_alt_text_in_page_language(built_site):
    figures_seen = 0
    problems = []
    for path in _page_paths(built_site.path):
        lang = "en" if path.startswith("/en/") else "ko"
        html_file = built_site.path / path.strip("/") / "index.html"
        for src, alt in _article_images(html_file):
            where = f"{path} {src}"
            figures_seen += "figures/" in src
            text = (alt or "").strip()
            if not text:
                problems.append(f"{where}: no alt text")
                continue
            if text == NBCONVERT_ALT:
                problems.append(
                    f"{path}: a notebook cell outputs an image without alt text; "
                    "set the cell's metadata \"alt\" to what the image shows"
                )
                continue
            words = text.split()
            if text.lower().rstrip(".") in GENERIC_ALT or Path(src).stem in text:
                problems.append(f"{where}: alt text {text!r} does not say what the figure shows")
            elif len(words) < 3:
                problems.append(f"{where}: alt text {text!r} is too short to describe the figure")
            if lang == "ko" and not HANGUL.search(text):
                problems.append(f"{where}: alt text of a Korean page is not in Korean: {text!r}")
            if lang == "en" and HANGUL.search(text):
                problems.append(f"{where}: alt text of an English page contains Korean: {text!r}")
    assert figures_seen >= 10, "expected the book's generated figures in both editions"
    assert problems == [], "\n".join(problems)


def test_figures_opaque_for_dark_palette(built_site):
    """Every figure paints its own white background, so dark text stays legible on the slate palette."""
    from PIL import Image

    figures = sorted(built_site.path.glob("figures/*")) + sorted(
        built_site.path.glob("en/figures/*")
    )
    assert len(figures) >= 10
    for figure in figures:
        name = figure.relative_to(built_site.path).as_posix()
        if figure.suffix == ".svg":
            svg = figure.read_text(encoding="utf-8")
            background = re.search(r'<g id="patch_1">\s*<path d="[^"]*" style="([^"]*)"', svg)
            assert background, f"{name}: no figure background patch"
            style = background.group(1)
            assert "fill: #ffffff" in style, f"{name}: figure background is {style!r}, not white"
            assert "opacity" not in style, f"{name}: figure background is translucent: {style!r}"
        elif figure.suffix == ".png":
            image = Image.open(io.BytesIO(figure.read_bytes()))
            if "A" in image.getbands():
                low, _ = image.getchannel("A").getextrema()
                assert low == 255, f"{name}: transparent pixels would show the dark page"


def test_figure_images_have_size(built_site):
    """Each figure's <img> states its size, so the text below it does not move when it loads."""
    missing = []
    for html_file in sorted(built_site.path.rglob("index.html")):
        for tag in re.findall(r"<img\b[^>]*figures/[^>]*>", html_file.read_text(encoding="utf-8")):
            if not (re.search(r'\bwidth="\d+"', tag) and re.search(r'\bheight="\d+"', tag)):
                missing.append(f"{html_file.relative_to(built_site.path)}: {tag}")
    assert missing == []


def test_notebook_alt_text_from_cell_metadata(tmp_path):
    from vlmbook.book.hooks import _add_notebook_alt_texts

    notebook = tmp_path / "demo.ko.ipynb"
    cells = [
        {"id": "plot", "cell_type": "code", "metadata": {"alt": "손실 곡선: 10 에폭 동안 \"감소\""}},
        {"id": "other", "cell_type": "code", "metadata": {}},
    ]
    notebook.write_text(json.dumps({"cells": cells}), encoding="utf-8")
    image = f'<img alt="{NBCONVERT_ALT}" src="data:image/png;base64,AA==">'
    html = f'<div id="cell-id=plot">{image}</div><div id="cell-id=other">{image}</div>'

    result = _add_notebook_alt_texts(html, notebook)
    assert 'alt="손실 곡선: 10 에폭 동안 &quot;감소&quot;"' in result
    assert result.count(NBCONVERT_ALT) == 1, "a cell without alt metadata keeps the default"
