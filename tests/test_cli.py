"""Tests of the `vlmbook` command line, run as a subprocess like a reader runs it."""

import json
import os
import subprocess
import sys

import pytest

from vlmbook.checkpoints import NAMES, PUBLIC_IDS


def run_cli(*args, check=True):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("VLMBOOK_CHECKPOINTS", None)
    completed = subprocess.run(
        [sys.executable, "-m", "vlmbook.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )
    if check:
        assert completed.returncode == 0, completed.stderr
    return completed


def test_checkpoints_json_lists_every_name():
    entries = json.loads(run_cli("checkpoints", "--json").stdout)
    assert [entry["name"] for entry in entries] == list(NAMES)
    for entry in entries:
        assert entry["public_id"] == PUBLIC_IDS[entry["name"]]
        assert entry["path"].replace("\\", "/").endswith(f"vlmbook/embedded/{entry['name']}")
        assert "metrics" in entry["recorded"], f"{entry['name']} has no recorded metrics.json"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A two-step CLIP run through `vlmbook train`, and its output."""
    out = tmp_path_factory.mktemp("run") / "clip"
    completed = run_cli("train", "clip", "--out", str(out), "--seed", "1", "--max-steps", "2", "--eval-scenes", "20")
    return out, completed


def test_train_writes_checkpoint_and_records(tiny_run):
    out, _ = tiny_run
    for name in ("model.safetensors", "config.json", "tokenizer.json", "processor_config.json", "history.json"):
        assert (out / name).is_file(), name
    record = json.loads((out / "metrics.json").read_text())
    assert record["command"] == f"vlmbook train clip --out {out} --seed 1 --max-steps 2 --eval-scenes 20"
    assert record["seed"] == 1
    assert record["steps"] == 2
    assert record["train_seconds"] > 0
    assert "zero_shot_accuracy" in record["metrics"]


def test_train_prints_log_lines_then_metrics_json(tiny_run):
    out, completed = tiny_run
    lines = completed.stdout.strip().splitlines()
    assert lines[-2].startswith("step     2/2 | ")
    assert json.loads(lines[-1]) == json.loads((out / "metrics.json").read_text())["metrics"]


def test_train_rejects_non_empty_folder(tiny_run):
    out, _ = tiny_run
    completed = run_cli("train", "clip", "--out", str(out), "--max-steps", "1", check=False)
    assert completed.returncode == 2
    assert "is not empty" in completed.stderr
    assert "--overwrite" in completed.stderr


def test_train_overwrite_replaces_previous_run(tmp_path):
    out = tmp_path / "clip"
    out.mkdir()
    (out / "model.safetensors").write_bytes(b"old")
    (out / "notes.md").write_text("kept")
    run_cli("train", "clip", "--out", str(out), "--max-steps", "1", "--eval-scenes", "10", "--overwrite")
    assert (out / "model.safetensors").stat().st_size > 1000
    assert (out / "notes.md").read_text() == "kept"


def test_eval_checkpoint_json(tiny_run):
    out, _ = tiny_run
    completed = run_cli("eval", "clip", "--checkpoint", str(out), "--num-scenes", "20", "--json")
    metrics = json.loads(completed.stdout.strip().splitlines()[-1])
    assert set(metrics) >= {"zero_shot_accuracy", "t2i_r1", "t2i_r5", "i2t_r1", "i2t_r5", "heldout_zero_shot_accuracy"}


def test_eval_broken_checkpoint_names_the_file(tmp_path):
    completed = run_cli("eval", "clip", "--checkpoint", str(tmp_path), "--json", check=False)
    assert completed.returncode == 2
    assert str(tmp_path) in completed.stderr
    assert "config.json" in completed.stderr


def test_unknown_name_lists_choices():
    completed = run_cli("eval", "clip-large", "--json", check=False)
    assert completed.returncode == 2
    assert "invalid choice: 'clip-large'" in completed.stderr
    assert "blip-vqa" in completed.stderr


def test_init_from_rejected_for_clip(tmp_path):
    completed = run_cli("train", "clip", "--out", str(tmp_path / "x"), "--init-from", str(tmp_path), check=False)
    assert completed.returncode == 2
    assert "clip has no warm start" in completed.stderr
