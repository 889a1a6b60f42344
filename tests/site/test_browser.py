"""The built site in headless Chromium: language switch, search, images, console, requests.

The site is served by a Python http.server on 127.0.0.1. Every request to
another host is aborted and recorded, so a test fails on it without sending
any traffic off the machine.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from sitetools import LOCAL_SITE_URL

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser, site_server):
    """A fresh browser page that may only talk to the local server."""
    context = browser.new_context(locale="ko-KR")
    state = {"foreign_requests": [], "console_errors": [], "failed_responses": []}

    def guard(route):
        url = route.request.url
        if not url.startswith(site_server):
            state["foreign_requests"].append(url)
            route.abort()
        elif url.endswith("/sitemap.xml"):
            # Material's language switcher matches the page URL, port included,
            # against the sitemap, whose URLs come from site_url. Deployed, the
            # two agree; here the server's port is only known after the build.
            try:
                response = route.fetch()
                body = response.text().replace(LOCAL_SITE_URL, f"{site_server}/")
                route.fulfill(response=response, body=body)
            except PlaywrightError:
                pass  # the test closed the page while the sitemap was loading
        else:
            route.continue_()

    context.route("**/*", guard)
    tab = context.new_page()
    tab.on("console", lambda m: m.type == "error" and state["console_errors"].append(m.text))
    tab.on("pageerror", lambda error: state["console_errors"].append(str(error)))
    tab.on(
        "response",
        lambda r: r.status >= 400 and state["failed_responses"].append(f"{r.status} {r.url}"),
    )
    tab.state = state
    yield tab
    context.close()


def _site_pages(built_site, site_server) -> list[str]:
    urls = []
    for html in sorted(built_site.path.rglob("index.html")):
        relative = html.parent.relative_to(built_site.path).as_posix()
        urls.append(f"{site_server}/" if relative == "." else f"{site_server}/{relative}/")
    return urls


def test_korean_home_at_root(page, site_server):
    page.goto(f"{site_server}/")
    assert page.get_attribute("html", "lang") == "ko"
    assert "실행하며 배우는" in page.inner_text("h1")


def test_korean_text_uses_site_font(page, site_server):
    page.goto(f"{site_server}/getting-started/")
    page.evaluate("document.fonts.ready")
    loaded = page.evaluate("""() => document.fonts.check('16px "Book Hangul"', '시작하기')""")
    assert loaded, "the site's Hangul font did not load"
    statuses = page.evaluate("() => [...document.fonts].map(f => f.family + ' ' + f.status)")
    assert "Book Hangul loaded" in statuses


def test_switcher_keeps_page(page, site_server):
    page.goto(f"{site_server}/getting-started/")
    page.hover(".md-header__option .md-select")
    page.click('.md-select__link[hreflang="en"]')
    page.wait_for_url(f"{site_server}/en/getting-started/")
    assert page.inner_text("h1").startswith("Getting started")

    page.hover(".md-header__option .md-select")
    page.click('.md-select__link[hreflang="ko"]')
    page.wait_for_url(f"{site_server}/getting-started/")
    assert page.inner_text("h1").startswith("시작하기")


def _search(page, query: str) -> list[str]:
    # Type key by key: Material reads keyboard events, and fill() alone does
    # not always start a search.
    page.click(".md-search__input")
    page.keyboard.type(query, delay=30)
    results = page.locator(".md-search-result__item > .md-search-result__link")
    results.first.wait_for(timeout=15000)
    return [urlsplit(href).path for href in results.evaluate_all("els => els.map(e => e.href)")]


def test_korean_search_finds_korean_page(page, site_server, built_site):
    page.goto(f"{site_server}/")
    found = _search(page, "대조 학습")
    assert not found[0].startswith("/en/"), found
    top = (built_site.path / found[0].strip("/") / "index.html").read_text(encoding="utf-8")
    assert "대조 학습" in top, f"{found[0]}: the top result does not contain the query"

    # Both editions show the same generator code, which carries the Korean figure
    # labels. Code blocks are not indexed, but plain-text blocks are, so an English
    # page may still match through them; its prose must not.
    for url in found:
        # The English glossary lists each term's Korean name on purpose.
        if not url.startswith("/en/") or url == "/en/appendix/glossary/":
            continue
        html = (built_site.path / url.strip("/") / "index.html").read_text(encoding="utf-8")
        prose = re.sub(r"<pre.*?</pre>", "", html, flags=re.DOTALL)
        assert "대조" not in prose, f"{url}: Korean search term in the English prose"
        assert "학습" not in prose, f"{url}: Korean search term in the English prose"


def test_english_search_finds_english_page(page, site_server, built_site):
    page.goto(f"{site_server}/en/")
    found = _search(page, "contrastive learning")
    assert found[0].startswith("/en/"), found
    top = (built_site.path / found[0].strip("/") / "index.html").read_text(encoding="utf-8")
    assert "contrastive learning" in top.lower(), f"{found[0]}: the top result does not contain the query"


def test_copy_button_mounts_on_scroll(page, site_server):
    """Material mounts code blocks lazily (content.lazy): each gets its copy button when it scrolls into view."""
    page.goto(f"{site_server}/clip/")
    page.wait_for_load_state("load")
    # Blocks in a closed <details> or a hidden tab mount when the reader opens them, so they are left out.
    blocks = page.locator(".md-typeset .highlight > pre:not(details *):visible")
    count = blocks.count()
    assert count >= 10, f"expected the CLIP chapter's visible code blocks, found {count}"
    last = blocks.nth(count - 1)
    assert last.locator(".md-code__button").count() == 0, "the last block was mounted before it was in view"

    # Scroll to the bottom with the mouse wheel, as a reader does. Each step waits until the
    # page has moved, since the wheel event returns before the scroll happens.
    page.mouse.move(200, 300)
    at_bottom = "scrollY + innerHeight >= document.documentElement.scrollHeight - 1"
    for _ in range(400):
        if page.evaluate(at_bottom):
            break
        offset = page.evaluate("scrollY")
        page.mouse.wheel(0, 600)
        page.wait_for_function("offset => scrollY !== offset", arg=offset, timeout=10000)
    assert page.evaluate(at_bottom), "the page did not reach its bottom after 400 wheel steps"
    button = last.locator(".md-code__button[data-clipboard-target]")
    button.wait_for(state="attached", timeout=10000)
    target = button.get_attribute("data-clipboard-target")
    assert page.locator(target).inner_text().strip() == last.locator("code").inner_text().strip()
    mounted = blocks.filter(has=page.locator(".md-code__button")).count()
    assert mounted == count, f"{count - mounted} of {count} code blocks got no copy button"


def test_every_page_loads_cleanly(page, built_site, site_server):
    urls = _site_pages(built_site, site_server)
    assert len(urls) >= 8
    for url in urls:
        response = page.goto(url)
        assert response is not None and response.ok, url
        page.wait_for_load_state("load")
        # Figures load lazily (loading="lazy"); ask for all of them, then check that each arrived.
        page.eval_on_selector_all("img[loading=lazy]", "imgs => imgs.forEach(i => { i.loading = 'eager'; })")
        try:
            page.wait_for_function("[...document.images].every(i => i.complete)", timeout=15000)
        except PlaywrightTimeoutError:
            pass  # the check below names the images that did not arrive
        broken = page.eval_on_selector_all(
            "img", "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
        )
        assert broken == [], f"{url}: images that did not load: {broken}"
    assert page.state["failed_responses"] == []
    assert page.state["console_errors"] == []
    assert page.state["foreign_requests"] == []
