"""The pre-norm transformer block shared by the ViT, CLIP's text tower and LLaVA's decoder.

A pre-norm block (Xiong et al. 2020, "On Layer Normalization in the Transformer
Architecture", arXiv 2002.04745, figure 1b) normalizes the input of each sublayer
and leaves the residual path untouched:

    x = x + SelfAttention(Norm(x))
    x = x + MLP(Norm(x))

LLaVA's Llama decoder swaps in RMSNorm and the SwiGLU MLP, defined here too.
BLIP's text transformer is post-norm instead and lives in ``vlmbook.text``.

Shape legend:
    B      batch size
    T      positions in the sequence
    D      model width;  D_mlp hidden width of the MLP
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vlmbook.attention import KVCache, MultiHeadAttention


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    """x * sigmoid(1.702 x): the sigmoid approximation of GELU that OpenAI's CLIP was trained with."""
    return x * torch.sigmoid(1.702 * x)


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "quick_gelu": quick_gelu,
    "gelu": F.gelu,  # exact GELU, x * Phi(x) (Hendrycks and Gimpel 2016)
    "silu": F.silu,
}


def activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Look up an activation by the name Hugging Face configs use for it."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


# --8<-- [start:mlp]
class MLP(nn.Module):
    """Two linear layers with a nonlinearity between them, applied to each position on its own."""

    def __init__(self, dim: int, hidden_dim: int, act: str = "gelu"):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = activation(act)
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))  # (B, T, D) -> (B, T, D_mlp) -> (B, T, D)
# --8<-- [end:mlp]


# --8<-- [start:llama_parts]
class RMSNorm(nn.Module):
    """Root-mean-square norm (Zhang and Sennrich 2019, arXiv 1910.07467): x / rms(x) * g, no mean, no bias."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * normed.to(x.dtype)


class SwiGLU(nn.Module):
    """Gated MLP (Shazeer 2020, "GLU Variants Improve Transformer", arXiv 2002.05202): down(silu(gate(x)) * up(x))."""

    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden_dim, bias=False)
        self.up_proj = nn.Linear(dim, hidden_dim, bias=False)
        self.down_proj = nn.Linear(hidden_dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))  # (B, T, D_mlp) -> (B, T, D)
# --8<-- [end:llama_parts]


# --8<-- [start:block]
class TransformerBlock(nn.Module):
    """One pre-norm transformer layer (Xiong et al. 2020, figure 1b).

    The norm and the MLP are arguments, so that the same block is a ViT layer
    (LayerNorm, GELU MLP) and a Llama layer (RMSNorm, SwiGLU MLP, rotary
    positions, grouped-query attention, no biases).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp: nn.Module,
        make_norm: Callable[[], nn.Module],
        num_kv_heads: int | None = None,
        bias: bool = True,
    ):
        super().__init__()
        self.norm1 = make_norm()
        self.attn = MultiHeadAttention(dim, num_heads, num_kv_heads=num_kv_heads, bias=bias)
        self.norm2 = make_norm()
        self.mlp = mlp

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        rotary: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the updated sequence (B, T, D) and the self-attention weights (B, H, T, T)."""
        # Self-attention: every position gathers information from the others.
        attn_out, attn_weights = self.attn(self.norm1(x), mask=mask, cache=cache, rotary=rotary)
        x = x + attn_out  # (B, T, D)

        # MLP: each position is transformed on its own.
        x = x + self.mlp(self.norm2(x))  # (B, T, D)
        return x, attn_weights
# --8<-- [end:block]


def read_hf_folder(folder: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read ``config.json`` and every ``*.safetensors`` shard of a Hugging Face model folder.

    The from-scratch models share this reader; each maps the parameter names itself.
    As `vlmbook.load_checkpoint` does, it refuses a symlink that leads outside the folder.
    """
    from safetensors.torch import load_file

    from vlmbook.checkpoints import reject_escaping_symlinks

    folder = Path(folder)
    config_path = folder / "config.json"
    shards = sorted(folder.glob("*.safetensors"))
    if not config_path.is_file() or not shards:
        raise FileNotFoundError(
            f"{folder} has no config.json and *.safetensors; pass a folder written by save_pretrained"
        )
    reject_escaping_symlinks(folder)
    state_dict: dict[str, torch.Tensor] = {}
    for shard in shards:
        state_dict.update(load_file(shard))
    return json.loads(config_path.read_text()), state_dict
