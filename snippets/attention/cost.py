"""Generator: what one transformer layer costs as the number of tokens grows.

The page embeds the `cost` and `figure` sections.
"""

# --8<-- [start:cost]
def layer_cost(num_tokens: int, width: int, num_heads: int, bytes_per_value: int = 2) -> dict:
    """Count the multiply-add FLOPs of one transformer layer and the memory of its attention weights.

    A matmul of (m, k) by (k, n) costs 2 * m * k * n FLOPs. Q K^T and the weighted
    sum of V grow with T^2, while the Q, K, V, output projections and the 4x MLP grow with T.
    """
    T, D = num_tokens, width
    attention_matrix = 2 * T * T * D + 2 * T * T * D  # Q K^T, then weights @ V
    projections = 4 * 2 * T * D * D  # q_proj, k_proj, v_proj, out_proj
    mlp = 2 * 2 * T * D * (4 * D)  # D -> 4D -> D
    weights_bytes = num_heads * T * T * bytes_per_value  # one (H, T, T) matrix per image
    return {"attention_matrix": attention_matrix, "linear": projections + mlp, "weights_bytes": weights_bytes}


# Image tokens for a ViT: one per patch, (image_size / patch_size)^2.
vit_settings = {
    "ViT-B/32, 224px": (224, 32),
    "ShapesWorld 64px, patch 8": (64, 8),
    "ViT-L/14, 224px": (224, 14),
    "ViT-L/14, 336px": (336, 14),
    "ViT-L/14, 672px": (672, 14),
}
for name, (image_size, patch_size) in vit_settings.items():
    tokens = (image_size // patch_size) ** 2
    cost = layer_cost(tokens, width=1024, num_heads=16)
    share = cost["attention_matrix"] / (cost["attention_matrix"] + cost["linear"])
    print(f"{name:<26} {tokens:>5} tokens | T^2 share of FLOPs {share:5.1%} | "
          f"weights {cost['weights_bytes'] / 2**20:7.1f} MiB")
# --8<-- [end:cost]

# --8<-- [start:figure]
import matplotlib.pyplot as plt
import numpy as np

from vlmbook.book import figure

LABELS = {
    "ko": {"tokens": "토큰 수 T", "flops": "층 하나의 FLOPs", "memory": "어텐션 가중치 메모리 (KiB, fp16)",
           "quadratic": "어텐션 행렬 (T²에 비례)", "linear": "투영과 MLP (T에 비례)", "title_flops": "연산량",
           "title_memory": "(H, T, T) 가중치 행렬 하나"},
    "en": {"tokens": "number of tokens T", "flops": "FLOPs of one layer", "memory": "attention weight memory (KiB, fp16)",
           "quadratic": "attention matrix (grows with T²)", "linear": "projections and MLP (grow with T)",
           "title_flops": "compute", "title_memory": "one (H, T, T) weight matrix"},
}


@figure("attention-cost")
def draw_cost(lang: str):
    labels = LABELS[lang]
    token_counts = np.unique(np.logspace(1, 4, 60).astype(int))
    costs = [layer_cost(int(t), width=1024, num_heads=16) for t in token_counts]
    fig, (ax_flops, ax_memory) = plt.subplots(1, 2, figsize=(9, 3.6))
    ax_flops.loglog(token_counts, [c["attention_matrix"] for c in costs], label=labels["quadratic"])
    ax_flops.loglog(token_counts, [c["linear"] for c in costs], label=labels["linear"], linestyle="--")
    ax_memory.loglog(token_counts, [c["weights_bytes"] / 2**10 for c in costs], color="tab:red")
    for ax in (ax_flops, ax_memory):
        for index, tokens in enumerate(sorted((size // patch) ** 2 for size, patch in vit_settings.values())):
            ax.axvline(tokens, color="gray", linewidth=0.7, linestyle=":")
            ax.text(tokens, 1.01 + 0.05 * (index % 2), str(tokens), transform=ax.get_xaxis_transform(),
                    ha="center", fontsize=7)
        ax.set_xlabel(labels["tokens"])
    ax_flops.set_ylabel(labels["flops"])
    ax_flops.set_title(labels["title_flops"], fontsize=10, pad=20)
    ax_flops.legend(fontsize=8, loc="upper left")
    ax_memory.set_ylabel(labels["memory"])
    ax_memory.set_title(labels["title_memory"], fontsize=10, pad=20)
    fig.tight_layout()
    return fig
# --8<-- [end:figure]
