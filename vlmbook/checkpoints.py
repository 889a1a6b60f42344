"""Where the checkpoints live, and how to load them safely.

`checkpoint(name)` returns the folder of a tiny checkpoint shipped inside the
package (`vlmbook/embedded/<name>/`), or, with the environment variable
`VLMBOOK_CHECKPOINTS=hub`, the Hugging Face Hub id of the public model that
the book discusses. `load_checkpoint` loads either one through the
`transformers` API, after `verify_checkpoint` has checked a local folder:

- weights come only from safetensors (`use_safetensors=True`). Pickle files
  (`.bin`, `.pt`, ...) are never loaded, and a folder that has one but no
  safetensors file is rejected;
- every file must be a regular file inside the folder: a symlink or a
  shard name that leads outside it is rejected;
- a truncated safetensors file is caught before loading, by comparing its
  size with the size its header declares;
- `trust_remote_code` is never set, so no code from a checkpoint runs.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

# Checkpoint name -> Hub id of the public model with the same architecture and task.
PUBLIC_IDS = {
    "clip": "openai/clip-vit-base-patch32",
    "blip-captioning": "Salesforce/blip-image-captioning-base",
    "blip-vqa": "Salesforce/blip-vqa-base",
    "blip-itm": "Salesforce/blip-itm-base-coco",
    "llava": "llava-hf/llava-1.5-7b-hf",
}
NAMES = tuple(PUBLIC_IDS)
EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded"
ENV_VARIABLE = "VLMBOOK_CHECKPOINTS"
SOURCES = ("embedded", "hub")

WEIGHTS_FILE = "model.safetensors"
REQUIRED_FILES = ("config.json", WEIGHTS_FILE, "processor_config.json", "tokenizer.json", "tokenizer_config.json")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


class CheckpointError(ValueError):
    """A checkpoint name, folder or file that cannot be used."""


def _check_name(name: str) -> None:
    if name not in PUBLIC_IDS:
        raise CheckpointError(f"unknown checkpoint name {name!r}; valid names: {', '.join(NAMES)}")


def checkpoint_source() -> str:
    """Return "embedded" or "hub", from the VLMBOOK_CHECKPOINTS environment variable."""
    source = os.environ.get(ENV_VARIABLE, "embedded").strip().lower() or "embedded"
    if source not in SOURCES:
        raise CheckpointError(
            f"invalid {ENV_VARIABLE}={source!r}; expected one of {', '.join(SOURCES)} (or leave it unset)"
        )
    return source


def checkpoint(name: str) -> str:
    """Return the local folder of the embedded checkpoint `name`, or its Hub id in hub mode."""
    _check_name(name)
    if checkpoint_source() == "hub":
        return PUBLIC_IDS[name]
    folder = EMBEDDED_DIR / name
    # Without this check transformers would read the missing path as a Hub repo id
    # and fail with an unrelated "Repo id must be in the form" error.
    if not folder.is_dir():
        raise CheckpointError(
            f"embedded checkpoint folder {folder} is missing; reinstall vlmbook, "
            f"or rebuild it with: vlmbook train {name} --out {folder}"
        )
    return str(folder)


def _safetensors_size_problem(path: Path) -> str | None:
    """Describe why a safetensors file is truncated or corrupt, or return None if its size is right.

    Layout: an 8-byte little-endian header length N, N bytes of JSON that give
    each tensor's [begin, end) byte offsets, then the tensor data.
    """
    size = path.stat().st_size
    if size < 8:
        return f"{size} bytes, shorter than the 8-byte header length"
    with path.open("rb") as file:
        (header_length,) = struct.unpack("<Q", file.read(8))
        if 8 + header_length > size:
            return f"header declares {header_length} bytes but the file has {size}"
        try:
            header = json.loads(file.read(header_length))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            return f"header is not valid JSON ({error})"
    ends = [entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"]
    expected = 8 + header_length + max(ends, default=0)
    if size != expected:
        return f"expected {expected} bytes from its header, found {size}"
    return None


def _inside(folder: Path, relative_name: str) -> bool:
    resolved = (folder / relative_name).resolve()
    return resolved == folder or folder in resolved.parents


def reject_escaping_symlinks(folder: Path) -> Path:
    """Raise CheckpointError if a file in `folder` is a symlink that leads outside it; return the resolved folder."""
    root = folder.resolve()
    for entry in folder.iterdir():
        if entry.is_symlink() and not _inside(root, os.readlink(entry)):
            raise CheckpointError(
                f"{entry.name} in checkpoint folder {folder} is a symlink to {os.readlink(entry)}, "
                "outside the folder; copy the file into the folder instead"
            )
    return root


def verify_checkpoint(folder: str | Path) -> Path:
    """Check that a checkpoint folder is complete and safe to load; return its resolved path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint folder {folder} does not exist or is not a folder")
    # No file may lead outside the folder: symlinks out, or shard names with "..".
    root = reject_escaping_symlinks(folder)
    index_file = folder / (WEIGHTS_FILE + ".index.json")
    shard_names = set()
    if index_file.is_file():
        shard_names = set(json.loads(index_file.read_text()).get("weight_map", {}).values())
    for shard in shard_names:
        if not _inside(root, shard):
            raise CheckpointError(f"{index_file.name} in {folder} names the shard {shard!r}, which is outside the folder")

    # Weights: safetensors only; a lone pickle file is rejected, never loaded.
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    weights = [folder / shard for shard in sorted(shard_names)] or [folder / WEIGHTS_FILE]
    if pickles and not all(path.is_file() for path in weights):
        raise CheckpointError(
            f"checkpoint folder {folder} has pickle weights ({', '.join(pickles)}) but no {WEIGHTS_FILE}; "
            "vlmbook loads weights only from safetensors, because unpickling can run arbitrary code. "
            "Convert the weights with save_pretrained(..., safe_serialization=True) or retrain"
        )

    # Completeness: every file that loading needs is present.
    required = [name for name in REQUIRED_FILES if not (shard_names and name == WEIGHTS_FILE)]
    for name in required:
        if not (folder / name).is_file():
            raise CheckpointError(f"checkpoint folder {folder} is missing {name}; retrain it with `vlmbook train`")

    # Integrity: each safetensors file has the length that its header declares.
    for path in weights:
        if not path.is_file():
            raise CheckpointError(f"checkpoint folder {folder} is missing {path.name}, listed in {index_file.name}")
        problem = _safetensors_size_problem(path)
        if problem is not None:
            raise CheckpointError(f"{path.name} in checkpoint folder {folder} is truncated or corrupt: {problem}")
    return root


def load_checkpoint(name: str, folder: str | Path | None = None):
    """Load (model, processor) of a checkpoint name from `folder`, or from `checkpoint(name)`.

    A local folder is verified first. A Hub id is loaded through the Hugging
    Face cache, and when the Hub is unreachable the error explains how to
    switch back to the embedded checkpoint.
    """
    from transformers import AutoProcessor

    from vlmbook.hf.configs import MODEL_CLASSES

    _check_name(name)
    location = str(folder) if folder is not None else checkpoint(name)
    model_class = MODEL_CLASSES[name]
    if location in PUBLIC_IDS.values() and not Path(location).exists():
        return _load_from_hub(model_class, location)

    verify_checkpoint(location)
    model = model_class.from_pretrained(location, use_safetensors=True, local_files_only=True)
    processor = AutoProcessor.from_pretrained(location, local_files_only=True)
    return model.eval(), processor


def _load_from_hub(model_class, hub_id: str):
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    from transformers import AutoProcessor

    try:
        model = model_class.from_pretrained(hub_id, use_safetensors=True)
        processor = AutoProcessor.from_pretrained(hub_id)
    except (OSError, LocalEntryNotFoundError, HfHubHTTPError) as error:
        raise CheckpointError(
            f"could not load {hub_id} from the Hugging Face Hub or its local cache ({type(error).__name__}). "
            f"Unset {ENV_VARIABLE} to use the embedded checkpoint, or connect to the internet "
            "(and unset HF_HUB_OFFLINE) to download it"
        ) from None
    return model.eval(), processor


def recorded_metrics(name: str) -> dict:
    """Return the metrics.json recorded beside an embedded checkpoint, or {} if there is none."""
    _check_name(name)
    path = EMBEDDED_DIR / name / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def list_checkpoints() -> list[dict]:
    """Describe every checkpoint: name, embedded path, public id and recorded metrics."""
    return [
        {"name": name, "path": str(EMBEDDED_DIR / name), "public_id": PUBLIC_IDS[name], "recorded": recorded_metrics(name)}
        for name in NAMES
    ]
