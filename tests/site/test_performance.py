"""The real book's build executes nothing twice, and the Performance page shows the committed results."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timezone

import pytest

from sitetools import DOCS, ROOT, built_page

pytestmark = pytest.mark.build

RESULTS = ROOT / "benchmarks" / "results"


def test_book_build_executes_each_once(built_site):
    # The hooks log each generator that they run, and mkdocs-jupyter each notebook it executes.
    generators = Counter(re.findall(r"Ran generator (\S+) in", built_site.log))
    notebooks = Counter(re.findall(r"Cache miss, writing: (\S+)", built_site.log))
    assert [name for name, count in generators.items() if count > 1] == []
    assert [name for name, count in notebooks.items() if count > 1] == []


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_performance_page_shows_results(built_site, lang):
    html = built_page(built_site.path, DOCS / "appendix" / f"performance.{lang}.md", lang).read_text(
        encoding="utf-8"
    )
    assert "generated:" not in html
    assert "performance-generator-seconds.svg" in html
    prefix = "" if lang == "ko" else "en/"
    assert (built_site.path / prefix / "figures" / "performance-generator-seconds.svg").is_file()

    # Each results file's date appears, in UTC minutes as the page writes it.
    for path in sorted(RESULTS.glob("*.json")):
        recorded = json.loads(path.read_text(encoding="utf-8"))["date"]
        moment = datetime.fromisoformat(recorded).astimezone(timezone.utc)
        assert moment.strftime("%Y-%m-%d %H:%M UTC") in html, path.name

    # The build ratios come from benchmarks/results/build_speed.json.
    build = json.loads((RESULTS / "build_speed.json").read_text(encoding="utf-8"))
    for name in ("warm_over_no_execution_wall", "prose_edit_over_no_execution_wall"):
        assert f"{build['ratios'][name]:.2f}" in html, name
