"""Generator: how long each lab notebook takes to run, measured while the book builds.

Each Korean notebook in docs/labs runs from top to bottom with nbclient, as
the tests run it. Both editions of a lab have the same code cells, so one
timing serves both. The wall-clock seconds include starting the kernel and
importing torch and transformers, and they grow when the build runs other
generators at the same time.
"""

import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from vlmbook.book import markdown

# The build adds these files to this generator's cache key, so an edited notebook is timed again.
INPUT_FILES = ["docs/labs/*.ko.ipynb"]

# The build runs generators with the project root as working directory.
LABS = Path("docs/labs")


def run_seconds(path: Path) -> float:
    """Execute one notebook in a fresh kernel and an empty working folder; return its wall seconds."""
    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as workdir:
        start = time.perf_counter()
        NotebookClient(notebook, timeout=600, resources={"metadata": {"path": workdir}}).execute()
        return time.perf_counter() - start


def format_seconds(seconds: float, lang: str) -> str:
    """Format wall seconds as whole seconds, or minutes and seconds from one minute up."""
    minutes, rest = divmod(round(seconds), 60)
    if lang == "ko":
        return f"{minutes}분 {rest:02d}초" if minutes else f"{rest}초"
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


seconds = {path.name.removesuffix(".ko.ipynb"): run_seconds(path) for path in sorted(LABS.glob("*.ko.ipynb"))}


def declare(name: str) -> None:
    markdown(f"labs-{name}-seconds")(lambda lang: format_seconds(seconds[name], lang))


for notebook_name in seconds:
    declare(notebook_name)
