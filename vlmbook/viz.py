"""Attention maps of vision-language models, as patch grids and as overlays on the image.

Works on the from-scratch models of vlmbook and on ``transformers`` models.
Fused attention (PyTorch SDPA, or our ``fast`` path) computes no weights, and
transformers' SDPA models then return an empty tuple of attentions. Every
function here therefore switches the model to weight-returning attention for
the duration of the call, with a warning. If no weights come back anyway, it
raises instead of returning None.

Token layout: a ViT sequence is ``num_prefix_tokens`` non-patch tokens (CLS,
registers) followed by the patches in row-major order, top-left first. Maps are
returned as (grid_height, grid_width) arrays, row 0 at the top of the image.

Shape legend:
    B          batch size;  L layers;  H heads
    N          tokens of the vision sequence (prefix tokens + patches)
    T          text positions;  gh, gw  patch grid height and width
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from vlmbook.attention import MultiHeadAttention
from vlmbook.images import match_model, to_rgb


# --8<-- [start:switch]
@contextlib.contextmanager
def weight_returning_attention(model: nn.Module) -> Iterator[None]:
    """Run ``model`` with attention that returns its weights inside the block, then restore it."""
    config = getattr(model, "config", None)
    hf_implementation = getattr(config, "_attn_implementation", None)
    fast_modules = [m for m in model.modules() if isinstance(m, MultiHeadAttention) and m.fast]

    if hf_implementation not in (None, "eager"):
        warnings.warn(
            f"the model runs {hf_implementation!r} attention, which returns no weights; "
            "switching to 'eager' attention for this call",
            stacklevel=3,
        )
        model.set_attn_implementation("eager")
    if fast_modules:
        warnings.warn("the model runs the fused attention path; using the manual path for this call", stacklevel=3)
        for module in fast_modules:
            module.fast = False
    try:
        yield
    finally:
        if hf_implementation not in (None, "eager"):
            model.set_attn_implementation(hf_implementation)
        for module in fast_modules:
            module.fast = True
# --8<-- [end:switch]


def require_weights(attentions: Sequence[torch.Tensor | None] | None, source: str) -> list[torch.Tensor]:
    """Return ``attentions`` as a list, or raise if the model returned none."""
    if not attentions or any(a is None for a in attentions):
        raise RuntimeError(f"the model returned no {source} attention weights; run it with eager attention")
    return list(attentions)


def is_transformers_model(model: nn.Module) -> bool:
    return hasattr(getattr(model, "config", None), "_attn_implementation")


@torch.no_grad()
def vision_attentions(model: nn.Module, pixel_values: torch.Tensor) -> list[torch.Tensor]:
    """Run the vision tower and return each layer's attention weights, L tensors (B, H, N, N).

    ``model`` is a vlmbook ``VisionTransformer`` or a model with one (CLIP, BLIP,
    LLaVA), or a transformers CLIP, BLIP or LLaVA model or vision model.
    """
    pixel_values = match_model({"pixel_values": pixel_values}, model)["pixel_values"]
    with weight_returning_attention(model):
        if is_transformers_model(model):
            if hasattr(model, "vision_model"):
                tower = model.vision_model
            elif hasattr(getattr(model, "model", None), "vision_tower"):
                tower = model.model.vision_tower
            else:
                tower = model
            attentions = tower(pixel_values=pixel_values, output_attentions=True).attentions
        else:
            tower = getattr(model, "vision", model)
            attentions = tower(pixel_values, output_attentions=True).attentions
    return require_weights(attentions, "vision")


# --8<-- [start:grid]
def to_patch_grid(
    values: torch.Tensor, grid: tuple[int, int], num_prefix_tokens: int = 1, row_newline: bool = False
) -> torch.Tensor:
    """Turn per-token values (..., N) into a patch grid (..., gh, gw).

    The ``num_prefix_tokens`` leading tokens (CLS, registers) are dropped first;
    with ``row_newline`` each row of patches ends in an extra image-newline token
    (LLaVA-NeXT), which is dropped too.
    """
    height, width = grid
    patches = values[..., num_prefix_tokens:]
    per_row = width + int(row_newline)
    if patches.shape[-1] != height * per_row:
        raise ValueError(
            f"{values.shape[-1]} tokens minus {num_prefix_tokens} prefix tokens do not fill a "
            f"{height} x {width} grid{' with a newline token per row' if row_newline else ''}; "
            "check grid and num_prefix_tokens"
        )
    patches = patches.reshape(*patches.shape[:-1], height, per_row)  # rows first: height x width, not transposed
    return patches[..., :width]  # (..., gh, gw)
# --8<-- [end:grid]


# --8<-- [start:cls_maps]
def cls_attention_maps(
    attentions: Sequence[torch.Tensor], grid: tuple[int, int], num_prefix_tokens: int = 1
) -> torch.Tensor:
    """Map how much the CLS token attends to each patch, per layer and head: (B, L, H, gh, gw)."""
    cls_rows = torch.stack([layer[:, :, 0, :] for layer in attentions], dim=1)  # (B, L, H, N)
    return to_patch_grid(cls_rows, grid, num_prefix_tokens)
# --8<-- [end:cls_maps]


# --8<-- [start:rollout]
def attention_rollout(
    attentions: Sequence[torch.Tensor], grid: tuple[int, int], num_prefix_tokens: int = 1
) -> torch.Tensor:
    """Attention rollout (Abnar and Zuidema 2020, arXiv 2005.00928) from the CLS token: (B, gh, gw).

    Each layer's head-averaged attention gets the identity added for the residual
    connection and is row-normalized again. The product over layers estimates
    how much each input token flows into the CLS token at the top.
    """
    rollout = None
    for layer in attentions:
        mixed = layer.mean(dim=1)  # (B, N, N): average over heads
        mixed = mixed + torch.eye(mixed.shape[-1], dtype=mixed.dtype, device=mixed.device)  # residual path
        mixed = mixed / mixed.sum(dim=-1, keepdim=True)  # rows sum to 1 again
        rollout = mixed if rollout is None else mixed @ rollout  # (B, N, N)
    return to_patch_grid(rollout[:, 0, :], grid, num_prefix_tokens)  # CLS row -> (B, gh, gw)
# --8<-- [end:rollout]


# --8<-- [start:cross_maps]
def cross_attention_maps(
    cross_attentions: Sequence[torch.Tensor],
    grid: tuple[int, int],
    num_prefix_tokens: int = 1,
    layer: int | None = None,
) -> torch.Tensor:
    """Map where each text token looks in the image: (B, T, gh, gw), averaged over heads.

    ``cross_attentions`` contains one (B, H, T, N) tensor per decoder layer.
    ``layer`` picks one of them, and None averages all layers.
    """
    chosen = cross_attentions if layer is None else [cross_attentions[layer]]
    weights = torch.stack(list(chosen)).mean(dim=(0, 2))  # (B, T, N)
    return to_patch_grid(weights, grid, num_prefix_tokens)
# --8<-- [end:cross_maps]


@torch.no_grad()
def caption_cross_attention(
    model: nn.Module, pixel_values: torch.Tensor, input_ids: torch.Tensor, layer: int | None = None
) -> torch.Tensor:
    """Cross-attention maps of a BLIP captioner for the caption ``input_ids``: (B, T, gh, gw).

    ``model`` is a vlmbook ``BlipForCaptioning`` or a transformers ``BlipForConditionalGeneration``.
    """
    pixel_values = match_model({"pixel_values": pixel_values}, model)["pixel_values"]
    with weight_returning_attention(model):
        if is_transformers_model(model):
            image_embeds = model.vision_model(pixel_values=pixel_values).last_hidden_state
            output = model.text_decoder(input_ids=input_ids, encoder_hidden_states=image_embeds, output_attentions=True)
            cross = output.cross_attentions
            grid_size = model.config.vision_config.image_size // model.config.vision_config.patch_size
        else:
            _, output = model(pixel_values, input_ids, output_attentions=True)
            cross = output.cross_attentions
            grid_size = model.config.vision.grid_size
    return cross_attention_maps(require_weights(cross, "cross"), (grid_size, grid_size), layer=layer)


@torch.no_grad()
def answer_cross_attention(
    model: nn.Module,
    input_ids: torch.Tensor,
    pixel_values: torch.Tensor,
    answer_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Map each answer token of a BLIP VQA model onto the image patches: (B, T_answer, gh, gw).

    BLIP's answer decoder reads the encoded question, not the image, so the map
    chains two steps, each averaged over heads and layers: answer token ->
    question token (decoder cross-attention), then question token -> patch
    (question encoder cross-attention). ``model`` is a vlmbook
    ``BlipForQuestionAnswering`` or a transformers ``BlipForQuestionAnswering``.
    """
    pixel_values = match_model({"pixel_values": pixel_values}, model)["pixel_values"]
    with weight_returning_attention(model):
        if is_transformers_model(model):
            image_embeds = model.vision_model(pixel_values=pixel_values).last_hidden_state
            question = model.text_encoder(input_ids=input_ids, attention_mask=attention_mask,
                                          encoder_hidden_states=image_embeds, output_attentions=True)
            answer = model.text_decoder(input_ids=answer_ids, encoder_hidden_states=question.last_hidden_state,
                                        output_attentions=True)
            question_cross, answer_cross = question.cross_attentions, answer.cross_attentions
            grid_size = model.config.vision_config.image_size // model.config.vision_config.patch_size
        else:
            question = model.encode_question(input_ids, pixel_values, attention_mask)
            _, answer = model.text_decoder(answer_ids, question.hidden_states)
            question_cross, answer_cross = question.cross_attentions, answer.cross_attentions
            grid_size = model.config.vision.grid_size
    question_to_image = torch.stack(require_weights(question_cross, "question")).mean(dim=(0, 2))  # (B, T_q, N)
    answer_to_question = torch.stack(require_weights(answer_cross, "answer")).mean(dim=(0, 2))  # (B, T_answer, T_q)
    answer_to_image = answer_to_question @ question_to_image  # (B, T_answer, N)
    return to_patch_grid(answer_to_image, (grid_size, grid_size))


@torch.no_grad()
def llava_image_attention(
    model: nn.Module, input_ids: torch.Tensor, pixel_values: torch.Tensor, layer: int = -1
) -> torch.Tensor:
    """Map how much each prompt position attends to each image patch in LLaVA's decoder: (B, T, gh, gw).

    The image tokens sit inside the text sequence, so their columns of the
    decoder's self-attention are the "cross-attention" to the image. With the
    "full" strategy the first image token is the vision tower's CLS token, and
    its column is dropped like any other non-patch token.
    """
    pixel_values = match_model({"pixel_values": pixel_values}, model)["pixel_values"]
    with weight_returning_attention(model):
        if is_transformers_model(model):
            attentions = model(input_ids=input_ids, pixel_values=pixel_values, output_attentions=True).attentions
            vision = model.config.vision_config
            grid_size = vision.image_size // vision.patch_size
            keeps_cls = model.config.vision_feature_select_strategy == "full"
        else:
            attentions = model(input_ids, pixel_values, output_attentions=True).attentions
            grid_size = model.config.vision.grid_size
            keeps_cls = model.config.keep_cls_token
    weights = require_weights(attentions, "decoder")[layer].mean(dim=1)  # (B, T, T)
    is_image = input_ids == model.config.image_token_id  # (B, T)
    tokens_per_image = grid_size**2 + int(keeps_cls)
    if not torch.all(is_image.sum(dim=1) == tokens_per_image):
        raise ValueError(
            f"each prompt must contain exactly {tokens_per_image} image tokens (one image), "
            f"found {is_image.sum(dim=1).tolist()}"
        )
    columns = torch.stack([weights[b][:, is_image[b]] for b in range(len(weights))])  # (B, T, N_img)
    return to_patch_grid(columns, (grid_size, grid_size), num_prefix_tokens=int(keeps_cls))


def plot_attention_heads(image, maps: torch.Tensor, alpha: float = 0.6):
    """Draw a grid of overlays, one row per layer and one column per head, from maps (L, H, gh, gw)."""
    import matplotlib.pyplot as plt

    num_layers, num_heads = maps.shape[:2]
    figure, axes = plt.subplots(num_layers, num_heads, figsize=(1.6 * num_heads, 1.6 * num_layers), squeeze=False)
    for layer in range(num_layers):
        for head in range(num_heads):
            overlay(image, maps[layer, head], ax=axes[layer, head], alpha=alpha, title=f"L{layer} H{head}")
    figure.tight_layout()
    return figure


# --8<-- [start:overlay]
def upsample(heatmap: torch.Tensor | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Stretch a (gh, gw) map to (height, width) pixels, each patch a flat block, scaled to [0, 1]."""
    heatmap = torch.as_tensor(heatmap, dtype=torch.float32)
    height, width = size
    rows = torch.arange(height) * heatmap.shape[0] // height
    cols = torch.arange(width) * heatmap.shape[1] // width
    pixels = heatmap[rows][:, cols]  # (height, width)
    pixels = pixels - pixels.min()
    return (pixels / pixels.max().clamp_min(1e-12)).numpy()


def overlay(image, heatmap: torch.Tensor | np.ndarray, ax=None, alpha: float = 0.5, cmap: str = "inferno", title=None):
    """Draw ``heatmap`` (gh, gw) over ``image`` (anything ``to_rgb`` reads) on a matplotlib Axes."""
    import matplotlib.pyplot as plt

    pixels = np.asarray(to_rgb(image))
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(pixels)
    ax.imshow(upsample(heatmap, pixels.shape[:2]), cmap=cmap, alpha=alpha)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
# --8<-- [end:overlay]
