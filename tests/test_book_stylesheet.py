"""The bundle of the book's stylesheets: what it joins, in which order, and what it rejects."""

from __future__ import annotations

import pytest

from vlmbook.book.stylesheet import bundle_stylesheets

HEAD = "@font-face { font-family: demo; }\n"


def _docs(tmp_path, files: dict[str, str]):
    docs = tmp_path / "docs"
    for name, css in files.items():
        path = docs / "stylesheets" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(css, encoding="utf-8")
    return docs


@pytest.mark.parametrize(
    "css",
    [
        'a { background: url("data:image/svg+xml,%3Csvg%3E"); }',
        "a { background: url( 'data:image/png;base64,AAAA' ); }",
        "a { background: URL(DATA:image/png;base64,AAAA); }",
        "a { filter: url(#shadow); }",
        "/* was: url(old.png) */ a { color: red; }",
    ],
)
def test_bundle_accepts_inline_urls(tmp_path, css):
    bundle = bundle_stylesheets(HEAD, _docs(tmp_path, {"a.css": css}))
    assert css in bundle


@pytest.mark.parametrize(
    "css, message",
    [
        ("a {\n  background: url(logo.png);\n}", "docs/stylesheets/a.css:2: url(logo.png) is not a data: URI"),
        ('a { background: URL("../logo.png"); }', 'docs/stylesheets/a.css:1: URL("../logo.png") is not a data: URI'),
        ("a { background: url(https://example.org/x.png); }", "url(https://example.org/x.png) is not a data: URI"),
        ('\n@import "other.css";', "docs/stylesheets/a.css:2: @import is ignored by browsers"),
    ],
)
def test_bundle_rejects_addresses_and_imports(tmp_path, css, message):
    with pytest.raises(ValueError) as raised:
        bundle_stylesheets(HEAD, _docs(tmp_path, {"a.css": css}))
    assert message in str(raised.value)


def test_bundle_order_and_subfolders(tmp_path):
    docs = _docs(tmp_path, {"b.css": ".b {}", "a.css": ".a {}", "extra/c.css": ".c {}"})
    bundle = bundle_stylesheets(HEAD, docs)
    assert bundle.index("@font-face") < bundle.index(".a {}") < bundle.index(".b {}") < bundle.index(".c {}")
    assert "/* stylesheets/extra/c.css */" in bundle


def test_bundle_without_source_folder(tmp_path):
    bundle = bundle_stylesheets(HEAD, tmp_path / "docs")
    assert HEAD.strip() in bundle
    assert "/* stylesheets/" not in bundle
