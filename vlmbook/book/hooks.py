"""MkDocs hooks of the book, loaded by ``hooks:`` in ``mkdocs.yml``.

They run the figure and table generators that pages declare and put the
outputs into the built site. They convert math to MathML and let
mkdocs-jupyter pages pass through mkdocs-static-i18n. They fail the build,
naming file and line, on a page without its other edition, a missing
snippet, a missing figure or a broken link.

mkdocs-static-i18n builds the site once per language and calls every hook in
each build. The generator cache makes the second call a cache hit, so a
generator runs at most once per ``mkdocs build`` (tests/site/test_build_hooks.py
counts the runs).

Two environment variables serve the build benchmark (benchmarks/build_speed.py):

- ``VLMBOOK_BOOK_EXECUTE=0`` turns all execution off. No generator runs:
  each figure and ``{{ generated: name }}`` text that a page uses gets a
  stand-in, and mkdocs-jupyter converts the notebooks without running them
  (into a cache folder of its own, so the executed outputs stay cached).
- ``VLMBOOK_BOOK_TIMINGS=<file>`` appends one JSON line per generator or
  notebook that the build executes: kind, name, language and wall seconds.
"""

from __future__ import annotations

import copy
import fcntl
import json
import logging
import os
import posixpath
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from html import escape
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.utils import get_relative_url
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

from vlmbook.book.checks import (
    ANCHOR_LINK,
    FIGURE_LINK,
    GENERATED_PLACEHOLDER,
    LINE_SELECTOR,
    PAGE_LINK,
    SNIPPET_LINE,
    check_editions,
    declared_generators,
    prose_lines,
    snippet_section_exists,
    source_pages,
)
from vlmbook.book.generators import (
    GeneratorError,
    GeneratorResult,
    cache_key,
    declared_input_files,
    package_digest,
    run_generator,
)
from vlmbook.book.mathml import MathError, tex_to_mathml
from vlmbook.book.outputs import LANGUAGES
from vlmbook.book.stylesheet import SOURCE_FOLDER as STYLESHEET_SOURCES
from vlmbook.book.stylesheet import bundle_stylesheets
from vlmbook.book.webfont import FONT_URI, STYLESHEET, STYLESHEET_URI, hangul_characters, subset_font

log = logging.getLogger("mkdocs.hooks.vlmbook")

HEAD_ALTERNATE = re.compile(r'<link rel="alternate" href="[^"]*" hreflang="(?P<lang>[^"]+)">')


class _BuildState:
    """State of the current `mkdocs build`, set in on_files and read by the page hooks."""

    figures: dict[str, Path] = {}  # "name.svg" -> cached file in the current language
    markdown: dict[str, str] = {}  # output name -> text in the current language
    language: str = LANGUAGES[0]
    # Notebook page -> (render start, True when mkdocs-jupyter will execute it).
    notebook_renders: dict[str, tuple[float, bool]] = {}


# Stand-ins for generated outputs when execution is off: a blank image per figure.
STAND_IN_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"></svg>\n'
STAND_IN_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082"
)


def _project_root(config) -> Path:
    return Path(config.config_file_path).resolve().parent


def _snippet_dirs(config) -> list[Path]:
    """Return the pymdownx.snippets base paths, resolved against the project root."""
    options = config.mdx_configs.get("pymdownx.snippets", {})
    base_paths = options.get("base_path", ["."])
    if isinstance(base_paths, str):
        base_paths = [base_paths]
    return [(_project_root(config) / base).resolve() for base in base_paths]


def _current_language(config) -> str:
    i18n = config.plugins.get("i18n")
    return i18n.current_language if i18n is not None else LANGUAGES[0]


def _cache_dir(config) -> Path:
    override = os.environ.get("VLMBOOK_BOOK_CACHE")
    return Path(override) if override else _project_root(config) / ".cache" / "vlmbook-book"


def _generator_jobs() -> int:
    """Return how many generators run at once: VLMBOOK_BOOK_JOBS, else the CPU count."""
    value = os.environ.get("VLMBOOK_BOOK_JOBS", "")
    if not value:
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise PluginError(f"invalid VLMBOOK_BOOK_JOBS={value!r}: use a positive integer")
    return int(value)


def _execution_enabled() -> bool:
    """Return False when VLMBOOK_BOOK_EXECUTE=0 turns generators and notebook execution off."""
    value = os.environ.get("VLMBOOK_BOOK_EXECUTE", "1")
    if value not in ("0", "1"):
        raise PluginError(f"invalid VLMBOOK_BOOK_EXECUTE={value!r}: use 1 (default) or 0")
    return value == "1"


def _record_execution(kind: str, name: str, seconds: float) -> None:
    """Append one executed generator or notebook to the VLMBOOK_BOOK_TIMINGS file, if set."""
    path = os.environ.get("VLMBOOK_BOOK_TIMINGS")
    if not path:
        return
    line = {"kind": kind, "name": name, "language": _BuildState.language, "seconds": seconds}
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


@contextmanager
def _cache_key_lock(generator: Path, source: str, cache_dir: Path, package_hash: str, root: Path):
    """Hold an exclusive lock on the generator's cache key while it is looked up and run.

    Builds that share a cache (several people, or test workers, building at
    once) then run each generator once: a second build waits here and reads
    the entry that the first one wrote. The operating system releases a
    flock lock when its process dies, so a killed build leaves no stale lock.
    """
    key = cache_key(generator, source, package_hash, declared_input_files(generator, source, root), root)
    lock_dir = cache_dir / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(lock_dir / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("Waiting for another build that is running generator %s", source)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing the descriptor releases the lock


def _run_generators(config) -> list[GeneratorResult]:
    """Run the declared generators that miss the cache, several at a time.

    Each generator runs in its own process, so threads that wait on those
    processes are enough to use every core.
    """
    docs_dir = Path(config.docs_dir)
    generators = declared_generators(docs_dir, _snippet_dirs(config))
    package_hash = package_digest(Path(__file__).resolve().parent.parent)

    def run(source: str) -> GeneratorResult:
        generator, cache_dir, root = generators[source], _cache_dir(config), _project_root(config)
        with _cache_key_lock(generator, source, cache_dir, package_hash, root):
            return run_generator(generator, source, cache_dir, package_hash, cwd=root)

    with ThreadPoolExecutor(max_workers=_generator_jobs()) as pool:
        futures = [pool.submit(run, source) for source in sorted(generators)]
        try:
            return [future.result() for future in futures]
        except GeneratorError as error:
            for future in futures:
                future.cancel()
            raise PluginError(f"snippets/{error}") from error


def _fix_notebook_files(files: Files, config) -> None:
    """Make the notebooks that i18n copied back into plain files pages again.

    mkdocs-jupyter wraps each notebook in a page-like file in its on_files,
    but mkdocs-static-i18n (which runs after it) replaces every file with a
    plain ``File``, which MkDocs would copy as a static .ipynb. The paths
    that i18n computed (``labs/x/index.html``, ``en/labs/x/index.html``) are
    already right, so only the class changes.
    """
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is None:
        return
    for file in list(files):
        if file.src_uri.endswith(".ipynb") and jupyter.should_include(file):
            file.__class__ = NotebookPageFile
            for lang in LANGUAGES:
                base = file.src_uri.rsplit(".", 2)[0]
                prefix = "" if lang == LANGUAGES[0] else f"{lang}/"
                alternate = copy.copy(file)
                alternate.url = f"{prefix}{base}/"
                file.alternates[lang] = alternate


def _add_web_font(files: Files, config, generated_texts: Iterable[str]) -> None:
    """Add the Hangul web font and its stylesheet to the site root.

    Every edition's pages load them from the root, so only the default
    edition's build writes them. The subset covers the page sources and the
    generated Markdown, since a generated table can hold Hangul that no
    source file has.
    """
    import material

    texts = [p.read_text(encoding="utf-8") for p in source_pages(Path(config.docs_dir))]
    texts.extend(generated_texts)
    # Pages also show code that `--8<--` includes from the snippet folders.
    project = Path(config.config_file_path).parent
    snippet_folders = config.mdx_configs.get("pymdownx.snippets", {}).get("base_path", [])
    for folder in [snippet_folders] if isinstance(snippet_folders, str) else snippet_folders:
        texts.extend(path.read_text(encoding="utf-8") for path in sorted((project / folder).rglob("*.py")))
    texts.append(Path(config.config_file_path).read_text(encoding="utf-8"))
    interface = Path(material.__file__).parent / "templates" / "partials" / "languages" / "ko.html"
    if interface.is_file():
        texts.append(interface.read_text(encoding="utf-8"))
    font = subset_font(hangul_characters(texts), _cache_dir(config))
    files.append(File.generated(config, FONT_URI, abs_src_path=str(font)))


def _bundle_stylesheets(files: Files, config, language: str) -> None:
    """Replace the book's CSS files with the bundle assets/stylesheets/book.css.

    Only the default edition's build writes the bundle (the web font's rules,
    then every file of docs/stylesheets/), and every edition links it. No
    build copies the source files.
    """
    for file in list(files):
        if file.src_uri.startswith(f"{STYLESHEET_SOURCES}/") and file.src_uri.endswith(".css"):
            files.remove(file)
    if language != LANGUAGES[0]:
        return
    try:
        content = bundle_stylesheets(STYLESHEET, Path(config.docs_dir))
    except ValueError as error:
        raise PluginError(str(error)) from None
    files.append(File.generated(config, STYLESHEET_URI, content=content))


class NotebookPageFile(File):
    """A notebook that MkDocs renders as a page (through mkdocs-jupyter)."""

    def is_documentation_page(self) -> bool:
        return True


@event_priority(100)
def on_config(config):
    _BuildState.language = _current_language(config)
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is not None:
        # mkdocs-jupyter's cache key covers the notebook but not the package it
        # imports: one cache folder per package hash makes an edit to vlmbook
        # re-execute the notebooks.
        package_hash = package_digest(Path(__file__).resolve().parent.parent)
        cache_root = _project_root(config) / ".cache" / "mkdocs-jupyter"
        jupyter.config["cache_dir"] = str(cache_root / package_hash[:16])
        if not _execution_enabled():
            # A folder of its own: mkdocs-jupyter evicts the cache files that a
            # build did not use, which would delete the executed notebooks.
            jupyter.config["execute"] = False
            jupyter.config["cache_dir"] = str(cache_root / "no-execution")
    return config


@event_priority(-10)  # after mkdocs-jupyter's on_pre_build (0) emptied its set
def on_pre_build(config):
    """Link each stylesheet once, and keep every edition's notebook cache when mkdocs-jupyter evicts entries.

    mkdocs-jupyter deletes each cache file that the current build did not
    use, and mkdocs-static-i18n runs one build per language, so each edition
    would delete the other's cache. Marking the cache files of all current
    notebooks as used keeps them.
    """
    # mkdocstrings adds its stylesheet in on_config, which runs once per edition,
    # so the later editions' pages would link it twice.
    config.extra_css[:] = list(dict.fromkeys(config.extra_css))
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is None or not jupyter.config["cache"]:
        return
    # NOTE: these two helpers are private to mkdocs-jupyter 0.26; a release
    # that renames them breaks this hook, and the site tests catch that.
    from mkdocs_jupyter.plugin import _compute_cache_key, _get_cache_path

    for notebook in Path(config.docs_dir).rglob("*.ipynb"):
        key = _compute_cache_key(str(notebook), jupyter.config, jupyter.config["execute"])
        cache_path = _get_cache_path(jupyter.config["cache_dir"], key)
        _discard_damaged_notebook_cache(cache_path)
        jupyter._used_cache_paths.add(cache_path)


def _discard_damaged_notebook_cache(path: Path) -> None:
    """Delete a notebook cache file that is not a complete JSON object, so the notebook runs again.

    mkdocs-jupyter writes its cache in place, so a build killed mid-write
    leaves half a file, which every later build would fail to parse.
    """
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except (OSError, ValueError):
        cached = None
    if isinstance(cached, dict) and "content" in cached:
        return
    log.info("Discarding damaged notebook cache %s", path)
    path.unlink(missing_ok=True)


@event_priority(-110)  # after mkdocs-static-i18n (-100) chose the files of this language
def on_files(files: Files, config) -> Files:
    check_editions(Path(config.docs_dir))
    _fix_notebook_files(files, config)

    language = _current_language(config)
    prefix = "" if language == LANGUAGES[0] else f"{language}/"
    _BuildState.language = language
    _BuildState.figures = {}
    _BuildState.markdown = {}
    _BuildState.notebook_renders = {}
    _bundle_stylesheets(files, config, language)
    if not _execution_enabled():
        _add_stand_ins(files, config, prefix)
        if language == LANGUAGES[0]:
            _add_web_font(files, config, _BuildState.markdown.values())
        return files
    owners: dict[str, str] = {}
    for result in _run_generators(config):
        if result.executed:
            _record_execution("generator", result.source, result.seconds)
        for name, description in result.outputs.items():
            if name in owners:
                raise PluginError(
                    f"snippets/{result.source}: output {name!r} is also declared by "
                    f"snippets/{owners[name]}. Output names must be unique."
                )
            owners[name] = result.source
            path = result.files[(name, language)]
            if description["kind"] == "markdown":
                _BuildState.markdown[name] = path.read_text(encoding="utf-8")
                continue
            file_name = f"{name}{description['suffix']}"
            _BuildState.figures[file_name] = path
            figure = File.generated(config, f"figures/{file_name}", abs_src_path=str(path))
            figure.dest_uri = f"{prefix}figures/{file_name}"
            files.append(figure)
    if language == LANGUAGES[0]:
        _add_web_font(files, config, _BuildState.markdown.values())
    return files


def _add_stand_ins(files: Files, config, prefix: str) -> None:
    """Give every figure and generated text that a page uses a stand-in, running no generator."""
    for page in source_pages(Path(config.docs_dir)):
        if page.suffix != ".md":
            continue
        for _, line in prose_lines(page.read_text(encoding="utf-8")):
            for name in GENERATED_PLACEHOLDER.findall(line):
                _BuildState.markdown[name] = f"[{name}]"
            for file_name in FIGURE_LINK.findall(line):
                if file_name in _BuildState.figures:
                    continue
                content = STAND_IN_PNG if file_name.endswith(".png") else STAND_IN_SVG
                figure = File.generated(config, f"figures/{file_name}", content=content)
                figure.dest_uri = f"{prefix}figures/{file_name}"
                files.append(figure)
                _BuildState.figures[file_name] = Path(file_name)


def _check_page_lines(markdown: str, page, files: Files, config, first_line: int) -> None:
    """Fail on a missing snippet file, figure or linked page, naming the line."""
    where = f"docs/{page.file.src_uri}"
    snippet_dirs = _snippet_dirs(config)
    for index, line in enumerate(markdown.splitlines()):
        snippet = SNIPPET_LINE.match(line)
        if snippet:
            path, _, selector = snippet.group("path").partition(":")
            found = [d / path for d in snippet_dirs if (d / path).is_file()]
            if not found:
                raise PluginError(f"{where}:{first_line + index}: snippet file {path!r} not found")
            if selector and not LINE_SELECTOR.fullmatch(selector):
                if not snippet_section_exists(found[0], selector):
                    raise PluginError(
                        f"{where}:{first_line + index}: section {selector!r} not found in "
                        f"snippet file {path!r}. Mark it with '# --8<-- [start:{selector}]' "
                        f"and '# --8<-- [end:{selector}]'."
                    )

    page_dir = posixpath.dirname(page.file.src_uri)
    for index, line in prose_lines(markdown):
        number = first_line + index
        for figure in FIGURE_LINK.findall(line):
            if figure not in _BuildState.figures:
                raise PluginError(
                    f"{where}:{number}: no generator produces figures/{figure}. Declare "
                    "its generator in the page's 'generators:' front matter."
                )
        for link in PAGE_LINK.finditer(line):
            target = link.group("target")
            if "://" in target:
                continue
            if target.startswith("/"):
                resolved = target.lstrip("/")
            else:
                resolved = posixpath.normpath(posixpath.join(page_dir, target))
            if files.get_file_from_path(resolved) is None:
                raise PluginError(f"{where}:{number}: link target {target!r} not found")
        for name in GENERATED_PLACEHOLDER.findall(line):
            if name not in _BuildState.markdown:
                raise PluginError(
                    f"{where}:{number}: no generator produces the Markdown output {name!r}"
                )


def _notebook_executes(page, config) -> bool:
    """Return True when mkdocs-jupyter will execute this notebook: execution on and no cache entry."""
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is None or not jupyter.config["execute"]:
        return False
    if not jupyter.config["cache"]:
        return True
    from mkdocs_jupyter.plugin import _compute_cache_key, _get_cache_path

    key = _compute_cache_key(page.file.abs_src_path, jupyter.config, jupyter.config["execute"])
    return not _get_cache_path(jupyter.config["cache_dir"], key).exists()


def on_page_markdown(markdown: str, page, config, files: Files) -> str:
    if page.file.src_uri.endswith(".ipynb"):
        # mkdocs-jupyter converts (and executes) the notebook between this
        # event and on_page_content, which records the time.
        executes = _notebook_executes(page, config)
        _BuildState.notebook_renders[page.file.src_uri] = (time.perf_counter(), executes)
        return markdown
    source = Path(page.file.abs_src_path).read_text(encoding="utf-8")
    first_line = len(source.splitlines()) - len(markdown.splitlines()) + 1
    _check_page_lines(markdown, page, files, config, first_line)

    # Insert generated text on prose lines only; code may show the syntax.
    lines = markdown.splitlines()
    for index, prose in prose_lines(markdown):
        if GENERATED_PLACEHOLDER.search(prose):
            lines[index] = GENERATED_PLACEHOLDER.sub(
                lambda m: _BuildState.markdown[m.group(1)].strip(), lines[index]
            )
    return "\n".join(lines)


def on_page_content(html: str, page, config, files: Files) -> str:
    render = _BuildState.notebook_renders.pop(page.file.src_uri, None)
    if render is not None and render[1]:
        _record_execution("notebook", page.file.src_uri, time.perf_counter() - render[0])
    try:
        html = tex_to_mathml(html)
    except MathError as error:
        raise PluginError(f"docs/{page.file.src_uri}: {error}") from error
    if page.file.src_uri.endswith(".ipynb"):
        html = _add_notebook_alt_texts(html, Path(page.file.abs_src_path))
    html = _make_code_blocks_focusable(_make_code_cells_focusable(_add_figure_sizes(html)))
    return _exclude_code_from_search(html)


NBCONVERT_DEFAULT_ALT = 'alt="No description has been provided for this image"'
NOTEBOOK_CELL_START = re.compile(r'\bid="cell-id=(?P<id>[^"]+)"')


def _add_notebook_alt_texts(html: str, notebook: Path) -> str:
    """Give the images that a notebook cell outputs the alt text in the cell's metadata.

    nbconvert gives every output image the English alt text "No description
    has been provided for this image". A code cell whose metadata has
    ``"alt": "<text>"`` gets that text on each of its output images instead.
    """
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    alt_texts = {
        cell.get("id"): cell["metadata"]["alt"]
        for cell in cells
        if isinstance(cell.get("metadata", {}).get("alt"), str)
    }
    starts = list(NOTEBOOK_CELL_START.finditer(html))
    pieces = [html[: starts[0].start()] if starts else html]
    for index, start in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(html)
        piece = html[start.start() : end]
        alt = alt_texts.get(start["id"])
        if alt is not None:
            piece = piece.replace(NBCONVERT_DEFAULT_ALT, f'alt="{escape(alt, quote=True)}"')
        pieces.append(piece)
    return "".join(pieces)


NOTEBOOK_CODE_CELL = re.compile(r'<div class="highlight-ipynb(?P<classes>[^"]*)"(?![^>]*tabindex)')


def _make_code_cells_focusable(html: str) -> str:
    """Put each notebook code cell in the tab order, so keyboard users can scroll its long lines.

    mkdocs-jupyter makes the cells scrollable regions without a tabindex,
    which axe-core reports as serious (scrollable-region-focusable).
    Material does the same for its own code blocks.
    """
    return NOTEBOOK_CODE_CELL.sub(
        lambda m: f'<div class="highlight-ipynb{m["classes"]}" tabindex="0"', html
    )


HIGHLIGHTED_CODE = re.compile(r'(?P<start><div class="[^"]*\bhighlight\b[^"]*"[^>]*><pre[^>]*>(?:<span></span>)?)<code>')


def _make_code_blocks_focusable(html: str) -> str:
    """Put every highlighted code block in the tab order from the start.

    With ``content.lazy`` (mkdocs.yml), Material sets a block's tabindex only
    when the block first scrolls into view. Until then a long line makes the
    block a scrollable region without keyboard access, which axe-core reports
    as serious (scrollable-region-focusable). Once a block is in view,
    Material removes the tabindex again if the block does not scroll.
    """
    return HIGHLIGHTED_CODE.sub(lambda m: f'{m["start"]}<code tabindex="0">', html)


CODE_BLOCK_START = re.compile(r'<div class="(?P<classes>[^"]*)"')
# Blocks that the index leaves out: highlighted code blocks, notebook code cells and their outputs.
# Plain-text blocks (error messages that readers search for) and API signatures stay in.
SEARCH_EXCLUDED_CLASSES = {"highlight", "highlight-ipynb", "jp-OutputArea-output"}
SEARCH_KEPT_CLASSES = {"language-text", "doc-signature"}


def _exclude_code_from_search(html: str) -> str:
    """Keep code blocks, notebook cells and their outputs out of the search index.

    Code was 57% of the index's text (560 of 970 thousand characters), and
    every page downloads the index as it opens, which Lighthouse counted
    against the first paint of a chapter. The prose, inline code, headings,
    plain-text blocks and the API reference stay searchable. Material's
    search plugin skips an element with ``data-search-exclude`` and, in
    ``on_page_context``, removes the attribute from the page.
    NOTE: Material's index parser matches closing tags by name only, so a
    ``</div>`` nested inside an excluded block ends the exclusion early. The
    book's code blocks and outputs hold no nested ``<div>``.
    """

    def mark(match: re.Match) -> str:
        classes = set(match["classes"].split())
        if classes & SEARCH_EXCLUDED_CLASSES and not classes & SEARCH_KEPT_CLASSES:
            return f'{match.group(0)} data-search-exclude="code"'
        return match.group(0)

    return CODE_BLOCK_START.sub(mark, html)


FIGURE_IMG = re.compile(r'<img\b(?P<attributes>[^>]*?\bsrc="[^"]*figures/(?P<name>[^"/]+)"[^>]*?)\s*/?>')
SVG_SIZE = re.compile(r'<svg\b[^>]*?\bwidth="(?P<width>[\d.]+)pt"[^>]*?\bheight="(?P<height>[\d.]+)pt"')


def _figure_size(path: Path) -> tuple[int, int] | None:
    """Return a figure's size in CSS pixels, or None when there is no file or it does not state it."""
    if not path.is_file():
        return None  # a stand-in name while generators are off (VLMBOOK_BOOK_EXECUTE=0)
    if path.suffix == ".svg":
        match = SVG_SIZE.search(path.read_text(encoding="utf-8")[:2000])
        if match is None:
            return None
        # matplotlib writes the size in points; a CSS pixel is 0.75 pt.
        return round(float(match["width"]) / 0.75), round(float(match["height"]) / 0.75)
    if path.suffix == ".png":
        header = path.read_bytes()[:24]  # the IHDR chunk stores width and height
        return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    return None


def _add_figure_sizes(html: str) -> str:
    """Give each generated figure's <img> its width and height, and load it lazily.

    Without the size the browser learns it only when the image arrives and
    moves the text below it (cumulative layout shift). Material's CSS scales
    the image down to the column width and keeps the aspect ratio. With the
    size known, ``loading="lazy"`` costs no layout shift: a chapter's figures
    (about 500 KB on the CLIP page) no longer compete with the text and the
    font for the first paint. The page's first figure stays eager, because it
    may be in the first screen, where loading it lazily would delay the
    page's largest paint.
    """
    seen = 0

    def sized(match: re.Match) -> str:
        nonlocal seen
        attributes = match["attributes"]
        path = _BuildState.figures.get(match["name"])
        size = _figure_size(path) if path is not None else None
        if size is None or re.search(r"\b(width|height)=", attributes):
            return match.group(0)
        seen += 1
        lazy = seen > 1 and not re.search(r"\bloading=", attributes)
        loading = ' loading="lazy" decoding="async"' if lazy else ""
        return f'<img{attributes} width="{size[0]}" height="{size[1]}"{loading}>'

    return FIGURE_IMG.sub(sized, html)


def on_env(env, config, files: Files):
    """Fail on a link to an anchor that its target page lacks, naming file and line.

    MkDocs' own anchor validation names the page but not the line. By on_env
    every page is rendered, so each page's anchors are known.
    """
    for file in files.documentation_pages():
        page = file.page
        if page is None or not file.src_uri.endswith(".md"):
            continue
        source = Path(file.abs_src_path).read_text(encoding="utf-8")
        page_dir = posixpath.dirname(file.src_uri)
        for index, line in prose_lines(source):
            for link in ANCHOR_LINK.finditer(line):
                target, anchor = link.group("target"), link.group("anchor")
                if "://" in target:
                    continue
                if not target:
                    target_page = page
                else:
                    resolved = posixpath.normpath(posixpath.join(page_dir, target.lstrip("/")))
                    if target.startswith("/"):
                        resolved = target.lstrip("/")
                    target_file = files.get_file_from_path(resolved)
                    target_page = target_file.page if target_file is not None else None
                anchors = getattr(target_page, "present_anchor_ids", None)
                if anchors is None:
                    continue  # a missing page is reported by on_page_markdown; notebooks have no anchor list
                if anchor not in anchors:
                    raise PluginError(
                        f"docs/{file.src_uri}:{index + 1}: link '{link.group(0)[2:-1]}' points at "
                        f"anchor '#{anchor}', which {target or 'this page'} does not define"
                    )
    return env


def _preload_web_font(output: str, page) -> str:
    """Ask the browser for the Hangul web font together with the style sheets.

    Without the preload, the browser requests the font only after it applies
    the CSS, and swaps it in after the first paint. The font is wider than the
    fallback font, so the text reflows (Lighthouse measured a layout shift of 0.15).
    """
    href = get_relative_url(FONT_URI, page.url)
    link = f'<link rel="preload" href="{href}" as="font" type="font/woff2" crossorigin>'
    return output.replace("</head>", f"{link}\n</head>", 1)


def on_post_page(output: str, page, config) -> str:
    """Point the head's alternate links at the root of each edition; preload the web font.

    mkdocs-static-i18n sets them to the same page in the other language,
    which suits the header's language switcher. Material's JavaScript,
    however, fetches ``sitemap.xml`` next to every head alternate link, so
    per-page links cause a 404 on every page. The switcher keeps its
    per-page links.
    """
    if _current_language(config) == LANGUAGES[0]:
        # Pages of the other editions show Hangul only in the hidden language menu.
        output = _preload_web_font(output, page)
    i18n = config.plugins.get("i18n")
    roots = {item["lang"]: item["link"] for item in (getattr(i18n, "extra_alternate", None) or [])}
    if not roots:
        return output
    return HEAD_ALTERNATE.sub(
        lambda m: f'<link rel="alternate" href="{roots.get(m.group("lang"), "/")}" '
        f'hreflang="{m.group("lang")}">',
        output,
    )


def on_post_build(config) -> None:
    """Give each non-default edition a copy of the site's sitemap.

    Material's language switcher reads ``sitemap.xml`` next to the edition's
    root, but mkdocs-static-i18n writes only the root one (which lists the
    pages of every edition). Without the copy, every English page logs a 404.
    """
    language = _current_language(config)
    if language == LANGUAGES[0]:
        return
    # mkdocs-static-i18n keeps one site_dir and prefixes the edition's files.
    site_dir = Path(config.site_dir)
    sitemap = site_dir / "sitemap.xml"
    if sitemap.is_file() and (site_dir / language).is_dir():
        shutil.copyfile(sitemap, site_dir / language / "sitemap.xml")
