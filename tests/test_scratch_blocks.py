"""The from-scratch building blocks on their own: masks, both attention paths, errors and presets."""

from __future__ import annotations

import pytest
import torch
import transformers

from vlmbook.attention import MultiHeadAttention, attention_fast, attention_manual, build_mask, set_fast_attention
from vlmbook.blip import BlipConfig, BlipForCaptioning, BlipForImageTextMatching
from vlmbook.clip import CLIP, CLIPConfig
from vlmbook.llava import Llava, LlavaConfig
from vlmbook.vision import VisionTransformer, ViTConfig


def test_causal_mask_with_cache_offset():
    """With 2 new queries after 3 cached keys, query 0 may attend to keys 0-3 and query 1 to keys 0-4."""
    mask = build_mask(None, num_queries=2, num_keys=5, causal=True)
    assert mask.tolist() == [[True, True, True, True, False], [True, True, True, True, True]]


def test_padding_and_causal_masks_combine():
    """A padded key is hidden from every query, on top of the causal mask."""
    mask = build_mask(torch.tensor([[1, 1, 0]]), num_queries=3, num_keys=3, causal=True)
    assert mask.shape == (1, 1, 3, 3)
    assert mask[0, 0].tolist() == [[True, False, False], [True, True, False], [True, True, False]]


def test_fast_attention_matches_manual():
    """The fused kernel's context equals the manual one, also for a fully masked query row."""
    torch.manual_seed(0)
    query, key, value = torch.randn(2, 3, 4, 8), torch.randn(2, 3, 6, 8), torch.randn(2, 3, 6, 8)
    mask = build_mask(torch.tensor([[1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0]]), 4, 6, causal=False)
    manual, weights = attention_manual(query, key, value, mask)
    fast = attention_fast(query, key, value, mask)
    assert weights.shape == (2, 3, 4, 6)
    gap = (manual - fast).abs().max().item()
    assert gap < 1e-5, f"max abs diff {gap:.2e}"


def test_fast_module_returns_no_weights():
    """In fast mode a MultiHeadAttention returns None for the weights, in manual mode a tensor."""
    attention = MultiHeadAttention(16, 4)
    x = torch.randn(1, 5, 16)
    _, weights = attention(x)
    assert weights is not None
    attention.fast = True
    _, weights = attention(x)
    assert weights is None


def test_grouped_query_attention_shapes():
    """Two key/value heads serve four query heads; weights still come per query head."""
    attention = MultiHeadAttention(16, num_heads=4, num_kv_heads=2, bias=False)
    assert attention.k_proj.weight.shape == (8, 16)
    output, weights = attention(torch.randn(2, 5, 16))
    assert output.shape == (2, 5, 16)
    assert weights.shape == (2, 4, 5, 5)


def test_cross_attention_shapes():
    """Text queries of width 16 read 7 image tokens of width 24."""
    attention = MultiHeadAttention(16, 4, kv_dim=24)
    output, weights = attention(torch.randn(2, 3, 16), context=torch.randn(2, 7, 24))
    assert output.shape == (2, 3, 16)
    assert weights.shape == (2, 4, 3, 7)


@pytest.mark.parametrize("model", ["blip-itm", "llava"], ids=str)
def test_fast_models_refuse_attention_maps(model):
    """BLIP ITM and LLaVA on the fused path raise when asked for attention maps."""
    if model == "blip-itm":
        network, args = BlipForImageTextMatching(BlipConfig.tiny()), (torch.tensor([[1, 5, 2]]), torch.rand(1, 3, 64, 64))
    else:
        config = LlavaConfig.tiny()
        ids = torch.cat([torch.tensor([[1]]), torch.full((1, 64), config.image_token_id)], dim=1)
        network, args = Llava(config), (ids, torch.rand(1, 3, 64, 64))
    set_fast_attention(network, True)
    with pytest.raises(ValueError, match="fused attention path"):
        network(*args, output_attentions=True)


def test_vit_rejects_wrong_image_size():
    """A 32 x 32 image for a 64 x 64 ViT is rejected with both shapes in the message."""
    with pytest.raises(ValueError, match=r"expects \(B, 3, 64, 64\)"):
        VisionTransformer(ViTConfig.tiny())(torch.rand(1, 3, 32, 32))


def test_clip_rejects_long_text():
    """More tokens than the context length are rejected with a hint to truncate."""
    model = CLIP(CLIPConfig.tiny())
    with pytest.raises(ValueError, match="truncation=True"):
        model.encode_text(torch.ones(1, 17, dtype=torch.long))


def parameter_count(model: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: CLIP(CLIPConfig.vit_b_32()), lambda: transformers.CLIPModel(transformers.CLIPConfig())),
        (lambda: BlipForCaptioning(BlipConfig.base()),
         lambda: transformers.BlipForConditionalGeneration(transformers.BlipConfig())),
        (lambda: Llava(LlavaConfig.llava_1_5_7b()),
         lambda: transformers.LlavaForConditionalGeneration(
             transformers.LlavaConfig(text_config=transformers.LlamaConfig(vocab_size=32064), image_token_id=32000))),
    ],
    ids=["clip-vit-b-32", "blip-base", "llava-1.5-7b"],
)
def test_public_presets_match_transformers_sizes(ours, theirs):
    """The reference presets have exactly the parameter count of the public architectures (built on meta)."""
    with torch.device("meta"):
        mine, reference = parameter_count(ours()), parameter_count(theirs())
    assert mine == reference, f"ours {mine:,} vs transformers {reference:,}"


@pytest.mark.parametrize(
    "read, hf_config",
    [
        (lambda d: CLIPConfig.from_hf(d), transformers.CLIPConfig),
        (lambda d: BlipConfig.from_hf(d), transformers.BlipConfig),
        (lambda d: LlavaConfig.from_hf(d), transformers.LlavaConfig),
    ],
    ids=["clip", "blip", "llava"],
)
def test_config_defaults_match_transformers(read, hf_config):
    """An empty config.json reads as transformers' default config, because each missing key takes its default."""
    assert read({}) == read(hf_config().to_dict())
