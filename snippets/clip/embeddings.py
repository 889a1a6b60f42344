"""Generator: the shared embedding space of the tiny CLIP, and a linear probe beside zero-shot.

The page embeds the `embed`, `pca`, `probe` and `figure` sections.
"""

# --8<-- [start:embed]
import torch
import torch.nn.functional as F
from transformers import CLIPModel, CLIPProcessor

import vlmbook
from vlmbook.shapesworld import COLORS, SHAPES, SIZES, ShapesWorld

folder = vlmbook.checkpoint("clip")
model = CLIPModel.from_pretrained(folder).eval()
processor = CLIPProcessor.from_pretrained(folder)
classes = [(color, shape) for color in COLORS for shape in SHAPES]  # 18 classes


@torch.no_grad()
def embed_scenes(scenes: list) -> torch.Tensor:
    """Embed the images of ShapesWorld scenes as unit-length vectors (N, D)."""
    inputs = processor(images=[scene.image for scene in scenes], return_tensors="pt")
    return F.normalize(model.get_image_features(**inputs).pooler_output, dim=-1)


@torch.no_grad()
def embed_prompts(texts: list[str]) -> torch.Tensor:
    """Embed prompts as unit-length vectors (N, D)."""
    inputs = processor(text=texts, return_tensors="pt", padding=True)
    return F.normalize(model.get_text_features(**inputs).pooler_output, dim=-1)


def labels_of(scenes: list) -> torch.Tensor:
    """Return the class index of the single object in each scene (N,)."""
    return torch.tensor([classes.index(scene.objects[0].pair) for scene in scenes])


test_world = ShapesWorld("test", min_objects=1, max_objects=1, seed=0)
test_scenes = [test_world[i] for i in range(300)]
image_embeds = embed_scenes(test_scenes)  # (300, D)
prompts = [f"a {size} {color} {shape}" for color, shape in classes for size in SIZES]  # class by class
text_embeds = embed_prompts(prompts)  # (36, D): two prompts per class
# --8<-- [end:embed]

# --8<-- [start:pca]
# PCA of images and prompts together: center, then keep the top two right singular vectors.
joint = torch.cat([image_embeds, text_embeds])  # (300 + 36, D)
centered = joint - joint.mean(dim=0)
_, _, right_vectors = torch.linalg.svd(centered, full_matrices=False)  # right_vectors: (D, D), rows
projected = centered @ right_vectors[:2].T  # (336, 2)
image_points, text_points = projected[: len(test_scenes)], projected[len(test_scenes) :]

# The modality gap: how far apart the mean image and the mean prompt sit.
gap = (image_embeds.mean(dim=0) - text_embeds.mean(dim=0)).norm().item()
# --8<-- [end:pca]

# --8<-- [start:probe]
# A linear probe: logistic regression on frozen image embeddings, trained with labels.
train_world = ShapesWorld("train", min_objects=1, max_objects=1, seed=0)
train_scenes = [train_world[i] for i in range(1000)]
train_embeds, train_labels = embed_scenes(train_scenes), labels_of(train_scenes)

torch.manual_seed(0)
probe = torch.nn.Linear(train_embeds.shape[1], len(classes))  # D -> 18 logits
optimizer = torch.optim.LBFGS(probe.parameters(), max_iter=200)


def closure() -> torch.Tensor:
    optimizer.zero_grad()
    loss = F.cross_entropy(probe(train_embeds), train_labels) + 1e-4 * probe.weight.square().sum()
    loss.backward()
    return loss


optimizer.step(closure)

heldout_world = ShapesWorld("test_heldout", min_objects=1, max_objects=1, seed=0)
heldout_scenes = [heldout_world[i] for i in range(300)]
heldout_embeds = embed_scenes(heldout_scenes)
with torch.no_grad():
    probe_accuracy = {
        "test": (probe(image_embeds).argmax(1) == labels_of(test_scenes)).float().mean().item(),
        "test_heldout": (probe(heldout_embeds).argmax(1) == labels_of(heldout_scenes)).float().mean().item(),
    }

# Zero-shot: each class scores with its better prompt, "a small ..." or "a large ...".
prompt_embeds = text_embeds.view(len(classes), len(SIZES), -1)  # (18, 2, D)
zero_shot_scores = {
    "test": torch.einsum("nd,ctd->nct", image_embeds, prompt_embeds).amax(dim=2),  # (300, 18)
    "test_heldout": torch.einsum("nd,ctd->nct", heldout_embeds, prompt_embeds).amax(dim=2),
}
zero_shot_accuracy = {
    "test": (zero_shot_scores["test"].argmax(1) == labels_of(test_scenes)).float().mean().item(),
    "test_heldout": (zero_shot_scores["test_heldout"].argmax(1) == labels_of(heldout_scenes)).float().mean().item(),
}
# --8<-- [end:probe]

# --8<-- [start:figure]
import matplotlib.pyplot as plt

from vlmbook.book import figure, markdown

COLOR_HEX = {"red": "#dc322f", "green": "#32a546", "blue": "#285adc", "yellow": "#f0c81e",
             "purple": "#8c46b4", "orange": "#f5821e"}
MARKERS = {"circle": "o", "square": "s", "triangle": "^"}
LABELS = {
    "ko": {"image": "이미지 임베딩", "text": "프롬프트 임베딩", "pc": "주성분"},
    "en": {"image": "image embeddings", "text": "prompt embeddings", "pc": "principal component"},
}


@figure("clip-embedding-pca")
def draw_embedding_pca(lang: str):
    labels = LABELS[lang]
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for (x, y), scene in zip(image_points.tolist(), test_scenes):
        obj = scene.objects[0]
        ax.scatter(x, y, s=14, color=COLOR_HEX[obj.color], marker=MARKERS[obj.shape], alpha=0.45, linewidths=0)
    pairs = [(color, shape) for color, shape in classes for _ in SIZES]  # the class of each prompt
    for (x, y), (color, shape) in zip(text_points.tolist(), pairs):
        ax.scatter(x, y, s=110, color=COLOR_HEX[color], marker=MARKERS[shape], edgecolors="black", linewidths=1.2)
    legend = [
        plt.Line2D([0], [0], marker="o", color="w", markerfacecolor="gray", alpha=0.5, label=labels["image"]),
        plt.Line2D([0], [0], marker="o", color="w", markerfacecolor="gray", markeredgecolor="black",
                   markersize=10, label=labels["text"]),
    ]
    ax.legend(handles=legend, loc="best", fontsize=8)
    ax.set_xlabel(f"{labels['pc']} 1")
    ax.set_ylabel(f"{labels['pc']} 2")
    return fig
# --8<-- [end:figure]


@markdown("clip-probe-table")
def probe_table(lang: str) -> str:
    if lang == "ko":
        header = "| 분류기 | 라벨 데이터 | test (본 조합) | test_heldout (처음 보는 조합) |"
        rows = [("제로샷 (프롬프트 `a small/large {color} {shape}`)", "없음", zero_shot_accuracy),
                ("선형 탐침 (로지스틱 회귀)", f"train 이미지 {len(train_scenes)}장", probe_accuracy)]
    else:
        header = "| classifier | labeled data | test (seen pairs) | test_heldout (held-out pairs) |"
        rows = [("zero-shot (prompts `a small/large {color} {shape}`)", "none", zero_shot_accuracy),
                ("linear probe (logistic regression)", f"{len(train_scenes)} train images", probe_accuracy)]
    lines = [header, "| --- | --- | --- | --- |"]
    lines += [f"| {name} | {data} | {acc['test']:.1%} | {acc['test_heldout']:.1%} |" for name, data, acc in rows]
    return "\n".join(lines)


@markdown("clip-modality-gap")
def modality_gap(lang: str) -> str:
    return f"{gap:.2f}"
