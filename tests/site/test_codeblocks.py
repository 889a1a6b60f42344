"""Every code block of the book runs as shown, and the audit proves that none was missed.

Pages are expanded as the site expands them (``--8<--`` includes), read with
pytest-codeblocks' own parser and run one block at a time, a ``cont`` block
together with the blocks it continues. The Korean edition runs; a test proves
that the English edition shows the same code. Notebooks run with nbclient.

`make test` distributes tests by file (``--dist loadfile``), so all tests
here run in one worker in file order, and the audit at the end reads what the
others executed. Run alone, the audit first runs what is missing itself.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

import sitetools
from sitetools import DOCS, ROOT, built_page, page_pairs
from vlmbook.book.pages import (
    EXECUTED_LANGUAGE,
    executable_blocks,
    expand_snippets,
    lint_page,
    load_site_config,
    normalize_code,
    shown_code_blocks,
    unexecuted_blocks,
)

CONFIG = load_site_config(ROOT / "mkdocs.yml")
PAGES = sorted(DOCS.rglob("*.md"))
NOTEBOOKS = sorted(DOCS.rglob("*.ko.ipynb"))


def _expand(page: Path) -> str:
    """Expand a page; a page that cannot be expanded fails its fence test, not collection."""
    try:
        return expand_snippets(page.read_text(encoding="utf-8"), CONFIG)
    except Exception as error:  # pymdownx.snippets raises its own SnippetMissingError
        EXPANSION_ERRORS[page] = f"{type(error).__name__}: {error}"
        return ""


def _blocks(page: Path) -> list:
    try:
        return executable_blocks(EXPANDED[page])
    except RuntimeError:
        return []  # lint_page reports the parser error in test_page_fences_are_runnable


EXPANSION_ERRORS: dict[Path, str] = {}
EXPANDED = {page: _expand(page) for page in PAGES}
KOREAN_BLOCKS = [
    (page, block) for page in PAGES if page.name.endswith(".ko.md") for block in _blocks(page)
]


def _page_id(page: Path) -> str:
    return page.relative_to(DOCS).as_posix()


def run_block(page: Path, code: str, workdir: Path) -> str:
    """Run one block as a reader's fresh script would; return what it printed."""
    source = compile(code, f"{_page_id(page)} (expanded)", "exec")
    namespace = {"__name__": "__main__"}
    output = io.StringIO()
    previous_dir = os.getcwd()
    os.chdir(workdir)
    try:
        with contextlib.redirect_stdout(output):
            exec(source, namespace)
    finally:
        os.chdir(previous_dir)
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    sitetools.EXECUTED_CODE.add(normalize_code(code))
    return output.getvalue()


def run_notebook(notebook: Path, workdir: Path) -> None:
    """Execute a notebook top to bottom with its kernel; raise on any cell error."""
    import nbformat
    from nbclient import NotebookClient

    document = nbformat.read(notebook, as_version=4)
    NotebookClient(document, timeout=300, resources={"metadata": {"path": str(workdir)}}).execute()
    for cell in document.cells:
        if cell.cell_type == "code":
            sitetools.EXECUTED_CODE.add(normalize_code(cell.source))


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_page_fences_are_runnable(page):
    assert page not in EXPANSION_ERRORS, f"{_page_id(page)}: {EXPANSION_ERRORS.get(page)}"
    problems = lint_page(EXPANDED[page])
    assert problems == [], f"{_page_id(page)} (expanded):\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "page, block", KOREAN_BLOCKS, ids=[f"{_page_id(p)}:{b.lineno}" for p, b in KOREAN_BLOCKS]
)
def test_code_block_runs(page, block, tmp_path):
    try:
        printed = run_block(page, block.code, tmp_path)
    except Exception as error:
        # Point at the failing line of the block; the full traceback follows.
        block_file = f"{_page_id(page)} (expanded)"
        lines = [f.lineno for f in traceback.extract_tb(error.__traceback__) if f.filename == block_file]
        code_lines = block.code.splitlines()
        failing = code_lines[lines[-1] - 1] if lines and lines[-1] <= len(code_lines) else "?"
        raise AssertionError(
            f"{_page_id(page)}: the block that starts at expanded line {block.lineno} raised "
            f"{type(error).__name__}: {error}\n  at its line {lines[-1] if lines else '?'}: {failing}"
        ) from error
    if block.expected_output is not None:
        expected, actual = block.expected_output, printed
        if block.expected_output_ignore_whitespace:
            expected, actual = re.sub(r"\s+", "", expected), re.sub(r"\s+", "", actual)
        assert actual == expected, (
            f"{_page_id(page)}, block at expanded line {block.lineno} printed\n{printed}\n"
            f"but the page shows\n{block.expected_output}"
        )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=_page_id)
def test_notebook_runs(notebook, tmp_path):
    run_notebook(notebook, tmp_path)


def test_notebooks_are_stored_without_outputs():
    stored = sorted(DOCS.rglob("*.ipynb"))
    assert stored, "no notebook found under docs/"
    for notebook in stored:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        with_outputs = [i for i, c in enumerate(cells) if c.get("outputs")]
        assert with_outputs == [], f"{_page_id(notebook)} stores outputs in cells {with_outputs}"


@pytest.mark.parametrize("korean, english", page_pairs(), ids=lambda p: _page_id(p))
def test_editions_show_same_code(korean, english):
    if korean.suffix == ".ipynb":
        def code_cells(path):
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]

        assert code_cells(korean) == code_cells(english)
        return
    korean_blocks = _blocks(korean)
    english_blocks = _blocks(english)
    assert [b.code for b in korean_blocks] == [b.code for b in english_blocks]
    assert [b.expected_output for b in korean_blocks] == [
        b.expected_output for b in english_blocks
    ]


def test_built_editions_show_same_code(built_site):
    pages_with_code = 0
    for korean, english in page_pairs():
        shown = {
            lang: [
                normalize_code(code)
                for language, code in shown_code_blocks(
                    built_page(built_site.path, source, lang).read_text(encoding="utf-8")
                )
                if language == EXECUTED_LANGUAGE
            ]
            for lang, source in (("ko", korean), ("en", english))
        }
        assert shown["ko"] == shown["en"], f"{_page_id(korean)}: editions show different code"
        pages_with_code += bool(shown["ko"])
    assert pages_with_code >= 4, "the home, getting-started, conventions and lab pages show code"


def test_audit_every_shown_block_ran(built_site, tmp_path_factory):
    # When this test runs alone, first run what the tests above would have run.
    for page, block in KOREAN_BLOCKS:
        if normalize_code(block.code) not in sitetools.EXECUTED_CODE:
            run_block(page, block.code, tmp_path_factory.mktemp("audit"))
    for notebook in NOTEBOOKS:
        run_notebook(notebook, tmp_path_factory.mktemp("audit"))

    shown_python, not_run = unexecuted_blocks(built_site.path, sitetools.EXECUTED_CODE)
    assert shown_python >= 2 * len(KOREAN_BLOCKS), "the built site shows fewer blocks than ran"
    assert not_run == [], "shown code blocks that no test ran:\n" + "\n".join(not_run)


def test_audit_reports_block_that_never_ran(tmp_path):
    page = tmp_path / "page" / "index.html"
    page.parent.mkdir()
    page.write_text(
        '<div class="language-python highlight"><pre><code>x = 1\ny = 2\n</code></pre></div>'
        '<div class="language-py highlight"><pre><code>z = 3\n</code></pre></div>',
        encoding="utf-8",
    )
    unknown_language = "page/index.html: a py block, which no test runs"
    assert unexecuted_blocks(tmp_path, {"x = 1\ny = 2\nprint(y)"}) == (1, [unknown_language])
    assert unexecuted_blocks(tmp_path, {"x = 1"}) == (1, ["page/index.html: 'x = 1'", unknown_language])


def test_audit_skips_api_signatures(tmp_path):
    page = tmp_path / "api" / "index.html"
    page.parent.mkdir()
    page.write_text(
        '<div class="language-python doc-signature highlight"><pre><code>'
        "checkpoint(name: str) -&gt; str\n</code></pre></div>"
        '<div class="language-python highlight"><pre><code>print(1)\n</code></pre></div>',
        encoding="utf-8",
    )
    assert unexecuted_blocks(tmp_path, set()) == (1, ["api/index.html: 'print(1)'"])


def test_expanded_pages_pass_pytest_codeblocks(tmp_path):
    """pytest-codeblocks itself passes on the expanded platform pages (the README names it)."""
    own_pages = [DOCS / f"{name}.ko.md" for name in ("index", "getting-started", "conventions")]
    expected_blocks = 0
    for page in own_pages:
        if page.name.endswith(".ko.md"):
            (tmp_path / page.name).write_text(EXPANDED[page], encoding="utf-8")
            expected_blocks += len(executable_blocks(EXPANDED[page]))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--codeblocks", "-p", "no:xdist", "-p", "no:cacheprovider",
         "-q", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{expected_blocks} passed" in result.stdout
