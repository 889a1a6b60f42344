"""The generated appendix pages of the real build: API reference, checkpoint records, labs index."""

from __future__ import annotations

import html
import json
import re

import pytest

from sitetools import DOCS
from vlmbook.checkpoints import EMBEDDED_DIR, NAMES

pytestmark = pytest.mark.build

API_MODULES = (
    "shapesworld", "checkpoints", "attention", "transformer", "vision", "text", "clip", "blip",
    "llava", "viz", "images", "evaluation", "training", "recipes",
)
EDITIONS = [("ko", ""), ("en", "en/")]


def page_text(built_site, prefix: str, path: str) -> str:
    return (built_site.path / prefix / path / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("lang, prefix", EDITIONS)
def test_api_reference_renders_modules(built_site, lang, prefix):
    page = page_text(built_site, prefix, "appendix/api")
    for module in API_MODULES:
        assert f'id="vlmbook.{module}"' in page, f"{lang}: no heading for vlmbook.{module}"
    # A function from the docstrings, with its signature, proves that mkdocstrings rendered members.
    assert 'id="vlmbook.viz.attention_rollout"' in page
    assert "num_prefix_tokens" in page


@pytest.mark.parametrize("lang, prefix", EDITIONS)
def test_api_links_stay_in_edition(built_site, lang, prefix):
    """Cross-references of the API page point into the page of the same edition."""
    page = page_text(built_site, prefix, "appendix/api")
    targets = re.findall(r'href="([^"]*#vlmbook\.[^"]*)"', page)
    assert targets, "the API page has no cross-references"
    leaving = [target for target in targets if not target.startswith("#")]
    assert leaving == [], f"{lang}: API links leave the page: {leaving[:3]}"


@pytest.mark.parametrize("lang, prefix", EDITIONS)
def test_checkpoint_records_shown(built_site, lang, prefix):
    """Every checkpoint's command, steps and metric keys come from its metrics.json."""
    page = html.unescape(page_text(built_site, prefix, "appendix/checkpoints"))
    assert "generated:" not in page
    for name in NAMES:
        record = json.loads((EMBEDDED_DIR / name / "metrics.json").read_text(encoding="utf-8"))
        assert record["command"] in page, f"{lang}: the command of {name} is missing"
        assert f"{record['steps']:,} / {record['max_steps']:,}" in page, f"{lang}: the steps of {name}"
        for key in record["metrics"]:
            assert f"<code>{key}</code>" in page, f"{lang}: metric {key} of {name} is missing"
        figure = built_site.path / prefix / "figures" / f"checkpoints-{name}-curves.svg"
        assert figure.is_file(), f"{figure} was not drawn"


@pytest.mark.parametrize("lang, prefix", EDITIONS)
def test_labs_index_links_every_notebook(built_site, lang, prefix):
    page = page_text(built_site, prefix, "labs")
    notebooks = sorted(path.name.removesuffix(f".{lang}.ipynb") for path in (DOCS / "labs").glob(f"*.{lang}.ipynb"))
    assert notebooks, "no notebooks in docs/labs"
    for name in notebooks:
        assert f'href="{name}/"' in page, f"{lang}: the labs page does not link {name}"
