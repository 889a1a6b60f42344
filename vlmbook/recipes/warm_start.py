"""Warm starts: copy the towers of one trained checkpoint into another model.

The public models start from pretrained parts: BLIP fine-tunes VQA and
retrieval from its pretrained encoder and decoder, and LLaVA builds on a
pretrained CLIP vision tower, which it keeps frozen. The tiny recipes do the
same with the embedded checkpoints, when `vlmbook train` gets `--init-from`:

- blip-captioning starts from clip: its vision tower, converted to BLIP's
  layout (BLIP initializes its ViT from ImageNet weights, Li et al., 2022,
  Section 4.1);
- blip-vqa and blip-itm start from blip-captioning: the vision tower, the
  text tower (as the question or caption encoder) and, for VQA, the decoder;
- llava starts from clip: the vision tower.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import PreTrainedModel

from vlmbook.checkpoints import CheckpointError, load_checkpoint

# Checkpoint a recipe can start from.
WARM_START_SOURCE = {
    "blip-captioning": "clip",
    "blip-vqa": "blip-captioning",
    "blip-itm": "blip-captioning",
    "llava": "clip",
}


def _check_vocabulary(model: PreTrainedModel, source: PreTrainedModel, folder: Path) -> None:
    vocab, source_vocab = model.get_input_embeddings().num_embeddings, source.get_input_embeddings().num_embeddings
    if vocab != source_vocab:
        raise CheckpointError(
            f"checkpoint {folder} has a vocabulary of {source_vocab} tokens but the new model has {vocab}; "
            "retrain it with the same ShapesWorld vocabulary"
        )


@torch.no_grad()
def clip_vision_to_blip(clip_vision, blip_vision, pixel_values: torch.Tensor) -> None:
    """Copy a CLIPVisionModel into a BlipVisionModel of the same size, in place.

    The layers map one to one (BLIP fuses q, k, v into one `qkv` matrix). CLIP
    also applies a LayerNorm to the embeddings (`pre_layrnorm`) that BLIP
    lacks. Its centering and affine parts are linear, so they fold into the
    patch and position embeddings exactly. Its division by each token's
    standard deviation does not fold, so the fold divides by the mean
    deviation measured on `pixel_values` (B, 3, H, W) instead.
    NOTE: that one step is approximate, so the converted tower is a starting
    point for training, not an exact copy.
    """
    source, target = clip_vision.embeddings, blip_vision.embeddings
    hidden = source.class_embedding.shape[0]
    centering = torch.eye(hidden) - torch.full((hidden, hidden), 1.0 / hidden)  # (D, D): x -> x - mean(x)

    # Mean deviation of the centered embeddings, over every token of the sample images.
    embeddings = source(pixel_values)  # (B, 1 + N_patch, D)
    deviation = (embeddings @ centering).std(dim=-1, unbiased=False).mean()
    norm = clip_vision.pre_layrnorm
    scale = norm.weight / deviation  # (D,)

    # Fold "center, divide, scale, shift" into the embeddings; the shift rides on the positions.
    patch_weight = source.patch_embedding.weight  # (D, 3, P, P)
    target.patch_embedding.weight.copy_(torch.einsum("oc,cihw->oihw", centering, patch_weight) * scale.view(-1, 1, 1, 1))
    target.patch_embedding.bias.zero_()
    positions = source.position_embedding.weight @ centering * scale + norm.bias  # (1 + N_patch, D)
    class_token = source.class_embedding @ centering * scale  # (D,)
    target.position_embedding.copy_(positions.unsqueeze(0))
    target.class_embedding.copy_(class_token.view(1, 1, -1))

    # Transformer layers: the same pre-norm blocks, with q, k, v fused.
    for clip_layer, blip_layer in zip(clip_vision.encoder.layers, blip_vision.encoder.layers):
        attention = clip_layer.self_attn
        blip_layer.self_attn.qkv.weight.copy_(
            torch.cat([attention.q_proj.weight, attention.k_proj.weight, attention.v_proj.weight])
        )
        blip_layer.self_attn.qkv.bias.copy_(torch.cat([attention.q_proj.bias, attention.k_proj.bias, attention.v_proj.bias]))
        blip_layer.self_attn.projection.load_state_dict(attention.out_proj.state_dict())
        blip_layer.layer_norm1.load_state_dict(clip_layer.layer_norm1.state_dict())
        blip_layer.layer_norm2.load_state_dict(clip_layer.layer_norm2.state_dict())
        blip_layer.mlp.load_state_dict(clip_layer.mlp.state_dict())
    blip_vision.post_layernorm.load_state_dict(clip_vision.post_layernorm.state_dict())


def warm_start(name: str, model: PreTrainedModel, folder: str | Path, pixel_values: torch.Tensor | None = None) -> None:
    """Copy the matching towers of the checkpoint in `folder` into `model`, in place.

    `pixel_values` (B, 3, H, W) are sample images, needed only for blip-captioning.
    """
    if name not in WARM_START_SOURCE:
        raise CheckpointError(f"{name} has no warm start; only {', '.join(WARM_START_SOURCE)} take --init-from")
    folder = Path(folder)
    source, _ = load_checkpoint(WARM_START_SOURCE[name], folder)

    if name == "blip-captioning":
        clip_vision_to_blip(source.vision_model, model.vision_model, pixel_values)
        return

    if name == "llava":
        # The CLIP vision transformer. NOTE: LLaVA keeps its tower frozen; the tiny CLIP tower
        # answers shape and position questions poorly when frozen, so here it trains with the rest,
        # at a tenth of the learning rate (see LlavaRecipe.settings).
        model.model.vision_tower.load_state_dict(source.vision_model.state_dict())
        return

    # BLIP: the captioner's BERT tower encodes questions (VQA) and captions (ITM).
    _check_vocabulary(model, source, folder)
    model.vision_model.load_state_dict(source.vision_model.state_dict())
    model.text_encoder.load_state_dict(source.text_decoder.bert.state_dict())
    if hasattr(model, "text_decoder"):
        model.text_decoder.load_state_dict(source.text_decoder.state_dict())
