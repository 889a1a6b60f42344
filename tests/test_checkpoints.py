"""Tests of checkpoint(), verify_checkpoint() and load_checkpoint() on good and bad folders.

The bad folders are copies of a freshly initialized tiny checkpoint, saved
with save_pretrained and then broken on purpose.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import vlmbook.checkpoints as checkpoints_module
from vlmbook.checkpoints import (
    NAMES,
    PUBLIC_IDS,
    CheckpointError,
    checkpoint,
    load_checkpoint,
    verify_checkpoint,
)
from vlmbook.hf.configs import build_model
from vlmbook.hf.processors import build_clip_processor
from vlmbook.shapesworld import ShapesWorld


@pytest.fixture(scope="module")
def saved_clip(tmp_path_factory):
    """A freshly initialized tiny CLIP saved with save_pretrained."""
    folder = tmp_path_factory.mktemp("clip")
    processor = build_clip_processor(ShapesWorld.vocabulary(), image_size=64, max_length=32)
    build_model("clip", len(processor.tokenizer)).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@pytest.fixture
def clip_copy(saved_clip, tmp_path):
    folder = tmp_path / "clip"
    shutil.copytree(saved_clip, folder)
    return folder


def test_checkpoint_returns_embedded_folder(monkeypatch):
    monkeypatch.delenv("VLMBOOK_CHECKPOINTS", raising=False)
    for name in NAMES:
        assert checkpoint(name).replace("\\", "/").endswith(f"vlmbook/embedded/{name}")


def test_checkpoint_hub_mode_returns_public_id(monkeypatch):
    monkeypatch.setenv("VLMBOOK_CHECKPOINTS", "hub")
    assert checkpoint("clip") == "openai/clip-vit-base-patch32"
    assert checkpoint("llava") == "llava-hf/llava-1.5-7b-hf"
    assert {checkpoint(name) for name in NAMES} == set(PUBLIC_IDS.values())


def test_checkpoint_unknown_name_lists_valid_names():
    with pytest.raises(CheckpointError) as error:
        checkpoint("clip-large")
    message = str(error.value)
    assert "'clip-large'" in message
    for name in NAMES:
        assert name in message


def test_checkpoint_missing_embedded_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("VLMBOOK_CHECKPOINTS", raising=False)
    monkeypatch.setattr(checkpoints_module, "EMBEDDED_DIR", tmp_path)
    with pytest.raises(CheckpointError) as error:
        checkpoint("blip-vqa")
    message = str(error.value)
    assert str(tmp_path / "blip-vqa") in message
    assert "is missing" in message
    assert f"vlmbook train blip-vqa --out {tmp_path / 'blip-vqa'}" in message


def test_checkpoint_invalid_source(monkeypatch):
    monkeypatch.setenv("VLMBOOK_CHECKPOINTS", "cloud")
    with pytest.raises(CheckpointError, match="invalid VLMBOOK_CHECKPOINTS='cloud'"):
        checkpoint("clip")


def test_verify_accepts_saved_checkpoint(saved_clip):
    assert verify_checkpoint(saved_clip) == saved_clip.resolve()


def test_load_saved_checkpoint(saved_clip):
    model, processor = load_checkpoint("clip", saved_clip)
    assert type(model).__name__ == "CLIPModel"
    assert type(processor).__name__ == "CLIPProcessor"


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        verify_checkpoint(tmp_path / "nowhere")


@pytest.mark.parametrize("missing", ["config.json", "model.safetensors", "tokenizer.json", "processor_config.json"])
def test_missing_file_is_named(clip_copy, missing):
    (clip_copy / missing).unlink()
    with pytest.raises(CheckpointError) as error:
        verify_checkpoint(clip_copy)
    assert str(clip_copy) in str(error.value)
    assert missing in str(error.value)


def test_truncated_weights_are_rejected(clip_copy):
    weights = clip_copy / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as error:
        load_checkpoint("clip", clip_copy)
    message = str(error.value)
    assert "model.safetensors" in message
    assert "truncated or corrupt" in message
    assert str(clip_copy) in message


def test_garbage_header_is_rejected(clip_copy):
    (clip_copy / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(CheckpointError, match="header is not valid JSON"):
        verify_checkpoint(clip_copy)


@pytest.mark.parametrize("pickle_name", ["pytorch_model.bin", "model.pt"])
def test_pickle_without_safetensors_is_rejected(clip_copy, pickle_name):
    (clip_copy / "model.safetensors").rename(clip_copy / pickle_name)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint("clip", clip_copy)
    message = str(error.value)
    assert pickle_name in message
    assert "only from safetensors" in message


def test_pickle_next_to_safetensors_is_never_loaded(clip_copy):
    # A pickle that would run code if it were unpickled; loading must ignore it.
    marker = clip_copy / "unpickled"
    payload = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('x')"
    script = (
        "import pickle, sys\n"
        "class Evil:\n"
        f"    def __reduce__(self): return (exec, ({payload!r},))\n"
        "pickle.dump(Evil(), open(sys.argv[1], 'wb'))\n"
    )
    subprocess.run([sys.executable, "-c", script, str(clip_copy / "pytorch_model.bin")], check=True)
    model, _ = load_checkpoint("clip", clip_copy)
    assert type(model).__name__ == "CLIPModel"
    assert not marker.exists()


def test_symlink_outside_folder_is_rejected(clip_copy, tmp_path):
    outside = tmp_path / "elsewhere.safetensors"
    (clip_copy / "model.safetensors").rename(outside)
    (clip_copy / "model.safetensors").symlink_to(outside)
    with pytest.raises(CheckpointError, match="outside the folder"):
        load_checkpoint("clip", clip_copy)


def test_shard_index_escaping_folder_is_rejected(clip_copy):
    index = {"metadata": {}, "weight_map": {"logit_scale": "../model-00001-of-00001.safetensors"}}
    (clip_copy / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="outside the folder"):
        verify_checkpoint(clip_copy)


def test_hub_mode_offline_gives_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("VLMBOOK_CHECKPOINTS", "hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    # A fresh interpreter, so that huggingface_hub reads the offline setting and the empty cache.
    code = "from vlmbook.checkpoints import load_checkpoint; load_checkpoint('clip')"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.returncode != 0
    last_line = completed.stderr.strip().splitlines()[-1]
    assert "CheckpointError" in last_line
    assert "openai/clip-vit-base-patch32" in last_line
    assert "Unset VLMBOOK_CHECKPOINTS" in last_line
    assert completed.stderr.count("Traceback") == 1


def test_relative_symlink_escaping_folder_is_rejected(clip_copy, tmp_path):
    (clip_copy / "model.safetensors").rename(tmp_path / "elsewhere.safetensors")
    (clip_copy / "model.safetensors").symlink_to(Path("..") / "elsewhere.safetensors")
    with pytest.raises(CheckpointError, match="outside the folder"):
        load_checkpoint("clip", clip_copy)


def test_embedded_checkpoints_hold_only_safetensors(monkeypatch):
    """The pages load the embedded folders with plain from_pretrained, so they must contain no pickle."""
    monkeypatch.delenv("VLMBOOK_CHECKPOINTS", raising=False)
    for name in NAMES:
        folder = Path(checkpoint(name))
        assert verify_checkpoint(folder) == folder.resolve()
        pickles = [p.name for p in folder.rglob("*") if p.suffix in checkpoints_module.PICKLE_SUFFIXES]
        assert pickles == [], f"{folder} contains pickle files"
        assert (folder / "model.safetensors").is_file()


def test_no_remote_code_in_project():
    """No source, page or notebook asks transformers to run code that a checkpoint ships."""
    root = Path(__file__).resolve().parents[1]
    offenders = []
    for folder in ("vlmbook", "snippets", "docs", "benchmarks"):
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".py", ".md", ".ipynb") or not path.is_file():
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if re.search(r"trust_remote_code\s*=\s*True|trust_remote_code\"?\s*:\s*true", line):
                    offenders.append(f"{path.relative_to(root)}:{number}")
    assert offenders == []


def test_from_scratch_reader_rejects_symlink_escaping_folder(clip_copy, tmp_path):
    """The from-scratch models read weights themselves; they refuse the same escaping symlink."""
    from vlmbook.transformer import read_hf_folder

    config, state_dict = read_hf_folder(clip_copy)
    assert config["model_type"] == "clip"
    assert "logit_scale" in state_dict
    (clip_copy / "model.safetensors").rename(tmp_path / "elsewhere.safetensors")
    (clip_copy / "model.safetensors").symlink_to(Path("..") / "elsewhere.safetensors")
    with pytest.raises(CheckpointError, match="outside the folder"):
        read_hf_folder(clip_copy)
