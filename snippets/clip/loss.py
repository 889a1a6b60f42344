"""Generator: the symmetric InfoNCE loss of CLIP and the effect of its temperature.

The page embeds the `loss`, `check`, `scale` and `figure` sections, so the
code a reader sees is the code that drew the figure. Each of `loss`, `scale`
and `figure` runs on its own; `check` continues `loss`.
"""

# --8<-- [start:loss]
import torch
import torch.nn.functional as F


def symmetric_infonce(image_embeds: torch.Tensor, text_embeds: torch.Tensor, temperature: float) -> torch.Tensor:
    """Compute CLIP's loss for N image-caption pairs, where pair i is (image_embeds[i], text_embeds[i])."""
    # Cosine similarity of every image with every caption, divided by the temperature.
    image_embeds = F.normalize(image_embeds, dim=-1)  # (N, D), unit length
    text_embeds = F.normalize(text_embeds, dim=-1)  # (N, D), unit length
    logits = image_embeds @ text_embeds.T / temperature  # (N, N): row i = image i against every caption

    # The target of row i and of column i is pair i: the diagonal.
    targets = torch.arange(logits.shape[0])  # (N,)
    loss_image_to_text = F.cross_entropy(logits, targets)  # each row: which caption?
    loss_text_to_image = F.cross_entropy(logits.T, targets)  # each column: which image?
    return (loss_image_to_text + loss_text_to_image) / 2
# --8<-- [end:loss]


# --8<-- [start:check]
import math

from vlmbook.clip import contrastive_loss, similarity_logits

torch.manual_seed(0)
num_pairs, embed_dim = 8, 32
image_embeds = torch.randn(num_pairs, embed_dim)  # (N, D)
text_embeds = image_embeds + torch.randn(num_pairs, embed_dim)  # (N, D): near its own image
unrelated_embeds = torch.randn(num_pairs, embed_dim)  # (N, D): no relation to the images

ours = symmetric_infonce(image_embeds, text_embeds, temperature=0.07)
package = contrastive_loss(similarity_logits(image_embeds, text_embeds, torch.tensor(1 / 0.07)))
unrelated = symmetric_infonce(image_embeds, unrelated_embeds, temperature=0.07)
# --8<-- [end:check]

# --8<-- [start:scale]
import math

import torch

from vlmbook.clip import CLIPConfig, contrastive_loss, similarity_logits

config = CLIPConfig.tiny()
initial_scale = math.exp(config.logit_scale_init)  # exp(logit_scale) = 1 / temperature

# A batch whose diagonal already wins: each caption is its image plus noise.
torch.manual_seed(0)
image_embeds = torch.randn(8, 32)  # (N, D)
text_embeds = image_embeds + torch.randn(8, 32)  # (N, D)

# The same batch with captions 0 and 1 swapped: two pairs are now wrong.
swapped_embeds = text_embeds[[1, 0, 2, 3, 4, 5, 6, 7]]  # (N, D)

# Loss and d loss / d logit_scale at the initial scale, at the clip and beyond it.
for scale in (initial_scale, 100.0, 1000.0):
    logit_scale = torch.tensor(math.log(scale), requires_grad=True)
    aligned_loss = contrastive_loss(similarity_logits(image_embeds, text_embeds, logit_scale.exp()))
    aligned_loss.backward()
    swapped_loss = contrastive_loss(similarity_logits(image_embeds, swapped_embeds, torch.tensor(scale)))
    print(f"scale {scale:7.2f} | aligned loss {aligned_loss.item():.4f}, gradient {logit_scale.grad.item():+.1e}"
          f" | swapped loss {swapped_loss.item():.2f}")
# --8<-- [end:scale]

# --8<-- [start:figure]
import matplotlib.pyplot as plt
import torch

from vlmbook.book import figure

# Cosine similarities of one image with five prompts: the first is the right one.
SIMILARITIES = torch.tensor([0.32, 0.27, 0.18, 0.05, -0.10])
TEMPERATURES = (1.0, 0.07, 0.01)
LABELS = {
    "ko": {"prompt": "프롬프트", "probability": "소프트맥스 확률", "title": "온도 τ"},
    "en": {"prompt": "prompt", "probability": "softmax probability", "title": "temperature τ"},
}


@figure("clip-temperature")
def draw_temperature(lang: str):
    labels = LABELS[lang]
    fig, axes = plt.subplots(1, len(TEMPERATURES), figsize=(8.4, 2.6), sharey=True)
    positions = range(len(SIMILARITIES))
    for ax, temperature in zip(axes, TEMPERATURES):
        probs = (SIMILARITIES / temperature).softmax(dim=0)  # (5,)
        colors = ["#3949ab"] + ["#9fa8da"] * (len(SIMILARITIES) - 1)
        ax.bar(positions, probs.numpy(), color=colors)
        ax.set_xticks(positions, [f"{i + 1}" for i in positions])
        ax.set_xlabel(labels["prompt"])
        ax.set_title(f"{labels['title']} = {temperature}  (1/τ = {1 / temperature:.0f})", fontsize=10)
        ax.set_ylim(0, 1.05)
    axes[0].set_ylabel(labels["probability"])
    fig.tight_layout()
    return fig
# --8<-- [end:figure]
