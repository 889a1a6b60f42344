"""Worked solutions to the exercises of the multimodal attention chapter.

Each section runs on its own.
"""

# --8<-- [start:cache_mask]
from vlmbook.attention import build_mask

# Decoding step 5: one new query, five keys in the cache (positions 0..4).
step_mask = build_mask(None, num_queries=1, num_keys=5, causal=True)  # (T_q, T_k)
print(tuple(step_mask.shape), step_mask.int().tolist())

# Prefill of the last two positions at once.
print(build_mask(None, num_queries=2, num_keys=5, causal=True).int().tolist())
# --8<-- [end:cache_mask]

# --8<-- [start:permutation]
import torch

from vlmbook.attention import MultiHeadAttention

torch.manual_seed(0)
cross_attention = MultiHeadAttention(dim=32, num_heads=4)
text = torch.randn(1, 5, 32)  # (B, T_txt, D)
patches = torch.randn(1, 16, 32)  # (B, N_patch, D), no position embedding added
shuffled = patches[:, torch.randperm(16)]

same_order, _ = cross_attention(text, context=patches)
other_order, _ = cross_attention(text, context=shuffled)
print("same output after shuffling the patches:", torch.allclose(same_order, other_order, atol=1e-6))
# --8<-- [end:permutation]

# --8<-- [start:gate_gradient]
import torch

from vlmbook.attention import MultiHeadAttention

torch.manual_seed(0)
cross_attention = MultiHeadAttention(dim=32, num_heads=4)
gate = torch.zeros(1, requires_grad=True)
text, image = torch.randn(1, 5, 32), torch.randn(1, 16, 32)

update, _ = cross_attention(text, context=image)
output = text + torch.tanh(gate) * update
loss = output.square().mean()  # any loss that depends on the output
loss.backward()

print("output equals the input:", torch.equal(output.detach(), text))
print("gate gradient is nonzero:", gate.grad.abs().item() > 0)
print("cross-attention weights get a gradient:", cross_attention.q_proj.weight.grad.abs().sum().item() > 0)
# --8<-- [end:gate_gradient]

# --8<-- [start:token_budget]
def attention_score_flops(num_tokens: int, width: int) -> int:
    """FLOPs of Q K^T and weights @ V in one layer: 4 * T^2 * D."""
    return 4 * num_tokens**2 * width


prompt_tokens, lm_width = 40, 4096
llava = attention_score_flops(576 + prompt_tokens, lm_width)  # every patch enters the LM
q_former = attention_score_flops(32 + prompt_tokens, lm_width)  # 32 query outputs enter the LM
print(f"LLaVA-style sequence   {576 + prompt_tokens:>4} tokens: {llava / 1e9:6.2f} GFLOPs per layer")
print(f"Q-Former-style sequence {32 + prompt_tokens:>3} tokens: {q_former / 1e9:6.2f} GFLOPs per layer")
print(f"ratio {llava / q_former:.0f}x")
# --8<-- [end:token_budget]
