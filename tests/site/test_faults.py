"""Faults injected into a copy of the book: each one fails `make test` or the strict build.

test_build_hooks.py covers, on a minimal project, a generator that raises, a
missing snippet file, a figure or text that no generator makes, a broken
page link, a missing edition and a glyph that the font lacks. The cases here
need the book's own settings (``validation:``, mkdocs-jupyter with
``allow_errors: false``, the snippet options, the code block tests), so they
copy three real pages, the first notebook and the real ``mkdocs.yml`` into a
temporary folder, break one thing and build. Every failure names the file
and the line. The unbroken copy builds: test_reproducible.py builds it twice.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sitetools import DOCS, ROOT, mkdocs_build
from vlmbook.book.checks import line_of

pytestmark = pytest.mark.build

SMALL_BOOK_PAGES = ("index", "getting-started", "conventions")
SMALL_BOOK_NAV = """\
nav:
  - 홈: index.md
  - 시작하기:
      - getting-started.md
      - conventions.md
  - 실습 노트북:
      - labs/first-notebook.ipynb
"""
# nbconvert colors its tracebacks.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
NAV_BLOCK = re.compile(r"^nav:\n(?:[ \t]+.*\n|[ \t]*\n)*", re.MULTILINE)


def copy_small_book(destination: Path) -> Path:
    """Copy three pages and the first notebook of the book, with its real configuration.

    The copy has the book's ``mkdocs.yml`` with the nav cut to those pages,
    its own ``vlmbook`` package (so that an edit to the working tree while a
    test runs changes nothing) and every snippet. Returns the copy's root.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "vlmbook", destination / "vlmbook", ignore=ignore)
    shutil.copytree(ROOT / "snippets", destination / "snippets", ignore=ignore)
    shutil.copytree(ROOT / "overrides", destination / "overrides", ignore=ignore)
    docs = destination / "docs"
    for folder in ("javascripts", "stylesheets"):
        shutil.copytree(DOCS / folder, docs / folder)
    for name in SMALL_BOOK_PAGES:
        for lang in ("ko", "en"):
            shutil.copyfile(DOCS / f"{name}.{lang}.md", docs / f"{name}.{lang}.md")
    (docs / "labs").mkdir()
    for lang in ("ko", "en"):
        notebook = f"first-notebook.{lang}.ipynb"
        shutil.copyfile(DOCS / "labs" / notebook, docs / "labs" / notebook)

    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert NAV_BLOCK.search(config), "mkdocs.yml has no top-level nav: block"
    (destination / "mkdocs.yml").write_text(NAV_BLOCK.sub(SMALL_BOOK_NAV, config), encoding="utf-8")
    return destination


@pytest.fixture
def small_book(tmp_path, monkeypatch):
    """A copy of the small book that shares the generator cache of the working tree.

    The cache is keyed by the content of the generator and the package, and
    it is written atomically, so sharing it is safe and saves the generator
    runs.
    """
    monkeypatch.setenv("VLMBOOK_BOOK_CACHE", str(ROOT / ".cache" / "vlmbook-book"))
    return copy_small_book(tmp_path / "book")


def _failed_build_log(book: Path) -> str:
    result = mkdocs_build(book / "mkdocs.yml", book / "site")
    log = result.stdout + result.stderr
    assert result.returncode != 0, f"the build passed but should have failed:\n{log}"
    return log


def _replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path.name}: expected {old!r} once"
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_missing_snippet_section_named(small_book):
    page = small_book / "docs" / "getting-started.ko.md"
    include = '--8<-- "getting_started/similarity.py:compute"'
    _replace_once(page, include, '--8<-- "getting_started/similarity.py:nowhere"')
    line = line_of(page.read_text(encoding="utf-8"), "similarity.py:nowhere")

    log = _failed_build_log(small_book)
    assert (
        f"docs/getting-started.ko.md:{line}: section 'nowhere' not found in snippet file "
        "'getting_started/similarity.py'"
    ) in log


def test_broken_anchor_named(small_book):
    page = small_book / "docs" / "getting-started.en.md"
    _replace_once(page, "conventions.md#figures", "conventions.md#no-such-heading")
    line = line_of(page.read_text(encoding="utf-8"), "#no-such-heading")

    log = _failed_build_log(small_book)
    assert f"docs/getting-started.en.md:{line}: link 'conventions.md#no-such-heading'" in log
    assert "anchor '#no-such-heading', which conventions.md does not define" in log


def test_notebook_cell_error_fails_build(small_book):
    """mkdocs-jupyter renders a cell's error as output unless allow_errors is false."""
    notebook = small_book / "docs" / "labs" / "first-notebook.en.ipynb"
    document = json.loads(notebook.read_text(encoding="utf-8"))
    code_cells = [cell for cell in document["cells"] if cell["cell_type"] == "code"]
    code_cells[0]["source"] = "import numpy as np\n\nraise ValueError('injected cell fault')\n"
    notebook.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")

    log = ANSI_ESCAPE.sub("", _failed_build_log(small_book))
    assert "Error reading page 'labs/first-notebook.en.ipynb'" in log
    assert "ValueError: injected cell fault" in log
    assert "Cell In[1], line 3" in log


def test_code_block_error_fails_tests(small_book):
    """The code block tests, run on the copy, fail on a block that raises and name page and line."""
    shutil.copytree(ROOT / "tests" / "site", small_book / "tests" / "site",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for lang in ("ko", "en"):
        page = small_book / "docs" / f"getting-started.{lang}.md"
        page.write_text(
            page.read_text(encoding="utf-8")
            + "\n```python\nvalues = [1, 2]\nprint(values[5])\n```\n",
            encoding="utf-8",
        )
    expanded_line = None
    from vlmbook.book.pages import executable_blocks, expand_snippets, load_site_config

    config = load_site_config(small_book / "mkdocs.yml")
    korean = small_book / "docs" / "getting-started.ko.md"
    blocks = executable_blocks(expand_snippets(korean.read_text(encoding="utf-8"), config))
    expanded_line = blocks[-1].lineno

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q",
         "--rootdir", str(small_book), "tests/site/test_codeblocks.py",
         "-k", "test_code_block_runs and getting-started"],
        cwd=small_book, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "1 failed" in output
    assert (
        f"getting-started.ko.md: the block that starts at expanded line {expanded_line} raised "
        "IndexError: list index out of range"
    ) in output
    assert "at its line 2: print(values[5])" in output


# Figures: a glyph that the font lacks fails the build instead of drawing a box.


def _korean_log_figure(lang: str):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([1e-3, 1e-1, 1.0], [-0.5, 0.0, 0.5])
    ax.set_xscale("log")  # tick labels are mathtext: 10^{-3} needs U+2212 MINUS SIGN
    ax.set_title({"ko": "손실의 변화 (-0.5에서 0.5까지)", "en": "Loss from -0.5 to 0.5"}[lang])
    ax.set_ylabel({"ko": "손실", "en": "loss"}[lang])
    return fig


def test_minus_signs_render_in_korean_figures(caplog):
    """Negative ticks, in text and in mathtext, draw a minus glyph, not a dummy symbol."""
    from vlmbook.book.generators import render_output
    from vlmbook.book.outputs import Output

    output = Output("log-minus", "figure", ".svg", _korean_log_figure)
    with caplog.at_level("WARNING", logger="matplotlib"):
        for lang in ("ko", "en"):
            svg = render_output(output, lang).decode("utf-8")
            assert "\u2212" in svg, f"{lang}: no minus sign in the tick labels"
            glyphs = re.findall(r'id="([A-Za-z]+)-([0-9a-f]+)"', svg)
            assert [font for font, index in glyphs if index == "0"] == [], f"{lang}: .notdef glyph"
    missing = [r.getMessage() for r in caplog.records if "glyph" in r.getMessage()]
    assert missing == []


def test_mathtext_glyph_missing_fails():
    """Hangul inside $...$ uses the math font, which lacks it: the render fails, naming the output."""
    import matplotlib.pyplot as plt

    from vlmbook.book.generators import GeneratorError, render_output
    from vlmbook.book.outputs import Output

    def draw(lang: str):
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.set_title(r"$\alpha_{한글}$")
        return fig

    with pytest.raises(GeneratorError, match=r"output 'math-hangul' \(ko\) uses glyphs its font lacks"):
        render_output(Output("math-hangul", "figure", ".svg", draw), "ko")
