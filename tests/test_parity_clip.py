"""Parity of the from-scratch CLIP (vlmbook.clip) with transformers' CLIPModel.

Each test builds a tiny randomly initialized ``CLIPModel``, saves it with
``save_pretrained`` and loads the folder back through ``CLIP.from_pretrained``,
so the name mapping, the config reading and the forward pass are all exercised.
"""

from __future__ import annotations

import pytest
import torch
import transformers

from vlmbook.attention import set_fast_attention
from vlmbook.clip import CLIP

TOLERANCE = 1e-5  # float32; the two implementations order a few sums differently
EOS = 98


def max_gap(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return (ours - theirs).abs().max().item()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    torch.manual_seed(0)
    config = transformers.CLIPConfig(
        text_config=dict(
            vocab_size=99,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=16,
            eos_token_id=EOS,
        ),
        vision_config=dict(
            image_size=32, patch_size=8, hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4
        ),
        projection_dim=24,
    )
    path = tmp_path_factory.mktemp("clip")
    transformers.CLIPModel(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def inputs():
    generator = torch.Generator().manual_seed(1)
    pixel_values = torch.rand(2, 3, 32, 32, generator=generator)
    input_ids = torch.randint(1, 90, (3, 9), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    for row, eos_position in enumerate([8, 5, 2]):  # captions of different lengths, right-padded
        input_ids[row, eos_position] = EOS
        input_ids[row, eos_position + 1 :] = 0
        attention_mask[row, eos_position + 1 :] = 0
    return dict(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask)


@pytest.fixture(scope="module")
def reference(folder, inputs):
    model = transformers.CLIPModel.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        return model(**inputs, output_attentions=True)


@pytest.fixture(scope="module")
def ours(folder, inputs):
    model = CLIP.from_pretrained(folder)
    with torch.no_grad():
        return model(**inputs, output_attentions=True)


@pytest.mark.parametrize("name", ["image_embeds", "text_embeds", "logits_per_image", "logits_per_text"])
def test_clip_outputs_match(ours, reference, name):
    """Embeddings and logits equal transformers' within 1e-5 on padded captions of three lengths."""
    gap = max_gap(getattr(ours, name), getattr(reference, name))
    assert gap < TOLERANCE, f"{name}: max abs diff {gap:.2e} exceeds {TOLERANCE:.0e}"


def test_clip_vision_attention_matches_eager(ours, reference):
    """Every vision layer's attention weights equal those of transformers' eager attention."""
    theirs = reference.vision_model_output.attentions
    assert len(ours.vision_attentions) == len(theirs)
    for layer, (mine, other) in enumerate(zip(ours.vision_attentions, theirs)):
        gap = max_gap(mine, other)
        assert gap < 1e-6, f"vision layer {layer}: max abs diff {gap:.2e}"


def test_clip_text_attention_matches_eager(ours, reference):
    """Every text layer's causal, padding-masked attention weights equal transformers' eager ones."""
    theirs = reference.text_model_output.attentions
    assert len(ours.text_attentions) == len(theirs)
    for layer, (mine, other) in enumerate(zip(ours.text_attentions, theirs)):
        gap = max_gap(mine, other)
        assert gap < 1e-6, f"text layer {layer}: max abs diff {gap:.2e}"


def test_clip_fast_path_matches(folder, inputs, reference):
    """The fused attention path gives the same logits as transformers (default SDPA model) within 1e-5."""
    model = set_fast_attention(CLIP.from_pretrained(folder), True)
    sdpa_model = transformers.CLIPModel.from_pretrained(folder).eval()
    with torch.no_grad():
        mine = model(**inputs).logits_per_image
        theirs = sdpa_model(**inputs).logits_per_image
    gap = max_gap(mine, theirs)
    assert gap < TOLERANCE, f"fast path: max abs diff {gap:.2e}"


def test_clip_fast_path_refuses_attentions(folder, inputs):
    """Asking the fused path for attention maps raises instead of returning None."""
    model = set_fast_attention(CLIP.from_pretrained(folder), True)
    with pytest.raises(ValueError, match="fused attention"):
        model(**inputs, output_attentions=True)


def test_clip_missing_eos_raises(folder, inputs):
    """A caption without the end-of-text token is rejected, because CLIP pools at that token."""
    model = CLIP.from_pretrained(folder)
    input_ids = inputs["input_ids"].clone()
    input_ids[1] = 5
    with pytest.raises(ValueError, match="end-of-text"):
        model(input_ids, inputs["pixel_values"])


def test_clip_loader_rejects_empty_folder(tmp_path):
    """Loading a folder without config.json and safetensors names the folder."""
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        CLIP.from_pretrained(tmp_path)
