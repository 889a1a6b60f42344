"""The attention explorer of the attention visualization chapter, driven in headless Chromium.

The explorer draws maps from weights that the build precomputed and embedded
in the page. These tests use it as a reader would: with the mouse, and with
the keyboard alone (Tab into the patch grid, arrow keys to move).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

GRID_CELLS = 64  # the embedded CLIP sees 8 x 8 patches, and the explorer draws its grid


@pytest.fixture
def page(browser, site_server):
    """A browser page that may only talk to the local server, with its errors recorded."""
    context = browser.new_context(locale="ko-KR")
    state = {"foreign_requests": [], "console_errors": []}

    def guard(route):
        if route.request.url.startswith(site_server):
            route.continue_()
        else:
            state["foreign_requests"].append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    tab = context.new_page()
    tab.on("console", lambda m: m.type == "error" and state["console_errors"].append(m.text))
    tab.on("pageerror", lambda error: state["console_errors"].append(str(error)))
    tab.state = state
    yield tab
    context.close()


def _open_explorer(page, url: str):
    page.goto(url)
    page.wait_for_load_state("load")
    page.locator(".attention-explorer .ae-cell").nth(GRID_CELLS - 1).wait_for(timeout=10000)
    return page.locator(".attention-explorer")


def _cell_colors(page) -> list[str]:
    return page.eval_on_selector_all(".attention-explorer .ae-cell", "cells => cells.map(c => c.style.backgroundColor)")


def _focused_cell_index(page) -> str | None:
    return page.evaluate(
        "() => document.activeElement.classList.contains('ae-cell') ? document.activeElement.dataset.index : null"
    )


def test_explorer_builds_labelled_controls(page, site_server):
    explorer = _open_explorer(page, f"{site_server}/attention-visualization/")

    assert explorer.locator(".ae-cell").count() == GRID_CELLS
    assert explorer.locator('label[for="ae-layer"]').inner_text() == "층"
    assert explorer.locator('label[for="ae-head"]').inner_text() == "헤드"
    assert explorer.locator("#ae-layer option").count() >= 1
    assert explorer.locator("#ae-head option").first.inner_text() == "헤드 평균"
    assert explorer.locator('[role="grid"]').get_attribute("aria-label")
    assert explorer.locator(".ae-word").count() >= 2
    assert "CLS" in explorer.locator(".ae-status").inner_text()
    assert page.state["console_errors"] == []
    assert page.state["foreign_requests"] == []


def test_explorer_keyboard_moves_patch(page, site_server):
    explorer = _open_explorer(page, f"{site_server}/attention-visualization/")
    status = explorer.locator(".ae-status")

    # Tab from the head select lands on the grid's one tabbable cell, the top-left patch.
    explorer.locator("#ae-head").focus()
    page.keyboard.press("Tab")
    assert _focused_cell_index(page) == "0"
    assert "(행 0, 열 0)" in status.inner_text()
    top_left_colors = _cell_colors(page)

    page.keyboard.press("ArrowRight")
    assert _focused_cell_index(page) == "1"
    assert "(행 0, 열 1)" in status.inner_text()

    page.keyboard.press("ArrowDown")
    assert _focused_cell_index(page) == "9"
    assert "(행 1, 열 1)" in status.inner_text()
    assert _cell_colors(page) != top_left_colors

    # Arrow keys stop at the edge of the grid.
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert _focused_cell_index(page) == "8"

    # Only the current cell is in the tab order.
    tabbable = page.eval_on_selector_all(".attention-explorer .ae-cell", "cells => cells.filter(c => c.tabIndex === 0).length")
    assert tabbable == 1
    assert page.state["console_errors"] == []


def test_explorer_word_shows_cross_attention(page, site_server):
    explorer = _open_explorer(page, f"{site_server}/attention-visualization/")
    word = explorer.locator(".ae-word").nth(2)  # the CLS button comes first, then the words
    word_text = word.inner_text()

    word.hover()
    assert word.get_attribute("aria-pressed") == "true"
    assert f"'{word_text}'" in explorer.locator(".ae-status").inner_text()
    assert "BLIP" in explorer.locator(".ae-status").inner_text()
    hovered_colors = _cell_colors(page)

    # Keyboard focus selects a word too.
    explorer.locator(".ae-word").nth(3).focus()
    assert explorer.locator(".ae-word").nth(3).get_attribute("aria-pressed") == "true"
    assert word.get_attribute("aria-pressed") == "false"
    assert _cell_colors(page) != hovered_colors
    assert page.state["console_errors"] == []


def test_explorer_head_select_changes_map(page, site_server):
    explorer = _open_explorer(page, f"{site_server}/attention-visualization/")
    explorer.locator(".ae-cell").nth(27).hover()

    explorer.locator("#ae-head").select_option("0")
    head_zero = _cell_colors(page)
    explorer.locator("#ae-head").select_option("1")
    head_one = _cell_colors(page)

    assert head_zero != head_one
    assert "헤드 1" in explorer.locator(".ae-status").inner_text()


def test_explorer_english_labels(page, site_server):
    explorer = _open_explorer(page, f"{site_server}/en/attention-visualization/")

    assert explorer.locator('label[for="ae-layer"]').inner_text() == "Layer"
    assert explorer.locator('label[for="ae-head"]').inner_text() == "Head"
    assert explorer.locator("#ae-head option").first.inner_text() == "mean of heads"
    assert page.state["foreign_requests"] == []
