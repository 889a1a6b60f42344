"""Generator: BLIP image-text matching scores for true captions and hard negatives.

A hard negative is the scene's own caption with one thing changed: the two
colors swapped between the objects, or the relation flipped. The chapter
embeds the `negatives` and `score` sections.
"""

# --8<-- [start:negatives]
from vlmbook.recipes.negatives import OPPOSITE_RELATIONS
from vlmbook.shapesworld import COLORS


def swap_colors(caption: str) -> str | None:
    """Swap the first two color words: "a red circle left of a blue square" -> "a blue circle left of a red square"."""
    words = caption.split()
    positions = [i for i, word in enumerate(words) if word in COLORS]
    if len(positions) < 2 or words[positions[0]] == words[positions[1]]:
        return None  # one object, or two of the same color: nothing to swap
    words[positions[0]], words[positions[1]] = words[positions[1]], words[positions[0]]
    return " ".join(words)


def flip_relation(caption: str) -> str | None:
    """Replace the relation word with its opposite: "left" -> "right", "above" -> "below"."""
    words = caption.split()
    positions = [i for i, word in enumerate(words) if word in OPPOSITE_RELATIONS]
    if not positions:
        return None
    words[positions[0]] = OPPOSITE_RELATIONS[words[positions[0]]]
    return " ".join(words)

# --8<-- [end:negatives]

# --8<-- [start:score]
import torch
from transformers import BlipForImageTextRetrieval, BlipProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld

folder = vlmbook.checkpoint("blip-itm")  # or "Salesforce/blip-itm-base-coco" with VLMBOOK_CHECKPOINTS=hub
processor = BlipProcessor.from_pretrained(folder)
model = BlipForImageTextRetrieval.from_pretrained(folder).eval()


def match_probability(images: list, texts: list[str]) -> torch.Tensor:
    """P(match) of each (image, text) pair from the ITM head, shape (B,)."""
    inputs = processor(images=images, text=texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        itm_logits = model(**inputs, use_itm_head=True).itm_score  # (B, 2): [no match, match]
    return itm_logits.softmax(dim=-1)[:, 1]


world = ShapesWorld("test", image_size=64, max_objects=2, seed=0)
scene = world[0]
texts = [scene.captions[0], swap_colors(scene.captions[0]), flip_relation(scene.captions[0])]
for text, probability in zip(texts, match_probability([scene.image] * 3, texts)):
    print(f"{probability:.2f}  {text}")
# --8<-- [end:score]

# --8<-- [start:figures]
import matplotlib.pyplot as plt
import numpy as np

from vlmbook.book import figure, markdown
from vlmbook.evaluation import roc_auc

# Scenes whose caption allows both edits: two objects of different colors, with a relation.
pair_scenes = [s for s in (world[i] for i in range(400)) if swap_colors(s.captions[0]) and flip_relation(s.captions[0])]
pair_scenes = pair_scenes[:120]
KINDS = {"truth": lambda caption: caption, "color swap": swap_colors, "relation flip": flip_relation}
scores = {
    kind: match_probability([s.image for s in pair_scenes], [edit(s.captions[0]) for s in pair_scenes]).numpy()
    for kind, edit in KINDS.items()
}

LABELS = {
    "ko": {"truth": "정답 캡션", "color swap": "색 맞바꿈", "relation flip": "관계 뒤집기",
           "x": "일치 확률 P(match)", "y": "캡션 수", "negative": "음성 예시", "auc": "ROC-AUC",
           "mean": "평균 P(match)"},
    "en": {"truth": "true caption", "color swap": "colors swapped", "relation flip": "relation flipped",
           "x": "match probability P(match)", "y": "captions", "negative": "negative", "auc": "ROC-AUC",
           "mean": "mean P(match)"},
}
COLORS_OF_KIND = {"truth": "#1b7837", "color swap": "#c51b7d", "relation flip": "#2166ac"}


@figure("blip-itm-distributions")
def draw_itm_distributions(lang: str):
    labels = LABELS[lang]
    fig, ax = plt.subplots(figsize=(7.0, 3.2))
    bins = np.linspace(0, 1, 21)
    for kind, values in scores.items():
        ax.hist(values, bins=bins, alpha=0.55, label=labels[kind], color=COLORS_OF_KIND[kind])
    ax.set_xlabel(labels["x"])
    ax.set_ylabel(labels["y"])
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # outside the bars
    fig.tight_layout()
    return fig


def auc_against_truth(kind: str) -> float:
    """ROC-AUC of P(match): the chance that a true caption outscores a negative of this kind."""
    values = list(scores["truth"]) + list(scores[kind])
    return roc_auc(values, [1] * len(scores["truth"]) + [0] * len(scores[kind]))


@markdown("blip-itm-table")
def itm_table(lang: str) -> str:
    labels = LABELS[lang]
    lines = [f"| {labels['negative']} | {labels['mean']} | {labels['auc']} |", "| --- | --- | --- |"]
    lines.append(f"| {labels['truth']} | {scores['truth'].mean():.2f} | |")
    for kind in ("color swap", "relation flip"):
        lines.append(f"| {labels[kind]} | {scores[kind].mean():.2f} | {auc_against_truth(kind):.3f} |")
    return "\n".join(lines)


@markdown("blip-itm-pair-count")
def pair_count(lang: str) -> str:
    return str(len(pair_scenes))


@markdown("blip-itm-relation-auc")
def relation_auc(lang: str) -> str:
    return f"{auc_against_truth('relation flip'):.3f}"


@markdown("blip-itm-color-auc")
def color_auc(lang: str) -> str:
    return f"{auc_against_truth('color swap'):.3f}"
# --8<-- [end:figures]
