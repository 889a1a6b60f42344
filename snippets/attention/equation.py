"""Scaled dot-product attention, from the equation to vlmbook.attention.

The page embeds the `equation`, `package`, `scale` and `heads` sections; each
runs on its own.
"""

# --8<-- [start:equation]
import torch

torch.manual_seed(0)
T_q, T_k, d_head = 3, 4, 8  # 3 queries attend over 4 keys
query = torch.randn(T_q, d_head)  # (T_q, d_head)
key = torch.randn(T_k, d_head)  # (T_k, d_head)
value = torch.randn(T_k, d_head)  # (T_k, d_head)

# softmax(Q K^T / sqrt(d_head)) V, one line per factor of the equation.
scores = query @ key.T / d_head**0.5  # (T_q, T_k)
weights = scores.softmax(dim=-1)  # (T_q, T_k), each row sums to 1
context = weights @ value  # (T_q, d_head)

print("scores ", tuple(scores.shape))
print("weights", tuple(weights.shape), "row sums", weights.sum(dim=-1).round(decimals=4).tolist())
print("context", tuple(context.shape))
# --8<-- [end:equation]

# --8<-- [start:package]
import torch

from vlmbook.attention import attention_fast, attention_manual

# The package works on (B, H, T, d_head): one scene, one head, 3 queries, 4 keys.
torch.manual_seed(0)
q, k, v = torch.randn(1, 1, 3, 8), torch.randn(1, 1, 4, 8), torch.randn(1, 1, 4, 8)
manual_context, manual_weights = attention_manual(q, k, v)  # (1, 1, T_q, d_head), (1, 1, T_q, T_k)
fast_context = attention_fast(q, k, v)  # (1, 1, T_q, d_head); the fused kernel keeps no weights

equation_context = (q @ k.transpose(-2, -1) / 8**0.5).softmax(dim=-1) @ v
print("manual = equation:", torch.allclose(manual_context, equation_context, atol=1e-6))
print("fast = manual:    ", torch.allclose(fast_context, manual_context, atol=1e-6))
# --8<-- [end:package]

# --8<-- [start:heads]
import torch

from vlmbook.attention import MultiHeadAttention

torch.manual_seed(0)
attention = MultiHeadAttention(dim=64, num_heads=4)  # d_head = 64 / 4 = 16
tokens = torch.randn(2, 10, 64)  # (B, T, D)
output, attn_weights = attention(tokens)  # self-attention: no context given

print("output      ", tuple(output.shape))  # (B, T, D)
print("attn_weights", tuple(attn_weights.shape))  # (B, H, T, T)
# --8<-- [end:heads]

# --8<-- [start:scale]
import torch

# Why divide by sqrt(d_head): the dot product of two random unit-variance
# vectors has variance d_head, so unscaled scores saturate the softmax.
torch.manual_seed(0)
for width in (4, 64, 1024):
    q_rows, k_rows = torch.randn(1000, width), torch.randn(16, width)
    raw = q_rows @ k_rows.T  # (1000, 16)
    top_raw = raw.softmax(dim=-1).max(dim=-1).values.mean()
    top_scaled = (raw / width**0.5).softmax(dim=-1).max(dim=-1).values.mean()
    print(f"d_head {width:>4}: score std {raw.std():6.1f}, mean top weight {top_raw:.2f} unscaled, {top_scaled:.2f} scaled")
# --8<-- [end:scale]
