"""Run figure and table generators, and cache what they produce.

Each generator's outputs are cached under a key that hashes everything that
produced them. That is the generator file, the data files that it
declares in ``INPUT_FILES``, the files of the ``vlmbook`` package (its code
and the embedded checkpoints), the checkpoint source selected by
``VLMBOOK_CHECKPOINTS`` and the versions of the libraries that draw. The
data seed is a literal in the generator file, so the file hash covers it.

A generator that reads files outside the package (benchmark results, say)
lists them as glob patterns relative to the project root, in a top-level
literal that the build reads without running the file::

    INPUT_FILES = ["benchmarks/results/*.json"]

Cache layout, one folder per key::

    <cache_dir>/<key>/manifest.json          what the generator produced
    <cache_dir>/<key>/<name>.<lang>.<ext>    one file per output and language

A run writes into a temporary folder, each file through a temporary name
and ``os.replace``, and renames the folder to ``<key>`` only when every file
is written (a rename is atomic on one file system). An interrupted build
leaves at most a ``.tmp-*`` folder, which no build reads.

Each generator runs in its own Python process (``python -m
vlmbook.book.generators``), so it imports the current package code and
inherits no state from another generator.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import io
import json
import logging
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from vlmbook.book.outputs import LANGUAGES, Output, collect_outputs

CACHE_FORMAT = "vlmbook-book-cache-1"

# Modules of vlmbook/book that only the MkDocs build and the tests use: a
# change to them cannot change what a generator draws, so it keeps the cache.
BUILD_ONLY_MODULES = {"checks.py", "hooks.py", "mathml.py", "pages.py", "webfont.py"}

# Libraries whose version can change a rendered figure or number.
TRACKED_DISTRIBUTIONS = ("matplotlib", "numpy", "pillow", "torch", "transformers")

STALE_TEMP_SECONDS = 3600

log = logging.getLogger("mkdocs.hooks.vlmbook")


class GeneratorError(Exception):
    """A generator is missing, failed, or produced an invalid output."""


@dataclass
class GeneratorResult:
    """The cached outputs of one generator."""

    source: str  # the generator path relative to the snippets folder
    key: str
    outputs: dict[str, dict] = field(default_factory=dict)  # name -> {"kind", "suffix"}
    files: dict[tuple[str, str], Path] = field(default_factory=dict)  # (name, lang) -> file
    executed: bool = False  # True when this call ran the generator
    seconds: float = 0.0  # wall time of the run when `executed`, else 0


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def package_digest(package_dir: Path) -> str:
    """Hash every file of the package that can change a generator's output."""
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        relative = path.relative_to(package_dir)
        if relative.parts[0] == "book" and relative.name in BUILD_ONLY_MODULES:
            continue
        digest.update(relative.as_posix().encode())
        digest.update(_sha256_file(path).encode())
    return digest.hexdigest()


def _environment_fingerprint() -> str:
    parts = [CACHE_FORMAT, f"checkpoints={os.environ.get('VLMBOOK_CHECKPOINTS', 'embedded')}"]
    for name in TRACKED_DISTRIBUTIONS:
        try:
            parts.append(f"{name}={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{name}=absent")
    return "\n".join(parts)


INPUT_FILES_NAME = "INPUT_FILES"

# The build looks up generators from several threads, and ast.parse is not
# thread-safe on CPython 3.11.7: parallel calls failed with "SystemError: AST
# constructor recursion depth mismatch".
_AST_PARSE_LOCK = threading.Lock()


def declared_input_files(generator: Path, source: str, root: Path) -> list[Path]:
    """Return the files that a generator declares in ``INPUT_FILES``, sorted.

    ``INPUT_FILES`` is a top-level list or tuple of string literals, each a
    glob pattern relative to `root` (the project root). The file is parsed,
    not run. Raises GeneratorError naming ``source:line`` when the value is
    not such a literal, a pattern leaves `root`, or a pattern matches no file.
    """
    try:
        with _AST_PARSE_LOCK:
            tree = ast.parse(generator.read_bytes(), filename=str(generator))
    except SyntaxError as error:
        raise GeneratorError(f"{source}:{error.lineno}: invalid Python: {error.msg}") from error
    files: set[Path] = set()
    for node in tree.body:
        if not (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == INPUT_FILES_NAME for t in node.targets)
        ):
            continue
        where = f"{source}:{node.lineno}"
        try:
            patterns = ast.literal_eval(node.value)
        except (ValueError, TypeError, SyntaxError):
            patterns = None
        if not isinstance(patterns, (list, tuple)) or not all(isinstance(p, str) for p in patterns):
            raise GeneratorError(
                f"{where}: {INPUT_FILES_NAME} must be a list of string literals "
                'such as ["benchmarks/results/*.json"]'
            )
        for pattern in patterns:
            if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
                raise GeneratorError(
                    f"{where}: {INPUT_FILES_NAME} pattern {pattern!r} must be relative "
                    "to the project root and stay inside it"
                )
            matches = [path for path in root.glob(pattern) if path.is_file()]
            if not matches:
                raise GeneratorError(
                    f"{where}: {INPUT_FILES_NAME} pattern {pattern!r} matches no file "
                    "under the project root. Fix the pattern or create the file."
                )
            files.update(matches)
    return sorted(files)


def cache_key(
    generator: Path, source: str, package_hash: str, input_files: list[Path], root: Path
) -> str:
    """Return the cache key of one generator: a hash of all that produced its outputs.

    `input_files` are the generator's declared data files. Their paths enter
    the key relative to `root`, so the key does not depend on where the
    project lies.
    """
    digest = hashlib.sha256()
    digest.update(_environment_fingerprint().encode())
    digest.update(source.encode())
    digest.update(generator.read_bytes())
    digest.update(package_hash.encode())
    for path in input_files:
        name = path.relative_to(root).as_posix()
        digest.update(f"input {name} {_sha256_file(path)}".encode())
    return digest.hexdigest()[:32]


def _load_cached(entry: Path, source: str, key: str) -> GeneratorResult | None:
    """Return the cached result in `entry`, or None when it is absent or damaged."""
    manifest_path = entry / "manifest.json"
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        result = GeneratorResult(source=source, key=key)
        for item in manifest["outputs"]:
            result.outputs[item["name"]] = {"kind": item["kind"], "suffix": item["suffix"]}
            for lang, file_info in item["files"].items():
                path = entry / file_info["file"]
                if _sha256_file(path) != file_info["sha256"]:
                    return None
                result.files[(item["name"], lang)] = path
    except (OSError, KeyError, TypeError, ValueError):
        return None
    return result


def _failure_location(error: BaseException, generator: Path) -> str:
    """Return the line number, as text, of the deepest traceback frame in the generator."""
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if Path(frame.filename).resolve() == generator.resolve():
            line = frame.lineno
    return f"{line}" if line is not None else "1"


def render_output(output: Output, lang: str) -> bytes:
    """Call one output's function for `lang` and return the file content.

    Raises GeneratorError when a figure uses a glyph that its font lacks,
    which would show as an empty box. Text reports that as a warning and
    mathtext as a log record of the ``matplotlib.mathtext`` logger.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vlmbook.book.fonts import figure_style

    mathtext_log = _RecordCollector()
    mathtext_logger = logging.getLogger("matplotlib.mathtext")
    mathtext_logger.addHandler(mathtext_log)
    try:
        with warnings.catch_warnings(record=True) as caught, plt.rc_context(figure_style()):
            warnings.simplefilter("always")
            content = _render_in_style(output, lang)
    finally:
        mathtext_logger.removeHandler(mathtext_log)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    missing += [m for m in mathtext_log.messages if "does not have a glyph" in m]
    if missing:
        raise GeneratorError(
            f"output {output.name!r} ({lang}) uses glyphs its font lacks: {missing[0]}"
        )
    return content


class _RecordCollector(logging.Handler):
    """A logging handler that keeps the messages of the records it receives."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _render_in_style(output: Output, lang: str) -> bytes:
    """Call the output's function for `lang` and serialize what it returns."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    value = output.render(lang)
    if output.kind == "markdown":
        if not isinstance(value, str):
            raise GeneratorError(
                f"markdown output {output.name!r} returned {type(value).__name__}, expected str"
            )
        return value.encode("utf-8")
    if not isinstance(value, Figure):
        raise GeneratorError(
            f"figure output {output.name!r} returned {type(value).__name__}, "
            "expected a matplotlib Figure"
        )
    buffer = io.BytesIO()
    file_format = output.suffix.lstrip(".")
    metadata = {"Date": None} if file_format == "svg" else {"Software": None}
    value.savefig(buffer, format=file_format, metadata=metadata, bbox_inches="tight")
    plt.close(value)
    return buffer.getvalue()


def _write_atomic(path: Path, content: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)


def _remove_stale_temporaries(cache_dir: Path) -> None:
    now = time.time()
    for stale in cache_dir.glob(".tmp-*"):
        try:
            if now - stale.stat().st_mtime > STALE_TEMP_SECONDS:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            continue


def execute_generator(generator: Path, source: str) -> dict[tuple[Output, str], bytes]:
    """Run one generator file and render each of its outputs in every language.

    Raises GeneratorError with ``source:line`` when the generator fails.
    """
    try:
        with collect_outputs() as outputs:
            runpy.run_path(str(generator), run_name="vlmbook_generator")
        if not outputs:
            raise GeneratorError(
                "declares no output. Decorate a function with "
                "@figure(name) or @markdown(name) from vlmbook.book."
            )
        return {
            (output, lang): render_output(output, lang) for output in outputs for lang in LANGUAGES
        }
    except GeneratorError as error:
        raise GeneratorError(f"{source}: {error}") from error
    except Exception as error:
        line = _failure_location(error, generator)
        raise GeneratorError(
            f"{source}:{line}: generator failed: {type(error).__name__}: {error}"
        ) from error


def write_outputs(rendered: dict[tuple[Output, str], bytes], source: str, folder: Path) -> None:
    """Write rendered outputs and their manifest into `folder`, the manifest last."""
    manifest: dict[str, dict] = {}
    for (output, lang), content in rendered.items():
        file_name = output.file_name(lang)
        _write_atomic(folder / file_name, content)
        item = manifest.setdefault(
            output.name,
            {"name": output.name, "kind": output.kind, "suffix": output.suffix, "files": {}},
        )
        item["files"][lang] = {"file": file_name, "sha256": hashlib.sha256(content).hexdigest()}
    manifest_text = json.dumps(
        {"format": CACHE_FORMAT, "generator": source, "outputs": list(manifest.values())},
        indent=1,
    )
    _write_atomic(folder / "manifest.json", manifest_text.encode("utf-8"))


ERROR_PREFIX = "vlmbook-generator-error: "


def _run_in_subprocess(generator: Path, source: str, staging: Path, cwd: Path) -> None:
    """Run a generator in a fresh interpreter that writes its outputs into `staging`.

    A fresh interpreter imports the current vlmbook code, whereas a
    long-lived ``mkdocs serve`` keeps the modules it imported before an edit.
    It also keeps one generator's global state (seeds, rcParams, thread
    counts) away from the next, so no figure depends on the generators that
    ran before it.
    """
    command = [sys.executable, "-m", "vlmbook.book.generators", str(generator), source, str(staging)]
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if completed.returncode == 0:
        return
    messages = [line for line in completed.stderr.splitlines() if line.startswith(ERROR_PREFIX)]
    if messages:
        raise GeneratorError(messages[-1][len(ERROR_PREFIX) :])
    tail = "\n".join(completed.stderr.strip().splitlines()[-15:])
    raise GeneratorError(f"{source}: generator process exited with {completed.returncode}:\n{tail}")


def run_generator(
    generator: Path, source: str, cache_dir: Path, package_hash: str, cwd: Path | None = None
) -> GeneratorResult:
    """Return a generator's outputs from the cache, running it only on a cache miss.

    On a miss the generator runs with `cwd` (the project root, which its
    ``INPUT_FILES`` patterns are relative to) as its working directory.
    """
    root = cwd or Path.cwd()
    input_files = declared_input_files(generator, source, root)
    key = cache_key(generator, source, package_hash, input_files, root)
    entry = cache_dir / key
    cached = _load_cached(entry, source, key)
    if cached is not None:
        return cached

    # The generator writes into a private folder; a failure leaves nothing behind.
    started = time.perf_counter()
    cache_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(cache_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=cache_dir))
    try:
        _run_in_subprocess(generator, source, staging, cwd=root)
    except GeneratorError:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    # Publish the complete folder under the key in one rename.
    if entry.exists():
        shutil.rmtree(entry)  # damaged: _load_cached rejected it above
    try:
        os.replace(staging, entry)
    except OSError:
        # Another build (a parallel test worker) published the same key first.
        shutil.rmtree(staging, ignore_errors=True)

    result = _load_cached(entry, source, key)
    if result is None:
        raise GeneratorError(f"{source}: cache entry {entry} is unreadable after writing it")
    result.executed = True
    result.seconds = time.perf_counter() - started
    log.info("Ran generator %s in %.1f s", source, result.seconds)
    return result


def main(arguments: list[str]) -> int:
    """Entry point of the generator subprocess: GENERATOR SOURCE OUTPUT_FOLDER."""
    generator, source, folder = Path(arguments[0]), arguments[1], Path(arguments[2])
    try:
        rendered = execute_generator(generator, source)
    except GeneratorError as error:
        traceback.print_exc()
        print(f"{ERROR_PREFIX}{error}", file=sys.stderr)
        return 1
    write_outputs(rendered, source, folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
