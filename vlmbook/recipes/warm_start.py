"""Warm starts: copy the towers of one trained checkpoint into another model.

The public models start from pretrained parts: BLIP fine-tunes VQA and
retrieval from its pretrained encoder and decoder, and LLaVA builds on a
pretrained CLIP vision tower, which it keeps frozen. The tiny recipes do the
same with the embedded checkpoints, when `vlmbook train` gets `--init-from`:

- blip-vqa and blip-itm start from blip-captioning: the vision tower, the
  text tower (as the question or caption encoder) and, for VQA, the decoder;
- llava starts from clip: the vision tower, frozen.
"""

from __future__ import annotations

from pathlib import Path

from transformers import PreTrainedModel

from vlmbook.checkpoints import CheckpointError, load_checkpoint

# Checkpoint a recipe can start from.
WARM_START_SOURCE = {"blip-vqa": "blip-captioning", "blip-itm": "blip-captioning", "llava": "clip"}


def _check_vocabulary(model: PreTrainedModel, source: PreTrainedModel, folder: Path) -> None:
    vocab, source_vocab = model.get_input_embeddings().num_embeddings, source.get_input_embeddings().num_embeddings
    if vocab != source_vocab:
        raise CheckpointError(
            f"checkpoint {folder} has a vocabulary of {source_vocab} tokens but the new model has {vocab}; "
            "retrain it with the same ShapesWorld vocabulary"
        )


def warm_start(name: str, model: PreTrainedModel, folder: str | Path) -> None:
    """Copy the matching towers of the checkpoint in `folder` into `model`, in place."""
    if name not in WARM_START_SOURCE:
        raise CheckpointError(f"{name} has no warm start; only {', '.join(WARM_START_SOURCE)} take --init-from")
    folder = Path(folder)
    source, _ = load_checkpoint(WARM_START_SOURCE[name], folder)

    if name == "llava":
        # The CLIP vision transformer, frozen as in LLaVA; only the projector and decoder train.
        model.model.vision_tower.load_state_dict(source.vision_model.state_dict())
        model.model.vision_tower.requires_grad_(False)
        return

    # BLIP: the captioner's BERT tower encodes questions (VQA) and captions (ITM).
    _check_vocabulary(model, source, folder)
    model.vision_model.load_state_dict(source.vision_model.state_dict())
    model.text_encoder.load_state_dict(source.text_decoder.bert.state_dict())
    if hasattr(model, "text_decoder"):
        model.text_decoder.load_state_dict(source.text_decoder.state_dict())
