"""A build killed while it writes generated outputs is followed by a build with correct outputs.

The test project's generator slows down the writes of the cache code under
test: when VLMBOOK_TEST_SLOW_WRITE names a marker file, the second file that
the generator process writes gets half of its bytes, the marker appears and
the write waits. The test then kills the whole build (mkdocs and the
generator process) with SIGKILL, as a crash or an out-of-memory kill would,
and builds again.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from sitetools import LOCAL_SITE_URL, ROOT, mkdocs_build
from test_build_hooks import MKDOCS_YML

pytestmark = pytest.mark.build

GENERATOR = '''\
import os
import pathlib
import time

import matplotlib.pyplot as plt

from vlmbook.book import figure, markdown

MARKER = os.environ.get("VLMBOOK_TEST_SLOW_WRITE")
if MARKER:
    # A slow disk: the second file written gets half of its bytes, then waits for the kill.
    original_write_bytes = pathlib.Path.write_bytes
    written = []

    def slow_write_bytes(path, data):
        written.append(path)
        if len(written) != 2:
            return original_write_bytes(path, data)
        with path.open("wb") as handle:
            handle.write(data[: len(data) // 2])
            handle.flush()
            os.fsync(handle.fileno())
        pathlib.Path(MARKER).write_text(str(path), encoding="utf-8")
        time.sleep(600)
        raise RuntimeError("the test did not kill the build")

    pathlib.Path.write_bytes = slow_write_bytes

TITLES = {"ko": "막대 그림", "en": "Bar chart"}
WORDS = " ".join(f"word{i}" for i in range(5000))


@figure("crash-bars")
def draw(lang):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar(range(4), [3, 1, 4, 1])
    ax.set_title(TITLES[lang])
    return fig


@markdown("crash-words")
def words(lang):
    return WORDS
'''

PAGE = """\
---
generators:
  - demo/crash.py
---

# {title}

![bars](/figures/crash-bars.svg)

{{{{ generated: crash-words }}}}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "project"
    shutil.copytree(
        ROOT / "vlmbook", root / "vlmbook", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / "docs").mkdir(parents=True)
    (root / "snippets" / "demo").mkdir(parents=True)
    (root / "mkdocs.yml").write_text(MKDOCS_YML, encoding="utf-8")
    (root / "snippets" / "demo" / "crash.py").write_text(GENERATOR, encoding="utf-8")
    (root / "docs" / "index.ko.md").write_text(PAGE.format(title="홈"), encoding="utf-8")
    (root / "docs" / "index.en.md").write_text(PAGE.format(title="Home"), encoding="utf-8")
    monkeypatch.delenv("VLMBOOK_BOOK_CACHE", raising=False)
    return root


def _generator_entries(cache: Path) -> list[Path]:
    """Return the published generator entries: folders named by a key, not staging or fonts."""
    return [e for e in cache.iterdir() if e.is_dir() and len(e.name) == 32 and "." not in e.name]


def _kill_build_mid_write(project: Path, marker: Path) -> Path:
    """Start a build, SIGKILL it and its generator once a file is half written; return that file."""
    environment = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "SITE_URL": LOCAL_SITE_URL,
        "VLMBOOK_TEST_SLOW_WRITE": str(marker),
    }
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(project / "site")]
    build = subprocess.Popen(
        command, cwd=project, env=environment, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert build.poll() is None, "the build ended before it wrote the outputs:\n" + (
                build.stdout.read().decode(errors="replace")
            )
            assert time.monotonic() < deadline, "the generator never reached its second write"
            time.sleep(0.1)
        time.sleep(0.2)  # let the marker's text land
    finally:
        if build.poll() is None:
            os.killpg(build.pid, signal.SIGKILL)
        build.wait(timeout=60)
        build.stdout.close()
    assert build.returncode == -signal.SIGKILL
    return Path(marker.read_text(encoding="utf-8"))


def test_build_after_sigkill_mid_write(project, tmp_path):
    half_written = _kill_build_mid_write(project, tmp_path / "half-written")

    # The kill left a partial file, and only inside a staging folder.
    cache = project / ".cache" / "vlmbook-book"
    assert half_written.is_file()
    assert half_written.parent.parent == cache
    assert half_written.parent.name.startswith(".tmp-")
    assert _generator_entries(cache) == [], "a killed build published a cache entry"

    result = mkdocs_build(project / "mkdocs.yml", project / "site")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Ran generator demo/crash.py" in result.stdout + result.stderr

    # Every output is complete and equal to a fresh render.
    from vlmbook.book.generators import render_output
    from vlmbook.book.outputs import collect_outputs

    with collect_outputs() as outputs:
        runpy.run_path(str(project / "snippets" / "demo" / "crash.py"), run_name="reference")
    by_name = {output.name: output for output in outputs}
    for lang, prefix in (("ko", ""), ("en", "en/")):
        built = (project / "site" / prefix / "figures" / "crash-bars.svg").read_bytes()
        ElementTree.fromstring(built)  # raises on a truncated document
        assert built == render_output(by_name["crash-bars"], lang)
        html = (project / "site" / prefix / "index.html").read_text(encoding="utf-8")
        assert render_output(by_name["crash-words"], lang).decode() in html

    (entry,) = _generator_entries(cache)
    manifest = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
    assert {item["name"] for item in manifest["outputs"]} == {"crash-bars", "crash-words"}



def test_truncated_notebook_cache_rebuilt(tmp_path, monkeypatch):
    """A notebook cache file that a killed build cut short is executed again, not read.

    mkdocs-jupyter writes its cache with a plain write_text, so a kill can
    leave half a JSON document, which it would fail to parse on every later
    build.
    """
    from test_faults import copy_small_book

    monkeypatch.setenv("VLMBOOK_BOOK_CACHE", str(ROOT / ".cache" / "vlmbook-book"))
    book = copy_small_book(tmp_path / "book")
    result = mkdocs_build(book / "mkdocs.yml", book / "site")
    assert result.returncode == 0, result.stdout + result.stderr

    cached = sorted((book / ".cache" / "mkdocs-jupyter").rglob("*.json"))
    assert len(cached) == 2, "expected one cache file per notebook edition"
    for path in cached:
        text = path.read_text(encoding="utf-8")
        path.write_text(text[: len(text) // 2], encoding="utf-8")

    result = mkdocs_build(book / "mkdocs.yml", book / "site")
    assert result.returncode == 0, result.stdout + result.stderr
    for prefix in ("", "en/"):
        html = (book / "site" / prefix / "labs" / "first-notebook" / "index.html").read_text(
            encoding="utf-8"
        )
        assert "temperature=0.01" in html, "the notebook's output is missing"
    for path in cached:
        json.loads(path.read_text(encoding="utf-8"))
