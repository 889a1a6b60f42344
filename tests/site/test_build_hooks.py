"""The build hooks on a small two-language project: generator cache and build errors.

Each test writes a project with the book's hooks and mkdocs-static-i18n into
a temporary folder and runs the real ``mkdocs build --strict`` on it. The
generators count their own runs in files, so the counts are independent of
what the hooks report.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sitetools import ROOT, mkdocs_build

pytestmark = pytest.mark.build

MKDOCS_YML = """\
site_name: mini
docs_dir: docs
theme:
  name: material
  font: false
plugins:
  - i18n:
      docs_structure: suffix
      fallback_to_default: false
      languages:
        - locale: ko
          default: true
          name: 한국어
        - locale: en
          name: English
hooks:
  - vlmbook/book/hooks.py
validation:
  absolute_links: relative_to_docs
  unrecognized_links: warn
markdown_extensions:
  - pymdownx.snippets:
      base_path: [snippets]
      check_paths: true
"""

GENERATOR = '''\
import os
from pathlib import Path

import matplotlib.pyplot as plt

from vlmbook.book import figure, markdown

# Count this run in a file that the test reads.
counter = Path(os.environ["VLMBOOK_TEST_COUNTER"]) / "{name}.count"
with counter.open("a") as handle:
    handle.write("ran\\n")

TITLES = {{"ko": "{name} 그림", "en": "{name} figure"}}


@figure("{name}")
def draw(lang):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    ax.set_title(TITLES[lang])
    return fig


@markdown("{name}-value")
def value(lang):
    return "42" if lang == "en" else "사십이"
'''

PAGE = """\
---
generators:
  - demo/counted.py
  - demo/other.py
---

# {title}

![figure](/figures/counted.svg)

The value is {{{{ generated: counted-value }}}}.
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A two-language project with two counting generators.

    It has its own copy of the vlmbook package, so that the cache keys do
    not change when someone edits the working tree's package mid-test.
    """
    root = tmp_path / "project"
    shutil.copytree(
        ROOT / "vlmbook", root / "vlmbook", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / "docs").mkdir(parents=True)
    (root / "snippets" / "demo").mkdir(parents=True)
    (root / "mkdocs.yml").write_text(MKDOCS_YML, encoding="utf-8")
    for name in ("counted", "other"):
        (root / "snippets" / "demo" / f"{name}.py").write_text(
            GENERATOR.format(name=name), encoding="utf-8"
        )
    (root / "docs" / "index.ko.md").write_text(PAGE.format(title="홈"), encoding="utf-8")
    (root / "docs" / "index.en.md").write_text(PAGE.format(title="Home"), encoding="utf-8")
    counters = tmp_path / "counters"
    counters.mkdir()
    monkeypatch.setenv("VLMBOOK_TEST_COUNTER", str(counters))
    monkeypatch.delenv("VLMBOOK_BOOK_CACHE", raising=False)
    return root


NOTEBOOK_PLUGIN = """\
  - mkdocs-jupyter:
      include: ["*.ipynb"]
      execute: true
      allow_errors: false
"""

NOTEBOOK = {
    "cells": [
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": ["# {title}"],
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": [
                "import os\n",
                "from pathlib import Path\n",
                "counter = Path(os.environ['VLMBOOK_TEST_COUNTER']) / '{name}.count'\n",
                "with counter.open('a') as handle:\n",
                "    handle.write('ran\\n')\n",
                "print('{title}')",
            ],
        },
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def add_notebooks(project: Path) -> None:
    """Add mkdocs-jupyter and a counting notebook in both editions to the project."""
    config = project / "mkdocs.yml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("plugins:\n", "plugins:\n" + NOTEBOOK_PLUGIN),
        encoding="utf-8",
    )
    for lang, title in (("ko", "노트북"), ("en", "Notebook")):
        text = json.dumps(NOTEBOOK, ensure_ascii=False)
        text = text.replace("{title}", title).replace("{name}", f"lab-{lang}")
        (project / "docs" / f"lab.{lang}.ipynb").write_text(text, encoding="utf-8")


def runs(project: Path, name: str) -> int:
    counter = Path(project.parent / "counters" / f"{name}.count")
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def build(project: Path, expect_success: bool = True) -> str:
    result = mkdocs_build(project / "mkdocs.yml", project / "site")
    log = result.stdout + result.stderr
    if expect_success:
        assert result.returncode == 0, log
    else:
        assert result.returncode != 0, f"the build passed but should have failed:\n{log}"
    return log


def test_cache_runs_only_what_changed(project):
    # Cold build: each generator runs once, not once per language.
    log = build(project)
    assert (runs(project, "counted"), runs(project, "other")) == (1, 1)
    assert log.count("Ran generator demo/counted.py") == 1

    # Each edition gets its own figure and text.
    korean = (project / "site" / "figures" / "counted.svg").read_text(encoding="utf-8")
    english = (project / "site" / "en" / "figures" / "counted.svg").read_text(encoding="utf-8")
    assert "<!-- counted 그림 -->" in korean
    assert "<!-- counted figure -->" in english
    assert "The value is 사십이." in (project / "site" / "index.html").read_text(encoding="utf-8")
    assert "The value is 42." in (project / "site" / "en" / "index.html").read_text(
        encoding="utf-8"
    )

    # Unchanged rebuild: nothing runs.
    log = build(project)
    assert (runs(project, "counted"), runs(project, "other")) == (1, 1)
    assert "Ran generator" not in log

    # Prose edit: nothing runs.
    page = project / "docs" / "index.ko.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nMore prose.\n", encoding="utf-8")
    build(project)
    assert (runs(project, "counted"), runs(project, "other")) == (1, 1)

    # Generator edit: only that generator runs again.
    generator = project / "snippets" / "demo" / "counted.py"
    generator.write_text(generator.read_text() + "\n# an edit\n", encoding="utf-8")
    build(project)
    assert (runs(project, "counted"), runs(project, "other")) == (2, 1)


def test_input_file_edit_reruns_generator(project):
    data = project / "data" / "results.json"
    data.parent.mkdir()
    data.write_text('{"seconds": 1}', encoding="utf-8")
    generator = project / "snippets" / "demo" / "counted.py"
    _replace(generator, "import os\n", 'import os\n\nINPUT_FILES = ["data/*.json"]\n')
    build(project)
    assert (runs(project, "counted"), runs(project, "other")) == (1, 1)

    # Unchanged data: nothing runs.
    build(project)
    assert (runs(project, "counted"), runs(project, "other")) == (1, 1)

    # Edited data: only the generator that declares it runs again.
    data.write_text('{"seconds": 2}', encoding="utf-8")
    build(project)
    assert (runs(project, "counted"), runs(project, "other")) == (2, 1)

    # A new file that the pattern matches counts as an edit too.
    (data.parent / "more.json").write_text("{}", encoding="utf-8")
    build(project)
    assert (runs(project, "counted"), runs(project, "other")) == (3, 1)


def test_each_execution_once_per_build(project, tmp_path, monkeypatch):
    add_notebooks(project)
    timings = tmp_path / "timings.jsonl"
    monkeypatch.setenv("VLMBOOK_BOOK_TIMINGS", str(timings))
    build(project)

    # Each generator and each notebook edition ran once, over both languages.
    counts = {name: runs(project, name) for name in ("counted", "other", "lab-ko", "lab-en")}
    assert counts == {"counted": 1, "other": 1, "lab-ko": 1, "lab-en": 1}
    records = [json.loads(line) for line in timings.read_text(encoding="utf-8").splitlines()]
    names = sorted((record["kind"], record["name"]) for record in records)
    assert names == [
        ("generator", "demo/counted.py"),
        ("generator", "demo/other.py"),
        ("notebook", "lab.en.ipynb"),
        ("notebook", "lab.ko.ipynb"),
    ]
    assert all(record["seconds"] > 0 for record in records)
    notebook_page = (project / "site" / "en" / "lab" / "index.html").read_text(encoding="utf-8")
    assert "Notebook" in notebook_page

    # A warm rebuild executes nothing and records nothing.
    timings.unlink()
    build(project)
    assert {name: runs(project, name) for name in counts} == counts
    assert not timings.exists()


def test_execution_off_runs_nothing(project, monkeypatch):
    add_notebooks(project)
    build(project)
    monkeypatch.setenv("VLMBOOK_BOOK_EXECUTE", "0")
    _replace(project / "snippets" / "demo" / "counted.py", "ran", "ran again")
    _replace(project / "docs" / "lab.ko.ipynb", "노트북", "노트북 2")
    build(project)

    # Neither the edited generator nor the edited notebook ran.
    counts = {name: runs(project, name) for name in ("counted", "other", "lab-ko", "lab-en")}
    assert counts == {"counted": 1, "other": 1, "lab-ko": 1, "lab-en": 1}
    page = (project / "site" / "en" / "index.html").read_text(encoding="utf-8")
    assert "The value is [counted-value]." in page
    assert (project / "site" / "en" / "figures" / "counted.svg").is_file()

    # The executed notebooks stay cached for the next build with execution on.
    monkeypatch.setenv("VLMBOOK_BOOK_EXECUTE", "1")
    _replace(project / "docs" / "lab.ko.ipynb", "노트북 2", "노트북")
    build(project)
    assert (runs(project, "lab-ko"), runs(project, "lab-en")) == (1, 1)


def test_invalid_execute_switch_rejected(project, monkeypatch):
    monkeypatch.setenv("VLMBOOK_BOOK_EXECUTE", "no")
    log = build(project, expect_success=False)
    assert "invalid VLMBOOK_BOOK_EXECUTE='no': use 1 (default) or 0" in log


def test_concurrent_builds_run_generator_once(project):
    # Each generator sleeps, so that the two builds overlap while it runs.
    for name in ("counted", "other"):
        _replace(project / "snippets" / "demo" / f"{name}.py", "TITLES = ", "import time\ntime.sleep(4)\nTITLES = ")
    sites = [project / "site-a", project / "site-b"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda site: mkdocs_build(project / "mkdocs.yml", site), sites))
    for result in results:
        assert result.returncode == 0, result.stdout + result.stderr

    # The builds share the cache, and each generator ran once between them.
    assert (runs(project, "counted"), runs(project, "other")) == (1, 1)
    for site in sites:
        assert (site / "en" / "figures" / "counted.svg").is_file()


def test_interrupted_write_not_trusted(project):
    build(project)
    cache = project / ".cache" / "vlmbook-book"
    entries = [e for e in cache.iterdir() if (e / "manifest.json").is_file()]
    assert len(entries) == 2
    entry = next(e for e in entries if "demo/counted.py" in (e / "manifest.json").read_text())

    # A half-written output (as after a crash mid-write) and a leftover
    # staging folder: the next build runs the generator again.
    figure = entry / "counted.ko.svg"
    figure.write_bytes(figure.read_bytes()[:100])
    staging = cache / ".tmp-leftover"
    staging.mkdir()
    (staging / "counted.ko.svg").write_text("<svg", encoding="utf-8")
    build(project)
    assert (runs(project, "counted"), runs(project, "other")) == (2, 1)
    built = (project / "site" / "figures" / "counted.svg").read_text(encoding="utf-8")
    assert built.rstrip().endswith("</svg>")

    # An entry without its manifest is not trusted either.
    (entry / "manifest.json").unlink()
    build(project)
    assert runs(project, "counted") == 3


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


BROKEN = {
    "failing generator": (
        lambda p: _replace(p / "snippets/demo/other.py", "@figure(", "raise ValueError('boom')\n@figure("),
        "snippets/demo/other.py:16: generator failed: ValueError: boom",
    ),
    "missing figure": (
        lambda p: _replace(p / "docs/index.en.md", "counted.svg", "nowhere.svg"),
        "docs/index.en.md:9: no generator produces figures/nowhere.svg",
    ),
    "missing snippet": (
        lambda p: _replace(p / "docs/index.ko.md", "The value", '--8<-- "demo/missing.py"\n\nThe value'),
        "docs/index.ko.md:11: snippet file 'demo/missing.py' not found",
    ),
    "broken link": (
        lambda p: _replace(p / "docs/index.ko.md", "The value", "[next](next.md)\n\nThe value"),
        "docs/index.ko.md:11: link target 'next.md' not found",
    ),
    "missing edition": (
        lambda p: (p / "docs/index.en.md").unlink(),
        "docs/index.ko.md:1: the 'en' edition docs/index.en.md is missing",
    ),
    "unknown generated text": (
        lambda p: _replace(p / "docs/index.ko.md", "counted-value", "unknown-value"),
        "docs/index.ko.md:11: no generator produces the Markdown output 'unknown-value'",
    ),
    "input file pattern matching nothing": (
        lambda p: _replace(p / "snippets/demo/other.py", "import os\n", 'import os\nINPUT_FILES = ["data/*.csv"]\n'),
        "snippets/demo/other.py:2: INPUT_FILES pattern 'data/*.csv' matches no file",
    ),
    "input files not a literal list": (
        lambda p: _replace(p / "snippets/demo/other.py", "import os\n", 'import os\nINPUT_FILES = "data"\n'),
        "snippets/demo/other.py:2: INPUT_FILES must be a list of string literals",
    ),
    "stylesheet with a relative url()": (
        lambda p: _write(p / "docs/stylesheets/logo.css", '.logo {\n  background: url("../images/logo.png");\n}\n'),
        'docs/stylesheets/logo.css:2: url("../images/logo.png") is not a data: URI',
    ),
    "glyph missing from font": (
        lambda p: _replace(p / "snippets/demo/other.py", '"other 그림"', '"other \\U0001F642"'),
        "glyphs its font lacks",
    ),
}


@pytest.mark.parametrize("breakage", BROKEN.values(), ids=BROKEN.keys())
def test_build_fails_naming_file_and_line(project, breakage):
    break_project, message = breakage
    break_project(project)
    log = build(project, expect_success=False)
    assert message in log
