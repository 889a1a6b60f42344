"""The fence checks close the gaps through which pytest-codeblocks skips code silently.

Each case first shows the gap in pytest-codeblocks itself, then that
`lint_page` reports the line.
"""

import pytest

from vlmbook.book.pages import executable_blocks, lint_page, normalize_code, shown_code_blocks

SKIPPED_FENCES = {
    "py label": "```py\nprint(1)\n```\n",
    "python with title": '```python title="demo.py"\nprint(1)\n```\n',
    "tilde fence": "~~~python\nprint(1)\n~~~\n",
    "python3 label": "```python3\nprint(1)\n```\n",
}


@pytest.mark.parametrize("page", SKIPPED_FENCES.values(), ids=SKIPPED_FENCES.keys())
def test_skipped_fence_reported(page):
    assert executable_blocks(page) == [], "pytest-codeblocks now runs this fence"
    problems = lint_page(page)
    assert len(problems) == 1
    assert problems[0].startswith("line 1:")


def test_main_guard_reported():
    page = '```python\nif __name__ == "__main__":\n    print(1)\n```\n'
    assert len(executable_blocks(page)) == 1
    assert lint_page(page) == [
        'line 1: code under `if __name__ == "__main__":` never runs in the tests'
    ]


def test_cont_after_skipped_block_reported():
    page = (
        "```python\nx = 1\n```\n\n```py\ny = 2\n```\n\n"
        "<!--pytest-codeblocks:cont-->\n```python\nprint(x)\n```\n"
    )
    # pytest-codeblocks glues the third block onto the skipped `py` block.
    blocks = executable_blocks(page)
    assert [b.code for b in blocks] == ["x = 1\n"]
    problems = lint_page(page)
    assert any(p.startswith("line 9: cont marker does not follow") for p in problems)


def test_cont_after_output_block_allowed():
    page = (
        "```python\nx = 1\nprint(x)\n```\n\n<!--pytest-codeblocks:expected-output-->\n"
        "```text\n1\n```\n\n<!--pytest-codeblocks:cont-->\n```python\nprint(x + 1)\n```\n"
    )
    assert lint_page(page) == []
    (block,) = executable_blocks(page)
    assert block.code == "x = 1\nprint(x)\nprint(x + 1)\n"
    assert block.expected_output == "1\n"


def test_shell_and_unlabelled_blocks_reported():
    page = "```bash\nmake test\n```\n\n```\nplain\n```\n"
    problems = lint_page(page)
    assert problems[0].startswith("line 1: ```bash blocks would run in a shell")
    assert problems[1].startswith("line 5: fence without a language")


def test_indented_blocks_in_tabs_run():
    page = (
        '=== "Tab"\n\n    ```python\n    print("in a tab")\n    ```\n\n'
        '!!! note\n\n    <!--pytest-codeblocks:cont-->\n    ```python\n    print("in a note")\n    ```\n'
    )
    assert lint_page(page) == []
    (block,) = executable_blocks(page)
    assert block.code == 'print("in a tab")\nprint("in a note")\n'


def test_markers_inside_code_examples_ignored():
    page = "````markdown\n<!--pytest-codeblocks:cont-->\n```python\nx\n```\n````\n"
    assert lint_page(page) == []


def test_shown_code_blocks_read_highlighted_html():
    html = (
        '<div class="language-python highlight"><pre><span></span><code>'
        '<span class="n">x</span> <span class="o">=</span> 1 &lt; 2\n</code></pre></div>'
        '<div class="highlight-ipynb hl-python"><pre><span></span>y = 2\n</pre></div>'
    )
    assert shown_code_blocks(html) == [("python", "x = 1 < 2\n"), ("python", "y = 2\n")]
    assert normalize_code("\n  a  \nb \n\n") == "  a\nb"


def test_second_output_in_cont_chain_reported():
    page = (
        "```python\nprint(1)\n```\n\n<!--pytest-codeblocks:expected-output-->\n```text\n1\n```\n\n"
        "<!--pytest-codeblocks:cont-->\n```python\nprint(2)\n```\n\n"
        "<!--pytest-codeblocks:expected-output-->\n```text\n2\n```\n"
    )
    problems = lint_page(page)
    assert len(problems) == 1
    assert "already has expected_output" in problems[0]
