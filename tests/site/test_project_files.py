"""The README's two commands, the Makefile targets and the CI entry point."""

import os
import re
import subprocess

import pytest

from sitetools import ROOT


@pytest.mark.parametrize("readme", ["README.md", "README.ko.md"])
def test_readme_gives_two_commands_first(readme):
    text = (ROOT / readme).read_text(encoding="utf-8")
    first_block = re.search(r"```console\n(.*?)```", text, re.DOTALL)
    assert first_block is not None
    assert first_block.group(1) == "make serve\nmake test\n"
    assert "VLMBOOK_CHECKPOINTS=hub" in text
    assert "CONTRIBUTING.md" in text


def _dry_run(target: str) -> str:
    result = subprocess.run(
        ["make", "--dry-run", "--always-make", target],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_targets_install_then_run():
    expected = {
        "serve": "mkdocs serve --dev-addr 127.0.0.1:8000",
        "test": "pytest -n",
        "build": "mkdocs build --strict",
        "bench": "benchmarks/*.py",
    }
    for target, command in expected.items():
        steps = _dry_run(target)
        assert "pip install --quiet --disable-pip-version-check torch==2.13.0" in steps
        torch_step = steps.index("torch==2.13.0")
        assert torch_step < steps.index("-e '.[docs,dev]'"), "torch must be installed first"
        assert command in steps, f"make {target} does not run {command!r}"


def test_install_step_depends_on_pyproject():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^\$\(STAMP\): pyproject\.toml$", makefile, re.MULTILINE)


def test_ci_entry_point_runs_tests_then_lighthouse():
    script = ROOT / ".ci" / "run"
    assert os.access(script, os.X_OK)
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    text = script.read_text(encoding="utf-8")
    assert "set -euo pipefail" in text
    commands = [line.strip() for line in text.splitlines() if line.strip().startswith("make ")]
    assert commands == ["make test", "make lighthouse || make lighthouse"]
    assert 'if [[ "${CI:-}" == "true" ]]; then' in text
    assert "apt-get install -y chromium" in text
