"""Properties of the from-scratch building blocks that hold for every input, checked with hypothesis."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmbook.attention import attention_manual, build_mask
from vlmbook.clip import CLIP, CLIPConfig, contrastive_loss, similarity_logits
from vlmbook.llava import LlamaDecoder, LlavaConfig
from vlmbook.text import TextConfig, TextDecoder

FAST = settings(max_examples=25, deadline=None)


@st.composite
def attention_inputs(draw):
    batch = draw(st.integers(1, 3))
    heads = draw(st.integers(1, 3))
    num_keys = draw(st.integers(1, 7))
    num_queries = draw(st.integers(1, num_keys))
    causal = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, heads, num_queries, 8)
    query = torch.randn(shape, generator=generator) * 3
    key = torch.randn(batch, heads, num_keys, 8, generator=generator) * 3
    value = torch.randn(batch, heads, num_keys, 8, generator=generator)
    # Padding at the end of each row keeps at least the first key, so every query can attend to a key.
    lengths = [draw(st.integers(1, num_keys)) for _ in range(batch)]
    padding = torch.tensor([[1] * n + [0] * (num_keys - n) for n in lengths])
    if causal:  # causal queries are the last positions; each must see a real key
        padding[:, : num_keys - num_queries + 1] = 1
    mask = build_mask(padding, num_queries, num_keys, causal=causal)
    return query, key, value, mask


@FAST
@given(attention_inputs())
def test_attention_rows_sum_to_one(inputs):
    """Every attention row is a probability distribution over the keys."""
    query, key, value, mask = inputs
    _, weights = attention_manual(query, key, value, mask)
    row_sums = weights.sum(dim=-1)
    gap = (row_sums - 1).abs().max().item()
    assert gap < 1e-5, f"row sums differ from 1 by up to {gap:.2e}"


@FAST
@given(attention_inputs())
def test_attention_masked_weights_zero(inputs):
    """A masked key (padding, or a future position) receives exactly zero weight."""
    query, key, value, mask = inputs
    _, weights = attention_manual(query, key, value, mask)
    masked = ~mask.expand_as(weights)
    assert torch.all(weights[masked] == 0), f"largest masked weight {weights[masked].max().item():.2e}"


logit_matrices = st.builds(
    lambda n, seed, spread: torch.randn(n, n, generator=torch.Generator().manual_seed(seed)) * spread,
    st.integers(1, 8),
    st.integers(0, 2**16),
    st.floats(0.1, 50.0),
)


@FAST
@given(logit_matrices)
def test_contrastive_loss_mean_of_both(logits):
    """The loss is the mean of the image-to-text and text-to-image cross-entropies."""
    targets = torch.arange(len(logits))
    expected = (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
    assert torch.allclose(contrastive_loss(logits), expected, atol=1e-6)


@FAST
@given(logit_matrices)
def test_contrastive_loss_symmetric(logits):
    """Swapping the roles of images and texts (transposing the logits) leaves the loss unchanged."""
    assert torch.allclose(contrastive_loss(logits), contrastive_loss(logits.T), atol=1e-6)


@FAST
@given(st.integers(0, 2**16), st.floats(1e-3, 1e3), st.integers(0, 2))
def test_clip_probabilities_scale_invariant(seed, factor, row):
    """Scaling one embedding by any positive factor leaves the CLIP probabilities unchanged."""
    generator = torch.Generator().manual_seed(seed)
    image_embeds = torch.randn(3, 16, generator=generator)
    text_embeds = torch.randn(4, 16, generator=generator)
    scale = torch.tensor(30.0)
    before = similarity_logits(image_embeds, text_embeds, scale).softmax(dim=-1)
    image_embeds[row] *= factor
    text_embeds[row] *= factor
    after = similarity_logits(image_embeds, text_embeds, scale).softmax(dim=-1)
    assert torch.allclose(before, after, atol=1e-5), f"max change {(before - after).abs().max().item():.2e}"


@FAST
@given(st.floats(-20.0, 20.0), st.floats(-1e4, 1e4))
def test_clip_temperature_never_exceeds_clamp(start, gradient):
    """After any optimizer step and clamp_logit_scale_, exp(logit_scale) lies in [1, max_logit_scale]."""
    model = CLIP(CLIPConfig.tiny())
    optimizer = torch.optim.SGD([model.logit_scale], lr=1.0)
    with torch.no_grad():
        model.logit_scale.fill_(start)
    model.logit_scale.grad = torch.tensor(gradient)
    optimizer.step()
    model.clamp_logit_scale_()
    scale = model.temperature_scale().item()
    assert scale <= model.config.max_logit_scale * (1 + 1e-6)
    assert scale >= 1.0


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**16), st.integers(2, 9))
def test_blip_decoder_cache_matches_full(seed, length):
    """Decoding token by token with the cache gives the logits of one full causal pass."""
    torch.manual_seed(seed)
    config = TextConfig(vocab_size=50, width=32, num_heads=4, mlp_dim=64, context_width=24, max_positions=16)
    decoder = TextDecoder(config).eval()
    input_ids = torch.randint(0, 50, (2, length))
    context = torch.randn(2, 5, 24)
    with torch.no_grad():
        full, _ = decoder(input_ids, context)
        cache = decoder.transformer.new_cache()
        steps = [decoder(input_ids[:, i : i + 1], context, cache=cache)[0] for i in range(length)]
    # Relative tolerance: one query at a time sums in another order than a full
    # pass, and float32 rounding then grows with the size of the logits.
    gap = (torch.cat(steps, dim=1) - full).abs().max().item()
    tolerance = 1e-5 * max(1.0, full.abs().max().item())
    assert gap < tolerance, f"cached vs full logits: max abs diff {gap:.2e}, tolerance {tolerance:.2e}"


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**16), st.integers(2, 9), st.integers(1, 4))
def test_llama_decoder_cache_matches_full(seed, length, prefill):
    """A prefill then one token at a time with the cache gives the logits of one full pass."""
    torch.manual_seed(seed)
    config = LlavaConfig(vocab_size=50, text_width=32, text_heads=4, text_kv_heads=2, text_mlp_dim=48)
    decoder = LlamaDecoder(config).eval()
    embeds = torch.randn(2, length + prefill, 32)
    with torch.no_grad():
        full, _ = decoder(embeds)
        cache = decoder.new_cache()
        steps = [decoder(embeds[:, :prefill], cache=cache)[0]]
        steps += [decoder(embeds[:, i : i + 1], cache=cache)[0] for i in range(prefill, length + prefill)]
    # Relative tolerance: one query at a time sums in another order than a full
    # pass, and float32 rounding then grows with the size of the logits.
    gap = (torch.cat(steps, dim=1) - full).abs().max().item()
    tolerance = 1e-5 * max(1.0, full.abs().max().item())
    assert gap < tolerance, f"cached vs full logits: max abs diff {gap:.2e}, tolerance {tolerance:.2e}"


def test_cross_attention_masked_context_zero():
    """A padded context position (a masked question token) gets zero cross-attention weight."""
    torch.manual_seed(0)
    config = TextConfig(vocab_size=50, width=32, num_heads=4, mlp_dim=64, context_width=24, max_positions=16)
    decoder = TextDecoder(config).eval()
    context_mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    with torch.no_grad():
        _, output = decoder(torch.randint(0, 50, (2, 4)), torch.randn(2, 5, 24), context_mask=context_mask)
    for layer, weights in enumerate(output.cross_attentions):  # (B, heads, T_txt, T_ctx)
        assert torch.all(weights[0, :, :, 3:] == 0), f"layer {layer} attends to padded context"
        assert torch.all(weights[1] > 0), f"layer {layer} masks an unpadded context position"
