"""Helpers of the site tests: paths, the strict build command, page lookup."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# site_url of test builds: the edition roots become "/" and "/en/" instead of
# the GitHub Pages project path. The sitemap's URLs carry no port; the
# browser tests rewrite them to the server's (see test_browser.py).
LOCAL_SITE_URL = "http://127.0.0.1/"


@dataclass(frozen=True)
class BuiltSite:
    """A strict build of the real book."""

    path: Path  # the site folder
    log: str  # what mkdocs printed
    seconds: float  # wall time of the build


def mkdocs_build(config_file: Path, site_dir: Path, **env: str) -> subprocess.CompletedProcess:
    """Run ``mkdocs build --strict`` in a subprocess, as `make build` does."""
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "SITE_URL": LOCAL_SITE_URL, **env}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config_file),
         "-d", str(site_dir)],
        cwd=config_file.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )


def page_pairs() -> list[tuple[Path, Path]]:
    """Return (Korean, English) source pairs of every page."""
    pairs = []
    for korean in sorted(DOCS.rglob("*.ko.*")):
        english = korean.with_name(korean.name.replace(".ko.", ".en."))
        pairs.append((korean, english))
    return pairs


def built_page(site: Path, source: Path, lang: str) -> Path:
    """Return the built HTML file of a page source in one edition."""
    relative = source.relative_to(DOCS).as_posix()
    stem = relative.rsplit(".", 2)[0]
    # `labs/index.md` builds to labs/index.html, as `index.md` builds to index.html.
    if stem == "index" or stem.endswith("/index"):
        stem = stem[: -len("index")]
    folder = f"{stem.rstrip('/')}/" if stem else ""
    prefix = "" if lang == "ko" else f"{lang}/"
    return site / f"{prefix}{folder}index.html"


# Code that ran in this test process, normalized: filled by the code block and
# notebook tests, read by the audit.
EXECUTED_CODE: set[str] = set()
