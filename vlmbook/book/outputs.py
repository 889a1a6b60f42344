"""The API that figure and table generators use to declare their outputs.

A generator is a Python file under ``snippets/<chapter>/``. It decorates one
function per output; the build calls each function once per language and
stores what it returns::

    from vlmbook.book import figure, markdown

    @figure("shapes-grid")
    def draw_shapes_grid(lang: str):
        ...                       # build a matplotlib figure, labels in `lang`
        return fig

    @markdown("clip-accuracy")
    def clip_accuracy(lang: str) -> str:
        return f"{accuracy:.1%}"

A page shows the figure as ``![...](/figures/shapes-grid.svg)`` and inserts
the text with ``{{ generated: clip-accuracy }}``. The decorators return the
function unchanged, so a reader can call ``draw_shapes_grid("en")`` directly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

LANGUAGES = ("ko", "en")
"""Editions of the book, the default (Korean) first."""

FIGURE_FORMATS = ("svg", "png")

NAME_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
"""Output names are lowercase words joined by hyphens, e.g. ``clip-similarity``."""


@dataclass(frozen=True)
class Output:
    """One declared output: a figure file or a piece of Markdown, per language."""

    name: str
    kind: str  # "figure" or "markdown"
    suffix: str  # file suffix in the built site: ".svg", ".png" or ".md"
    render: Callable[[str], object]

    def file_name(self, lang: str) -> str:
        """Name of the cached file that contains this output in `lang`."""
        return f"{self.name}.{lang}{self.suffix}"


# Outputs declared by the generator file that the build runs now, or None
# outside a build: a reader who runs a generator's code (twice, in a
# notebook) only calls the decorators, which then record nothing.
_collecting: list[Output] | None = None


def _register(output: Output) -> None:
    if not NAME_PATTERN.fullmatch(output.name):
        raise ValueError(
            f"invalid output name {output.name!r}: use lowercase letters, digits "
            "and single hyphens, e.g. 'clip-similarity'"
        )
    if _collecting is None:
        return
    if any(existing.name == output.name for existing in _collecting):
        raise ValueError(f"output {output.name!r} is declared twice in one generator")
    _collecting.append(output)


def figure(name: str, *, format: str = "svg") -> Callable:
    """Declare that the decorated ``f(lang) -> matplotlib Figure`` draws figure `name`.

    The page references it as ``/figures/<name>.<format>``.
    """
    if format not in FIGURE_FORMATS:
        raise ValueError(f"invalid figure format {format!r}: use one of {FIGURE_FORMATS}")

    def register(render: Callable[[str], object]) -> Callable[[str], object]:
        _register(Output(name, "figure", f".{format}", render))
        return render

    return register


def markdown(name: str) -> Callable:
    """Declare that the decorated ``f(lang) -> str`` writes Markdown text `name`.

    The page inserts it with ``{{ generated: <name> }}``: a number inside a
    sentence, or a whole table.
    """

    def register(render: Callable[[str], object]) -> Callable[[str], object]:
        _register(Output(name, "markdown", ".md", render))
        return render

    return register


def check_claims(where: str, claims: dict[str, bool], values: str) -> None:
    """Raise RuntimeError for the first claim that the measured values no longer support.

    Generators call this beside the numbers that a page's prose compares, so a
    build on retrained checkpoints fails instead of publishing a false sentence.
    `where` names the paragraph and its pages, `claims` maps each claim to
    whether it is true now, and `values` shows the measurements in the message.
    """
    for claim, is_true in claims.items():
        if not is_true:
            raise RuntimeError(f"{where} states that {claim}, which is no longer true ({values}); update the text")


@contextmanager
def collect_outputs() -> Iterator[list[Output]]:
    """Collect the outputs that code run inside the ``with`` block declares."""
    global _collecting
    if _collecting is not None:
        raise RuntimeError("collect_outputs() is already active; generators do not nest")
    _collecting = []
    try:
        yield _collecting
    finally:
        _collecting = None
