"""Parity of the from-scratch LLaVA (vlmbook.llava) with transformers' LlavaForConditionalGeneration.

The reference is a tiny random LLaVA with a CLIP vision tower and a Llama text
model (grouped-query attention, rotary positions, SwiGLU), saved with
``save_pretrained`` and loaded back through ``Llava.from_pretrained``.
"""

from __future__ import annotations

import pytest
import torch
import transformers

from vlmbook.attention import set_fast_attention
from vlmbook.llava import Llava, LlavaConfig

TOLERANCE = 1e-5
IMAGE_TOKEN = 98
NUM_PATCHES = 16  # 32 x 32 image, 8 x 8 patches


def max_gap(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return (ours - theirs).abs().max().item()


def tiny_llava_config(**overrides) -> transformers.LlavaConfig:
    vision = transformers.CLIPVisionConfig(
        image_size=32, patch_size=8, hidden_size=48, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4
    )
    text = transformers.LlamaConfig(
        vocab_size=100,
        hidden_size=32,
        intermediate_size=80,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        bos_token_id=1,
        eos_token_id=2,
    )
    return transformers.LlavaConfig(vision_config=vision, text_config=text, image_token_id=IMAGE_TOKEN, **overrides)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("llava")
    transformers.LlavaForConditionalGeneration(tiny_llava_config()).save_pretrained(path)
    return path


def make_prompts(batch: int, seed: int = 1) -> dict[str, torch.Tensor]:
    """Text, then the image's placeholder tokens, then a question, as the LLaVA processor lays them out."""
    generator = torch.Generator().manual_seed(seed)
    before = torch.randint(3, 90, (batch, 3), generator=generator)
    after = torch.randint(3, 90, (batch, 5), generator=generator)
    image = torch.full((batch, NUM_PATCHES), IMAGE_TOKEN)
    bos = torch.ones(batch, 1, dtype=torch.long)
    input_ids = torch.cat([bos, before, image, after], dim=1)
    pixel_values = torch.rand(batch, 3, 32, 32, generator=generator)
    return dict(input_ids=input_ids, pixel_values=pixel_values)


@pytest.fixture(scope="module")
def reference(folder):
    model = transformers.LlavaForConditionalGeneration.from_pretrained(folder, attn_implementation="eager").eval()
    return model


@pytest.fixture(scope="module")
def ours(folder):
    return Llava.from_pretrained(folder)


def test_llava_logits_match(ours, reference):
    """Next-token logits over prompt and image positions equal transformers' within 1e-5."""
    inputs = make_prompts(batch=2)
    with torch.no_grad():
        mine = ours(**inputs).logits
        theirs = reference(**inputs).logits
    gap = max_gap(mine, theirs)
    assert gap < TOLERANCE, f"logits: max abs diff {gap:.2e}"


def test_llava_image_features_match(ours, reference):
    """The projected features of layer -2 without CLS equal transformers' get_image_features."""
    pixel_values = make_prompts(batch=2)["pixel_values"]
    with torch.no_grad():
        mine = ours.image_features(pixel_values)
        theirs = torch.stack(list(reference.get_image_features(pixel_values=pixel_values).pooler_output))
    assert mine.shape == theirs.shape, f"shapes differ: {tuple(mine.shape)} vs {tuple(theirs.shape)}"
    gap = max_gap(mine, theirs)
    assert gap < TOLERANCE, f"image features: max abs diff {gap:.2e}"


def test_llava_attention_matches_eager(ours, reference):
    """The decoder's causal attention weights equal those of transformers' eager Llama attention."""
    inputs = make_prompts(batch=2)
    with torch.no_grad():
        mine = ours(**inputs, output_attentions=True).attentions
        theirs = reference(**inputs, output_attentions=True).attentions
    assert len(mine) == len(theirs)
    for layer, (a, b) in enumerate(zip(mine, theirs)):
        gap = max_gap(a, b)
        assert gap < 1e-6, f"decoder layer {layer}: max abs diff {gap:.2e}"


@pytest.mark.parametrize("batch", [1, 3])
def test_llava_greedy_generation_matches(ours, reference, batch):
    """Greedy decoding with the cache yields the same token ids as transformers' generate."""
    inputs = make_prompts(batch=batch, seed=batch)
    theirs = reference.generate(**inputs, max_new_tokens=12, do_sample=False, pad_token_id=2)
    mine = ours.generate(**inputs, max_new_tokens=12)
    assert mine.tolist() == theirs.tolist(), f"ours {mine.tolist()}\ntheirs {theirs.tolist()}"


def test_llava_generation_cache_matches_no_cache(ours):
    """Decoding with and without the key-value cache yields the same ids."""
    inputs = make_prompts(batch=2, seed=7)
    with_cache = ours.generate(**inputs, max_new_tokens=10, use_cache=True)
    without_cache = ours.generate(**inputs, max_new_tokens=10, use_cache=False)
    assert with_cache.tolist() == without_cache.tolist()


def test_llava_fast_path_matches(folder):
    """The fused attention path gives transformers' SDPA logits within 1e-5."""
    inputs = make_prompts(batch=2)
    model = set_fast_attention(Llava.from_pretrained(folder), True)
    sdpa = transformers.LlavaForConditionalGeneration.from_pretrained(folder).eval()
    with torch.no_grad():
        gap = max_gap(model(**inputs).logits, sdpa(**inputs).logits)
    assert gap < TOLERANCE, f"fast path: max abs diff {gap:.2e}"


def test_llava_full_strategy_keeps_cls(tmp_path):
    """With vision_feature_select_strategy='full' the CLS token is kept, as in transformers."""
    torch.manual_seed(3)
    hf = transformers.LlavaForConditionalGeneration(tiny_llava_config(vision_feature_select_strategy="full")).eval()
    hf.save_pretrained(tmp_path)
    model = Llava.from_pretrained(tmp_path)
    inputs = make_prompts(batch=1)
    inputs["input_ids"] = torch.cat([inputs["input_ids"][:, :4], torch.full((1, 1), IMAGE_TOKEN), inputs["input_ids"][:, 4:]], 1)
    with torch.no_grad():
        gap = max_gap(model(**inputs).logits, hf(**inputs).logits)
    assert model.num_image_tokens == NUM_PATCHES + 1
    assert gap < TOLERANCE, f"full strategy: max abs diff {gap:.2e}"


@pytest.mark.parametrize("strategy", ["default", "full"])
def test_llava_feature_layer_list_concatenates(tmp_path, strategy):
    """A list of vision_feature_layer values concatenates the layers' features, as in transformers."""
    torch.manual_seed(4)
    config = tiny_llava_config(vision_feature_layer=[-2, -1], vision_feature_select_strategy=strategy)
    hf = transformers.LlavaForConditionalGeneration(config).eval()
    hf.save_pretrained(tmp_path)
    model = Llava.from_pretrained(tmp_path)
    inputs = make_prompts(batch=2)
    if strategy == "full":  # one more placeholder, for the CLS token
        cls_placeholder = torch.full((2, 1), IMAGE_TOKEN)
        inputs["input_ids"] = torch.cat([inputs["input_ids"][:, :4], cls_placeholder, inputs["input_ids"][:, 4:]], 1)
    with torch.no_grad():
        mine = model.image_features(inputs["pixel_values"])
        theirs = torch.stack(list(hf.get_image_features(pixel_values=inputs["pixel_values"]).pooler_output))
        gap = max_gap(model(**inputs).logits, hf(**inputs).logits)
    assert model.config.vision_feature_layer == (-2, -1)
    assert model.projector.linear_1.in_features == 2 * config.vision_config.hidden_size
    assert max_gap(mine, theirs) < TOLERANCE
    assert gap < TOLERANCE, f"two feature layers: max abs diff {gap:.2e}"


@pytest.mark.parametrize("layers", [[], [-1, "last"], "last", None])
def test_llava_config_rejects_bad_feature_layers(layers):
    with pytest.raises(ValueError, match="vision_feature_layer"):
        LlavaConfig.from_hf({"vision_feature_layer": layers})


def test_llava_placeholder_count_mismatch_raises(ours):
    """A prompt whose image-token count does not match the images is rejected before the decoder runs."""
    inputs = make_prompts(batch=1)
    inputs["input_ids"] = inputs["input_ids"][:, :-8]  # cut 3 of the 16 image tokens
    with pytest.raises(ValueError, match="image tokens"):
        ours(**inputs)
