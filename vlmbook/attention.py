"""Multi-head attention, written out so that it returns its attention weights.

Scaled dot-product attention (Vaswani et al. 2017, "Attention Is All You Need",
arXiv 1706.03762, equation 1) is

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_head)) V

and multi-head attention (section 3.2.2) runs it once per head on learned
projections of the inputs, then projects the concatenated heads back to D.

Shape legend (used in every shape comment below):
    B      batch size
    T_q    query positions (the sequence that attends)
    T_k    key positions (the same sequence for self-attention, the image
           or the question for cross-attention, or all cached positions)
    D      model width of the queries
    D_kv   width of the key/value source (D, or the image width for cross-attention)
    H      query heads; H_kv key/value heads (H_kv < H is grouped-query attention)
    d_head D / H
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


# --8<-- [start:masks]
def build_mask(
    attention_mask: torch.Tensor | None,
    num_queries: int,
    num_keys: int,
    causal: bool,
    device: torch.device | None = None,
) -> torch.Tensor | None:
    """Combine a padding mask and a causal mask into one boolean mask, True = may attend.

    ``attention_mask`` is the tokenizer's (B, T_k) mask with 1 for real tokens and
    0 for padding. With a cache the queries are the last ``num_queries`` of the
    ``num_keys`` positions, so query i sits at position ``num_keys - num_queries + i``.
    Returns None when nothing is masked.
    """
    mask = None

    # Padding: no query may look at a padded key.
    if attention_mask is not None:
        mask = attention_mask.to(device).bool()[:, None, None, :]  # (B, 1, 1, T_k)

    # Causal: query i may look at keys up to its own position.
    if causal:
        query_positions = torch.arange(num_keys - num_queries, num_keys, device=device)
        key_positions = torch.arange(num_keys, device=device)
        allowed = key_positions[None, :] <= query_positions[:, None]  # (T_q, T_k)
        mask = allowed if mask is None else mask & allowed  # (B, 1, T_q, T_k)

    return mask
# --8<-- [end:masks]


# --8<-- [start:attention]
def attention_manual(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    divide_by_sqrt: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Compute softmax(Q K^T / sqrt(d_head)) V and return it with the attention weights.

    query (B, H, T_q, d_head), key and value (B, H, T_k, d_head), mask broadcastable
    to (B, H, T_q, T_k) with True where attention is allowed.
    """
    # NOTE: CLIP, ViT and Llama code multiplies by d_head ** -0.5, while BERT code
    # (BLIP's text side) divides by sqrt(d_head). The two differ in the last bit,
    # so each model uses the form of the checkpoint it loads.
    attn_scores = query @ key.transpose(-2, -1)  # (B, H, T_q, T_k)
    if divide_by_sqrt:
        attn_scores = attn_scores / math.sqrt(query.shape[-1])
    else:
        attn_scores = attn_scores * query.shape[-1] ** -0.5

    # A masked score becomes the most negative float, so its weight is exactly 0.
    if mask is not None:
        attn_scores = attn_scores.masked_fill(~mask, torch.finfo(attn_scores.dtype).min)

    # Softmax in float32 keeps half-precision rows summing to 1.
    attn_weights = attn_scores.float().softmax(dim=-1).to(query.dtype)  # (B, H, T_q, T_k)
    context = attn_weights @ value  # (B, H, T_q, d_head)
    return context, attn_weights
# --8<-- [end:attention]


# --8<-- [start:attention_fast]
def attention_fast(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Compute the same context as ``attention_manual`` with PyTorch's fused kernel.

    The fast path returns the context only: a fused kernel never stores the
    (T_q, T_k) weight matrix, so there is nothing to plot.
    """
    if mask is not None:
        # An additive mask gives a fully masked row the same uniform weights as
        # the manual path, where a boolean mask would give NaN.
        additive = torch.zeros(mask.shape, dtype=query.dtype, device=query.device)
        mask = additive.masked_fill(~mask, torch.finfo(query.dtype).min)
    return F.scaled_dot_product_attention(query, key, value, attn_mask=mask)  # (B, H, T_q, d_head)
# --8<-- [end:attention_fast]


# --8<-- [start:kv_cache]
@dataclass
class KVCache:
    """Keys and values one attention layer has already computed, kept between decoding steps."""

    keys: torch.Tensor | None = None  # (B, H_kv, T_k, d_head)
    values: torch.Tensor | None = None

    @property
    def length(self) -> int:
        return 0 if self.keys is None else self.keys.shape[2]
# --8<-- [end:kv_cache]


# --8<-- [start:rotary]
def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each (x_i, x_{i + d_head/2}) pair by its position's angle (RoFormer, Su et al. 2021, arXiv 2104.09864).

    The pairs are the two halves of the head, the layout Llama checkpoints use,
    rather than the paper's interleaved neighbours (x_2i, x_2i+1).
    """
    first_half, second_half = x.chunk(2, dim=-1)
    rotated = torch.cat((-second_half, first_half), dim=-1)
    return x * cos + rotated * sin


def rotary_angles(positions: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the cosines and sines of the rotary angles position / theta^(2i / d_head) (RoFormer).

    positions (B, T) -> cos, sin (B, T, d_head), each frequency repeated for both halves of the head.
    """
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device) / head_dim))
    angles = positions[..., None].float() * inv_freq  # (B, T, d_head / 2)
    angles = torch.cat([angles, angles], dim=-1)  # (B, T, d_head)
    return angles.cos(), angles.sin()
# --8<-- [end:rotary]


# --8<-- [start:multi_head]
class MultiHeadAttention(nn.Module):
    """Multi-head self- or cross-attention (Vaswani et al. 2017, section 3.2.2).

    One module covers every attention in the book: self-attention (``context`` is
    None), cross-attention (``context`` is the image or question), grouped-query
    attention (``num_kv_heads < num_heads``, Llama), rotary positions (``rotary``
    given, Llama) and a key-value cache for decoding.

    ``forward`` returns ``(output, attn_weights)``. With ``self.fast = True`` it
    runs ``attention_fast``, so the weights are None. Models asked for attention
    maps in that mode raise an error instead of returning None.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        kv_dim: int | None = None,
        num_kv_heads: int | None = None,
        bias: bool = True,
        divide_by_sqrt: bool = False,
    ):
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim={dim} must be divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads or num_heads
        self.head_dim = dim // num_heads
        self.fast = False
        self.divide_by_sqrt = divide_by_sqrt  # BERT's rounding of the 1 / sqrt(d_head) scale
        kv_dim = kv_dim or dim

        self.q_proj = nn.Linear(dim, num_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(kv_dim, self.num_kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(kv_dim, self.num_kv_heads * self.head_dim, bias=bias)
        self.out_proj = nn.Linear(num_heads * self.head_dim, dim, bias=bias)

    def split_heads(self, x: torch.Tensor, num_heads: int) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, num_heads, self.head_dim).transpose(1, 2)  # (B, H, T, d_head)

    def forward(
        self,
        hidden_states: torch.Tensor,
        context: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        rotary: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        is_cross = context is not None

        # Queries always come from the sequence being updated.
        query = self.split_heads(self.q_proj(hidden_states), self.num_heads)  # (B, H, T_q, d_head)

        # Keys and values: from the sequence itself, or from the context. A cached
        # context never changes, so its keys and values are computed only once.
        if is_cross and cache is not None and cache.keys is not None:
            key, value = cache.keys, cache.values
        else:
            source = context if is_cross else hidden_states  # (B, T_k, D_kv)
            key = self.split_heads(self.k_proj(source), self.num_kv_heads)  # (B, H_kv, T_k, d_head)
            value = self.split_heads(self.v_proj(source), self.num_kv_heads)  # (B, H_kv, T_k, d_head)

            # Rotary positions turn the query-key dot product into a function of distance.
            if rotary is not None:
                cos, sin = rotary  # (B, T_q, d_head) each
                query = apply_rotary(query, cos[:, None], sin[:, None])
                key = apply_rotary(key, cos[:, None], sin[:, None])

            # Self-attention appends this step's keys to the cache; cross-attention stores them once.
            if cache is not None:
                if not is_cross and cache.keys is not None:
                    key = torch.cat([cache.keys, key], dim=2)  # (B, H_kv, T_cached + T_q, d_head)
                    value = torch.cat([cache.values, value], dim=2)
                cache.keys, cache.values = key, value

        # Grouped-query attention: each key/value head serves H / H_kv query heads.
        if self.num_kv_heads != self.num_heads:
            repeats = self.num_heads // self.num_kv_heads
            key = key.repeat_interleave(repeats, dim=1)  # (B, H, T_k, d_head)
            value = value.repeat_interleave(repeats, dim=1)

        # Attend, then merge the heads back into one vector per position.
        if self.fast:
            context_vectors, attn_weights = attention_fast(query, key, value, mask), None
        else:
            context_vectors, attn_weights = attention_manual(query, key, value, mask, self.divide_by_sqrt)
        batch, _, length, _ = context_vectors.shape
        merged = context_vectors.transpose(1, 2).reshape(batch, length, -1)  # (B, T_q, D)
        return self.out_proj(merged), attn_weights
# --8<-- [end:multi_head]


def set_fast_attention(model: nn.Module, enabled: bool) -> nn.Module:
    """Switch every ``MultiHeadAttention`` in ``model`` to the fused path (True) or the manual one."""
    for module in model.modules():
        if isinstance(module, MultiHeadAttention):
            module.fast = enabled
    return model


def check_weights_available(model: nn.Module) -> None:
    """Raise if ``model`` runs the fused path, which computes no attention weights."""
    if any(isinstance(m, MultiHeadAttention) and m.fast for m in model.modules()):
        raise ValueError(
            "attention weights were requested, but the model runs the fused attention path, "
            "which does not compute them; call set_fast_attention(model, False) first"
        )
