"""Tiny `transformers` configs for the ShapesWorld checkpoints, and the model builders.

The public checkpoints that the book discusses (CLIP ViT-B/32, BLIP base,
LLaVA-1.5 7B) have 0.1 to 7 billion parameters. The tiny ones keep the same
classes and the same wiring with about a million parameters each, so they
train in minutes on a CPU and every checkpoint stays a few megabytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import (
    BlipConfig,
    BlipForConditionalGeneration,
    BlipForImageTextRetrieval,
    BlipForQuestionAnswering,
    CLIPConfig,
    CLIPModel,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    PreTrainedModel,
)
from transformers.models.clip.configuration_clip import CLIPVisionConfig

from vlmbook.hf.tokenizer import BOS, CLS, DEC, EOS, IMAGE, PAD, SEP, SPECIAL_TOKENS


@dataclass(frozen=True)
class TinySize:
    """Sizes shared by the vision and text towers of one tiny model."""

    image_size: int = 64  # ShapesWorld renders 64x64 scenes; objects stay several patches wide
    patch_size: int = 8  # 8x8 patches -> 64 image tokens: fine enough to tell a triangle from a square
    hidden_size: int = 64  # D: width of every tower; 64 = 2 heads x 32 dims
    num_layers: int = 2  # per tower: enough to bind color to shape, small enough for a CPU
    num_heads: int = 2  # 32 dims per head
    mlp_ratio: int = 4  # intermediate size = 4 x D, as in ViT and BERT
    max_text_length: int = 32  # maximum tokens of a caption or question, special tokens included
    projection_dim: int = 64  # CLIP's shared embedding space; smaller than D as in ViT-B/32 (512 < 768)


TINY = TinySize()
# LLaVA's decoder reads 64 image tokens and several question-answer turns, so its sequences are longer.
TINY_LLAVA = TinySize(hidden_size=96, num_heads=3, max_text_length=192)


def special_id(token: str) -> int:
    """Return the id of a special token; special tokens come first in every vocabulary."""
    return SPECIAL_TOKENS.index(token)


def _vision_kwargs(size: TinySize) -> dict:
    return dict(
        image_size=size.image_size,
        patch_size=size.patch_size,
        hidden_size=size.hidden_size,
        intermediate_size=size.mlp_ratio * size.hidden_size,
        num_hidden_layers=size.num_layers,
        num_attention_heads=size.num_heads,
        hidden_act="gelu",  # the exact GELU; OpenAI CLIP uses quick_gelu, a sigmoid approximation of it
    )


def clip_config(vocab_size: int, size: TinySize = TINY) -> CLIPConfig:
    """Config of a tiny CLIPModel: ViT image tower, causal text tower pooled at [SEP]."""
    text = dict(
        vocab_size=vocab_size,
        hidden_size=size.hidden_size,
        intermediate_size=size.mlp_ratio * size.hidden_size,
        num_hidden_layers=size.num_layers,
        num_attention_heads=size.num_heads,
        max_position_embeddings=size.max_text_length,
        hidden_act="gelu",
        pad_token_id=special_id(PAD),
        bos_token_id=special_id(CLS),
        # CLIPTextTransformer pools the hidden state at the first eos_token_id.
        # (eos_token_id == 2 would select the legacy argmax-of-ids pooling instead.)
        eos_token_id=special_id(SEP),
    )
    return CLIPConfig(text_config=text, vision_config=_vision_kwargs(size), projection_dim=size.projection_dim)


def blip_config(vocab_size: int, size: TinySize = TINY) -> BlipConfig:
    """Config of a tiny BLIP: ViT image tower and a BERT text tower with cross-attention."""
    text = dict(
        vocab_size=vocab_size,
        hidden_size=size.hidden_size,
        encoder_hidden_size=size.hidden_size,  # width of the image tokens the text cross-attends to
        intermediate_size=size.mlp_ratio * size.hidden_size,
        num_hidden_layers=size.num_layers,
        num_attention_heads=size.num_heads,
        max_position_embeddings=size.max_text_length,
        pad_token_id=special_id(PAD),
        bos_token_id=special_id(DEC),  # the decoder starts from [DEC], as in BLIP
        eos_token_id=special_id(SEP),
        sep_token_id=special_id(SEP),  # generate() stops at sep_token_id
    )
    # BlipVisionConfig initializes position embeddings with std 1e-10 by default; 0.02 as in CLIP
    # lets a model trained from scratch tell positions apart from its first steps.
    vision = dict(_vision_kwargs(size), initializer_range=0.02)
    return BlipConfig(
        text_config=text,
        vision_config=vision,
        projection_dim=size.projection_dim,
        image_text_hidden_size=size.projection_dim,
    )


def llava_config(vocab_size: int, size: TinySize = TINY_LLAVA) -> LlavaConfig:
    """Config of a tiny LLaVA: CLIP vision tower, 2-layer MLP projector, Llama decoder."""
    vision = CLIPVisionConfig(**_vision_kwargs(TINY))
    text = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=size.hidden_size,
        intermediate_size=2 * size.hidden_size,  # SwiGLU has three matrices, so 2 x D keeps the MLP small
        num_hidden_layers=size.num_layers,
        num_attention_heads=size.num_heads,
        num_key_value_heads=size.num_heads,
        max_position_embeddings=size.max_text_length,
        pad_token_id=special_id(PAD),
        bos_token_id=special_id(BOS),
        eos_token_id=special_id(EOS),
        tie_word_embeddings=True,  # halves the embedding parameters of a tiny model
    )
    return LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=special_id(IMAGE),
        projector_hidden_act="gelu",
        # LLaVA-1.5 drops the CLS token ("default") and reads the second-to-last layer. A 2-layer tower
        # has too little depth for that: the tiny model keeps the CLS token ("full"), which carries
        # CLIP's image embedding, and reads both layers, concatenated. In 1200-step trials the answer
        # accuracy was 0.75 with the last layer alone, 0.77 with the first alone and 0.80 with both
        # (before the recipe added caption-only conversations).
        # 1 CLS + 64 patch tokens = 65 image tokens, each 2 x 64 wide before the projector.
        vision_feature_select_strategy="full",
        vision_feature_layer=[-2, -1],
        image_seq_length=1 + (TINY.image_size // TINY.patch_size) ** 2,
        tie_word_embeddings=True,
    )


MODEL_CLASSES: dict[str, type[PreTrainedModel]] = {
    "clip": CLIPModel,
    "blip-captioning": BlipForConditionalGeneration,
    "blip-vqa": BlipForQuestionAnswering,
    "blip-itm": BlipForImageTextRetrieval,
    "llava": LlavaForConditionalGeneration,
}


def build_model(name: str, vocab_size: int) -> PreTrainedModel:
    """Build the freshly initialized `transformers` model of a checkpoint name."""
    if name == "clip":
        config = clip_config(vocab_size)
    elif name.startswith("blip-"):
        config = blip_config(vocab_size)
    elif name == "llava":
        config = llava_config(vocab_size)
    else:
        raise ValueError(f"unknown model name {name!r}; expected one of {sorted(MODEL_CLASSES)}")
    return MODEL_CLASSES[name](config)
