"""Two clean builds of the same sources produce byte-identical sites.

The page set is the home page, getting started, conventions and the first
notebook (see test_faults.copy_small_book). Their generators and the
notebook compute from fixed seeds and fixed data and measure no time, so
every figure, table, number and notebook output must come out the same.
Chapters that print timings (CPU latency, benchmark results) are left out on
purpose: those numbers differ from run to run.

Each build is a separate copy in its own folder, with its own empty generator
and notebook caches, so no output of the first build can leak into the
second. The copies lie at different paths, which also catches an absolute
path written into an output.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from sitetools import mkdocs_build
from test_faults import copy_small_book

pytestmark = pytest.mark.build


def _build_clean_copy(folder: Path, monkeypatch) -> Path:
    book = copy_small_book(folder / "book")
    monkeypatch.setenv("VLMBOOK_BOOK_CACHE", str(folder / "generator-cache"))
    result = mkdocs_build(book / "mkdocs.yml", book / "site")
    assert result.returncode == 0, result.stdout + result.stderr
    return book / "site"


def _site_files(site: Path) -> dict[str, bytes]:
    """Return every file of a built site by relative path.

    A gzip file is compared by its content: its header stores a time stamp.
    """
    files = {}
    for path in sorted(site.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            files[path.relative_to(site).as_posix()] = data
    return files


def test_two_clean_builds_identical(tmp_path, monkeypatch):
    first = _site_files(_build_clean_copy(tmp_path / "first", monkeypatch))
    second = _site_files(_build_clean_copy(tmp_path / "second-build", monkeypatch))

    assert sorted(first) == sorted(second)
    figures = [name for name in first if "/figures/" in f"/{name}"]
    assert len(figures) >= 6, f"expected the small book's figures in both editions, got {figures}"
    different = [name for name in first if first[name] != second[name]]
    assert different == [], f"files that differ between two clean builds: {different}"
