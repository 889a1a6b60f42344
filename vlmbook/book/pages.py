"""Read the code blocks of the book's pages the way the site and the tests see them.

The site tests use this module to:

- expand ``--8<--`` snippet includes exactly as the site does, by running the
  pymdownx.snippets preprocessor with the options from ``mkdocs.yml``;
- list every fenced block of a page (``` and ~~~, at any indentation) and
  reject the fences that pytest-codeblocks would skip without a word;
- extract the blocks to run with pytest-codeblocks' own parser, so a page
  that passes here also passes ``pytest --codeblocks`` on the expanded page;
- collect the code blocks that the built HTML shows, for the audit.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import markdown
from pytest_codeblocks.main import CodeBlock, extract_from_buffer

EXECUTED_LANGUAGE = "python"
# Languages shown but never run: output, shell commands and file formats.
NOT_EXECUTED_LANGUAGES = {"text", "console", "markdown", "yaml", "toml", "json"}
# The language that the built-site audit gives to mkdocstrings' API signatures.
API_SIGNATURE = "api-signature"
# pytest-codeblocks runs `sh` and `bash` blocks in a shell; the book never does.
SHELL_LANGUAGES = {"sh", "bash", "zsh", "shell"}
PYTHON_ALIASES = {"py", "python3", "py3", "pycon", "ipython", "ipython3"}

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
MARKER = re.compile(r"^\s*<!--[-\s]*pytest-codeblocks:(?P<keyword>.*?)[-\s]*-->\s*$")
PYTEST_MARK = re.compile(r"^\s*<!--[-\s]*pytest\.mark\.")
MAIN_GUARD = re.compile(r"^\s*if\s+__name__\s*==\s*[\"']__main__[\"']\s*:", re.MULTILINE)


@dataclass(frozen=True)
class Fence:
    """One fenced block of a page."""

    line: int  # 1-based line of the opening fence
    end_line: int  # 1-based line of the closing fence
    fence: str  # the fence characters, e.g. "```" or "~~~~"
    info: str  # everything after the fence: language and attributes
    code: str

    @property
    def language(self) -> str:
        return self.info.split()[0].lstrip("{.") if self.info.strip() else ""


def load_site_config(config_file: Path):
    """Load ``mkdocs.yml`` with MkDocs' own loader, so options match the build."""
    from mkdocs.config import load_config

    return load_config(config_file=str(config_file))


def expand_snippets(page_text: str, config) -> str:
    """Return `page_text` with every ``--8<--`` include expanded, as the site does."""
    options = dict(config.mdx_configs.get("pymdownx.snippets", {}))
    root = Path(config.config_file_path).resolve().parent
    base_paths = options.get("base_path", ["."])
    if isinstance(base_paths, str):
        base_paths = [base_paths]
    options["base_path"] = [str(root / base) for base in base_paths]
    converter = markdown.Markdown(
        extensions=["pymdownx.snippets"], extension_configs={"pymdownx.snippets": options}
    )
    lines = converter.preprocessors["snippet"].run(page_text.split("\n"))
    return "\n".join(lines)


def scan_fences(page_text: str) -> list[Fence]:
    """Return every fenced block of a page, including nested and indented ones."""
    fences = []
    lines = page_text.split("\n")
    index = 0
    while index < len(lines):
        opened = FENCE.match(lines[index])
        if opened is None:
            index += 1
            continue
        fence, indent = opened.group("fence"), len(opened.group("indent"))
        body = []
        end = index + 1
        while end < len(lines):
            stripped = lines[end].strip()
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                break
            body.append(lines[end][indent:] if lines[end][:indent].isspace() else lines[end].lstrip())
            end += 1
        info = opened.group("info").strip()
        fences.append(Fence(index + 1, end + 1, fence, info, "\n".join(body)))
        index = end + 1
    return fences


def lint_page(page_text: str) -> list[str]:
    """Return the problems that would make pytest-codeblocks skip or mis-run a block.

    `page_text` is the expanded page. Each problem starts with its line number.
    """
    problems = []
    fences = scan_fences(page_text)
    lines = page_text.split("\n")
    for fence in fences:
        language = fence.language
        where = f"line {fence.line}"
        if fence.fence[0] == "~":
            problems.append(f"{where}: '~~~' fence; pytest-codeblocks only reads ``` fences")
        if not language:
            problems.append(f"{where}: fence without a language; use ```python or ```text")
        elif language in PYTHON_ALIASES or (
            language == EXECUTED_LANGUAGE and fence.info != EXECUTED_LANGUAGE
        ):
            problems.append(
                f"{where}: fence '{fence.fence}{fence.info}' is skipped by pytest-codeblocks; "
                "write exactly ```python"
            )
        elif language in SHELL_LANGUAGES:
            problems.append(f"{where}: ```{language} blocks would run in a shell; use ```console")
        elif language != EXECUTED_LANGUAGE and language not in NOT_EXECUTED_LANGUAGES:
            problems.append(
                f"{where}: unknown block language {language!r}; use python or one of "
                f"{sorted(NOT_EXECUTED_LANGUAGES)}"
            )
        if language == EXECUTED_LANGUAGE and MAIN_GUARD.search(fence.code):
            problems.append(
                f"{where}: code under `if __name__ == \"__main__\":` never runs in the tests"
            )

    # Each pytest-codeblocks marker must sit right before a fence, and the last
    # block before it (output blocks aside) must be Python: pytest-codeblocks
    # attaches the marker to that block, whatever its language.
    inside_fence = {n for fence in fences for n in range(fence.line, fence.end_line + 1)}
    fence_at = {fence.line: fence for fence in fences}
    output_fences: set[int] = set()
    for number, line in enumerate(lines, start=1):
        if number in inside_fence:
            continue
        if PYTEST_MARK.match(line):
            problems.append(f"line {number}: pytest marks (skip, xfail) are not allowed")
        marker = MARKER.match(line)
        if marker is None:
            continue
        keyword = marker.group("keyword").strip()
        if keyword not in {"cont", "expected-output", "expected-output-ignore-whitespace"}:
            problems.append(f"line {number}: pytest-codeblocks:{keyword} is not allowed")
            continue
        following = next(
            (fence_at[n] for n in range(number + 1, len(lines) + 1) if n in fence_at), None
        )
        previous = [f for f in fences if f.line < number and f.line not in output_fences]
        if following is None:
            problems.append(f"line {number}: {keyword} marker without a block after it")
            continue
        if keyword != "cont":
            output_fences.add(following.line)
        if not previous or previous[-1].language != EXECUTED_LANGUAGE:
            problems.append(
                f"line {number}: {keyword} marker does not follow a ```python block, so "
                "pytest-codeblocks would attach it to the wrong block"
            )
        elif keyword == "cont" and following.language != EXECUTED_LANGUAGE:
            problems.append(f"line {number}: cont marker before a non-Python block")

    # What pytest-codeblocks' own parser rejects, e.g. two expected outputs
    # for one chain of cont blocks.
    try:
        extract_from_buffer(io.StringIO(page_text))
    except RuntimeError as error:
        problems.append(
            f"pytest-codeblocks cannot read the page: {error} A chain of cont blocks "
            "has one expected output; end the chain before the next output."
        )
    return problems


def executable_blocks(page_text: str) -> list[CodeBlock]:
    """Return the blocks that pytest-codeblocks runs, with `cont` blocks merged."""
    blocks = extract_from_buffer(io.StringIO(page_text))
    return [block for block in blocks if block.syntax == EXECUTED_LANGUAGE]


class _CodeBlockParser(HTMLParser):
    """Collect the text of each highlighted ``<pre>`` and its language."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str]] = []
        self._language: str | None = None
        self._depth = 0  # nesting depth inside the <pre> being captured
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "div" and "doc-signature" in classes:
            # A signature that mkdocstrings renders on the API reference page:
            # shown as Python, but a declaration, not code that a reader runs.
            self._language = API_SIGNATURE
        elif tag == "div" and ("highlight" in classes or "highlight-ipynb" in classes):
            languages = [c.split("-", 1)[1] for c in classes if c.startswith(("language-", "hl-"))]
            self._language = languages[0] if languages else ""
        elif tag == "pre" and self._language is not None:
            self._depth = 1
            self._text = []
        elif self._depth:
            self._depth += 1

    def handle_endtag(self, tag):
        if not self._depth:
            return
        self._depth -= 1
        if tag == "pre" or self._depth == 0:
            self.blocks.append((self._language or "", "".join(self._text)))
            self._language = None
            self._depth = 0

    def handle_data(self, data):
        if self._depth:
            self._text.append(data)


def shown_code_blocks(page_html: str) -> list[tuple[str, str]]:
    """Return (language, code) for every highlighted code block in a built page."""
    parser = _CodeBlockParser()
    parser.feed(page_html)
    return parser.blocks


def normalize_code(code: str) -> str:
    """Strip trailing spaces and drop blank lines, so HTML and Markdown text compare.

    pytest-codeblocks drops a blank line inside an indented block (an admonition or
    a content tab) unless the line keeps the indentation, while the site still shows
    it, so blank lines cannot take part in the comparison.
    """
    lines = [line.rstrip() for line in code.split("\n")]
    return "\n".join(line for line in lines if line)


def _ran(code: str, executed: set[str]) -> bool:
    """True when `code` is a whole run of lines inside some code that ran."""
    wrapped = f"\n{code}\n"
    return any(wrapped in f"\n{ran}\n" for ran in executed)


def unexecuted_blocks(site_dir: Path, executed: set[str]) -> tuple[int, list[str]]:
    """Audit a built site against the code that ran.

    `executed` holds normalized code (see `normalize_code`); a block joined
    from `cont` blocks covers each of its parts. Returns the number of Python
    blocks that the site shows, and one line per block that did not run or
    has a language outside the known sets.
    """
    shown_python = 0
    problems = []
    for html_file in sorted(site_dir.rglob("*.html")):
        if html_file.name == "404.html":
            continue
        where = html_file.relative_to(site_dir).as_posix()
        for language, code in shown_code_blocks(html_file.read_text(encoding="utf-8")):
            if language == EXECUTED_LANGUAGE:
                shown_python += 1
                if not _ran(normalize_code(code), executed):
                    first_line = code.strip().splitlines()[0] if code.strip() else ""
                    problems.append(f"{where}: {first_line!r}")
            elif language not in NOT_EXECUTED_LANGUAGES and language != API_SIGNATURE:
                problems.append(f"{where}: a {language or 'unlabelled'} block, which no test runs")
    return shown_python, problems
