"""Generator: padding and causal masks, built by vlmbook.attention.build_mask.

The page embeds the `masks` and `figure` sections as one script, and `apply` on its own.
"""

# --8<-- [start:masks]
import torch

from vlmbook.attention import attention_manual, build_mask

# Two captions in one batch: the second has 4 real tokens and 2 padding tokens.
attention_mask = torch.tensor([[1, 1, 1, 1, 1, 1],
                               [1, 1, 1, 1, 0, 0]])  # (B, T), 1 = real token
B, T = attention_mask.shape

padding = build_mask(attention_mask, num_queries=T, num_keys=T, causal=False)  # (B, 1, 1, T)
causal = build_mask(None, num_queries=T, num_keys=T, causal=True)  # (T, T)
both = build_mask(attention_mask, num_queries=T, num_keys=T, causal=True)  # (B, 1, T, T)

print("padding", tuple(padding.shape), "causal", tuple(causal.shape), "both", tuple(both.shape))
print(both[1, 0].int())  # second caption: True (1) = may attend
# --8<-- [end:masks]

# --8<-- [start:apply]
import torch

from vlmbook.attention import attention_manual, build_mask

attention_mask = torch.tensor([[1, 1, 1, 1, 1, 1],
                               [1, 1, 1, 1, 0, 0]])  # (B, T), the batch above
B, T = attention_mask.shape
both = build_mask(attention_mask, num_queries=T, num_keys=T, causal=True)  # (B, 1, T, T)

# A masked key gets weight exactly 0, and every row still sums to 1.
torch.manual_seed(0)
q = k = v = torch.randn(B, 1, T, 8)  # (B, H, T, d_head)
_, weights = attention_manual(q, k, v, mask=both)  # (B, H, T, T)
print(weights[1, 0].round(decimals=2))
print("row sums", weights[1, 0].sum(dim=-1).round(decimals=4).tolist())
# --8<-- [end:apply]

# --8<-- [start:figure]
import matplotlib.pyplot as plt
from matplotlib.colors import ListedColormap

from vlmbook.book import figure

TITLES = {
    "ko": ("패딩 마스크", "인과 마스크", "패딩 + 인과", "키 위치", "쿼리 위치", "흰색: 볼 수 있음, 회색: 가려짐"),
    "en": ("padding mask", "causal mask", "padding + causal", "key position", "query position",
           "white: may attend, gray: masked"),
}


@figure("attention-masks")
def draw_masks(lang: str):
    padding_title, causal_title, both_title, key_label, query_label, legend = TITLES[lang]
    matrices = [padding[1, 0].expand(T, T), causal, both[1, 0]]  # second caption, (T, T) each
    fig, axes = plt.subplots(1, 3, figsize=(8.4, 3.6))
    for ax, matrix, title in zip(axes, matrices, (padding_title, causal_title, both_title)):
        ax.imshow(matrix.int(), cmap=ListedColormap(["#9e9e9e", "#ffffff"]), vmin=0, vmax=1)
        ax.set_xticks(range(T), [str(i) for i in range(T)])
        ax.set_yticks(range(T), [str(i) for i in range(T)])
        ax.set_xticks([i - 0.5 for i in range(1, T)], minor=True)
        ax.set_yticks([i - 0.5 for i in range(1, T)], minor=True)
        ax.grid(which="minor", color="#424242", linewidth=0.6)
        ax.tick_params(which="minor", length=0)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(key_label, fontsize=9)
    axes[0].set_ylabel(query_label, fontsize=9)
    fig.suptitle(legend, fontsize=9)
    fig.tight_layout()
    return fig
# --8<-- [end:figure]
