"""The fonts and matplotlib settings that every book figure is drawn with.

Korean text needs a font with Hangul glyphs. The PyPI package
``koreanize-matplotlib`` ships NanumGothic (SIL Open Font License) as TTF
files; this module registers those files with matplotlib's font manager. It
never imports that package, because its import changes global rcParams and
needs ``distutils``, which Python 3.12 removed.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

KOREAN_FONT_FAMILY = "NanumGothic"
KOREAN_FONT_PACKAGE = "koreanize_matplotlib"


def korean_font_files() -> list[Path]:
    """Return the NanumGothic TTF files that the font package installed."""
    spec = importlib.util.find_spec(KOREAN_FONT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the font package {KOREAN_FONT_PACKAGE!r} is not installed; install the "
            "docs extras: pip install -e '.[docs]'"
        )
    font_dir = Path(next(iter(spec.submodule_search_locations))) / "fonts"
    files = sorted(font_dir.glob(f"{KOREAN_FONT_FAMILY}*.ttf"))
    if not files:
        raise RuntimeError(f"no {KOREAN_FONT_FAMILY} TTF files found in {font_dir}")
    return files


@cache
def register_korean_font() -> str:
    """Register NanumGothic with matplotlib once per process; return its family name."""
    from matplotlib import font_manager

    for path in korean_font_files():
        font_manager.fontManager.addfont(str(path))
    return KOREAN_FONT_FAMILY


def figure_style() -> dict[str, object]:
    """Return the rcParams that book figures are drawn with, in both languages.

    Both editions use the same fonts so that their figures look alike. Text
    is drawn in DejaVu Sans, and matplotlib's font fallback takes the Hangul
    glyphs, which DejaVu Sans lacks, from NanumGothic. DejaVu Sans comes first
    because mathtext (the tick labels of a log axis, ``$...$``) draws with
    the first family only, and NanumGothic lacks U+2212 MINUS SIGN. SVG text
    is stored as paths, so a reader's browser needs no font, and the hash salt
    makes the SVG element ids the same on every build.
    """
    family = register_korean_font()
    return {
        "font.family": ["DejaVu Sans", family],
        "axes.unicode_minus": True,
        "svg.fonttype": "path",
        "svg.hashsalt": "vlmbook",
        "figure.dpi": 100,
        "savefig.dpi": 150,
    }
